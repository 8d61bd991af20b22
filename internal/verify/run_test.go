package verify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRunEndsWhenTransactionsCannotBegin: a coordinator answering
// InitProducerID with CONCURRENT_TRANSACTIONS forever (as for a
// transaction it never finishes) stalls kgo's BeginTransaction, which
// takes no context. Run must still return once the load is over, with a
// note saying why the transactional producer stopped.
func TestRunEndsWhenTransactionsCannotBegin(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		if r.TransactionalID == nil {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode = kerr.ConcurrentTransactions.Code
		return resp, nil, true
	})
	type result struct {
		h   *History
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := Run(t.Context(), Config{
			Bootstrap: c.ListenAddrs(), Partitions: 1, Duration: 2 * time.Second, Rate: 50,
			Producers: 1, Transactional: 1, Consumers: []ConsumerSpec{{Mode: ModeAssign, Isolation: ReadUncommitted}},
			RecordTimeout: time.Second, SettleTimeout: time.Second,
		})
		done <- result{h, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("Run has not returned 2 minutes after a 2s load: the transactional producer is stuck in BeginTransaction")
	}
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if !slices.ContainsFunc(r.h.Notes, func(n string) bool { return strings.Contains(n, "begin transaction") }) {
		t.Errorf("Run notes %q; want one saying the transaction could not begin", r.h.Notes)
	}
	if res := Check(r.h); res.Acked == 0 || res.TxnCommitted+res.TxnAborted+res.TxnUnknown != 0 {
		t.Errorf("Check: %d acknowledged, transactions %d/%d/%d; want the idempotent producer's writes and no transaction", res.Acked, res.TxnCommitted, res.TxnAborted, res.TxnUnknown)
	}
}

// TestWaitStableEnds: the final read waits for last stable offsets to
// reach the high watermarks; when they never do (a transaction left open),
// it goes on with the last listing it got, even when the call the deadline
// cut short failed.
func TestWaitStableEnds(t *testing.T) {
	errDown := errors.New("broker down")
	tests := []struct {
		name string
		// answers are the successive results of list; after the last one
		// list blocks until its ctx ends and returns ctx.Err().
		answers    []error // nil: a listing, errDown: a failure
		stableAt   int     // index of the first answer with lso == hwm; -1 never
		wantHWM    []int64
		wantLSO    []int64
		wantStable bool
		wantErr    error
	}{
		{name: "stable at once", answers: []error{nil}, stableAt: 0, wantHWM: []int64{10, 7}, wantLSO: []int64{10, 7}, wantStable: true},
		{name: "stable after a failure and an open transaction", answers: []error{errDown, nil, nil}, stableAt: 2, wantHWM: []int64{10, 7}, wantLSO: []int64{10, 7}, wantStable: true},
		{name: "open transaction until the deadline cuts a call", answers: []error{nil, nil}, stableAt: -1, wantHWM: []int64{10, 7}, wantLSO: []int64{4, 7}},
		{name: "open transaction then failures until the deadline", answers: []error{nil, errDown, errDown}, stableAt: -1, wantHWM: []int64{10, 7}, wantLSO: []int64{4, 7}},
		{name: "no listing at all", answers: []error{errDown, errDown}, stableAt: -1, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			list := func(ctx context.Context) ([]int64, []int64, error) {
				i := calls
				calls++
				if i >= len(tt.answers) {
					<-ctx.Done()
					return nil, nil, ctx.Err()
				}
				if tt.answers[i] != nil {
					return nil, nil, tt.answers[i]
				}
				if tt.stableAt >= 0 && i >= tt.stableAt {
					return []int64{10, 7}, []int64{10, 7}, nil
				}
				return []int64{10, 7}, []int64{4, 7}, nil
			}
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			hwm, lso, stable, err := waitStableEnds(ctx, list, time.Millisecond)
			if !slices.Equal(hwm, tt.wantHWM) || !slices.Equal(lso, tt.wantLSO) || stable != tt.wantStable {
				t.Errorf("waitStableEnds = hwm %v lso %v stable %v; want %v %v %v", hwm, lso, stable, tt.wantHWM, tt.wantLSO, tt.wantStable)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("waitStableEnds error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && tt.wantStable && err != nil {
				t.Errorf("waitStableEnds error %v, want none", err)
			}
		})
	}
}
