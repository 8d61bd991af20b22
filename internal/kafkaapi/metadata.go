package kafkaapi

// Metadata v0-v12.
//   v1: null topics = all, controller id, rack, is_internal. v2: cluster id.
//   v3: throttle. v4 (KIP-204): allow_auto_topic_creation. v5: offline
//   replicas. v7 (KIP-320): leader epoch. v8 (KIP-430): authorized
//   operations. v9: flexible. v10 (KIP-516): topic ids. v11: cluster
//   authorized operations dropped. v12: topic by id with a null name.
// Unknown topics are created when the broker allows auto-creation and the
// request does (v4+; always for v0-v3), synchronously through the metadata
// log, so the first answer already carries the new partitions (Kafka answers
// LEADER_NOT_AVAILABLE first); a broker that is not the active controller
// forwards the creation to it. The controller id is the active controller
// when it is a broker, else a broker that forwards admin APIs to it
// (forward.go).
// Authorization (Kafka's handleTopicMetadataRequest): the full listing
// leaves out topics the client may not DESCRIBE; a named one answers
// TOPIC_AUTHORIZATION_FAILED (by id: without its name). Auto-creation needs
// CREATE on the cluster or on the topic, else TOPIC_AUTHORIZATION_FAILED.
// Authorized operations (KIP-430) are the client's, when asked.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

// operationsNotRequested is Kafka's INT32_MIN sentinel.
const operationsNotRequested = -2147483648

// isInternalTopic reports Kafka's internal topics.
func isInternalTopic(name string) bool {
	return name == group.OffsetsTopic || name == "__transaction_state"
}

func (h *Handler) metadata(rc *reqCtx, req *kmsg.MetadataRequest) server.Response {
	allTopics := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	autoCreate := h.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	if !allTopics && autoCreate {
		img := h.ctrl.Image()
		var missing []string
		denied := map[string]int16{}
		clusterCreate := h.allowedCluster(rc, acl.OpCreate)
		for _, t := range req.Topics {
			if t.Topic == nil || !h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, *t.Topic) {
				continue
			}
			if _, ok := img.TopicByName(*t.Topic); !ok {
				if !clusterCreate && !h.allowed(rc, acl.OpCreate, acl.ResourceTopic, *t.Topic) {
					denied[*t.Topic] = kerr.TopicAuthorizationFailed.Code
					continue
				}
				missing = append(missing, *t.Topic)
			}
		}
		if len(missing) > 0 {
			return later(rc, func() kmsg.Response {
				errs := h.autoCreate(rc, missing)
				for name, code := range denied {
					errs[name] = code
				}
				return h.metadataResponse(rc, req, listenerOf(rc.conn), allTopics, errs)
			})
		}
		return done(h.metadataResponse(rc, req, listenerOf(rc.conn), allTopics, denied))
	}
	return done(h.metadataResponse(rc, req, listenerOf(rc.conn), allTopics, nil))
}

// autoCreate creates topics with broker defaults and returns the error
// code for each name that could not be created.
func (h *Handler) autoCreate(rc *reqCtx, names []string) map[string]int16 {
	reqs := make([]controller.CreateTopic, 0, len(names))
	for _, n := range names {
		reqs = append(reqs, controller.CreateTopic{Name: n, NumPartitions: -1, ReplicationFactor: -1})
	}
	errs := make(map[string]int16)
	for _, r := range h.channel.CreateTopics(rc.ctx, reqs) {
		switch {
		case r.Err == nil, errors.Is(r.Err, controller.ErrTopicExists):
		case errors.Is(r.Err, controller.ErrInvalidTopic):
			errs[r.Name] = kerr.InvalidTopicException.Code
		default:
			rc.log.Warn("auto-creating topic", "topic", r.Name, "err", r.Err)
			errs[r.Name] = kerr.LeaderNotAvailable.Code
		}
	}
	return errs
}

// metadataResponse answers for a client of listener: brokers appear with
// their endpoint on that listener, and a broker without one is left out of
// the broker list (as in Kafka; partitions still name it).
func (h *Handler) metadataResponse(rc *reqCtx, req *kmsg.MetadataRequest, listener string, allTopics bool, createErrs map[string]int16) *kmsg.MetadataResponse {
	img := h.ctrl.Image()
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	alive := make(map[int32]bool)
	for _, b := range img.Brokers() {
		if b.Fenced {
			continue
		}
		alive[b.NodeID] = true
		e, ok := clientEndpoint(b, listener)
		if !ok {
			continue
		}
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port = e.NodeID, e.Host, e.Port
		if e.Rack != "" {
			rack := e.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	if cid := img.ClusterID(); cid != "" {
		resp.ClusterID = &cid
	}
	resp.ControllerID = h.controllerIDForClients()
	resp.AuthorizedOperations = operationsNotRequested
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = 0
		if h.allowedCluster(rc, acl.OpDescribe) {
			resp.AuthorizedOperations = h.authorizedOps(rc, acl.ResourceCluster, acl.ClusterName)
		}
	}
	addTopic := func(t *metadata.Topic) {
		rt := kmsg.NewMetadataResponseTopic()
		name := t.Name
		rt.Topic = &name
		rt.TopicID = t.ID
		rt.IsInternal = isInternalTopic(t.Name)
		rt.AuthorizedOperations = operationsNotRequested
		if req.IncludeTopicAuthorizedOperations {
			rt.AuthorizedOperations = h.authorizedOps(rc, acl.ResourceTopic, t.Name)
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewMetadataResponseTopicPartition()
			rp.Partition = p.Partition
			rp.Leader, rp.LeaderEpoch = p.Leader, p.LeaderEpoch
			rp.Replicas, rp.ISR = p.Replicas, p.ISR
			rp.OfflineReplicas = []int32{}
			for _, r := range p.Replicas {
				if !alive[r] {
					rp.OfflineReplicas = append(rp.OfflineReplicas, r)
				}
			}
			if p.Leader < 0 || !alive[p.Leader] {
				rp.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if allTopics {
		for _, t := range img.Topics() {
			if h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, t.Name) {
				addTopic(t)
			}
		}
		return resp
	}
	for _, rtReq := range req.Topics {
		var t *metadata.Topic
		ok := false
		switch {
		case rtReq.Topic != nil:
			t, ok = img.TopicByName(*rtReq.Topic)
		case rtReq.TopicID != [16]byte{}:
			t, ok = img.TopicByID(metadata.UUID(rtReq.TopicID))
		}
		described := true
		switch {
		case ok:
			described = h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, t.Name)
		case rtReq.Topic != nil:
			described = h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, *rtReq.Topic)
		}
		if ok && described {
			addTopic(t)
			continue
		}
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic, rt.TopicID = rtReq.Topic, rtReq.TopicID
		rt.AuthorizedOperations = operationsNotRequested
		switch {
		case !described:
			// Topic ids are not secret; names of topics one may not
			// describe are, so an id asked for gets no name back.
			rt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			if rtReq.Topic == nil {
				rt.TopicID = t.ID
			}
		case rtReq.Topic == nil:
			rt.ErrorCode = kerr.UnknownTopicID.Code
		case createErrs[*rtReq.Topic] != 0:
			rt.ErrorCode = createErrs[*rtReq.Topic]
		default:
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
