package kafkaapi

// Fetch v4-v17 for consumers.
//   v4: isolation level, last stable offset, aborted transactions. v5: log
//   start offset. v7 (KIP-227): fetch sessions. v9 (KIP-320): current leader
//   epoch. v11 (KIP-392): rack, preferred read replica. v12: flexible,
//   diverging epoch. v13 (KIP-516): topic ids instead of names. v15
//   (KIP-903): replica state moves to a tag. v12+ (KIP-951): current leader
//   on NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH; v16+ also the
//   leaders' endpoints (leader_hints.go). v17: no broker-visible change.
//   A partition this broker does not host but the metadata knows gets
//   NOT_LEADER_OR_FOLLOWER (with the hint), as in Kafka.
// The response is encoded by hand (fetch_encode.go) so that record data
// goes from the segment files to the socket without a user-space copy
// (sendfile, see package server); the kmsg response travels alongside
// without its records, for tests and logs.
// Deliberate differences from Kafka: fetch sessions are always declined
// (every response carries session id 0, which KIP-227 allows and every
// client handles by sending full fetches), and a request naming a session
// id gets FETCH_SESSION_ID_NOT_FOUND. Long polls wait for max_wait_ms (at
// most 30s) unless min_bytes is reached or a partition has an error.

import (
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// maxFetchWait bounds a long poll whatever max_wait_ms asks: a parked
// fetch holds back every later response on its connection, and a client
// waiting longer than its own request timeout (30s by default) has given
// up on the answer anyway.
const maxFetchWait = 30 * time.Second

type fetchPart struct {
	p    *partition.Partition // nil when the partition is not served here
	req  *kmsg.FetchRequestTopicPartition
	resp *kmsg.FetchResponseTopicPartition
	// records are the file sections of the last read; they stay readable
	// for the log's FileDeleteDelay, long enough for the response to be
	// written.
	records []storage.Chunk
}

func (h *Handler) fetch(rc *reqCtx, req *kmsg.FetchRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return h.fetchAnswer(rc, resp, nil, false)
	}
	// Replicas fetch with their broker id (v15+: in the replica state).
	replicaID, brokerEpoch := req.ReplicaID, int64(-1)
	if req.Version >= 15 {
		replicaID, brokerEpoch = req.ReplicaState.ID, req.ReplicaState.Epoch
	}
	img := h.ctrl.Image()
	// A replica's fetch needs CLUSTER_ACTION (CVE-2018-1288); without it
	// Kafka answers TOPIC_AUTHORIZATION_FAILED on every partition. A
	// consumer's needs READ on each topic.
	replicaDenied := replicaID >= 0 && !h.allowedCluster(rc, acl.OpClusterAction)
	var parts []fetchPart
	for i := range req.Topics {
		t := &req.Topics[i]
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, topicErr := t.Topic, int16(0)
		if req.Version >= 13 {
			n, ok := h.partitions.TopicName(t.TopicID)
			if !ok {
				// Not hosted here; if the metadata knows the id, each
				// partition gets NOT_LEADER_OR_FOLLOWER with a hint.
				if mt, known := img.TopicByID(t.TopicID); known {
					n = mt.Name
				} else {
					topicErr = kerr.UnknownTopicID.Code
				}
			}
			name = n
		}
		if replicaDenied || (topicErr == 0 && replicaID < 0 && !h.allowed(rc, acl.OpRead, acl.ResourceTopic, name)) {
			topicErr = kerr.TopicAuthorizationFailed.Code
		}
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		resp.Topics = append(resp.Topics, rt)
		for j := range t.Partitions {
			rp := &resp.Topics[len(resp.Topics)-1].Partitions[j]
			*rp = kmsg.NewFetchResponseTopicPartition()
			rp.Partition = t.Partitions[j].Partition
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
			// NB: empty, not null: librdkafka rejects a null record set
			// (MessageSetSize -1).
			rp.RecordBatches = []byte{}
			fp := fetchPart{req: &t.Partitions[j], resp: rp}
			switch {
			case topicErr != 0:
				rp.ErrorCode = topicErr
			default:
				p, ok := h.partitions.Get(name, fp.req.Partition)
				if !ok {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					if hint, known := knownElsewhere(img, name, fp.req.Partition); known {
						// Led elsewhere: Kafka answers NOT_LEADER_OR_FOLLOWER.
						rp.ErrorCode = kerr.NotLeaderForPartition.Code
						setFetchHint(req.Version, rp, hint)
					}
				} else if err := p.CheckLeaderEpoch(fp.req.CurrentLeaderEpoch); err != nil {
					rp.ErrorCode = errorCode(rc.log, err)
					if hint, ok := hintFor(img, name, fp.req.Partition, rp.ErrorCode, err); ok {
						setFetchHint(req.Version, rp, hint)
					}
				} else {
					fp.p = p
				}
			}
			parts = append(parts, fp)
		}
	}
	maxBytes := req.MaxBytes
	if maxBytes <= 0 || maxBytes > h.cfg.FetchMaxBytes {
		maxBytes = h.cfg.FetchMaxBytes
	}
	consumer := replicaID < 0
	if consumer {
		maxBytes = h.fetchQuotaMaxBytes(rc, maxBytes)
	}
	rd := partReader{replicaID: replicaID, brokerEpoch: brokerEpoch, now: h.cfg.Now(), version: req.Version,
		readCommitted: req.Version >= 4 && req.IsolationLevel == 1}
	total, stop := h.readParts(rc, rd, parts, maxBytes)
	if stop || total >= int64(req.MinBytes) || req.MaxWaitMillis <= 0 {
		return h.fetchAnswer(rc, resp, parts, consumer)
	}
	return fetchLater(rc, func() server.Response {
		h.waitParts(rc, rd, parts, req, maxBytes)
		return h.fetchAnswer(rc, resp, parts, consumer)
	})
}

// fetchAnswer completes resp and encodes it with the parts' records; a
// consumer's answer is counted against its consumer_byte_rate.
func (h *Handler) fetchAnswer(rc *reqCtx, resp *kmsg.FetchResponse, parts []fetchPart, consumer bool) server.Response {
	h.setFetchBrokers(resp, listenerOf(rc.conn))
	records := make([][]storage.Chunk, len(parts))
	for i := range parts {
		records[i] = parts[i].records
	}
	body := encodeFetchResponse(resp, records)
	if consumer {
		if throttled, ok := h.fetchQuotaAnswer(rc, resp, body); ok {
			return throttled
		}
	}
	return server.Response{Msg: resp, Body: body}
}

// fetchLater is later for a fetch, whose answer carries a Body: fn runs on
// its own goroutine, owned by the request, and must return promptly once
// the request's context is done.
func fetchLater(rc *reqCtx, fn func() server.Response) server.Response {
	ch := make(chan server.Response, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				rc.log.Error("panic serving request; closing connection", "panic", r, "stack", string(debug.Stack()))
				ch <- server.Response{Close: true}
			}
		}()
		ch <- fn()
	}()
	return server.Response{Later: ch}
}

// testHookBeforeWait runs between a long poll's first read and its
// waiting (tests: an append in that window).
var testHookBeforeWait func()

// waitParts long-polls until min bytes are available, the wait expires or
// the connection goes away, then leaves the final read in the response.
func (h *Handler) waitParts(rc *reqCtx, rd partReader, parts []fetchPart, req *kmsg.FetchRequest, maxBytes int32) {
	if testHookBeforeWait != nil {
		testHookBeforeWait()
	}
	wake := make(chan struct{}, 1)
	for _, fp := range parts {
		if fp.p != nil {
			fp.p.AddWaiter(wake)
		}
	}
	// Read once more now that the waiters are registered: records appended
	// between the first read and AddWaiter woke nobody, and a follower
	// would otherwise sleep the whole max wait over them (holding up
	// acks=all producers and transaction markers by 500 ms).
	select {
	case wake <- struct{}{}:
	default: // an append already woke it
	}
	defer func() {
		for _, fp := range parts {
			if fp.p != nil {
				fp.p.RemoveWaiter(wake)
			}
		}
	}()
	wait := min(time.Duration(req.MaxWaitMillis)*time.Millisecond, maxFetchWait)
	var leaderNews <-chan struct{} // a follower's poll ends when it has a partition to add
	if rd.replicaID >= 0 {
		// Register before looking at expectations: an Expect in between
		// then ends this poll rather than going unseen.
		var done func()
		leaderNews, done = h.cfg.ReplicaPolls.register(rd.replicaID)
		defer done()
		if h.cfg.ReplicaPolls.hurried(rd.replicaID, req) {
			wait = min(wait, expectedPollWait)
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-leaderNews:
			h.readParts(rc, rd, parts, maxBytes)
			return
		case <-wake:
			rd.now = h.cfg.Now()
			total, stop := h.readParts(rc, rd, parts, maxBytes)
			if stop || total >= int64(req.MinBytes) {
				return
			}
		case <-timer.C:
			h.readParts(rc, rd, parts, maxBytes)
			return
		case <-rc.ctx.Done():
			return
		}
	}
}

// partReader says whose fetch is being served.
type partReader struct {
	replicaID   int32 // >= 0 for a follower replica
	brokerEpoch int64 // the follower's broker epoch (v15+), -1 if not sent
	// readCommitted: a consumer's isolation_level=read_committed (v4+).
	readCommitted bool
	now           time.Time
	version       int16 // the request's version
}

// readParts (re)reads every servable partition into the response: its
// fields, and the file sections of its records into parts. It returns the
// bytes read and whether an error means the fetch should be answered at
// once.
func (h *Handler) readParts(rc *reqCtx, rd partReader, parts []fetchPart, maxBytes int32) (total int64, stop bool) {
	remaining := maxBytes
	for i := range parts {
		fp := &parts[i]
		fp.records = nil
		if fp.p == nil {
			stop = true
			continue
		}
		rp := fp.resp
		limit := fp.req.PartitionMaxBytes
		if limit > remaining {
			limit = remaining
		}
		var res partition.ReadResult
		var err error
		if rd.replicaID >= 0 {
			// A follower: first check its log has not diverged from ours
			// (KIP-595's diverging epoch, Fetch v12+), then record its
			// position and read up to the log end offset.
			if epoch, end, diverged := fp.p.DivergingEpoch(fp.req.LastFetchedEpoch, fp.req.FetchOffset); diverged {
				rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = epoch, end
				rp.HighWatermark = fp.p.HighWatermark()
				rp.ErrorCode = 0
				stop = true
				continue
			}
			fp.p.UpdateFollower(rd.replicaID, rd.brokerEpoch, fp.req.FetchOffset, fp.req.LogStartOffset, rd.now)
			res, err = fp.p.ReadForFollower(fp.req.FetchOffset, limit)
		} else {
			res, err = fp.p.Read(fp.req.FetchOffset, limit, total == 0, rd.readCommitted)
		}
		rp.HighWatermark = res.HighWatermark
		rp.LastStableOffset = res.LastStableOffset
		rp.AbortedTransactions = nil
		for _, a := range res.AbortedTransactions {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
			rp.AbortedTransactions = append(rp.AbortedTransactions, at)
		}
		rp.LogStartOffset = res.LogStartOffset
		if err != nil {
			rp.ErrorCode = errorCode(rc.log, err)
			if hint, ok := hintFor(h.ctrl.Image(), fp.p.Topic, fp.p.Index, rp.ErrorCode, err); ok {
				setFetchHint(rd.version, rp, hint)
			}
			stop = true
			continue
		}
		rp.ErrorCode = 0
		if res.Size == 0 {
			continue
		}
		// NB: the records are read when the response is written, not
		// here; a segment truncated meanwhile closes the connection
		// (package server), as in Kafka.
		fp.records = res.Chunks
		fp.p.CountFetched(res.Size, rd.replicaID >= 0)
		total += res.Size
		remaining -= int32(min(res.Size, int64(remaining)))
	}
	return total, stop
}

// setFetchHint puts a KIP-951 leader hint on a partition (v12+).
func setFetchHint(version int16, rp *kmsg.FetchResponseTopicPartition, hint leaderHint) {
	if version >= 12 {
		rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = hint.Leader, hint.LeaderEpoch
	}
}

// setFetchBrokers lists the endpoints of the leaders named in the
// response's hints (v16+, KIP-951).
func (h *Handler) setFetchBrokers(resp *kmsg.FetchResponse, listener string) {
	if resp.Version < 16 {
		return
	}
	var leaders hintedLeaders
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				leaders.add(leaderHint{Leader: p.CurrentLeader.LeaderID, LeaderEpoch: p.CurrentLeader.LeaderEpoch})
			}
		}
	}
	for _, b := range leaders.endpoints(h.ctrl.Image(), listener) {
		rb := kmsg.NewFetchResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.NodeID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
}
