package txn

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/coordinator"
)

// Description is a transactional id's state as DescribeTransactions shows
// it.
type Description struct {
	ID             string
	State          kmsg.TransactionState
	TimeoutMs      int32
	StartTimestamp int64 // unix ms; -1 when no transaction started
	ProducerID     int64
	ProducerEpoch  int16
	Partitions     []Partition
}

// Describe returns the state of transactional id; an unknown id gives
// TRANSACTIONAL_ID_NOT_FOUND.
func (c *Coordinator) Describe(ctx context.Context, id string) (Description, error) {
	type result struct {
		d   Description
		err error
	}
	res, err := call(ctx, c, id, func(s *shard, reply func(result)) {
		t := s.txns[id]
		if t == nil || t.writing && t.pending == kmsg.TransactionStateDead {
			reply(result{err: fmt.Errorf("%w: %q", kerr.TransactionalIDNotFound, id)})
			return
		}
		reply(result{d: describe(t)})
	})
	if err != nil {
		return Description{}, err
	}
	return res.d, res.err
}

func describe(t *txnMeta) Description {
	return Description{
		ID: t.id, State: t.State, TimeoutMs: t.TimeoutMs, StartTimestamp: t.StartTimestamp,
		ProducerID: t.ProducerID, ProducerEpoch: t.ProducerEpoch, Partitions: slices.Clone(t.Partitions),
	}
}

// ListFilter selects transactions for List; zero fields select all.
type ListFilter struct {
	States      []kmsg.TransactionState
	ProducerIDs []int64
	// MinDurationMs keeps only transactions running longer than this
	// (ListTransactions v1, KIP-994); zero or less: no filter.
	MinDurationMs int64
	// Pattern keeps only transactional ids it matches (v2, KIP-1152).
	Pattern *regexp.Regexp
}

// Listing is one transactional id as ListTransactions shows it.
type Listing struct {
	ID         string
	ProducerID int64
	State      kmsg.TransactionState
}

// List returns the transactional ids of every shard hosted here that f
// selects, sorted by id. A shard still loading fails the whole list with
// COORDINATOR_LOAD_IN_PROGRESS, as in Kafka.
func (c *Coordinator) List(ctx context.Context, f ListFilter) ([]Listing, error) {
	now := c.cfg.Now().UnixMilli()
	var out []Listing
	for _, s := range c.rt.Shards() {
		switch s.loop.Status() {
		case coordinator.Loading:
			return nil, fmt.Errorf("%w: %s-%d", kerr.CoordinatorLoadInProgress, TransactionStateTopic, s.loop.Partition())
		case coordinator.Stopped:
			continue
		}
		got, err := coordinator.Call(ctx, s.loop, func(reply func([]Listing)) {
			var ls []Listing
			for _, t := range s.txns {
				if f.selects(t, now) {
					ls = append(ls, Listing{ID: t.id, ProducerID: t.ProducerID, State: t.State})
				}
			}
			reply(ls)
		})
		if errors.Is(err, coordinator.ErrNotCoordinator) {
			continue // unloaded meanwhile: no longer ours to list
		}
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f ListFilter) selects(t *txnMeta, now int64) bool {
	switch {
	case t.writing && t.pending == kmsg.TransactionStateDead:
		return false // being removed
	case len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, t.ProducerID):
		return false
	case len(f.States) > 0 && !slices.Contains(f.States, t.State):
		return false
	case f.MinDurationMs > 0 && now-t.StartTimestamp <= f.MinDurationMs:
		return false
	case f.Pattern != nil && !f.Pattern.MatchString(t.id):
		return false
	}
	return true
}
