package kafkaapi

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReplicaPolls lets a leader hurry the followers of a partition it has
// just started leading. A follower fetches all its partitions from one
// leader in one long poll (up to replica.fetch.wait.max.ms, 500ms): a
// partition it starts following while such a poll is out waits for the
// poll to end, and with it every acks=all write to the new partition (a
// topic created then produced to waited ~500ms). So when this broker
// becomes leader of a partition, Expect ends the followers' polls here at
// once, and until each follower's fetch names the partition (or
// expectWindow passes) its fetches are answered after at most
// expectedPollWait rather than the full wait: the follower may apply the
// metadata a moment after the leader.
//
// Safe for concurrent use.
type ReplicaPolls struct {
	now func() time.Time

	mu sync.Mutex
	// polls holds, per follower id, the wake channels of its long polls
	// in progress here.
	polls map[int32]map[chan struct{}]struct{}
	// expect holds, per follower id, the partitions it should fetch and
	// until when we hurry it.
	expect map[int32]map[expectedPart]time.Time
}

type expectedPart struct {
	topicID   [16]byte
	partition int32
}

const (
	// expectWindow bounds how long a follower's polls are shortened for
	// a partition it does not fetch yet (it may never: its log dir may
	// have failed).
	expectWindow = time.Second
	// expectedPollWait is the longest poll of a hurried follower.
	expectedPollWait = 5 * time.Millisecond
)

// NewReplicaPolls returns an empty registry; now nil means time.Now.
func NewReplicaPolls(now func() time.Time) *ReplicaPolls {
	if now == nil {
		now = time.Now
	}
	return &ReplicaPolls{now: now, polls: map[int32]map[chan struct{}]struct{}{}, expect: map[int32]map[expectedPart]time.Time{}}
}

// Expect notes that followers should now fetch the partition from this
// broker, and ends their long polls in progress.
func (r *ReplicaPolls) Expect(topicID [16]byte, partition int32, followers []int32) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	until := r.now().Add(expectWindow)
	for _, id := range followers {
		m := r.expect[id]
		if m == nil {
			m = map[expectedPart]time.Time{}
			r.expect[id] = m
		}
		m[expectedPart{topicID, partition}] = until
		for wake := range r.polls[id] {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
}

// hurried reports whether follower id's fetch req leaves out a partition
// the follower is expected to fetch; it forgets the expectations req
// meets and those expired.
func (r *ReplicaPolls) hurried(id int32, req *kmsg.FetchRequest) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.expect[id]
	if len(m) == 0 {
		return false
	}
	for i := range req.Topics {
		t := &req.Topics[i]
		for j := range t.Partitions {
			delete(m, expectedPart{t.TopicID, t.Partitions[j].Partition})
		}
	}
	now := r.now()
	for k, until := range m {
		if now.After(until) {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		delete(r.expect, id)
		return false
	}
	return true
}

// register adds a long poll of follower id; the returned channel is
// signalled when Expect names the follower. Call the returned func when
// the poll ends.
func (r *ReplicaPolls) register(id int32) (<-chan struct{}, func()) {
	if r == nil {
		return nil, func() {}
	}
	wake := make(chan struct{}, 1)
	r.mu.Lock()
	m := r.polls[id]
	if m == nil {
		m = map[chan struct{}]struct{}{}
		r.polls[id] = m
	}
	m[wake] = struct{}{}
	r.mu.Unlock()
	return wake, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.polls[id], wake)
		if len(r.polls[id]) == 0 {
			delete(r.polls, id)
		}
	}
}
