package kafkaapi

import (
	"log/slog"
	"net"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/server"
)

// authzRC is the request context of principal's request with clientID,
// identified as Handle does.
func authzRC(t *testing.T, h *Handler, principal auth.Principal, clientID string) *reqCtx {
	c := &server.Conn{Remote: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 5555}, Logger: slog.New(slog.DiscardHandler)}
	c.SetPrincipal(principal)
	rc := &reqCtx{ctx: t.Context(), conn: c, hdr: protocol.RequestHeader{ClientID: clientID}, log: slog.New(slog.DiscardHandler)}
	h.identify(rc)
	return rc
}

func createTopicsRequest(names ...string) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	for _, n := range names {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = n, 1, 1
		req.Topics = append(req.Topics, t)
	}
	return req
}

func grant(t *testing.T, th *testHandler, bindings ...acl.Binding) {
	t.Helper()
	results, err := th.ctrl.CreateACLs(t.Context(), bindings)
	if err != nil {
		t.Fatalf("CreateACLs: %v", err)
	}
	for _, e := range results {
		if e != nil {
			t.Fatalf("CreateACLs: %v", e)
		}
	}
}

func TestAuthorizationGate(t *testing.T) {
	th := newTestHandler(t)
	th.h.authz.cfg = &acl.Config{SuperUsers: []string{"User:broker"}}
	h := th.h
	alice, broker := auth.User("alice"), auth.User("broker")

	t.Run("the host is the connection's IP", func(t *testing.T) {
		if rc := authzRC(t, h, alice, "app"); rc.who != (acl.Request{Principal: "User:alice", Host: "10.1.2.3"}) {
			t.Errorf("identify = %+v, want User:alice from 10.1.2.3", rc.who)
		}
	})
	t.Run("a forwarding broker is trusted", func(t *testing.T) {
		if rc := authzRC(t, h, broker, ForwardClientIDPrefix+"2"); !rc.trusted {
			t.Errorf("broker with the forward client id: trusted = false, want true")
		}
	})
	t.Run("the forward client id alone buys nothing", func(t *testing.T) {
		rc := authzRC(t, h, alice, ForwardClientIDPrefix+"2")
		if rc.trusted {
			t.Fatalf("alice with the forward client id: trusted = true, want false")
		}
		serve, merge, refused := h.gate(rc, createTopicsRequest("x"))
		if serve != nil || refused == nil {
			t.Fatalf("gate(CreateTopics x) as alice = serve %v, merge %v; want refused", serve, merge != nil)
		}
		if got := refused.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; got != kerr.TopicAuthorizationFailed.Code {
			t.Errorf("CreateTopics x as alice: code %d, want TOPIC_AUTHORIZATION_FAILED", got)
		}
	})
	t.Run("cluster actions need CLUSTER_ACTION", func(t *testing.T) {
		_, _, refused := h.gate(authzRC(t, h, alice, "app"), kmsg.NewPtrBrokerHeartbeatRequest())
		resp, ok := refused.(*kmsg.BrokerHeartbeatResponse)
		if !ok || resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
			t.Errorf("gate(BrokerHeartbeat) as alice = %+v, want CLUSTER_AUTHORIZATION_FAILED", refused)
		}
		if _, _, refused := h.gate(authzRC(t, h, broker, "b"), kmsg.NewPtrBrokerHeartbeatRequest()); refused != nil {
			t.Errorf("gate(BrokerHeartbeat) as a super user refused: %+v", refused)
		}
	})

	// ACLs apply as soon as the local image has them.
	grant(t, th,
		acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "a-", PatternType: acl.PatternPrefixed, Principal: "User:alice", Host: "*", Operation: acl.OpCreate, Permission: acl.PermissionAllow},
		acl.Binding{ResourceType: acl.ResourceCluster, ResourceName: acl.ClusterName, PatternType: acl.PatternLiteral, Principal: "User:relay", Host: "10.1.2.3", Operation: acl.OpClusterAction, Permission: acl.PermissionAllow},
	)
	t.Run("part of a CreateTopics is refused", func(t *testing.T) {
		rc := authzRC(t, h, alice, "app")
		serve, merge, refused := h.gate(rc, createTopicsRequest("a-1", "b-1"))
		if refused != nil || merge == nil {
			t.Fatalf("gate(CreateTopics a-1 b-1) = refused %+v, merge %v; want a part served", refused, merge != nil)
		}
		kept := serve.(*kmsg.CreateTopicsRequest).Topics
		if len(kept) != 1 || kept[0].Topic != "a-1" {
			t.Fatalf("served topics = %+v, want a-1 only", kept)
		}
		resp := await(t, mergeResponse(h.dispatch(rc, serve), merge)).(*kmsg.CreateTopicsResponse)
		got := map[string]int16{}
		for _, t := range resp.Topics {
			got[t.Topic] = t.ErrorCode
		}
		if len(got) != 2 || got["a-1"] != 0 || got["b-1"] != kerr.TopicAuthorizationFailed.Code {
			t.Errorf("CreateTopics a-1 b-1 as alice = %v, want a-1 created and b-1 TOPIC_AUTHORIZATION_FAILED", got)
		}
		// a-1 was created, but CREATE does not imply DESCRIBE_CONFIGS.
		for _, t2 := range resp.Topics {
			if t2.Topic == "a-1" && (t2.Configs != nil || t2.ConfigErrorCode != kerr.TopicAuthorizationFailed.Code) {
				t.Errorf("a-1 configs = %d entries, config error %d; want none and TOPIC_AUTHORIZATION_FAILED", len(t2.Configs), t2.ConfigErrorCode)
			}
		}
	})
	t.Run("CLUSTER_ACTION from the right host makes a forwarder trusted", func(t *testing.T) {
		if rc := authzRC(t, h, auth.User("relay"), ForwardClientIDPrefix+"3"); !rc.trusted {
			t.Errorf("relay with CLUSTER_ACTION and the forward client id: trusted = false, want true")
		}
	})
	t.Run("authorized operations", func(t *testing.T) {
		rc := authzRC(t, h, alice, "app")
		if got, want := h.authorizedOps(rc, acl.ResourceTopic, "a-9"), int32(1<<acl.OpCreate); got != want {
			t.Errorf("authorizedOps(alice, topic a-9) = %b, want %b", got, want)
		}
		cfg := h.authz.cfg
		h.authz.cfg = nil
		defer func() { h.authz.cfg = cfg }()
		if got := h.authorizedOps(rc, acl.ResourceTopic, "a-9"); got != acl.AllOperations(acl.ResourceTopic) {
			t.Errorf("authorizedOps without an authorizer = %b, want every topic operation", got)
		}
	})
}

// TestCredentialAndQuotaAPIsNeedClusterPermissions: SCRAM credentials and
// client quotas are cluster-wide: Kafka checks DESCRIBE / ALTER and
// DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster, and a principal
// without them is refused with CLUSTER_AUTHORIZATION_FAILED.
func TestCredentialAndQuotaAPIsNeedClusterPermissions(t *testing.T) {
	th := newTestHandler(t)
	th.h.authz.cfg = &acl.Config{SuperUsers: []string{"User:admin"}}
	h := th.h
	alice, admin := auth.User("alice"), auth.User("admin")

	describeScram := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
	u.Name = "bob"
	describeScram.Users = append(describeScram.Users, u)
	alterScram := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "bob", 2, 4096, []byte("salt"), make([]byte, 64)
	alterScram.Upsertions = append(alterScram.Upsertions, up)
	describeQuotas := kmsg.NewPtrDescribeClientQuotasRequest()
	alterQuotas := kmsg.NewPtrAlterClientQuotasRequest()
	e := kmsg.NewAlterClientQuotasRequestEntry()
	ee := kmsg.NewAlterClientQuotasRequestEntryEntity()
	ee.Type, ee.Name = "user", kmsg.StringPtr("alice")
	e.Entity = append(e.Entity, ee)
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value = "producer_byte_rate", 1e9
	e.Ops = append(e.Ops, op)
	alterQuotas.Entries = append(alterQuotas.Entries, e)

	code := kerr.ClusterAuthorizationFailed.Code
	tests := []struct {
		name  string
		give  kmsg.Request
		grant acl.Operation
		codes func(kmsg.Response) []int16
		want  []int16 // CLUSTER_AUTHORIZATION_FAILED where the response has codes
	}{
		{"DescribeUserScramCredentials", describeScram, acl.OpDescribe, func(r kmsg.Response) []int16 {
			resp := r.(*kmsg.DescribeUserSCRAMCredentialsResponse)
			out := []int16{resp.ErrorCode}
			for _, rr := range resp.Results {
				out = append(out, rr.ErrorCode)
			}
			return out
		}, []int16{code, code}},
		{"AlterUserScramCredentials", alterScram, acl.OpAlter, func(r kmsg.Response) []int16 {
			var out []int16
			for _, rr := range r.(*kmsg.AlterUserSCRAMCredentialsResponse).Results {
				out = append(out, rr.ErrorCode)
			}
			return out
		}, []int16{code}},
		{"DescribeClientQuotas", describeQuotas, acl.OpDescribeConfigs, func(r kmsg.Response) []int16 {
			return []int16{r.(*kmsg.DescribeClientQuotasResponse).ErrorCode}
		}, []int16{code}},
		{"AlterClientQuotas", alterQuotas, acl.OpAlterConfigs, func(r kmsg.Response) []int16 {
			var out []int16
			for _, rr := range r.(*kmsg.AlterClientQuotasResponse).Entries {
				out = append(out, rr.ErrorCode)
			}
			return out
		}, []int16{code}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve, _, refused := h.gate(authzRC(t, h, alice, "app"), tt.give)
			if serve != nil || refused == nil {
				t.Fatalf("gate(%s) as alice without ACLs: served, want CLUSTER_AUTHORIZATION_FAILED", tt.name)
			}
			if got := tt.codes(refused); !slices.Equal(got, tt.want) {
				t.Errorf("gate(%s) as alice without ACLs: codes %v, want %v", tt.name, got, tt.want)
			}
			if _, _, refused := h.gate(authzRC(t, h, admin, "app"), tt.give); refused != nil {
				t.Errorf("gate(%s) as the super user admin: refused %+v", tt.name, refused)
			}
		})
	}
	// The operation each needs, granted on the cluster, lets alice in.
	for _, tt := range tests {
		grant(t, th, acl.Binding{ResourceType: acl.ResourceCluster, ResourceName: acl.ClusterName, PatternType: acl.PatternLiteral,
			Principal: "User:alice", Host: "*", Operation: tt.grant, Permission: acl.PermissionAllow})
		if _, _, refused := h.gate(authzRC(t, h, alice, "app"), tt.give); refused != nil {
			t.Errorf("gate(%s) as alice with %v on the cluster: refused %+v", tt.name, tt.grant, refused)
		}
	}
}

// TestEveryServedAPIHasAnAuthorizationRule: an API added to the version
// table must say how it is authorized, either as a whole on the cluster
// (clusterOperation) or by its handler per resource, listed here; an API
// that slips past both is served to everyone once the authorizer is on.
func TestEveryServedAPIHasAnAuthorizationRule(t *testing.T) {
	inHandler := map[kmsg.Key]string{
		kmsg.ApiVersions: "never authorized (as Kafka)", kmsg.SASLHandshake: "never authorized", kmsg.SASLAuthenticate: "never authorized",
		kmsg.Metadata: "DESCRIBE per topic (metadata.go)", kmsg.Produce: "WRITE per topic, IDEMPOTENT_WRITE / TransactionalId WRITE",
		kmsg.Fetch: "READ per topic; CLUSTER_ACTION for replicas", kmsg.ListOffsets: "DESCRIBE per topic",
		kmsg.OffsetForLeaderEpoch: "DESCRIBE per topic; CLUSTER_ACTION for replicas", kmsg.CreateTopics: "authorizeCreateTopics",
		kmsg.DeleteTopics: "authorizeDeleteTopics", kmsg.CreatePartitions: "authorizeCreatePartitions",
		kmsg.DescribeConfigs: "configResourceCode", kmsg.IncrementalAlterConfigs: "configResourceCode", kmsg.AlterConfigs: "configResourceCode",
		kmsg.DescribeCluster: "DESCRIBE on the cluster", kmsg.InitProducerID: "IDEMPOTENT_WRITE or TransactionalId WRITE",
		kmsg.DescribeTopicPartitions: "DESCRIBE per topic", kmsg.DescribeProducers: "READ per topic", kmsg.DeleteRecords: "DELETE per topic",
		kmsg.FindCoordinator: "DESCRIBE on the group or TransactionalId", kmsg.AddPartitionsToTxn: "v0-3: TransactionalId WRITE, WRITE per topic; v4+: CLUSTER_ACTION",
		kmsg.AddOffsetsToTxn: "TransactionalId WRITE, READ on the group", kmsg.EndTxn: "TransactionalId WRITE",
		kmsg.DescribeTransactions: "TransactionalId DESCRIBE", kmsg.ListTransactions: "TransactionalId DESCRIBE",
		kmsg.TxnOffsetCommit: "groups_authz.go", kmsg.JoinGroup: "groups_authz.go", kmsg.SyncGroup: "groups_authz.go",
		kmsg.Heartbeat: "groups_authz.go", kmsg.LeaveGroup: "groups_authz.go", kmsg.OffsetCommit: "groups_authz.go",
		kmsg.OffsetFetch: "groups_authz.go", kmsg.DescribeGroups: "groups_authz.go", kmsg.ListGroups: "groups_authz.go",
		kmsg.DeleteGroups: "groups_authz.go", kmsg.OffsetDelete: "groups_authz.go", kmsg.ConsumerGroupHeartbeat: "groups_authz.go",
		kmsg.ConsumerGroupDescribe: "groups_authz.go",
	}
	for _, k := range protocol.Advertised() {
		key := kmsg.Key(k.ApiKey)
		if _, listed := inHandler[key]; listed {
			continue
		}
		for _, v := range slices.Compact([]int16{k.MinVersion, k.MaxVersion}) {
			req := kmsg.RequestForKey(k.ApiKey)
			req.SetVersion(v)
			if _, whole := clusterOperation(req); !whole {
				t.Errorf("%s v%d has no authorization rule: add it to clusterOperation, or check it in its handler and list it here", key.Name(), v)
			}
		}
	}
}
