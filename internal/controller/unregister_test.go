package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/strata-io/strata/internal/raft"
)

// RemoveNonvoter makes memQuorum an observerRemover: its one voter is the
// controller node.
func (q *memQuorum) RemoveNonvoter(_ context.Context, id int32) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.leader {
		return false, &raft.NotLeaderError{LeaderID: -1}
	}
	if id == controllerNode {
		return false, fmt.Errorf("node %d: %w", id, raft.ErrVoter)
	}
	_, ok := q.observers[id]
	delete(q.observers, id)
	return ok, nil
}

func (q *memQuorum) isObserver(id int32) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.observers[id]
	return ok
}

// failingRemover fails the next RemoveNonvoter with err, once.
type failingRemover struct {
	*memQuorum
	err error
}

func (q *failingRemover) RemoveNonvoter(ctx context.Context, id int32) (bool, error) {
	if err := q.err; err != nil {
		q.err = nil
		return false, err
	}
	return q.memQuorum.RemoveNonvoter(ctx, id)
}

func TestUnregisterBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		ctx := t.Context()
		l.createTopic("solo", nil, ids(3))
		old, _ := l.Image().Broker(3)

		if err := l.UnregisterBroker(ctx, 3); err != nil {
			t.Fatalf("UnregisterBroker(3): %v", err)
		}
		if b, ok := l.Image().Broker(3); ok {
			t.Errorf("broker 3 after UnregisterBroker = %+v, want unregistered", b)
		}
		// Its leaderships moved, it left the ISRs with other members; the
		// replica assignments keep it. A sole ISR member stays (KIP-841).
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(1, 2), 1, 0, 1))
		l.wantPartition("t", pi(1, ids(2, 3, 1), ids(2, 1), 2, 0, 1))
		l.wantPartition("t", pi(2, ids(3, 1, 2), ids(1, 2), 1, 1, 1))
		l.wantPartition("solo", pi(0, ids(3), ids(3), -1, 1, 1))

		for _, id := range []int32{3, 42, -1} {
			if err := l.UnregisterBroker(ctx, id); !errors.Is(err, ErrBrokerNotRegistered) {
				t.Errorf("UnregisterBroker(%d) = %v, want ErrBrokerNotRegistered", id, err)
			}
		}
		if _, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 3, BrokerEpoch: old.BrokerEpoch}); !errors.Is(err, ErrBrokerNotRegistered) {
			t.Errorf("BrokerHeartbeat of the unregistered broker = %v, want ErrBrokerNotRegistered", err)
		}

		// It registers again with a higher epoch, fenced until caught up,
		// and then leads its sole partition again.
		registerAndUnfence(t, l.Controller, 3, "")
		if b, _ := l.Image().Broker(3); b.BrokerEpoch <= old.BrokerEpoch {
			t.Errorf("broker epoch after registering again = %d, want more than %d", b.BrokerEpoch, old.BrokerEpoch)
		}
		l.wantPartition("solo", pi(0, ids(3), ids(3), 3, 2, 2))

		l.q.setLeader(false)
		if err := l.UnregisterBroker(ctx, 3); !errors.Is(err, ErrNotController) {
			t.Errorf("UnregisterBroker on a follower = %v, want ErrNotController", err)
		}
	})
}

func TestUnregisterBrokerLeavesTheQuorum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fr *failingRemover
		l := startLifecycle(t, func(cfg *Config) {
			fr = &failingRemover{memQuorum: cfg.Quorum.(*memQuorum)}
			cfg.Quorum = fr
		})
		ctx := t.Context()
		for _, id := range ids(4, 5) {
			if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: id, Host: "h", Port: 1, RaftAddr: fmt.Sprintf("h:%d", id)}); err != nil {
				t.Fatalf("RegisterBroker(%d): %v", id, err)
			}
			if !l.q.isObserver(id) {
				t.Fatalf("broker %d is not an observer after registering", id)
			}
		}
		if err := l.UnregisterBroker(ctx, 4); err != nil {
			t.Fatalf("UnregisterBroker(4): %v", err)
		}
		if l.q.isObserver(4) {
			t.Errorf("broker 4 is still an observer after UnregisterBroker")
		}

		// The record commits, the quorum change fails: the error says so,
		// and a retry removes the observer.
		fr.err = &raft.NotLeaderError{LeaderID: -1, Reason: "test"}
		if err := l.UnregisterBroker(ctx, 5); !errors.Is(err, ErrNotController) {
			t.Errorf("UnregisterBroker(5) with a failing quorum change = %v, want ErrNotController", err)
		}
		if _, ok := l.Image().Broker(5); ok || !l.q.isObserver(5) {
			t.Fatalf("after the failed quorum change: registered %v, observer %v; want unregistered, observer", ok, l.q.isObserver(5))
		}
		if err := l.UnregisterBroker(ctx, 5); err != nil {
			t.Errorf("retried UnregisterBroker(5) = %v, want nil", err)
		}
		if l.q.isObserver(5) {
			t.Errorf("broker 5 is still an observer after the retry")
		}
		if err := l.UnregisterBroker(ctx, 5); !errors.Is(err, ErrBrokerNotRegistered) {
			t.Errorf("third UnregisterBroker(5) = %v, want ErrBrokerNotRegistered", err)
		}

		// The controller's own broker is a voter: it is unregistered, the
		// voter stays.
		if err := l.RegisterBroker(ctx, BrokerRegistration{NodeID: controllerNode, Host: "h", Port: 1}); err != nil {
			t.Fatalf("RegisterBroker(%d): %v", controllerNode, err)
		}
		if err := l.UnregisterBroker(ctx, controllerNode); err != nil {
			t.Errorf("UnregisterBroker(voter %d) = %v, want nil", controllerNode, err)
		}
		if _, ok := l.Image().Broker(controllerNode); ok {
			t.Errorf("broker %d is still registered", controllerNode)
		}
	})
}
