package kafkaapi

// Quota enforcement (KIP-13, KIP-124, KIP-219, KIP-599), per broker as in
// Kafka: each broker measures the clients it serves against the quotas of
// its metadata image (package quota) and answers a client over its quota
// with throttle_time_ms, muting the connection for that long after the
// response (server.Response.Throttle).
//
//   - producer_byte_rate: the size of each produce request (acks=0 too:
//     there is no response, the connection is muted).
//   - consumer_byte_rate: the size of each consumer fetch response (not
//     replicas'); a fetch that would exceed it is answered empty with the
//     throttle time and not counted, and a fetch reads at most the quota
//     of (quota.window.num - 1) windows, as Kafka does.
//   - request_percentage: the time Handle spends on the request, on the
//     connection's reader goroutine, as a percentage of the window.
//     Deliberate difference: Kafka counts request handler and network
//     thread time; work Strata does after Handle returns (waiting for
//     replication, a fetch's long poll and its read) is not counted.
//   - controller_mutation_rate: partitions created (CreateTopics,
//     CreatePartitions) or deleted (DeleteTopics). Strict (KIP-599) from
//     CreateTopics v6, CreatePartitions v3, DeleteTopics v5: a topic asked
//     for while the client is over its quota gets THROTTLING_QUOTA_EXCEEDED;
//     older versions are served and throttled. Deliberate difference: Kafka
//     measures this on the active controller, for the cluster; Strata
//     measures it on the broker the client sent the request to, before
//     forwarding, like every other quota.
//
// Requests from other nodes (client ids starting with
// ForwardClientIDPrefix) and replica fetches are never throttled, like
// Kafka's inter-broker requests.

import (
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/quota"
	"github.com/strata-io/strata/internal/server"
)

// SetQuotas gives the handler the broker's quota manager; nil (the
// default) enforces nothing. Call it before serving.
func (h *Handler) SetQuotas(q *quota.Manager) { h.quotas = q }

// serveWithQuotas serves a request, measuring it against the client's
// quotas. size is the request's size in bytes.
func (h *Handler) serveWithQuotas(rc *reqCtx, req kmsg.Request, size int) server.Response {
	q := h.quotas
	if q == nil || strings.HasPrefix(rc.hdr.ClientID, ForwardClientIDPrefix) {
		return h.dispatch(rc, req)
	}
	user, client := rc.conn.Principal().Name, rc.hdr.ClientID
	var throttle time.Duration
	if _, ok := req.(*kmsg.ProduceRequest); ok && q.Enabled(quota.Produce) {
		throttle = q.Record(quota.Produce, user, client, float64(size))
	}
	timed := q.Enabled(quota.Request) && !isReplicaFetch(req)
	var start time.Time
	if timed {
		start = time.Now()
	}
	var resp server.Response
	if isMutation(req) && q.Enabled(quota.ControllerMutation) {
		resp = h.serveMutation(rc, req, user, client)
	} else {
		resp = h.dispatch(rc, req)
	}
	if timed {
		throttle = max(throttle, q.Record(quota.Request, user, client, time.Since(start).Seconds()*100))
	}
	resp.Throttle = max(resp.Throttle, throttle)
	return resp
}

func isReplicaFetch(req kmsg.Request) bool {
	f, ok := req.(*kmsg.FetchRequest)
	return ok && fetchReplicaID(f) >= 0
}

// fetchReplicaID is the broker id of a replica's fetch, -1 for a consumer.
func fetchReplicaID(f *kmsg.FetchRequest) int32 {
	if f.Version >= 15 {
		return f.ReplicaState.ID
	}
	return f.ReplicaID
}

// fetchQuotaAnswer counts a consumer fetch response of body against the
// client's consumer_byte_rate. Over the quota it returns the empty
// response to send instead, with the throttle time, and takes the bytes
// back (Kafka's unrecordQuotaSensor); ok is false when resp stands.
func (h *Handler) fetchQuotaAnswer(rc *reqCtx, resp *kmsg.FetchResponse, body *server.Body) (server.Response, bool) {
	q := h.quotas
	if q == nil || !q.Enabled(quota.Fetch) || strings.HasPrefix(rc.hdr.ClientID, ForwardClientIDPrefix) {
		return server.Response{}, false
	}
	user, client := rc.conn.Principal().Name, rc.hdr.ClientID
	size := float64(body.Len())
	d := q.Record(quota.Fetch, user, client, size)
	if d <= 0 {
		return server.Response{}, false
	}
	q.Unrecord(quota.Fetch, user, client, size)
	empty := kmsg.NewPtrFetchResponse()
	empty.Version, empty.SessionID = resp.Version, resp.SessionID
	empty.ThrottleMillis = int32(min(d.Milliseconds(), 1<<31-1))
	return server.Response{Msg: empty, Body: encodeFetchResponse(empty, nil), Throttle: d}, true
}

// fetchQuotaMaxBytes bounds a consumer fetch by what its quota allows in
// one measurement.
func (h *Handler) fetchQuotaMaxBytes(rc *reqCtx, maxBytes int32) int32 {
	q := h.quotas
	if q == nil || !q.Enabled(quota.Fetch) {
		return maxBytes
	}
	if v, ok := q.MaxValueInWindow(quota.Fetch, rc.conn.Principal().Name, rc.hdr.ClientID); ok && v < float64(maxBytes) {
		return max(int32(v), 1)
	}
	return maxBytes
}

func isMutation(req kmsg.Request) bool {
	switch req.(type) {
	case *kmsg.CreateTopicsRequest, *kmsg.CreatePartitionsRequest, *kmsg.DeleteTopicsRequest:
		return true
	}
	return false
}

// mutationTopic is one topic of a mutation request: how many partitions
// it creates or deletes.
type mutationTopic struct {
	name       string
	partitions float64
}

// mutationTopics lists the topics of a CreateTopics, CreatePartitions or
// DeleteTopics request with their partition counts, and whether the
// request's version is strict (KIP-599).
func (h *Handler) mutationTopics(req kmsg.Request) (topics []mutationTopic, strict bool) {
	img := h.ctrl.Image()
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			n := float64(t.NumPartitions)
			switch {
			case len(t.ReplicaAssignment) > 0:
				n = float64(len(t.ReplicaAssignment))
			case n <= 0:
				n = h.defaultNumPartitions()
			}
			topics = append(topics, mutationTopic{t.Topic, n})
		}
		return topics, r.Version >= 6
	case *kmsg.CreatePartitionsRequest:
		for _, t := range r.Topics {
			n := 0.0
			if mt, ok := img.TopicByName(t.Topic); ok && int(t.Count) > len(mt.Partitions) {
				n = float64(int(t.Count) - len(mt.Partitions))
			}
			topics = append(topics, mutationTopic{t.Topic, n})
		}
		return topics, r.Version >= 3
	case *kmsg.DeleteTopicsRequest:
		count := func(name string) float64 {
			if mt, ok := img.TopicByName(name); ok {
				return float64(len(mt.Partitions))
			}
			return 0
		}
		for _, name := range r.TopicNames {
			topics = append(topics, mutationTopic{name, count(name)})
		}
		for _, t := range r.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			} else if mt, ok := img.TopicByID(t.TopicID); ok {
				name = mt.Name
			}
			topics = append(topics, mutationTopic{name, count(name)})
		}
		return topics, r.Version >= 5
	}
	return nil, false
}

func (h *Handler) defaultNumPartitions() float64 {
	if n, err := strconv.Atoi(h.cfg.BrokerConfigs["num.partitions"]); err == nil && n > 0 {
		return float64(n)
	}
	return 1
}

// serveMutation serves a CreateTopics, CreatePartitions or DeleteTopics
// request against the client's controller_mutation_rate.
func (h *Handler) serveMutation(rc *reqCtx, req kmsg.Request, user, client string) server.Response {
	q := h.quotas
	topics, strict := h.mutationTopics(req)
	var throttle time.Duration
	if !strict {
		total := 0.0
		for _, t := range topics {
			total += t.partitions
		}
		resp := h.dispatch(rc, req)
		resp.Throttle = max(resp.Throttle, q.Record(quota.ControllerMutation, user, client, total))
		return resp
	}
	rejected := make([]bool, len(topics))
	anyRejected, allRejected := false, len(topics) > 0
	for i, t := range topics {
		d, r := q.RecordStrict(quota.ControllerMutation, user, client, t.partitions)
		throttle = max(throttle, d)
		rejected[i] = r
		anyRejected = anyRejected || r
		allRejected = allRejected && r
	}
	if !anyRejected {
		resp := h.dispatch(rc, req)
		resp.Throttle = max(resp.Throttle, throttle)
		return resp
	}
	throttled := kerr.ThrottlingQuotaExceeded
	msg := "the client's controller_mutation_rate quota is exceeded"
	if allRejected {
		resp := forwardError(req, throttled.Code)
		setMutationMessages(resp, msg)
		return server.Response{Msg: resp, Throttle: throttle}
	}
	accepted, merge := splitMutation(req, rejected, msg)
	resp := withMerged(rc, h.dispatch(rc, accepted), merge)
	resp.Throttle = max(resp.Throttle, throttle)
	return resp
}

// setMutationMessages sets msg on every topic of a mutation response.
func setMutationMessages(resp kmsg.Response, msg string) {
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		for i := range r.Topics {
			r.Topics[i].ErrorMessage = &msg
		}
	case *kmsg.CreatePartitionsResponse:
		for i := range r.Topics {
			r.Topics[i].ErrorMessage = &msg
		}
	case *kmsg.DeleteTopicsResponse:
		for i := range r.Topics {
			r.Topics[i].ErrorMessage = &msg
		}
	}
}

// splitMutation returns a copy of req without its rejected topics, and a
// function that adds the rejected topics, answered
// THROTTLING_QUOTA_EXCEEDED, to the response of that copy.
func splitMutation(req kmsg.Request, rejected []bool, msg string) (kmsg.Request, func(kmsg.Response)) {
	code := kerr.ThrottlingQuotaExceeded.Code
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		cp := *r
		cp.Topics = nil
		var out []kmsg.CreateTopicsResponseTopic
		for i, t := range r.Topics {
			if !rejected[i] {
				cp.Topics = append(cp.Topics, t)
				continue
			}
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, code, &msg
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			out = append(out, rt)
		}
		return &cp, func(resp kmsg.Response) {
			if cr, ok := resp.(*kmsg.CreateTopicsResponse); ok {
				cr.Topics = append(cr.Topics, out...)
			}
		}
	case *kmsg.CreatePartitionsRequest:
		cp := *r
		cp.Topics = nil
		var out []kmsg.CreatePartitionsResponseTopic
		for i, t := range r.Topics {
			if !rejected[i] {
				cp.Topics = append(cp.Topics, t)
				continue
			}
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.ErrorMessage = t.Topic, code, &msg
			out = append(out, rt)
		}
		return &cp, func(resp kmsg.Response) {
			if cr, ok := resp.(*kmsg.CreatePartitionsResponse); ok {
				cr.Topics = append(cr.Topics, out...)
			}
		}
	case *kmsg.DeleteTopicsRequest:
		cp := *r
		cp.TopicNames, cp.Topics = nil, nil
		var out []kmsg.DeleteTopicsResponseTopic
		for i, name := range r.TopicNames {
			if !rejected[i] {
				cp.TopicNames = append(cp.TopicNames, name)
				continue
			}
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.ErrorMessage = kmsg.StringPtr(name), code, &msg
			out = append(out, rt)
		}
		for i, t := range r.Topics {
			if !rejected[len(r.TopicNames)+i] {
				cp.Topics = append(cp.Topics, t)
				continue
			}
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode, rt.ErrorMessage = t.Topic, t.TopicID, code, &msg
			out = append(out, rt)
		}
		return &cp, func(resp kmsg.Response) {
			if dr, ok := resp.(*kmsg.DeleteTopicsResponse); ok {
				dr.Topics = append(dr.Topics, out...)
			}
		}
	}
	return req, func(kmsg.Response) {}
}

// withMerged applies merge to resp's message once it exists: now, or on a
// goroutine owned by the request that waits for resp.Later (which the
// handler guarantees to yield exactly once).
func withMerged(rc *reqCtx, resp server.Response, merge func(kmsg.Response)) server.Response {
	if resp.Later == nil {
		if resp.Msg != nil {
			merge(resp.Msg)
		}
		return resp
	}
	inner := resp.Later
	ch := make(chan server.Response, 1)
	go func() {
		r := <-inner
		if r.Msg != nil {
			merge(r.Msg)
		}
		ch <- r
	}()
	resp.Later = ch
	return resp
}
