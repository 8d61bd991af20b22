// Package kafkaapi implements the Kafka APIs on top of the domain packages:
// one file per API, each starting with the versions it serves. It is the only
// place that chooses Kafka error codes (errors.go). It implements
// server.Handler.
//
// Goroutines: Handle runs on the connection's reader goroutine. Requests that
// wait (fsync before acknowledging a produce, fetch long-polls) start one
// goroutine each, owned by the request: it ends when the wait completes,
// times out or the connection context is cancelled, and it hands its
// response to the connection's writer through a one-slot channel.
package kafkaapi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/clock"
	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/quota"
	"github.com/strata-io/strata/internal/raft"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
	"github.com/strata-io/strata/internal/txn"
)

// Config configures the API layer.
type Config struct {
	NodeID           int32
	Rack             string
	AutoCreateTopics bool
	// FetchMaxBytes caps a fetch response (Kafka fetch.max.bytes, 55 MiB).
	FetchMaxBytes int32
	// BrokerConfigs are the static broker settings by Kafka name, shown by
	// DescribeConfigs and used as topic config defaults.
	BrokerConfigs map[string]string
	// LogDirs are the broker's log directories, reported by
	// DescribeLogDirs and the targets of AlterReplicaLogDirs. Nil in
	// tests, which set LogDir instead: one directory holding every hosted
	// partition (empty: reported as "", without volume sizes).
	LogDirs *storage.LogDirs
	LogDir  string
	// ReplicaPolls, when set, is how the node hurries the followers of
	// partitions this broker starts leading (see ReplicaPolls).
	ReplicaPolls *ReplicaPolls
	// Authorizer turns ACL authorization on (authz.go); nil leaves every
	// request allowed, as Kafka without authorizer.class.name.
	Authorizer *acl.Config
	Logger     *slog.Logger
	// Now is the clock of durations (follower fetch times for the ISR);
	// nil: time.Now.
	Now func() time.Time
	// WallClock is the clock of record timestamps: LogAppendTime, the
	// message.timestamp.*.max.ms bounds, markers; nil: clock.Now.
	WallClock func() time.Time
}

// ControllerChannel reaches the active controller from any node: the local
// controller when this node leads the metadata quorum, else over the
// network. Handlers use it for work a broker delegates (auto-creating
// topics, producer id blocks) and to forward clients' admin requests.
type ControllerChannel interface {
	ActiveControllerID() int32
	CreateTopics(ctx context.Context, topics []controller.CreateTopic) []controller.CreateTopicResult
	AllocateProducerIDs(ctx context.Context, n int64) (int64, error)
	// Forward sends a client's admin request to the active controller at
	// the request's version and returns its response.
	Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	// Quorum describes the metadata quorum (DescribeQuorum).
	Quorum(ctx context.Context) (raft.QuorumState, error)
	// ListenerOf returns the Kafka listener of a controller node from
	// --controller-bootstrap (ok false when it is not listed there).
	ListenerOf(id int32) (host string, port int32, ok bool)
}

// Handler serves Kafka requests.
type Handler struct {
	cfg        Config
	partitions *partition.Table
	ctrl       *controller.Controller
	channel    ControllerChannel
	groups     *group.Coordinator
	log        *slog.Logger
	// txnGroups and txnVerifier are set before serving (their setters),
	// never changed after; either may be nil.
	txnGroups   TxnMarkerGroups
	txnVerifier TxnVerifier

	// txns is the transaction coordinator; wantTxnTopic asks for
	// __transaction_state to be created. Nil until SetTransactions.
	txns         *txn.Coordinator
	wantTxnTopic func()
	// mover serves AlterReplicaLogDirs; set before serving, nil in tests.
	mover ReplicaMover
	// quotas measures clients against their quotas; set before serving
	// (SetQuotas), nil when nothing is enforced.
	quotas *quota.Manager
	authz  authz

	pidMu struct {
		sync.Mutex
		next, end int64 // the local block of producer ids: [next, end)
	}
}

// New returns a handler over the broker's partitions, controller and group
// coordinator.
func New(cfg Config, partitions *partition.Table, ctrl *controller.Controller, channel ControllerChannel, groups *group.Coordinator) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WallClock == nil {
		cfg.WallClock = clock.Now
	}
	if cfg.FetchMaxBytes <= 0 {
		cfg.FetchMaxBytes = 55 << 20
	}
	h := &Handler{cfg: cfg, partitions: partitions, ctrl: ctrl, channel: channel, groups: groups, log: cfg.Logger}
	h.authz.cfg = cfg.Authorizer
	return h
}

// SetTransactions gives the handler the node's transaction coordinator
// and the function that asks for __transaction_state to be created (the
// first FindCoordinator for a transactional id does). Call it before
// serving.
func (h *Handler) SetTransactions(txns *txn.Coordinator, wantTopic func()) {
	h.txns, h.wantTxnTopic = txns, wantTopic
}

var _ server.Handler = (*Handler)(nil)

// Handle decodes and serves one request.
func (h *Handler) Handle(ctx context.Context, c *server.Conn, hdr protocol.RequestHeader, req kmsg.Request, body []byte) server.Response {
	key := kmsg.Key(hdr.APIKey)
	vr, ok := protocol.Accepted(hdr.APIKey)
	if key == kmsg.ApiVersions && !vr.Contains(hdr.APIVersion) {
		// KIP-511: answer a too-new ApiVersions with v0 so the client can
		// retry with a version we speak.
		return server.Response{Msg: apiVersionsFallback()}
	}
	if !ok {
		c.Logger.Warn("closing connection: unsupported api", "api_key", hdr.APIKey, "api", key.Name(), "api_version", hdr.APIVersion, "client_id", hdr.ClientID)
		return server.Response{Close: true}
	}
	produceTooOld := key == kmsg.Produce && hdr.APIVersion >= 0 && hdr.APIVersion < vr.Min
	if !vr.Contains(hdr.APIVersion) && !produceTooOld {
		c.Logger.Warn("closing connection: unsupported api version", "api", key.Name(), "api_version", hdr.APIVersion, "supported", fmt.Sprintf("%d-%d", vr.Min, vr.Max), "client_id", hdr.ClientID)
		return server.Response{Close: true}
	}
	if err := req.ReadFrom(body); err != nil {
		c.Logger.Warn("closing connection: malformed request", "api", key.Name(), "api_version", hdr.APIVersion, "client_id", hdr.ClientID, "err", err)
		return server.Response{Close: true}
	}
	if produceTooOld {
		return server.Response{Msg: produceError(req.(*kmsg.ProduceRequest), kerr.UnsupportedVersion.Code)}
	}
	rc := &reqCtx{ctx: ctx, conn: c, hdr: hdr, log: c.Logger.With("api", key.Name(), "client_id", hdr.ClientID)}
	if h.txns == nil && isTxnAPI(key) {
		c.Logger.Error("closing connection: transaction API without a transaction coordinator", "api", key.Name())
		return server.Response{Close: true}
	}
	h.identify(rc)
	req, merge, refused := h.gate(rc, req)
	if refused != nil {
		return done(refused)
	}
	return mergeResponse(h.serveWithQuotas(rc, req, len(body)), merge)
}

// dispatch serves a decoded request: forwards it to the active controller
// or runs its API function.
func (h *Handler) dispatch(rc *reqCtx, req kmsg.Request) server.Response {
	c := rc.conn
	if resp, ok := h.maybeForward(rc, req); ok {
		return resp
	}
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return h.apiVersions(rc, r)
	case *kmsg.MetadataRequest:
		return h.metadata(rc, r)
	case *kmsg.ProduceRequest:
		return h.produce(rc, r)
	case *kmsg.FetchRequest:
		return h.fetch(rc, r)
	case *kmsg.ListOffsetsRequest:
		return h.listOffsets(rc, r)
	case *kmsg.CreateTopicsRequest:
		return h.createTopics(rc, r)
	case *kmsg.DeleteTopicsRequest:
		return h.deleteTopics(rc, r)
	case *kmsg.CreatePartitionsRequest:
		return h.createPartitions(rc, r)
	case *kmsg.DescribeConfigsRequest:
		return h.describeConfigs(rc, r)
	case *kmsg.DescribeClusterRequest:
		return h.describeCluster(rc, r)
	case *kmsg.InitProducerIDRequest:
		return h.initProducerID(rc, r)
	case *kmsg.OffsetForLeaderEpochRequest:
		return h.offsetForLeaderEpoch(rc, r)
	case *kmsg.BrokerRegistrationRequest:
		return h.brokerRegistration(rc, r)
	case *kmsg.AllocateProducerIDsRequest:
		return h.allocateProducerIDs(rc, r)
	case *kmsg.BrokerHeartbeatRequest:
		return h.brokerHeartbeat(rc, r)
	case *kmsg.AlterPartitionRequest:
		return h.alterPartition(rc, r)
	case *kmsg.UnregisterBrokerRequest:
		return h.unregisterBroker(rc, r)
	case *kmsg.ElectLeadersRequest:
		return h.electLeaders(rc, r)
	case *kmsg.AlterPartitionAssignmentsRequest:
		return h.alterPartitionReassignments(rc, r)
	case *kmsg.ListPartitionReassignmentsRequest:
		return h.listPartitionReassignments(rc, r)
	case *kmsg.DescribeQuorumRequest:
		return h.describeQuorum(rc, r)
	case *kmsg.DescribeTopicPartitionsRequest:
		return h.describeTopicPartitions(rc, r)
	case *kmsg.UpdateFeaturesRequest:
		return h.updateFeatures(rc, r)
	case *kmsg.IncrementalAlterConfigsRequest:
		return h.incrementalAlterConfigs(rc, r)
	case *kmsg.AlterConfigsRequest:
		return h.alterConfigs(rc, r)
	case *kmsg.DescribeProducersRequest:
		return h.describeProducers(rc, r)
	case *kmsg.DeleteRecordsRequest:
		return h.deleteRecords(rc, r)
	case *kmsg.DescribeLogDirsRequest:
		return h.describeLogDirs(rc, r)
	case *kmsg.AlterReplicaLogDirsRequest:
		return h.alterReplicaLogDirs(rc, r)
	case *kmsg.AssignReplicasToDirsRequest:
		return h.assignReplicasToDirs(rc, r)
	case *kmsg.FindCoordinatorRequest:
		return h.findCoordinator(rc, r)
	case *kmsg.AddPartitionsToTxnRequest:
		return h.addPartitionsToTxn(rc, r)
	case *kmsg.AddOffsetsToTxnRequest:
		return h.addOffsetsToTxn(rc, r)
	case *kmsg.EndTxnRequest:
		return h.endTxn(rc, r)
	case *kmsg.WriteTxnMarkersRequest:
		return h.writeTxnMarkers(rc, r)
	case *kmsg.DescribeTransactionsRequest:
		return h.describeTransactions(rc, r)
	case *kmsg.ListTransactionsRequest:
		return h.listTransactions(rc, r)
	case *kmsg.JoinGroupRequest, *kmsg.SyncGroupRequest, *kmsg.HeartbeatRequest, *kmsg.LeaveGroupRequest,
		*kmsg.OffsetCommitRequest, *kmsg.OffsetFetchRequest, *kmsg.DescribeGroupsRequest,
		*kmsg.ListGroupsRequest, *kmsg.DeleteGroupsRequest, *kmsg.OffsetDeleteRequest,
		*kmsg.ConsumerGroupHeartbeatRequest, *kmsg.ConsumerGroupDescribeRequest:
		return h.groupRequest(rc, req)
	case *kmsg.TxnOffsetCommitRequest:
		return h.txnOffsetCommit(rc, r)
	case *kmsg.SASLHandshakeRequest:
		return h.saslHandshake(rc, r)
	case *kmsg.SASLAuthenticateRequest:
		return h.saslAuthenticate(rc, r)
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		return h.describeUserScramCredentials(rc, r)
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return h.alterUserScramCredentials(rc, r)
	case *kmsg.DescribeClientQuotasRequest:
		return h.describeClientQuotas(rc, r)
	case *kmsg.AlterClientQuotasRequest:
		return h.alterClientQuotas(rc, r)
	case *kmsg.DescribeACLsRequest:
		return h.describeACLs(rc, r)
	case *kmsg.CreateACLsRequest:
		return h.createACLs(rc, r)
	case *kmsg.DeleteACLsRequest:
		return h.deleteACLs(rc, r)
	}
	// The version table lists an API this switch does not serve: a bug,
	// not bad input. Close rather than answer something invented.
	c.Logger.Error("api advertised but not dispatched", "api", kmsg.Key(rc.hdr.APIKey).Name())
	return server.Response{Close: true}
}

// isTxnAPI reports whether key is served by the transaction coordinator.
func isTxnAPI(key kmsg.Key) bool {
	switch key {
	case kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.EndTxn, kmsg.DescribeTransactions, kmsg.ListTransactions:
		return true
	}
	return false
}

// reqCtx carries per-request context into an API function.
type reqCtx struct {
	ctx  context.Context
	conn *server.Conn
	hdr  protocol.RequestHeader
	log  *slog.Logger
	// who asks, and whether the request was authorized by the node that
	// forwarded it; set by identify when an authorizer is configured.
	who     acl.Request
	trusted bool
}

// done wraps an immediate response.
func done(msg kmsg.Response) server.Response { return server.Response{Msg: msg} }

// withTimeoutMillis bounds ctx by a request's own timeout field when it is
// positive (admin requests: CreateTopics, DeleteTopics, CreatePartitions,
// ElectLeaders, AlterPartitionReassignments); a wait that runs out answers
// REQUEST_TIMED_OUT, as in Kafka.
func withTimeoutMillis(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	if ms <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}

// later runs fn on its own goroutine and returns a response that the
// connection writer waits for. fn must return promptly once ctx is done.
func later(rc *reqCtx, fn func() kmsg.Response) server.Response {
	ch := make(chan server.Response, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				rc.log.Error("panic serving request; closing connection", "panic", r, "stack", string(debug.Stack()))
				ch <- server.Response{Close: true}
			}
		}()
		ch <- server.Response{Msg: fn()}
	}()
	return server.Response{Later: ch}
}
