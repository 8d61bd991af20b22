// Package node wires a Strata node together: it opens the log directory,
// starts the metadata quorum and controller, keeps the hosted partitions in
// step with the metadata image, and serves the Kafka listener. It starts
// subsystems in that order and stops them in reverse.
//
// Goroutines: Run owns an errgroup running the raft node, the log
// directory's background loops and the Kafka server. Metadata changes are
// applied to partitions on raft's apply goroutine (via the controller's
// subscription), serialized by reconcileMu.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/httpapi"
	"github.com/strata-io/strata/internal/kafkaapi"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/quota"
	"github.com/strata-io/strata/internal/raft"
	"github.com/strata-io/strata/internal/replication"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
	"github.com/strata-io/strata/internal/storage/vfs"
	"github.com/strata-io/strata/internal/tlsconfig"
	"github.com/strata-io/strata/internal/txn"
)

// Config configures a node.
type Config struct {
	Static config.Static
	Logger *slog.Logger
	// Now is the clock for request handling; nil means time.Now.
	Now func() time.Time
	// MountHTTP, when set, mounts more routes on the HTTP listener (the
	// web console, the REST proxy: see httpapi.Mounter) once the Kafka
	// listeners are bound; bootstrap is the first one's address. Not
	// called when the HTTP listener is off.
	MountHTTP func(m httpapi.Mounter, bootstrap string)
	// FS, if set, is the file system of the partition logs (tests inject
	// faults through it, see test_fs.go); nil: the operating system's, or
	// --test-fs's.
	FS vfs.FS

	// testPrincipalFor, set only by this package's tests, gives each
	// request the principal of its client id (see principalHook).
	testPrincipalFor func(clientID string) auth.Principal
}

// Node is one Strata process: broker and controller.
type Node struct {
	cfg   Config
	log   *slog.Logger
	parts *partition.Table
	ready chan struct{} // closed once the listener serves
	addr  net.Addr      // the first listener's bound address; set before ready is closed
	// listenerAddrs are the bound addresses by listener name; set before
	// ready is closed.
	listenerAddrs map[string]net.Addr
	// tls is the key and trust store of TLS listeners and of TLS
	// connections to other brokers; nil when no listener uses TLS. Set in
	// runServices before anything dials.
	tls *tlsconfig.Store

	logDirs *storage.LogDirs // set in Run
	mover   *logDirMover     // set in Run before serving
	ctrl    *controller.Controller
	groups  *group.Coordinator // set in Run before the first reconcile
	txns    *txn.Coordinator   // set in Run before the first reconcile
	// wantTxnTopic (buffer 1) asks for __transaction_state to be created.
	wantTxnTopic chan struct{}
	// replicas runs the follower fetchers; set in Run before the first
	// reconcile.
	replicas   *replication.Manager
	isrChanger *isrChanger // set in Run before the first reconcile
	// shuttingDown makes the heartbeat loop ask for a controlled shutdown;
	// shutdownReady is closed when the controller answers ShouldShutDown.
	shuttingDown  atomic.Bool
	shutdownReady chan struct{}
	shutdownOnce  sync.Once
	// heartbeatNow (buffer 1) wakes the heartbeat loop early.
	heartbeatNow chan struct{}
	// replicaPolls hurries the followers of partitions this broker starts
	// leading (set in New, shared with the request handler).
	replicaPolls *kafkaapi.ReplicaPolls
	// registeredEpoch is the broker epoch of this node's last successful
	// registration, 0 before one (see brokerEpoch).
	registeredEpoch atomic.Int64
	// topicCache is the group coordinator's topic view (topicInfos).
	topicCache atomic.Pointer[topicView]
	// quotas enforces client quotas; set in New, updated from the
	// metadata image (onQuotas).
	quotas *quota.Manager

	reconcileMu sync.Mutex
	reconciling bool // guarded by reconcileMu: false until the first full reconcile
	// servicesDone, guarded by reconcileMu, is closed once the node's
	// services stop; set with reconciling.
	servicesDone <-chan struct{}

	// cleanShutdown: the log directory was closed cleanly last time (or
	// fsyncs every append); set in Run before the broker registers.
	cleanShutdown bool

	// metrics are the node's registry and subsystem metrics; set in New,
	// nil when the HTTP listener is off (nothing is recorded then).
	metrics *nodeMetrics
	// raftNode is the metadata quorum member; set in runServices before
	// the HTTP listener serves.
	raftNode *raft.Node
	// httpAddr is the HTTP listener's bound address (a net.Addr), unset
	// when off; stored once it is bound, before the quorum forms.
	httpAddr atomic.Value
}

// cleanShutdownMarker is the file storage.LogDir.Close leaves at the root of
// a cleanly closed log directory (Kafka's name).
const cleanShutdownMarker = ".kafka_cleanshutdown"

// New validates the configuration; it starts nothing.
func New(cfg Config) (*Node, error) {
	if err := cfg.Static.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	qcfg := quota.DefaultConfig()
	qcfg.Now = cfg.Now
	quotas, err := quota.New(qcfg)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, parts: partition.NewTable(), ready: make(chan struct{}), shutdownReady: make(chan struct{}),
		heartbeatNow: make(chan struct{}, 1), replicaPolls: kafkaapi.NewReplicaPolls(cfg.Now), wantTxnTopic: make(chan struct{}, 1),
		quotas: quotas}
	if httpapi.Enabled(cfg.Static.HTTPListen) {
		n.metrics = newNodeMetrics()
	}
	return n, nil
}

// Ready is closed once the node serves Kafka requests.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Addr is the bound address of the first (inter-broker) Kafka listener
// (valid after Ready).
func (n *Node) Addr() net.Addr { return n.addr }

// ListenerAddr is the bound address of the named listener (valid after
// Ready); nil if the node has no such listener.
func (n *Node) ListenerAddr(name string) net.Addr { return n.listenerAddrs[name] }

// Run starts the node and serves until ctx is cancelled; it then stops the
// listener, the metadata quorum and the background loops, and closes the log
// directory cleanly (fsync, checkpoints, clean-shutdown marker).
func (n *Node) Run(ctx context.Context) error {
	start := time.Now()
	st := n.cfg.Static
	if err := os.MkdirAll(st.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(st.DataDir)
	if err != nil {
		return err
	}
	defer unlock()

	fsync, err := storage.ParseFsyncPolicy(st.Fsync)
	if err != nil {
		return err
	}
	fsys, stopFS := n.logFileSystem()
	defer stopFS()
	var scfgs []storage.Config
	unclean := false
	for _, dir := range st.LogDirPaths() {
		if filepath.Clean(dir) != filepath.Join(st.DataDir, "logs") {
			// A log directory outside the data dir gets its own lock; one
			// that cannot even be created is left to open as offline.
			if err := os.MkdirAll(dir, 0o755); err == nil {
				unlockDir, err := lockDataDir(dir)
				if errors.Is(err, syscall.EWOULDBLOCK) {
					return err
				}
				if err == nil {
					defer unlockDir()
				}
			}
		}
		scfg := storage.DefaultConfig(dir)
		scfg.NodeID = st.NodeID
		scfg.Fsync = fsync
		scfg.FsyncInterval = st.FsyncInterval
		scfg.RetentionCheckInterval = st.RetentionCheckInterval
		scfg.CleanerInterval = st.CleanerBackoff
		scfg.RecoveryThreads = 2
		scfg.Logger = n.log
		scfg.Metrics = n.metrics.storageMetrics()
		scfg.FS = fsys
		scfg.OnCorruption = n.onCorruptLog
		if st.TestScrubInterval > 0 {
			scfg.ScrubInterval = st.TestScrubInterval
		}
		scfgs = append(scfgs, scfg)
		// NB: OpenLogDirs consumes the clean-shutdown markers, so look
		// first: the broker shut down cleanly if every directory says so.
		if _, err := os.Stat(filepath.Join(dir, cleanShutdownMarker)); err != nil {
			unclean = true
		}
	}
	// With fsync=always the logs hold every record they ever acknowledged
	// or fetched, so even a crash leaves them clean for KIP-966's purposes.
	n.cleanShutdown = !unclean || fsync == storage.FsyncAlways
	logDirs, err := storage.OpenLogDirs(scfgs)
	if err != nil {
		return fmt.Errorf("open log directories: %w", err)
	}
	n.logDirs = logDirs
	for _, d := range logDirs.Dirs() {
		n.log.Info("log directory opened", "dir", d.Path(), "directory_id", d.ID().String(), "partitions", len(d.Logs()), "online", d.Err() == nil)
	}
	n.log.Info("log directories opened", "dirs", len(logDirs.Dirs()), "took", time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := logDirs.Close(); err != nil {
			n.log.Error("closing log directories", "err", err)
			return
		}
		n.log.Info("log directories closed cleanly")
	}()

	err = n.runServices(ctx, start)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	return err
}

func (n *Node) runServices(ctx context.Context, start time.Time) error {
	st := n.cfg.Static
	listeners, err := st.Listeners()
	if err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	host, port := listeners[0].AdvertisedHost, listeners[0].AdvertisedPort
	if n.tls, err = newTLSStore(st, listeners, n.log); err != nil {
		return err
	}
	ctrl, rn, err := n.newController()
	if err != nil {
		return err
	}
	n.ctrl = ctrl

	// Services run under their own context: on SIGTERM a serving cluster
	// node first hands its leaderships away (controlled shutdown) and only
	// then stops them. Before it serves, ctx stops them at once.
	serviceCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	var serving atomic.Bool
	stopEarly := context.AfterFunc(ctx, func() {
		if !serving.Load() {
			stopServices()
		}
	})
	defer stopEarly()
	g, gctx := errgroup.WithContext(serviceCtx)
	n.raftNode = rn
	hs, err := n.newHTTP(rn)
	if err != nil {
		return err
	}
	if hs != nil {
		g.Go(func() error { return hs.Run(gctx) })
	}
	g.Go(func() error { return rn.Run(gctx) })
	g.Go(func() error { return ctrl.Run(gctx) })
	fail := func(err error) error {
		// Stop what was started and report the first real failure.
		g.Go(func() error { return err })
		if werr := g.Wait(); werr != nil {
			return werr
		}
		return err
	}
	isBroker, isController, _ := st.ParseRoles() // validated
	channel := newControllerChannel(n, rn)
	defer channel.Close()
	reg := controller.BrokerRegistration{NodeID: st.NodeID, Host: host, Port: port, Rack: st.Rack,
		CleanShutdown: n.cleanShutdown, Features: metadata.SupportedFeatures(), Listeners: endpoints(listeners, nil)}
	if !isController {
		// A broker-only node receives the metadata log once the active
		// controller has added it to the quorum, which registering does.
		if port == 0 {
			return fail(errors.New("a broker-only node needs a fixed listen port"))
		}
		reg.RaftAddr = observerAddr(st.ControllerListen)
		if err := retryUntil(gctx, n.log, "register broker", func() error { return channel.RegisterBroker(gctx, reg) }); err != nil {
			return fail(err)
		}
	}
	if err := rn.WaitReady(gctx); err != nil {
		return fail(fmt.Errorf("metadata quorum: %w", err))
	}
	if isController {
		if err := n.ensureClusterID(gctx, rn); err != nil {
			return fail(fmt.Errorf("cluster id: %w", err))
		}
	}
	n.isrChanger = &isrChanger{node: n, channel: channel, ctx: gctx}
	rcfg := replication.DefaultConfig()
	rcfg.NodeID = st.NodeID
	rcfg.Client = replicaClient{channel}
	rcfg.BrokerEpoch = n.brokerEpoch
	rcfg.Logger = n.log
	// Check for lagging followers a few times per lag window.
	rcfg.ShrinkCheckInterval = min(rcfg.ShrinkCheckInterval, st.ReplicaLagTimeMax/4)
	n.replicas = replication.New(rcfg)
	g.Go(func() error { return n.replicas.Run(gctx) })
	// The group coordinator needs the final __consumer_offsets partition
	// count, so it is built once the metadata log has been replayed.
	n.groups = group.NewCoordinator(n.groupConfig())
	g.Go(func() error { return n.groups.Run(gctx) })
	var handler *kafkaapi.Handler // the producer id blocks the coordinator draws from
	n.txns = txn.New(n.txnConfig(channel, func(ctx context.Context) (int64, error) { return handler.AllocateProducerID(ctx) }))
	g.Go(func() error { return n.txns.Run(gctx) })

	handler = kafkaapi.New(kafkaapi.Config{
		NodeID:           st.NodeID,
		Rack:             st.Rack,
		AutoCreateTopics: st.AutoCreateTopics,
		BrokerConfigs:    st.KafkaConfigs(),
		LogDirs:          n.logDirs,
		ReplicaPolls:     n.replicaPolls,
		Authorizer:       st.ACL(),
		Logger:           n.log.With("component", "kafkaapi"),
		Now:              n.cfg.Now,
	}, n.parts, ctrl, channel, n.groups)
	handler.SetTransactions(n.txns, n.txnTopicWanted)
	n.mover = newLogDirMover(n)
	handler.SetReplicaMover(n.mover)
	verifier := newTxnVerifier(ctrl.Image, channel.RequestTo)
	handler.SetTxnVerifier(verifier)
	n.groups.SetTxnPartitionAdder(verifier.addOffsetsPartition)
	handler.SetTxnMarkerGroups(n.groups)
	saslCfg, jwks, err := n.saslServerConfig(gctx, ctrl.Image)
	if err != nil {
		return fail(fmt.Errorf("sasl: %w", err))
	}
	if jwks != nil {
		_, _, _, _, _, _, refresh := st.OAuthBearer()
		g.Go(func() error { return jwks.RefreshLoop(gctx, refresh, n.log.With("component", "sasl")) })
	}
	handler.SetQuotas(n.quotas)
	var apis server.Handler = handler
	if n.cfg.testPrincipalFor != nil {
		apis = principalHook{Handler: handler, principalFor: n.cfg.testPrincipalFor}
	}
	servers, err := n.newServers(listeners, apis, saslCfg)
	if err != nil {
		return fail(err)
	}
	n.addr = servers[0].Addr()
	n.listenerAddrs = map[string]net.Addr{}
	for i, srv := range servers {
		n.listenerAddrs[listeners[i].Name] = srv.Addr()
	}
	if hs != nil && n.cfg.MountHTTP != nil {
		n.cfg.MountHTTP(hs, servers[0].Addr().String())
	}
	if hs != nil {
		if err := n.mountTools(gctx, g, hs, listeners, servers); err != nil {
			return fail(err)
		}
	} else if n.cfg.Static.Console || n.cfg.Static.RestProxy {
		n.log.Warn("--console and --rest-proxy need the HTTP listener, which is off")
	}
	if n.metrics != nil {
		n.metrics.reg.MustRegister(&clusterCollector{n: n, perPartition: st.MetricsPartitionSeries, servers: servers,
			hw: newRemoteHighWatermarks(channel.RequestTo)})
	}
	// An ephemeral listen port (tests) is advertised as bound.
	reg.Listeners = endpoints(listeners, servers)
	port = reg.Listeners[0].Port
	reg.Port = port
	if isBroker && isController {
		if err := retryUntil(gctx, n.log, "register broker", func() error { return channel.RegisterBroker(gctx, reg) }); err != nil {
			return fail(err)
		}
	}
	n.reconcileMu.Lock()
	n.reconciling = true
	n.servicesDone = gctx.Done()
	n.reconcileLocked(ctrl.Image(), true)
	n.reconcileMu.Unlock()
	leading := 0
	hosted := n.parts.All()
	for _, p := range hosted {
		if p.IsLeader() {
			leading++
		}
	}
	n.log.Info("partitions hosted", "partitions", len(hosted), "leader_of", leading)

	for _, srv := range servers {
		g.Go(func() error { return srv.Run(gctx) })
	}
	g.Go(func() error { return n.logDirs.Run(gctx, n.onLogDirOffline) })
	g.Go(func() error { return n.mover.Run(gctx) })
	if isBroker {
		g.Go(func() error { return n.ensureOffsetsTopic(gctx, channel) })
		g.Go(func() error { return n.runTxnTopicCreator(gctx, channel) })
		g.Go(func() error { return n.heartbeatLoop(gctx, channel, reg) })
	}
	var served []string
	for i, l := range listeners {
		served = append(served, fmt.Sprintf("%s://%s (%s, advertised %s:%d)", l.Name, servers[i].Addr(), l.SecurityProtocol, reg.Listeners[i].Host, reg.Listeners[i].Port))
	}
	n.log.Info("serving Kafka", "listeners", strings.Join(served, ", "), "inter_broker_listener", listeners[0].Name,
		"node_id", st.NodeID, "roles", st.Roles, "cluster_id", ctrl.Image().ClusterID(), "fsync", st.Fsync, "startup", time.Since(start).Round(time.Millisecond))
	close(n.ready)
	serving.Store(true)
	select {
	case <-ctx.Done():
		if isBroker {
			n.controlledShutdown(gctx)
		}
		stopServices()
	case <-gctx.Done():
	}
	n.log.Info("shutting down")
	err = g.Wait()
	n.isrChanger.wg.Wait()
	return err
}

// brokerEpoch is this broker's epoch for heartbeats, fetches and
// AlterPartition: the one its registration was answered with, which this
// node's image may not show yet; the image's before any registration.
func (n *Node) brokerEpoch() int64 {
	if e := n.registeredEpoch.Load(); e > 0 {
		return e
	}
	b, _ := n.ctrl.Image().Broker(n.cfg.Static.NodeID)
	return b.BrokerEpoch
}

// onQuotas installs changed client quotas; it runs on raft's apply
// goroutine, before onMetadata reports the image applied.
func (n *Node) onQuotas(img *metadata.Image, d *metadata.Delta) {
	if d.ClientQuotasChanged {
		n.quotas.Update(img)
	}
}

// onMetadata is the controller subscription: it runs on raft's apply
// goroutine for every new image.
func (n *Node) onMetadata(img *metadata.Image, _ *metadata.Delta) {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	if !n.reconciling {
		return // replay during start; the first full reconcile follows
	}
	n.reconcileLocked(img, false)
	// Tell the controller at once that this broker applied the change:
	// admin operations answer when every live broker has (see
	// controller.awaitBrokers).
	select {
	case n.heartbeatNow <- struct{}{}:
	default:
	}
}

// reconcileLocked makes the hosted partitions match img: it creates
// partitions assigned to this node, updates configs, and deletes
// partitions of topics that are gone. With initial set it also deletes
// logs found on disk that the image does not know (a topic deleted while
// the node was down, or a crash between the metadata commit and the
// directory removal).
//
// Once the node's services stop it creates no more partitions, also in
// the middle of an image: a new log costs several fsyncs, raft's shutdown
// waits for this apply to finish, and the next start creates what the
// image holds anyway (a node stopped while it applied the 50 partitions of
// __consumer_offsets took over 30s to stop on a slow disk).
func (n *Node) reconcileLocked(img *metadata.Image, initial bool) {
	self := n.cfg.Static.NodeID
	stopping := func() bool {
		select {
		case <-n.servicesDone:
			return true
		default:
			return false
		}
	}
	skipped := 0
	st := n.cfg.Static
	brokerLayers := []config.Layer{
		{Source: config.SourceDynamicBrokerConfig, Values: img.BrokerConfigs(strconv.Itoa(int(self)))},
		{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")},
		{Source: config.SourceStaticBrokerConfig, Values: st.KafkaConfigs()},
	}
	want := make(map[storage.TopicPartition][16]byte)
	for _, t := range img.Topics() {
		resolve := func(name string) string {
			v, _ := config.ResolveTopic(name, t.Configs, brokerLayers...)
			return v
		}
		logCfg := logConfig(resolve)
		limits := partitionLimits(resolve)
		for _, pi := range t.Partitions {
			if !contains(pi.Replicas, self) {
				continue
			}
			tp := storage.TopicPartition{Topic: t.Name, Partition: pi.Partition}
			want[tp] = t.ID
			pst := partition.LeaderAndISR{Leader: pi.Leader, LeaderEpoch: pi.LeaderEpoch, PartitionEpoch: pi.PartitionEpoch,
				Replicas: pi.Replicas, ISR: pi.ISR, ReplicaEpochs: replicaEpochs(img, pi.Replicas)}
			p, ok := n.parts.Get(t.Name, pi.Partition)
			if ok && p.TopicID == t.ID && p.Log().Offline() {
				// In a failed log directory: offline here until restart
				// (onLogDirOffline stopped its replication).
				continue
			}
			if ok && p.TopicID == t.ID {
				p.SetLimits(limits)
				p.Log().SetConfig(logCfg)
			} else if stopping() {
				skipped++
				continue
			} else {
				l, err := n.logDirs.CreateLog(tp, t.ID, logCfg)
				if err != nil {
					n.log.Error("creating partition log", "topic", t.Name, "partition", pi.Partition, "err", err)
					continue
				}
				p = partition.New(l, partition.Config{
					NodeID:            self,
					SyncBeforeAck:     st.Fsync == "always",
					Limits:            limits,
					ReplicaLagTimeMax: st.ReplicaLagTimeMax,
					ISRChanger:        n.isrChanger,
					Logger:            n.log,
					Metrics:           n.metrics.partitionMetrics(),
				}, pst)
				n.parts.Put(p)
				if pst.Leader == self {
					n.expectFollowers(p, pst) // New made it leader
				}
			}
			n.applyPartitionState(p, pst, n.coordinatorOf(t.Name))
		}
	}
	if skipped > 0 {
		n.log.Info("stopping: partitions of the new metadata not created", "partitions", skipped)
	}
	// Drop partitions whose topic is gone or was recreated with a new id.
	gone := make(map[string]bool)
	for _, p := range n.parts.All() {
		id, ok := want[storage.TopicPartition{Topic: p.Topic, Partition: p.Index}]
		if !ok || id != p.TopicID {
			gone[p.Topic] = true
		}
	}
	for topic := range gone {
		if _, ok := img.TopicByName(topic); !ok {
			n.metrics.partitionMetrics().DeleteTopic(topic)
		}
		for _, p := range n.parts.RemoveTopic(topic) {
			tp := storage.TopicPartition{Topic: p.Topic, Partition: p.Index}
			if id, ok := want[tp]; ok && id == p.TopicID {
				n.parts.Put(p) // still wanted: only a sibling changed
				continue
			}
			if c := n.coordinatorOf(p.Topic); c != nil {
				c.Unload(p.Index)
			}
			n.replicas.Unfollow(p)
			n.replicas.Unlead(p)
			if err := n.logDirs.DeleteLog(tp); err != nil {
				n.log.Error("deleting partition log", "topic", p.Topic, "partition", p.Index, "err", err)
			}
		}
	}
	if initial {
		for _, l := range n.logDirs.Logs() {
			tp := l.TopicPartition()
			if id, ok := want[tp]; !ok || id != l.TopicID() {
				n.log.Warn("deleting partition unknown to the metadata log", "topic", tp.Topic, "partition", tp.Partition)
				if err := n.logDirs.DeleteLog(tp); err != nil {
					n.log.Error("deleting partition log", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				}
			}
		}
	}
}

// replicaEpochs gives each replica's broker epoch if it is ISR-eligible in
// img (registered, unfenced, not in controlled shutdown), else -1.
func replicaEpochs(img *metadata.Image, replicas []int32) []int64 {
	out := make([]int64, len(replicas))
	for i, id := range replicas {
		out[i] = -1
		if b, ok := img.Broker(id); ok && !b.Fenced && !b.InControlledShutdown {
			out[i] = b.BrokerEpoch
		}
	}
	return out
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func parseInt(v string, def int64) int64 {
	n, err := config.ParseInt64(v)
	if err != nil {
		return def
	}
	return n
}

// millis converts a Kafka millisecond setting: negative means unlimited
// (-1), and values past time.Duration's range (Long.MAX defaults) saturate.
func millis(v string) time.Duration {
	n := parseInt(v, -1)
	switch {
	case n < 0:
		return -1
	case n > math.MaxInt64/int64(time.Millisecond):
		return math.MaxInt64
	}
	return time.Duration(n) * time.Millisecond
}

// logConfig derives a partition log's settings from resolved topic configs.
func logConfig(resolve func(string) string) storage.LogConfig {
	c := storage.DefaultLogConfig()
	c.SegmentBytes = parseInt(resolve("segment.bytes"), c.SegmentBytes)
	c.SegmentMs = millis(resolve("segment.ms"))
	c.IndexIntervalBytes = int(parseInt(resolve("index.interval.bytes"), int64(c.IndexIntervalBytes)))
	c.RetentionMs = millis(resolve("retention.ms"))
	c.RetentionBytes = parseInt(resolve("retention.bytes"), -1)
	c.LogAppendTime = resolve("message.timestamp.type") == "LogAppendTime"
	c.FileDeleteDelay = millis(resolve("file.delete.delay.ms"))
	policy := config.ParseList(resolve("cleanup.policy"))
	c.Compact = slices.Contains(policy, "compact")
	c.Delete = slices.Contains(policy, "delete")
	c.DeleteRetention = millis(resolve("delete.retention.ms"))
	c.MinCompactionLag = millis(resolve("min.compaction.lag.ms"))
	c.MaxCompactionLag = millis(resolve("max.compaction.lag.ms"))
	if r, err := config.ParseFloat64(resolve("min.cleanable.dirty.ratio")); err == nil {
		c.MinCleanableDirtyRatio = r
	}
	return c
}

func partitionLimits(resolve func(string) string) partition.Limits {
	return partition.Limits{
		MaxMessageBytes:      parseInt(resolve("max.message.bytes"), 1048588),
		LogAppendTime:        resolve("message.timestamp.type") == "LogAppendTime",
		TimestampBeforeMaxMs: parseInt(resolve("message.timestamp.before.max.ms"), 1<<63-1),
		TimestampAfterMaxMs:  parseInt(resolve("message.timestamp.after.max.ms"), 1<<63-1),
		Compact:              slices.Contains(config.ParseList(resolve("cleanup.policy")), "compact"),
		MinInsyncReplicas:    int(parseInt(resolve("min.insync.replicas"), 1)),
	}
}

// lockDataDir takes an exclusive flock on DATA_DIR/.lock so two processes
// never share a data directory.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another process: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
