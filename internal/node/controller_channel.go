package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/kafkaapi"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/raft"
	"github.com/strata-io/strata/internal/server"
)

// errNoActiveController: the quorum has no leader, or its Kafka address is
// not known yet. Callers retry.
var errNoActiveController = errors.New("no active controller known yet")

// controllerChannel carries broker-to-controller requests to the active
// controller: the local Controller when this node leads the metadata
// quorum, otherwise the leader's Kafka listener with Kafka's controller APIs
// (served there by kafkaapi). It owns one franz-go client per controller
// address, closed by Close.
type controllerChannel struct {
	node *Node
	rn   *raft.Node
	// bootstrap maps controller node ids to their Kafka listeners
	// (--controller-bootstrap): how controller-only nodes are reached.
	bootstrap map[int32]string

	mu      sync.Mutex
	clients map[string]*kgo.Client // guarded by mu
}

func newControllerChannel(n *Node, rn *raft.Node) *controllerChannel {
	c := &controllerChannel{node: n, rn: rn, clients: make(map[string]*kgo.Client), bootstrap: map[int32]string{}}
	boot, _ := n.cfg.Static.ControllerBootstrapAddrs() // validated
	for _, b := range boot {
		c.bootstrap[b.ID] = b.Addr
	}
	return c
}

// ActiveControllerID is the node id of the active controller, or -1.
func (c *controllerChannel) ActiveControllerID() int32 {
	id, _ := c.rn.Leader()
	return id
}

func (c *controllerChannel) local() bool { return c.rn.IsLeader() }

// request sends req to the active controller's Kafka listener.
func (c *controllerChannel) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	id, _ := c.rn.Leader()
	if id < 0 {
		return nil, errNoActiveController
	}
	addr, ok := c.bootstrap[id]
	if b, registered := c.node.ctrl.Image().Broker(id); registered {
		a, err := c.node.interBrokerAddr(b)
		if err != nil {
			return nil, err
		}
		addr, ok = a, true
	}
	if !ok {
		return nil, fmt.Errorf("%w: controller %d is neither a registered broker nor in --controller-bootstrap", errNoActiveController, id)
	}
	return c.requestAddr(ctx, addr, req)
}

// Quorum describes the metadata quorum as this node's raft sees it.
func (c *controllerChannel) Quorum(ctx context.Context) (raft.QuorumState, error) {
	return c.rn.Quorum(ctx)
}

// ListenerOf returns controller id's Kafka listener from
// --controller-bootstrap.
func (c *controllerChannel) ListenerOf(id int32) (string, int32, bool) {
	addr, ok := c.bootstrap[id]
	if !ok {
		return "", 0, false
	}
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil {
		return "", 0, false
	}
	return host, int32(p), true
}

// pinnedRequest makes the client send a request at the version it carries:
// a forwarded request keeps the version its client chose.
type pinnedRequest struct{ kmsg.Request }

func (r pinnedRequest) MaxVersion() int16 { return r.GetVersion() }

// Forward sends a client's admin request to the active controller at the
// client's version.
func (c *controllerChannel) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return c.request(ctx, pinnedRequest{req})
}

// requestAddr sends req to the broker listening on addr, through a client
// kept per address.
func (c *controllerChannel) requestAddr(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	if c.clients == nil {
		c.mu.Unlock()
		return nil, errors.New("controller channel closed")
	}
	cl, ok := c.clients[addr]
	if !ok {
		opts, err := c.node.interBrokerClientOpts()
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		opts = append(opts, kgo.SeedBrokers(addr), kgo.ClientID(kafkaapi.ForwardClientIDPrefix+strconv.Itoa(int(c.node.cfg.Static.NodeID))))
		cl, err = kgo.NewClient(opts...)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.clients[addr] = cl
	}
	c.mu.Unlock()
	// A peer that is stopped (SIGSTOP, a hung host) keeps its connection
	// open and never answers: never wait without a bound.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, peerRequestTimeout)
		defer cancel()
	}
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// peerRequestTimeout bounds a request to another node when the caller set
// no deadline.
const peerRequestTimeout = 30 * time.Second

// Close closes the clients.
func (c *controllerChannel) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		cl.Close()
	}
	c.clients = nil
}

// RegisterBroker registers this node's broker with the active controller.
// A broker-only node that does not know the active controller yet (it
// follows the metadata log only once registered) asks every controller in
// --controller-bootstrap until the active one answers.
func (c *controllerChannel) RegisterBroker(ctx context.Context, reg controller.BrokerRegistration) error {
	if c.local() {
		if err := c.node.ctrl.RegisterBroker(ctx, reg); err != nil {
			return err
		}
		// The controller's image is this node's: it has the registration.
		b, _ := c.node.ctrl.Image().Broker(reg.NodeID)
		c.node.registeredEpoch.Store(b.BrokerEpoch)
		return nil
	}
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID = reg.NodeID
	req.ClusterID = c.node.ctrl.Image().ClusterID()
	req.IncarnationID = reg.IncarnationID
	for _, l := range reg.Listeners {
		proto, _ := server.SecurityProtocolID(l.SecurityProtocol)
		req.Listeners = append(req.Listeners, kmsg.BrokerRegistrationRequestListener{Name: l.Name, Host: l.Host, Port: uint16(l.Port), SecurityProtocol: proto})
	}
	if reg.RaftAddr != "" {
		host, port, err := net.SplitHostPort(reg.RaftAddr)
		p, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil {
			return fmt.Errorf("raft address %q: not host:port", reg.RaftAddr)
		}
		req.Listeners = append(req.Listeners, kmsg.BrokerRegistrationRequestListener{Name: kafkaapi.RaftListenerName, Host: host, Port: uint16(p)})
	}
	if reg.Rack != "" {
		req.Rack = &reg.Rack
	}
	for _, f := range reg.Features {
		rf := kmsg.NewBrokerRegistrationRequestFeature()
		rf.Name, rf.MinSupportedVersion, rf.MaxSupportedVersion = f.Name, f.MinLevel, f.MaxLevel
		req.Features = append(req.Features, rf)
	}
	// KIP-966: -1 says the broker may have lost records it had; a clean
	// broker sends the epoch it last knew (0 when its image has none yet).
	req.PreviousBrokerEpoch = -1
	if reg.CleanShutdown {
		b, _ := c.node.ctrl.Image().Broker(reg.NodeID)
		req.PreviousBrokerEpoch = max(b.BrokerEpoch, 0)
	}
	if id, _ := c.rn.Leader(); id >= 0 {
		resp, err := c.request(ctx, req)
		if err != nil {
			return err
		}
		return c.registered(resp.(*kmsg.BrokerRegistrationResponse))
	}
	var errs []error
	for id, addr := range c.bootstrap {
		resp, err := c.requestAddr(ctx, addr, req)
		if err == nil {
			err = c.registered(resp.(*kmsg.BrokerRegistrationResponse))
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("controller %d at %s: %w", id, addr, err))
	}
	return fmt.Errorf("%w: %w", errNoActiveController, errors.Join(errs...))
}

// CreateTopics creates topics through the active controller (auto-creation
// on any broker).
func (c *controllerChannel) CreateTopics(ctx context.Context, topics []controller.CreateTopic) []controller.CreateTopicResult {
	if c.local() {
		return c.node.ctrl.CreateTopics(ctx, topics, false)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Name, t.NumPartitions, t.ReplicationFactor
		for k, v := range t.Configs {
			rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
		}
		req.Topics = append(req.Topics, rt)
	}
	out := make([]controller.CreateTopicResult, len(topics))
	for i, t := range topics {
		out[i].Name = t.Name
	}
	resp, err := c.request(ctx, req)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	byName := map[string]int16{}
	for _, rt := range resp.(*kmsg.CreateTopicsResponse).Topics {
		byName[rt.Topic] = rt.ErrorCode
	}
	for i := range out {
		switch code := byName[out[i].Name]; code {
		case 0:
		case kerr.TopicAlreadyExists.Code:
			out[i].Err = controller.ErrTopicExists
		case kerr.InvalidTopicException.Code:
			out[i].Err = controller.ErrInvalidTopic
		default:
			out[i].Err = kerr.ErrorForCode(code)
		}
	}
	return out
}

// registered records the broker epoch a successful registration answer
// carries. NB: this node's own image may not have the registration yet; a
// heartbeat or fetch with the epoch it has would be refused as stale (or
// make this replica look ineligible), and re-registering would only start
// the race again.
func (c *controllerChannel) registered(resp *kmsg.BrokerRegistrationResponse) error {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	c.node.registeredEpoch.Store(resp.BrokerEpoch)
	return nil
}

// AllocateProducerIDs reserves a block of producer ids.
func (c *controllerChannel) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if c.local() {
		return c.node.ctrl.AllocateProducerIDs(ctx, n)
	}
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = c.node.cfg.Static.NodeID, c.node.brokerEpoch()
	resp, err := c.request(ctx, req)
	if err != nil {
		return -1, err
	}
	r := resp.(*kmsg.AllocateProducerIDsResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return -1, err
	}
	if int64(r.ProducerIDLen) < n {
		return -1, fmt.Errorf("controller granted %d producer ids, asked for %d", r.ProducerIDLen, n)
	}
	return r.ProducerIDStart, nil
}

// BrokerHeartbeat sends this broker's heartbeat to the active controller.
func (c *controllerChannel) BrokerHeartbeat(ctx context.Context, hb controller.HeartbeatRequest) (controller.HeartbeatResponse, error) {
	if c.local() {
		return c.node.ctrl.BrokerHeartbeat(ctx, hb)
	}
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = hb.BrokerID, hb.BrokerEpoch, hb.CurrentMetadataOffset
	req.WantFence, req.WantShutdown = hb.WantFence, hb.WantShutDown
	for _, d := range hb.OfflineLogDirs {
		req.OfflineLogDirs = append(req.OfflineLogDirs, d) // v1+ (KIP-858)
	}
	resp, err := c.request(ctx, req)
	if err != nil {
		return controller.HeartbeatResponse{}, err
	}
	r := resp.(*kmsg.BrokerHeartbeatResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return controller.HeartbeatResponse{}, err
	}
	return controller.HeartbeatResponse{IsCaughtUp: r.IsCaughtUp, IsFenced: r.IsFenced, ShouldShutDown: r.ShouldShutdown}, nil
}

// AssignReplicasToDirs tells the active controller which of this broker's
// log directories hold the given replicas (KIP-858).
func (c *controllerChannel) AssignReplicasToDirs(ctx context.Context, brokerID int32, brokerEpoch int64, dirs []controller.DirAssignment) error {
	if c.local() {
		return c.node.ctrl.AssignReplicasToDirs(ctx, brokerID, brokerEpoch, dirs)
	}
	req := kmsg.NewPtrAssignReplicasToDirsRequest()
	req.BrokerID, req.BrokerEpoch = brokerID, brokerEpoch
	for _, d := range dirs {
		kd := kmsg.NewAssignReplicasToDirsRequestDirectory()
		kd.ID = d.Dir
		byTopic := map[metadata.UUID]int{}
		for _, r := range d.Partitions {
			i, ok := byTopic[r.TopicID]
			if !ok {
				i = len(kd.Topics)
				byTopic[r.TopicID] = i
				kt := kmsg.NewAssignReplicasToDirsRequestDirectoryTopic()
				kt.TopicID = r.TopicID
				kd.Topics = append(kd.Topics, kt)
			}
			kp := kmsg.NewAssignReplicasToDirsRequestDirectoryTopicPartition()
			kp.Partition = r.Partition
			kd.Topics[i].Partitions = append(kd.Topics[i].Partitions, kp)
		}
		req.Directories = append(req.Directories, kd)
	}
	resp, err := c.request(ctx, req)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.(*kmsg.AssignReplicasToDirsResponse).ErrorCode)
}

// RequestTo sends req to broker id's Kafka listener (replica fetches).
func (c *controllerChannel) RequestTo(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	b, ok := c.node.ctrl.Image().Broker(id)
	if !ok {
		return nil, fmt.Errorf("broker %d is not registered", id)
	}
	addr, err := c.node.interBrokerAddr(b)
	if err != nil {
		return nil, err
	}
	return c.requestAddr(ctx, addr, req)
}

// AlterPartition sends a leader's ISR change to the active controller.
func (c *controllerChannel) AlterPartition(ctx context.Context, req controller.AlterPartitionRequest) ([]controller.AlterPartitionTopicResult, error) {
	if c.local() {
		return c.node.ctrl.AlterPartition(ctx, req)
	}
	// NB: the client negotiates the version: v2 reads NewISR, v3 reads
	// NewEpochISR (KIP-903, each member with its broker epoch). Fill both.
	img := c.node.ctrl.Image()
	kreq := kmsg.NewPtrAlterPartitionRequest()
	kreq.BrokerID, kreq.BrokerEpoch = req.BrokerID, req.BrokerEpoch
	for _, t := range req.Topics {
		kt := kmsg.NewAlterPartitionRequestTopic()
		kt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			kp := kmsg.NewAlterPartitionRequestTopicPartition()
			kp.Partition, kp.LeaderEpoch, kp.PartitionEpoch, kp.NewISR = p.Partition, p.LeaderEpoch, p.PartitionEpoch, p.NewISR
			for i, id := range p.NewISR {
				// The epoch the leader saw in the member's fetches; the
				// image's when it saw none (KIP-903).
				e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
				e.BrokerID, e.BrokerEpoch = id, -1
				if i < len(p.NewISRBrokerEpochs) && p.NewISRBrokerEpochs[i] >= 0 {
					e.BrokerEpoch = p.NewISRBrokerEpochs[i]
				} else if b, ok := img.Broker(id); ok {
					e.BrokerEpoch = b.BrokerEpoch
				}
				kp.NewEpochISR = append(kp.NewEpochISR, e)
			}
			kt.Partitions = append(kt.Partitions, kp)
		}
		kreq.Topics = append(kreq.Topics, kt)
	}
	resp, err := c.request(ctx, kreq)
	if err != nil {
		return nil, err
	}
	r := resp.(*kmsg.AlterPartitionResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return nil, err
	}
	var out []controller.AlterPartitionTopicResult
	for _, t := range r.Topics {
		ot := controller.AlterPartitionTopicResult{TopicID: t.TopidID}
		for _, p := range t.Partitions {
			ot.Partitions = append(ot.Partitions, controller.AlterPartitionResult{
				Partition: p.Partition, Err: kerr.ErrorForCode(p.ErrorCode), Leader: p.LeaderID,
				LeaderEpoch: p.LeaderEpoch, ISR: p.ISR, PartitionEpoch: p.PartitionEpoch,
			})
		}
		out = append(out, ot)
	}
	return out, nil
}
