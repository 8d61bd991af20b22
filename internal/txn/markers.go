package txn

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MarkerSender reaches the leaders of transaction partitions; the node
// implements it over its broker connections (the local broker included).
type MarkerSender interface {
	// Leader returns the broker leading p now, -1 while it has none;
	// exists is false once p is gone (its topic deleted), when its
	// marker is no longer needed.
	Leader(p Partition) (leader int32, exists bool)
	// WriteTxnMarkers sends req to broker and returns its answer.
	WriteTxnMarkers(ctx context.Context, broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)
}

// markerRequestTimeout bounds one WriteTxnMarkers round trip; the markers
// of a request that times out are sent again.
const markerRequestTimeout = 30 * time.Second

// markerJob is the markers of one prepared transaction: one per partition,
// all with the same producer, epoch, result and coordinator epoch.
type markerJob struct {
	id         string // transactional id, for logs
	pid        int64
	epoch      int16
	coordEpoch int32
	commit     bool
	// stale reports that the coordinator that prepared the transaction
	// stopped (unloaded); its markers are dropped and the next
	// coordinator sends them again.
	stale func() bool
	// done runs once, on its own goroutine, when every partition has its
	// marker.
	done func()

	remaining map[Partition]struct{} // guarded by markerManager.mu
}

type markerItem struct {
	job       *markerJob
	p         Partition
	notBefore time.Time
}

// markerManager sends the markers of every transaction this node
// coordinates, batched per leader broker: at most one WriteTxnMarkers in
// flight per broker, carrying every marker queued for it (Kafka's
// TransactionMarkerChannelManager). A marker is sent again until its
// leader acknowledges it, its partition is gone, or the leader fences it.
//
// Goroutines: run (owned by Coordinator.Run) dispatches; one per request
// in flight and one per finished job's done, all waited by run.
type markerManager struct {
	sender  MarkerSender
	backoff time.Duration
	log     logger
	now     func() time.Time

	mu       sync.Mutex
	queue    []markerItem
	inflight map[int32]bool
	wake     chan struct{} // buffer of one
	wg       sync.WaitGroup
}

type logger interface {
	Warn(msg string, args ...any)
	Debug(msg string, args ...any)
}

func newMarkerManager(cfg Config) *markerManager {
	return &markerManager{
		sender:   cfg.Markers,
		backoff:  cfg.MarkerRetryBackoff,
		log:      cfg.Logger,
		now:      time.Now, // retry back-offs: monotonic, not the wall clock (Config.Now)
		inflight: make(map[int32]bool),
		wake:     make(chan struct{}, 1),
	}
}

// send queues the markers of j for every partition in parts.
func (m *markerManager) send(j *markerJob, parts []Partition) {
	m.mu.Lock()
	j.remaining = make(map[Partition]struct{}, len(parts))
	for _, p := range parts {
		j.remaining[p] = struct{}{}
		m.queue = append(m.queue, markerItem{job: j, p: p})
	}
	empty := len(parts) == 0
	m.mu.Unlock()
	if empty {
		m.wg.Go(j.done)
		return
	}
	m.signal()
}

func (m *markerManager) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run dispatches queued markers until ctx ends, then waits for its
// requests and callbacks.
func (m *markerManager) run(ctx context.Context) {
	defer m.wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := m.dispatch(ctx)
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// dispatch sends what is due and returns when it next has something due
// (zero: nothing waits on time).
func (m *markerManager) dispatch(ctx context.Context) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var next time.Time
	due := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	byBroker := make(map[int32][]markerItem)
	keep := m.queue[:0]
	for _, it := range m.queue {
		if it.job.stale() {
			continue
		}
		if it.notBefore.After(now) {
			keep = append(keep, it)
			due(it.notBefore)
			continue
		}
		leader, exists := m.sender.Leader(it.p)
		switch {
		case !exists:
			m.log.Debug("partition gone; its transaction marker is not needed", "transactional_id", it.job.id, "topic", it.p.Topic, "partition", it.p.Partition)
			m.ackLocked(it)
		case leader < 0:
			it.notBefore = now.Add(m.backoff)
			keep = append(keep, it)
			due(it.notBefore)
		case m.inflight[leader]:
			keep = append(keep, it) // sent when the request in flight ends
		default:
			byBroker[leader] = append(byBroker[leader], it)
		}
	}
	clear(m.queue[len(keep):])
	m.queue = keep
	for broker, items := range byBroker {
		m.inflight[broker] = true
		m.wg.Go(func() { m.request(ctx, broker, items) })
	}
	return next
}

// ackLocked records p's marker as written; the job is done with its last.
func (m *markerManager) ackLocked(it markerItem) {
	j := it.job
	if _, ok := j.remaining[it.p]; !ok {
		return
	}
	delete(j.remaining, it.p)
	if len(j.remaining) == 0 {
		m.wg.Go(j.done)
	}
}

// request sends items to broker in one WriteTxnMarkers and settles each.
func (m *markerManager) request(ctx context.Context, broker int32, items []markerItem) {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1 // NB: the sender picks the highest version both speak
	at := make(map[*markerJob]int)
	for _, it := range items {
		i, ok := at[it.job]
		if !ok {
			i = len(req.Markers)
			at[it.job] = i
			mk := kmsg.NewWriteTxnMarkersRequestMarker()
			mk.ProducerID, mk.ProducerEpoch, mk.Committed, mk.CoordinatorEpoch = it.job.pid, it.job.epoch, it.job.commit, it.job.coordEpoch
			req.Markers = append(req.Markers, mk)
		}
		mk := &req.Markers[i]
		ti := -1
		for k := range mk.Topics {
			if mk.Topics[k].Topic == it.p.Topic {
				ti = k
				break
			}
		}
		if ti < 0 {
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = it.p.Topic
			mk.Topics = append(mk.Topics, t)
			ti = len(mk.Topics) - 1
		}
		mk.Topics[ti].Partitions = append(mk.Topics[ti].Partitions, it.p.Partition)
	}
	rctx, cancel := context.WithTimeout(ctx, markerRequestTimeout)
	resp, err := m.sender.WriteTxnMarkers(rctx, broker, req)
	cancel()

	codes := make(map[int64]map[Partition]int16)
	if err == nil {
		for _, mk := range resp.Markers {
			c := codes[mk.ProducerID]
			if c == nil {
				c = make(map[Partition]int16)
				codes[mk.ProducerID] = c
			}
			for _, t := range mk.Topics {
				for _, p := range t.Partitions {
					c[Partition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
				}
			}
		}
	} else if ctx.Err() == nil {
		m.log.Warn("sending transaction markers failed; retrying", "broker", broker, "markers", len(items), "err", err)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.inflight, broker)
	retryAt := m.now().Add(m.backoff)
	for _, it := range items {
		code, answered := codes[it.job.pid][it.p]
		switch {
		case !answered:
			it.notBefore = retryAt
			m.queue = append(m.queue, it)
		case code == 0:
			m.ackLocked(it)
		case code == kerr.InvalidProducerEpoch.Code || code == kerr.ProducerFenced.Code || code == kerr.TransactionCoordinatorFenced.Code:
			// A newer coordinator or producer epoch wrote there: this
			// coordinator is stale, and the newer one completes the
			// transaction (Kafka stops sending too).
			m.log.Warn("transaction marker fenced; leaving the transaction to a newer coordinator",
				"transactional_id", it.job.id, "topic", it.p.Topic, "partition", it.p.Partition, "error", kerr.ErrorForCode(code))
		default:
			m.log.Debug("transaction marker not written; retrying", "transactional_id", it.job.id,
				"topic", it.p.Topic, "partition", it.p.Partition, "error", kerr.ErrorForCode(code))
			it.notBefore = retryAt
			m.queue = append(m.queue, it)
		}
	}
	m.signal()
}
