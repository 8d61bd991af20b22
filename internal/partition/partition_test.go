package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

func newPartition(t *testing.T, syncBeforeAck bool) *Partition {
	t.Helper()
	d, err := storage.OpenLogDir(storage.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := d.CreateLog(storage.TopicPartition{Topic: "t", Partition: 0}, [16]byte{1}, storage.DefaultLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	return New(l, Config{LeaderEpoch: 3, SyncBeforeAck: syncBeforeAck, Limits: Limits{MaxMessageBytes: 1 << 20}})
}

func oneBatch(t *testing.T, n int) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone, time.Now().UnixMilli())
	for range n {
		b.Add(time.Now().UnixMilli(), nil, []byte("v"), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHighWatermarkFollowsAppendWithoutSync(t *testing.T) {
	p := newPartition(t, false)
	wake := make(chan struct{}, 1)
	p.AddWaiter(wake)
	defer p.RemoveWaiter(wake)
	if _, err := p.AppendAsLeader(oneBatch(t, 3), time.Now()); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HighWatermark after append = %d, want 3", hw)
	}
	select {
	case <-wake:
	default:
		t.Fatal("waiter not woken by the high watermark advancing")
	}
}

func TestHighWatermarkWaitsForCommitWithSync(t *testing.T) {
	p := newPartition(t, true)
	info, err := p.AppendAsLeader(oneBatch(t, 2), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HighWatermark before Commit = %d, want 0: a consumer could read unsynced data", hw)
	}
	res, err := p.Read(0, 1<<20, true)
	if err != nil || res.Size != 0 {
		t.Fatalf("Read before Commit: %d bytes, err %v; want nothing", res.Size, err)
	}
	if err := p.Commit(info.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("HighWatermark after Commit = %d, want 2", hw)
	}
	res, err = p.Read(0, 1<<20, true)
	if err != nil || res.Size == 0 {
		t.Fatalf("Read after Commit: %d bytes, err %v", res.Size, err)
	}
}

func TestCheckLeaderEpoch(t *testing.T) {
	p := newPartition(t, false)
	tests := []struct {
		give int32
		want error
	}{
		{-1, nil},
		{3, nil},
		{2, ErrFencedLeaderEpoch},
		{4, ErrUnknownLeaderEpoch},
	}
	for _, tt := range tests {
		if err := p.CheckLeaderEpoch(tt.give); !errors.Is(err, tt.want) {
			t.Errorf("CheckLeaderEpoch(%d) = %v, want %v", tt.give, err, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	p := newPartition(t, false)
	tb := NewTable()
	tb.Put(p)
	if got, ok := tb.Get("t", 0); !ok || got != p {
		t.Fatalf("Get(t, 0) = %v, %v", got, ok)
	}
	if _, ok := tb.Get("t", 1); ok {
		t.Fatal("Get(t, 1) found a partition that was never added")
	}
	if name, ok := tb.TopicName([16]byte{1}); !ok || name != "t" {
		t.Fatalf("TopicName = %q, %v", name, ok)
	}
	if removed := tb.RemoveTopic("t"); len(removed) != 1 {
		t.Fatalf("RemoveTopic returned %d partitions", len(removed))
	}
	if _, ok := tb.TopicName([16]byte{1}); ok {
		t.Fatal("topic id still resolves after RemoveTopic")
	}
}
