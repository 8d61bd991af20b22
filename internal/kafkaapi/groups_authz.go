package kafkaapi

// Authorization of the group APIs, as Kafka's KafkaApis: READ on the group
// to join, sync, heartbeat, leave and commit (and READ on each committed
// topic), DESCRIBE on the group to fetch offsets (and DESCRIBE on each
// topic), describe or find it, DELETE to delete it or its offsets (and
// READ on each topic). ListGroups lists every group to a client that may
// DESCRIBE the cluster, else only the groups it may describe. The group
// coordinator (package group) serves the authorized part of a request;
// the refused part is answered here.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
)

// authorizeGroup returns the request to serve (nil when refused whole,
// with its answer in refused), and a function that completes the
// served part's response.
func (h *Handler) authorizeGroup(rc *reqCtx, req kmsg.Request) (serve kmsg.Request, merge func(kmsg.Response) kmsg.Response, refused kmsg.Response) {
	group := func(op acl.Operation, id string) bool { return h.allowed(rc, op, acl.ResourceGroup, id) }
	topic := func(op acl.Operation, name string) bool { return h.allowed(rc, op, acl.ResourceTopic, name) }
	gaf, taf := kerr.GroupAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		if !group(acl.OpRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = gaf
			return nil, nil, resp
		}
	case *kmsg.SyncGroupRequest:
		if !group(acl.OpRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = gaf
			return nil, nil, resp
		}
	case *kmsg.HeartbeatRequest:
		if !group(acl.OpRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = gaf
			return nil, nil, resp
		}
	case *kmsg.LeaveGroupRequest:
		if !group(acl.OpRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = gaf
			return nil, nil, resp
		}
	case *kmsg.ConsumerGroupHeartbeatRequest:
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		if !group(acl.OpRead, r.Group) {
			resp.ErrorCode = gaf
			return nil, nil, resp
		}
		for _, name := range r.SubscribedTopicNames {
			if !topic(acl.OpDescribe, name) {
				resp.ErrorCode = taf
				return nil, nil, resp
			}
		}
	case *kmsg.OffsetCommitRequest:
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		groupOK := group(acl.OpRead, r.Group)
		keep := *r
		keep.Topics = nil
		for _, t := range r.Topics {
			code := int16(0)
			switch {
			case !groupOK:
				code = gaf
			case !topic(acl.OpRead, t.Topic):
				code = taf
			default:
				keep.Topics = append(keep.Topics, t)
				continue
			}
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return servePart(r, &keep, len(keep.Topics), len(resp.Topics), resp, func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.OffsetCommitResponse)
			o.Topics = append(o.Topics, resp.Topics...)
			return o
		})
	case *kmsg.OffsetFetchRequest:
		return h.authorizeOffsetFetch(rc, r)
	case *kmsg.TxnOffsetCommitRequest:
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		whole := int16(0)
		switch {
		case !h.allowed(rc, acl.OpWrite, acl.ResourceTransactionalID, r.TransactionalID):
			whole = kerr.TransactionalIDAuthorizationFailed.Code
		case !group(acl.OpRead, r.Group):
			whole = gaf
		}
		keep := *r
		keep.Topics = nil
		for _, t := range r.Topics {
			code := whole
			if code == 0 && !topic(acl.OpRead, t.Topic) {
				code = taf
			}
			if code == 0 {
				keep.Topics = append(keep.Topics, t)
				continue
			}
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return servePart(r, &keep, len(keep.Topics), len(resp.Topics), resp, func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.TxnOffsetCommitResponse)
			o.Topics = append(o.Topics, resp.Topics...)
			return o
		})
	case *kmsg.DescribeGroupsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
		keep := *r
		keep.Groups = nil
		for _, g := range r.Groups {
			if group(acl.OpDescribe, g) {
				keep.Groups = append(keep.Groups, g)
				continue
			}
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, gaf
			resp.Groups = append(resp.Groups, rg)
		}
		merge := func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.DescribeGroupsResponse)
			if r.IncludeAuthorizedOperations {
				for i := range o.Groups {
					if o.Groups[i].ErrorCode == 0 {
						o.Groups[i].AuthorizedOperations = h.authorizedOps(rc, acl.ResourceGroup, o.Groups[i].Group)
					}
				}
			}
			o.Groups = append(o.Groups, resp.Groups...)
			return o
		}
		switch {
		case len(keep.Groups) == 0:
			return nil, nil, merge(resp)
		case len(resp.Groups) == 0 && !r.IncludeAuthorizedOperations:
			return r, nil, nil
		}
		return &keep, merge, nil
	case *kmsg.ConsumerGroupDescribeRequest:
		resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
		keep := *r
		keep.Groups = nil
		for _, g := range r.Groups {
			if group(acl.OpDescribe, g) {
				keep.Groups = append(keep.Groups, g)
				continue
			}
			rg := kmsg.NewConsumerGroupDescribeResponseGroup()
			rg.Group, rg.ErrorCode = g, gaf
			resp.Groups = append(resp.Groups, rg)
		}
		merge := func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.ConsumerGroupDescribeResponse)
			if r.IncludeAuthorizedOperations {
				for i := range o.Groups {
					if o.Groups[i].ErrorCode == 0 {
						o.Groups[i].AuthorizedOperations = h.authorizedOps(rc, acl.ResourceGroup, o.Groups[i].Group)
					}
				}
			}
			o.Groups = append(o.Groups, resp.Groups...)
			return o
		}
		switch {
		case len(keep.Groups) == 0:
			return nil, nil, merge(resp)
		case len(resp.Groups) == 0 && !r.IncludeAuthorizedOperations:
			return r, nil, nil
		}
		return &keep, merge, nil
	case *kmsg.ListGroupsRequest:
		if h.allowedCluster(rc, acl.OpDescribe) {
			return req, nil, nil
		}
		return req, func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.ListGroupsResponse)
			kept := o.Groups[:0]
			for _, g := range o.Groups {
				if group(acl.OpDescribe, g.Group) {
					kept = append(kept, g)
				}
			}
			o.Groups = kept
			return o
		}, nil
	case *kmsg.DeleteGroupsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		keep := *r
		keep.Groups = nil
		for _, g := range r.Groups {
			if group(acl.OpDelete, g) {
				keep.Groups = append(keep.Groups, g)
				continue
			}
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, gaf
			resp.Groups = append(resp.Groups, rg)
		}
		return servePart(r, &keep, len(keep.Groups), len(resp.Groups), resp, func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.DeleteGroupsResponse)
			o.Groups = append(o.Groups, resp.Groups...)
			return o
		})
	case *kmsg.OffsetDeleteRequest:
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		if !group(acl.OpDelete, r.Group) {
			resp.ErrorCode = gaf
			return nil, nil, resp
		}
		keep := *r
		keep.Topics = nil
		for _, t := range r.Topics {
			if topic(acl.OpRead, t.Topic) {
				keep.Topics = append(keep.Topics, t)
				continue
			}
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, taf
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return servePart(r, &keep, len(keep.Topics), len(resp.Topics), resp, func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.OffsetDeleteResponse)
			o.Topics = append(o.Topics, resp.Topics...)
			return o
		})
	}
	return req, nil, nil
}

// servePart picks what to serve of a request whose items were checked
// one by one: all of it when nothing was refused, nothing (refusedResp
// answers) when nothing is left, else keep with merge.
func servePart(orig, keep kmsg.Request, kept, refused int, refusedResp kmsg.Response, merge func(kmsg.Response) kmsg.Response) (kmsg.Request, func(kmsg.Response) kmsg.Response, kmsg.Response) {
	switch {
	case refused == 0:
		return orig, nil, nil
	case kept == 0:
		return nil, nil, refusedResp
	}
	return keep, merge, nil
}

// authorizeOffsetFetch checks an OffsetFetch: DESCRIBE on each group,
// then on each topic named (TOPIC_AUTHORIZATION_FAILED), or, for a group
// asked for all its topics, leaves out those the client may not describe.
func (h *Handler) authorizeOffsetFetch(rc *reqCtx, r *kmsg.OffsetFetchRequest) (kmsg.Request, func(kmsg.Response) kmsg.Response, kmsg.Response) {
	gaf, taf := kerr.GroupAuthorizationFailed.Code, kerr.TopicAuthorizationFailed.Code
	described := func(name string) bool { return h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, name) }
	if r.Version < 8 {
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		if !h.allowed(rc, acl.OpDescribe, acl.ResourceGroup, r.Group) {
			resp.ErrorCode = gaf
			for _, t := range r.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, gaf
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return nil, nil, resp
		}
		keep := *r
		keep.Topics = nil
		var denied []kmsg.OffsetFetchResponseTopic
		for _, t := range r.Topics {
			if described(t.Topic) {
				keep.Topics = append(keep.Topics, t)
				continue
			}
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.ErrorCode = p, -1, taf
				rt.Partitions = append(rt.Partitions, rp)
			}
			denied = append(denied, rt)
		}
		merge := func(out kmsg.Response) kmsg.Response {
			o := out.(*kmsg.OffsetFetchResponse)
			if r.Topics == nil { // all topics: leave out the undescribable
				kept := o.Topics[:0]
				for _, t := range o.Topics {
					if described(t.Topic) {
						kept = append(kept, t)
					}
				}
				o.Topics = kept
			}
			o.Topics = append(o.Topics, denied...)
			return o
		}
		if r.Topics != nil && len(keep.Topics) == 0 {
			resp.Topics = denied
			return nil, nil, resp
		}
		if r.Topics == nil {
			return r, merge, nil
		}
		return &keep, merge, nil
	}
	keep := *r
	keep.Groups = nil
	var deniedGroups []kmsg.OffsetFetchResponseGroup
	deniedTopics := map[string][]kmsg.OffsetFetchResponseGroupTopic{}
	allTopics := map[string]bool{}
	for _, g := range r.Groups {
		if !h.allowed(rc, acl.OpDescribe, acl.ResourceGroup, g.Group) {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, gaf
			deniedGroups = append(deniedGroups, rg)
			continue
		}
		if g.Topics == nil {
			allTopics[g.Group] = true
			keep.Groups = append(keep.Groups, g)
			continue
		}
		kg := g
		kg.Topics = nil
		for _, t := range g.Topics {
			if described(t.Topic) {
				kg.Topics = append(kg.Topics, t)
				continue
			}
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.ErrorCode = p, -1, taf
				rt.Partitions = append(rt.Partitions, rp)
			}
			deniedTopics[g.Group] = append(deniedTopics[g.Group], rt)
		}
		if kg.Topics == nil {
			// Every topic named was refused: ask for none, not for all.
			kg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
		}
		keep.Groups = append(keep.Groups, kg)
	}
	merge := func(out kmsg.Response) kmsg.Response {
		o := out.(*kmsg.OffsetFetchResponse)
		for i := range o.Groups {
			g := &o.Groups[i]
			if allTopics[g.Group] {
				kept := g.Topics[:0]
				for _, t := range g.Topics {
					if described(t.Topic) {
						kept = append(kept, t)
					}
				}
				g.Topics = kept
			}
			g.Topics = append(g.Topics, deniedTopics[g.Group]...)
		}
		o.Groups = append(o.Groups, deniedGroups...)
		return o
	}
	if len(keep.Groups) == 0 {
		return nil, nil, merge(r.ResponseKind())
	}
	return &keep, merge, nil
}
