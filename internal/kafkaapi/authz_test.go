package kafkaapi

import (
	"log/slog"
	"net"
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
