package node

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTornTailIsTruncatedOnRestart simulates a crash that tore the last
// batch of a segment: the node restarts, keeps every whole batch, drops the
// torn one, and continues at the next offset.
func TestTornTailIsTruncatedOnRestart(t *testing.T) {
	dir := t.TempDir()
	tn := startNode(t, withDataDir(dir))
	tn.createTopic("torn", 1, nil)
	p := tn.client(kgo.DefaultProduceTopic("torn"), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	// One record per batch: ten batches.
	for i := range 10 {
		if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Value: []byte("record-" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	tn.stop()

	seg := filepath.Join(dir, "logs", "torn-0", "00000000000000000000.log")
	info, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last batch in half and remove the clean-shutdown marker, as a
	// crash mid-write would leave things.
	if err := os.Truncate(seg, info.Size()-20); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "logs", ".kafka_cleanshutdown")); err != nil {
		t.Fatalf("clean-shutdown marker: %v", err)
	}

	tn2 := startNode(t, withDataDir(dir))
	got := consumeAll(t, tn2, "torn", 9)
	for i, r := range got {
		if r.Offset != int64(i) || string(r.Value) != "record-"+strconv.Itoa(i) {
			t.Fatalf("record %d after recovery: offset %d value %q", i, r.Offset, r.Value)
		}
	}
	ends, err := tn2.admin().ListEndOffsets(ctxTimeout(t, 10*time.Second), "torn")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("torn", 0); o.Offset != 9 {
		t.Fatalf("end offset after recovery %d, want 9 (the torn batch dropped)", o.Offset)
	}
	p2 := tn2.client(kgo.DefaultProduceTopic("torn"))
	r, err := p2.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Value: []byte("after")}).First()
	if err != nil || r.Offset != 9 {
		t.Fatalf("produce after recovery: offset %d err %v, want offset 9", r.Offset, err)
	}
}
