package coordinator

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
)

type indexedErr struct {
	i   int
	err error
}

// txnWrite writes recs for producerID, then its marker, on the loop, and
// returns the offsets Write* returned and the errors their done got.
func txnWrite(t *testing.T, s *kvShard, producerID int64, commit bool, recs ...Record) (offsets []int64, errs []error) {
	t.Helper()
	type result struct {
		offsets []int64
		errs    chan indexedErr
	}
	res, err := Call(t.Context(), s.loop, func(reply func(result)) {
		errs := make(chan indexedErr, 2)
		o1 := s.loop.WriteTransactional(producerID, 0, recs, func(err error) { errs <- indexedErr{0, err} })
		o2 := s.loop.WriteMarker(producerID, 0, 3, commit, func(err error) {
			if err == nil {
				s.endTxn(producerID, commit)
			}
			errs <- indexedErr{1, err}
		})
		reply(result{[]int64{o1, o2}, errs})
	})
	if err != nil {
		t.Fatalf("Call = %v, want nil", err)
	}
	synctest.Wait()
	errs = make([]error, 2)
	for range 2 {
		e := <-res.errs
		errs[e.i] = e.err
	}
	return res.offsets, errs
}

func TestTransactionalWritesAndMarkersReplayAsWritten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		log := &fakeLog{}
		s := loaded(t, r, log)
		if err := s.put(t.Context(), "plain", "1"); err != nil {
			t.Fatalf("put(plain) = %v", err)
		}
		// Producer 7 commits a and b; producer 8 aborts c. The shard
		// stages transactional records itself (here: only at replay).
		if offsets, errs := txnWrite(t, s, 7, true, rec("a", "1"), rec("b", "2")); !cmp.Equal(offsets, []int64{1, 3}) || errors.Join(errs...) != nil {
			t.Fatalf("commit of producer 7 = offsets %v, errors %v; want [1 3], none", offsets, errs)
		}
		if offsets, errs := txnWrite(t, s, 8, false, rec("c", "3")); !cmp.Equal(offsets, []int64{4, 5}) || errors.Join(errs...) != nil {
			t.Fatalf("abort of producer 8 = offsets %v, errors %v; want [4 5], none", offsets, errs)
		}

		want := []ReplayRecord{
			plain(rec("plain", "1")),
			{Key: []byte("a"), Value: []byte("1"), ProducerID: 7, Transactional: true},
			{Key: []byte("b"), Value: []byte("2"), ProducerID: 7, Transactional: true},
			{ProducerID: 7, Transactional: true, Control: true, Commit: true},
			{Key: []byte("c"), Value: []byte("3"), ProducerID: 8, Transactional: true},
			{ProducerID: 8, Transactional: true, Control: true},
		}
		for i := range want {
			want[i].Offset = int64(i)
		}
		var got []ReplayRecord
		if err := log.Replay(t.Context(), func(r ReplayRecord) error { got = append(got, r); return nil }); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("log after the writes (-want +got):\n%s", diff)
		}

		// A newer load replays records and markers: committed records
		// applied, aborted ones dropped, nothing left pending.
		r.Load(0, 1, log)
		synctest.Wait()
		s2, err := r.Shard(0)
		if err != nil {
			t.Fatalf("Shard(0) after reload = %v", err)
		}
		if diff := cmp.Diff(map[string]string{"plain": "1", "a": "1", "b": "2"}, s2.kv); diff != "" {
			t.Errorf("state after replay (-want +got):\n%s", diff)
		}
		if len(s2.pending) != 0 {
			t.Errorf("pending after replay = %v, want none", s2.pending)
		}
	})
}

func TestWriteMarkerFailureReachesDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		log := &fakeLog{coordEpoch: map[int64]int32{7: 9}} // producer 7's last marker came from coordinator epoch 9
		s := loaded(t, r, log)
		offsets, errs := txnWrite(t, s, 7, true, rec("a", "1"))
		if offsets[1] != -1 || !errors.Is(errs[1], errFenced) {
			t.Fatalf("marker from coordinator epoch 3 = offset %d, error %v; want -1 and errFenced", offsets[1], errs[1])
		}
		if errs[0] != nil {
			t.Fatalf("transactional write before it = %v, want nil", errs[0])
		}
	})
}
