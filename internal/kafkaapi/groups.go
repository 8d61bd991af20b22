package kafkaapi

// The consumer group APIs are served by package group, which speaks kmsg
// requests and responses directly (a deliberate exception to choosing error
// codes only here, as Kafka's group coordinator computes its own). Each
// waits off the connection's reader goroutine: joins wait for a rebalance,
// writes for the __consumer_offsets log to commit.
//
//   JoinGroup 0-9 (advertised from v0 for librdkafka, KAFKA-18659): v4
//   KIP-394 member id required, v5 KIP-345 static members, v6 flexible, v7
//   KIP-559 protocol type and name, v8 reason, v9 KIP-814 skip assignment.
//   SyncGroup 0-5 (v5 protocol type/name). Heartbeat 0-4. LeaveGroup 0-5
//   (v3 batched members, v5 reasons). OffsetCommit 2-9 (v8 flexible, v9
//   KIP-848 member epochs). OffsetFetch 1-9 (v8 KIP-709 several groups, v9
//   member epoch). DescribeGroups 0-5. ListGroups 0-5 (v4 state filter, v5
//   type filter). DeleteGroups 0-2. OffsetDelete 0.
//   ConsumerGroupHeartbeat 0-1 and ConsumerGroupDescribe 0-1 (KIP-848; v1,
//   KIP-1082, has the client generate its member id). A group id is either
//   classic or consumer; an empty group converts, a non-empty one refuses
//   the other protocol with Kafka's errors. No online migration.

import (
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/server"
)

// connState is the handler's per-connection state (server.Conn.State).
type connState struct {
	// lastGroup is closed when the connection's previous group request has
	// finished: group requests on one connection run one after another, as
	// Kafka serves a connection (so pipelined commits cannot swap).
	lastGroup chan struct{}
}

func (h *Handler) groupRequest(rc *reqCtx, req kmsg.Request) server.Response {
	req, merge, refused := h.authorizeGroup(rc, req)
	if refused != nil {
		return done(refused)
	}
	return mergeResponse(h.serveGroupRequest(rc, req), merge)
}

func (h *Handler) serveGroupRequest(rc *reqCtx, req kmsg.Request) server.Response {
	cs, _ := rc.conn.State.(*connState)
	if cs == nil {
		cs = &connState{}
		rc.conn.State = cs
	}
	prev, mine := cs.lastGroup, make(chan struct{})
	cs.lastGroup = mine
	host := rc.conn.Remote.String()
	if tcp, ok := rc.conn.Remote.(*net.TCPAddr); ok {
		host = tcp.IP.String()
	}
	// Kafka reports a member's host as "/" + its address.
	ctx := group.WithClientInfo(rc.ctx, group.ClientInfo{ClientID: rc.hdr.ClientID, ClientHost: "/" + host})
	return later(rc, func() kmsg.Response {
		defer close(mine)
		if prev != nil {
			select {
			case <-prev:
			case <-rc.ctx.Done():
			}
		}
		rc := *rc
		rc.ctx = ctx
		switch r := req.(type) {
		case *kmsg.JoinGroupRequest:
			return h.groups.JoinGroup(rc.ctx, r)
		case *kmsg.SyncGroupRequest:
			return h.groups.SyncGroup(rc.ctx, r)
		case *kmsg.HeartbeatRequest:
			return h.groups.Heartbeat(rc.ctx, r)
		case *kmsg.LeaveGroupRequest:
			return h.groups.LeaveGroup(rc.ctx, r)
		case *kmsg.OffsetCommitRequest:
			return h.groups.OffsetCommit(rc.ctx, r)
		case *kmsg.OffsetFetchRequest:
			return h.groups.OffsetFetch(rc.ctx, r)
		case *kmsg.TxnOffsetCommitRequest:
			return h.groups.TxnOffsetCommit(rc.ctx, r)
		case *kmsg.DescribeGroupsRequest:
			return h.groups.DescribeGroups(rc.ctx, r)
		case *kmsg.ListGroupsRequest:
			return h.groups.ListGroups(rc.ctx, r)
		case *kmsg.DeleteGroupsRequest:
			return h.groups.DeleteGroups(rc.ctx, r)
		case *kmsg.OffsetDeleteRequest:
			return h.groups.OffsetDelete(rc.ctx, r)
		case *kmsg.ConsumerGroupHeartbeatRequest:
			return h.groups.ConsumerGroupHeartbeat(rc.ctx, r)
		case *kmsg.ConsumerGroupDescribeRequest:
			return h.groups.ConsumerGroupDescribe(rc.ctx, r)
		}
		panic("groupRequest called with a non-group request") // a dispatch bug, not input
	})
}
