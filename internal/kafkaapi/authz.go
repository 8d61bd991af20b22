package kafkaapi

// Authorization: the one place handlers ask whether the request's
// principal may do something (allowed, allowedCluster, authorizedOps,
// allowedByType), and the checks that apply to a request as a whole before
// it is served (gate: the cluster operation of cluster-wide APIs, and the
// per-resource checks of the admin APIs forwarded to the active
// controller, see forward.go).
//
// The authorizer (package acl) is built from the ACLs of the local
// metadata image and rebuilt, once, when a new image has other ACLs, so an
// ACL applies on a broker as soon as the broker applied the record: the
// controller answers CreateAcls only once every live broker has.
//
// Which operation each API needs follows Kafka's KafkaApis and
// ControllerApis; the error codes are Kafka's: TOPIC_AUTHORIZATION_FAILED,
// GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED. An unauthorized resource gets its
// authorization error before any other check, so a principal that may not
// describe a topic cannot learn whether it exists (it is told
// UNKNOWN_TOPIC_OR_PARTITION only when it may).

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

// authz is the handler's authorizer state.
type authz struct {
	cfg *acl.Config // set in New, never changed; nil: no authorizer
	cur atomic.Pointer[authzState]
	mu  sync.Mutex // serializes rebuilds
}

// authzState is an authorizer and the ACLs it was built from.
type authzState struct {
	acls *metadata.ACLs
	a    *acl.Authorizer
}

// enabled reports whether an authorizer is configured.
func (z *authz) enabled() bool { return z.cfg != nil }

// authorizer returns the authorizer for the ACLs of img.
func (z *authz) authorizer(img *metadata.Image) *acl.Authorizer {
	acls := img.ACLs()
	if s := z.cur.Load(); s != nil && s.acls == acls {
		return s.a
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if s := z.cur.Load(); s != nil && s.acls == acls {
		return s.a
	}
	a := acl.New(*z.cfg, acls.Bindings())
	z.cur.Store(&authzState{acls: acls, a: a})
	return a
}

// identify records who the request comes from, once per request: the
// connection's principal and address, and whether it is a request another
// node forwarded (trusted).
//
// A request whose client id carries ForwardClientIDPrefix, from a
// principal allowed CLUSTER_ACTION on the cluster (a broker), was already
// authorized as its client by the node that forwarded it (see forward.go):
// it is trusted and passes every check here. Kafka's controller trusts an
// Envelope on the same condition. A client that merely uses the prefix
// gains nothing: without CLUSTER_ACTION it is authorized as itself.
func (h *Handler) identify(rc *reqCtx) {
	if !h.authz.enabled() {
		return
	}
	host := rc.conn.Remote.String()
	if tcp, ok := rc.conn.Remote.(*net.TCPAddr); ok {
		host = tcp.IP.String()
	} else if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	rc.who = acl.Request{Principal: rc.conn.Principal().String(), Host: acl.CanonicalHost(host)}
	rc.trusted = strings.HasPrefix(rc.hdr.ClientID, ForwardClientIDPrefix) && h.allowedCluster(rc, acl.OpClusterAction)
}

// allowed reports whether the request may perform op on the resource of
// type t named name.
func (h *Handler) allowed(rc *reqCtx, op acl.Operation, t acl.ResourceType, name string) bool {
	if !h.authz.enabled() || rc.trusted {
		return true
	}
	return h.authz.authorizer(h.ctrl.Image()).Authorize(rc.who, op, t, name)
}

// allowedCluster reports whether the request may perform op on the
// cluster.
func (h *Handler) allowedCluster(rc *reqCtx, op acl.Operation) bool {
	return h.allowed(rc, op, acl.ResourceCluster, acl.ClusterName)
}

// allowedByType reports whether the request may perform op on some
// resource of type t (KIP-679).
func (h *Handler) allowedByType(rc *reqCtx, op acl.Operation, t acl.ResourceType) bool {
	if !h.authz.enabled() || rc.trusted {
		return true
	}
	return h.authz.authorizer(h.ctrl.Image()).AuthorizeByResourceType(rc.who, op, t)
}

// authorizedOps is KIP-430's authorized operations of the request's
// principal on a resource: every supported operation without an
// authorizer.
func (h *Handler) authorizedOps(rc *reqCtx, t acl.ResourceType, name string) int32 {
	if !h.authz.enabled() || rc.trusted {
		return acl.AllOperations(t)
	}
	return h.authz.authorizer(h.ctrl.Image()).AuthorizedOperations(rc.who, t, name)
}

// clusterOperation is the cluster operation that a request needs as a
// whole, as Kafka checks it: CLUSTER_ACTION for the requests brokers send
// each other, ALTER or DESCRIBE for cluster-wide admin APIs (SCRAM
// credentials included), ALTER_CONFIGS or DESCRIBE_CONFIGS for client
// quotas.
func clusterOperation(req kmsg.Request) (acl.Operation, bool) {
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest, *kmsg.BrokerHeartbeatRequest, *kmsg.AllocateProducerIDsRequest,
		*kmsg.AlterPartitionRequest, *kmsg.AssignReplicasToDirsRequest, *kmsg.WriteTxnMarkersRequest:
		return acl.OpClusterAction, true
	case *kmsg.AddPartitionsToTxnRequest:
		// v4+ (KIP-890) is the brokers' verification request.
		return acl.OpClusterAction, r.Version >= 4
	case *kmsg.ElectLeadersRequest, *kmsg.AlterPartitionAssignmentsRequest, *kmsg.UnregisterBrokerRequest,
		*kmsg.UpdateFeaturesRequest, *kmsg.AlterReplicaLogDirsRequest, *kmsg.CreateACLsRequest, *kmsg.DeleteACLsRequest,
		*kmsg.AlterUserSCRAMCredentialsRequest:
		return acl.OpAlter, true
	case *kmsg.ListPartitionReassignmentsRequest, *kmsg.DescribeQuorumRequest, *kmsg.DescribeLogDirsRequest,
		*kmsg.DescribeACLsRequest, *kmsg.DescribeUserSCRAMCredentialsRequest:
		return acl.OpDescribe, true
	case *kmsg.AlterClientQuotasRequest:
		return acl.OpAlterConfigs, true
	case *kmsg.DescribeClientQuotasRequest:
		return acl.OpDescribeConfigs, true
	}
	return 0, false
}

// gate runs the checks of a request as a whole. It returns the response
// of a request refused outright (ok false), or the request to serve and,
// when part of it was refused, a function that adds the refused part's
// answers to the served part's response.
func (h *Handler) gate(rc *reqCtx, req kmsg.Request) (serve kmsg.Request, merge func(kmsg.Response) kmsg.Response, refused kmsg.Response) {
	if !h.authz.enabled() || rc.trusted {
		return req, nil, nil
	}
	if op, ok := clusterOperation(req); ok && !h.allowedCluster(rc, op) {
		return nil, nil, errorResponse(req, kerr.ClusterAuthorizationFailed.Code)
	}
	if !forwardable(req) {
		return req, nil, nil
	}
	serve, merge = h.authorizeAdmin(rc, req)
	if serve == nil {
		return nil, nil, merge(req.ResponseKind())
	}
	return serve, merge, nil
}

// mergeResponse applies merge to a served response, once it is ready.
func mergeResponse(resp server.Response, merge func(kmsg.Response) kmsg.Response) server.Response {
	if merge == nil {
		return resp
	}
	if resp.Later == nil {
		if resp.Msg != nil && !resp.Close {
			resp.Msg = merge(resp.Msg)
		}
		return resp
	}
	inner, out := resp.Later, make(chan server.Response, 1)
	// Owned by the request: it ends when the inner response arrives,
	// which the handler that made it guarantees.
	go func() {
		r := <-inner
		if r.Msg != nil && !r.Close {
			r.Msg = merge(r.Msg)
		}
		out <- r
	}()
	return server.Response{Later: out}
}

// errorResponse answers every part of req with code: a request refused
// as a whole (its cluster operation, or a forwarded request the active
// controller could not be reached for).
func errorResponse(req kmsg.Request, code int16) kmsg.Response {
	if forwardable(req) {
		return forwardError(req, code)
	}
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		resp := r.ResponseKind().(*kmsg.BrokerRegistrationResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.BrokerHeartbeatRequest:
		resp := r.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
		resp.ErrorCode, resp.IsFenced = code, true
		return resp
	case *kmsg.AllocateProducerIDsRequest:
		resp := r.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.AlterPartitionRequest:
		resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.AssignReplicasToDirsRequest:
		resp := r.ResponseKind().(*kmsg.AssignReplicasToDirsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.AddPartitionsToTxnRequest:
		resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DescribeLogDirsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DescribeACLsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DescribeClientQuotasRequest:
		resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		// As Kafka: the code at the top and on one result per user asked
		// for (Kafka leaves those results' names empty; they are kept).
		resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
		resp.ErrorCode = code
		for _, u := range r.Users {
			rr := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			rr.User, rr.ErrorCode = u.Name, code
			resp.Results = append(resp.Results, rr)
		}
		return resp
	case *kmsg.WriteTxnMarkersRequest:
		resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		for _, m := range r.Markers {
			rm := kmsg.NewWriteTxnMarkersResponseMarker()
			rm.ProducerID = m.ProducerID
			for _, t := range m.Topics {
				rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					rp.Partition, rp.ErrorCode = p, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				rm.Topics = append(rm.Topics, rt)
			}
			resp.Markers = append(resp.Markers, rm)
		}
		return resp
	case *kmsg.AlterReplicaLogDirsRequest:
		resp := r.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
		for _, d := range r.Dirs {
			for _, t := range d.Topics {
				rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		}
		return resp
	}
	return nil
}

// configResourceCode is the authorization error of op (DESCRIBE_CONFIGS
// or ALTER_CONFIGS) on a config resource, 0 when allowed: topics need it
// on the topic, groups on the group, brokers, broker loggers and client
// metrics on the cluster. Unknown resource types are left to the handler.
func (h *Handler) configResourceCode(rc *reqCtx, op acl.Operation, resourceType kmsg.ConfigResourceType, name string) int16 {
	switch resourceType {
	case kmsg.ConfigResourceTypeTopic:
		if !h.allowed(rc, op, acl.ResourceTopic, name) {
			return kerr.TopicAuthorizationFailed.Code
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !h.allowed(rc, op, acl.ResourceGroup, name) {
			return kerr.GroupAuthorizationFailed.Code
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeClientMetrics:
		if !h.allowedCluster(rc, op) {
			return kerr.ClusterAuthorizationFailed.Code
		}
	}
	return 0
}

// authorizeAdmin runs the per-resource checks of an admin request served
// by the active controller (see forwardable), as the client: it returns
// the request holding only the authorized resources (nil when none is)
// and a function adding the refused resources' errors to the response.
// A request with nothing refused comes back unchanged with a nil merge.
func (h *Handler) authorizeAdmin(rc *reqCtx, req kmsg.Request) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		return h.authorizeCreateTopics(rc, r)
	case *kmsg.DeleteTopicsRequest:
		return h.authorizeDeleteTopics(rc, r)
	case *kmsg.CreatePartitionsRequest:
		return h.authorizeCreatePartitions(rc, r)
	case *kmsg.IncrementalAlterConfigsRequest:
		keep := *r
		keep.Resources = nil
		var denied []kmsg.IncrementalAlterConfigsResponseResource
		for _, res := range r.Resources {
			if code := h.configResourceCode(rc, acl.OpAlterConfigs, res.ResourceType, res.ResourceName); code != 0 {
				rr := kmsg.NewIncrementalAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
				denied = append(denied, rr)
				continue
			}
			keep.Resources = append(keep.Resources, res)
		}
		return partial(r, &keep, len(keep.Resources), len(denied), func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.IncrementalAlterConfigsResponse)
			out.Resources = append(out.Resources, denied...)
			return out
		})
	case *kmsg.AlterConfigsRequest:
		keep := *r
		keep.Resources = nil
		var denied []kmsg.AlterConfigsResponseResource
		for _, res := range r.Resources {
			if code := h.configResourceCode(rc, acl.OpAlterConfigs, res.ResourceType, res.ResourceName); code != 0 {
				rr := kmsg.NewAlterConfigsResponseResource()
				rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
				denied = append(denied, rr)
				continue
			}
			keep.Resources = append(keep.Resources, res)
		}
		return partial(r, &keep, len(keep.Resources), len(denied), func(resp kmsg.Response) kmsg.Response {
			out := resp.(*kmsg.AlterConfigsResponse)
			out.Resources = append(out.Resources, denied...)
			return out
		})
	}
	// The other forwardable requests are cluster-wide (clusterOperation).
	return req, nil
}

// partial picks authorizeAdmin's answer: the original request when nothing
// was refused, nil when nothing is left to serve, else keep.
func partial(orig, keep kmsg.Request, kept, refused int, merge func(kmsg.Response) kmsg.Response) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	switch {
	case refused == 0:
		return orig, nil
	case kept == 0:
		return nil, merge
	}
	return keep, merge
}

var authorizationFailedMsg = "Authorization failed."

func (h *Handler) authorizeCreateTopics(rc *reqCtx, r *kmsg.CreateTopicsRequest) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	clusterCreate := h.allowedCluster(rc, acl.OpCreate)
	count := map[string]int{}
	for _, t := range r.Topics {
		count[t.Topic]++
	}
	keep := *r
	keep.Topics = nil
	var denied []kmsg.CreateTopicsResponseTopic
	hideConfigs := map[string]bool{}
	for _, t := range r.Topics {
		// Duplicates are refused by the handler (INVALID_REQUEST) first.
		if count[t.Topic] == 1 && !clusterCreate && !h.allowed(rc, acl.OpCreate, acl.ResourceTopic, t.Topic) {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, kerr.TopicAuthorizationFailed.Code, &authorizationFailedMsg
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			denied = append(denied, rt)
			continue
		}
		if r.Version >= 5 && !h.allowed(rc, acl.OpDescribeConfigs, acl.ResourceTopic, t.Topic) {
			hideConfigs[t.Topic] = true
		}
		keep.Topics = append(keep.Topics, t)
	}
	if len(denied) == 0 && len(hideConfigs) == 0 {
		return r, nil
	}
	// Kafka leaves out the configs of a created topic the client may not
	// describe the configs of, and says why in TopicConfigErrorCode.
	merge := func(resp kmsg.Response) kmsg.Response {
		out := resp.(*kmsg.CreateTopicsResponse)
		for i := range out.Topics {
			if hideConfigs[out.Topics[i].Topic] && out.Topics[i].ErrorCode == 0 {
				out.Topics[i].Configs = nil
				out.Topics[i].ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			}
		}
		out.Topics = append(out.Topics, denied...)
		return out
	}
	if len(keep.Topics) == 0 {
		return nil, merge
	}
	return &keep, merge
}

func (h *Handler) authorizeDeleteTopics(rc *reqCtx, r *kmsg.DeleteTopicsRequest) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	if h.allowedCluster(rc, acl.OpDelete) {
		return r, nil
	}
	img := h.ctrl.Image()
	keep := *r
	keep.TopicNames, keep.Topics = nil, nil
	var denied []kmsg.DeleteTopicsResponseTopic
	// deny reports whether the topic is refused, and answers it if so.
	deny := func(name string, byID bool, id [16]byte) bool {
		if h.allowed(rc, acl.OpDelete, acl.ResourceTopic, name) {
			return false
		}
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.ErrorCode, rt.ErrorMessage = kerr.TopicAuthorizationFailed.Code, &authorizationFailedMsg
		// A topic named by id is named in the answer only to a client
		// that may describe it (topic ids are not secret, names are).
		if !byID || h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, name) {
			n := name
			rt.Topic = &n
		}
		if byID {
			rt.TopicID = id
		}
		denied = append(denied, rt)
		return true
	}
	for _, name := range r.TopicNames {
		if !deny(name, false, [16]byte{}) {
			keep.TopicNames = append(keep.TopicNames, name)
		}
	}
	for _, t := range r.Topics {
		name, byID := "", false
		switch {
		case t.Topic != nil && *t.Topic != "":
			name = *t.Topic
		default:
			tp, ok := img.TopicByID(metadata.UUID(t.TopicID))
			if !ok {
				// The controller answers UNKNOWN_TOPIC_ID.
				keep.Topics = append(keep.Topics, t)
				continue
			}
			name, byID = tp.Name, true
		}
		if !deny(name, byID, t.TopicID) {
			keep.Topics = append(keep.Topics, t)
		}
	}
	return partial(r, &keep, len(keep.TopicNames)+len(keep.Topics), len(denied), func(resp kmsg.Response) kmsg.Response {
		out := resp.(*kmsg.DeleteTopicsResponse)
		out.Topics = append(out.Topics, denied...)
		return out
	})
}

func (h *Handler) authorizeCreatePartitions(rc *reqCtx, r *kmsg.CreatePartitionsRequest) (kmsg.Request, func(kmsg.Response) kmsg.Response) {
	count := map[string]int{}
	for _, t := range r.Topics {
		count[t.Topic]++
	}
	keep := *r
	keep.Topics = nil
	var denied []kmsg.CreatePartitionsResponseTopic
	for _, t := range r.Topics {
		if count[t.Topic] == 1 && !h.allowed(rc, acl.OpAlter, acl.ResourceTopic, t.Topic) {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, kerr.TopicAuthorizationFailed.Code, &authorizationFailedMsg
			denied = append(denied, rt)
			continue
		}
		keep.Topics = append(keep.Topics, t)
	}
	return partial(r, &keep, len(keep.Topics), len(denied), func(resp kmsg.Response) kmsg.Response {
		out := resp.(*kmsg.CreatePartitionsResponse)
		out.Topics = append(out.Topics, denied...)
		return out
	})
}
