package storage

import (
	"sync"
	"testing"
)

func TestSyncGroupCommit(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	const writers, perWriter = 16, 20
	batch := buildBatch(t, spec(1).size(100))
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for range writers {
		wg.Go(func() {
			for range perWriter {
				b := append([]byte(nil), batch...)
				info, err := l.AppendAsLeader(b, 0, t0)
				if err == nil {
					err = l.Sync(info.LastOffset + 1)
				}
				if err == nil && l.RecoveryPoint() <= info.LastOffset {
					t.Errorf("Sync(%d) returned with recovery point %d", info.LastOffset+1, l.RecoveryPoint())
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	// Readers run alongside and must only ever see whole batches.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			leo := l.LogEndOffset()
			if leo == 0 {
				continue
			}
			res, err := l.Read(0, 1<<20, leo, true)
			if err != nil {
				t.Errorf("Read: %v", err)
				return
			}
			b, err := res.AppendTo(nil)
			if err != nil {
				t.Errorf("AppendTo: %v", err)
				return
			}
			if int64(len(b))%int64(len(batch)) != 0 || int64(len(b)/len(batch)) < leo {
				t.Errorf("Read(0) with LEO %d returned %d bytes, not whole batches", leo, len(b))
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append+sync: %v", err)
	}
	if got, want := l.RecoveryPoint(), int64(writers*perWriter); got != want {
		t.Fatalf("RecoveryPoint = %d, want %d", got, want)
	}
	fsyncs := l.fsyncs.Load()
	t.Logf("%d Sync calls, %d fsyncs", writers*perWriter, fsyncs)
	if fsyncs >= writers*perWriter {
		t.Fatalf("%d fsyncs for %d Sync calls: no group commit", fsyncs, writers*perWriter)
	}
	if err := l.Sync(l.LogEndOffset() + 5); err == nil {
		t.Fatalf("Sync beyond the log end offset succeeded")
	}
}
