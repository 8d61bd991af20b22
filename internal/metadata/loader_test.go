package metadata

import (
	"errors"
	"testing"
)

func mustBatch(t *testing.T, recs ...Record) []byte {
	t.Helper()
	b, err := EncodeBatch(recs)
	if err != nil {
		t.Fatalf("EncodeBatch error: %v", err)
	}
	return b
}

func TestLoaderPublishesInOrder(t *testing.T) {
	l := NewLoader(LoaderConfig{})
	var seen []uint64
	l.Subscribe(func(img *Image, d *Delta) {
		if d.Index != img.Index() {
			t.Errorf("subscriber got delta index %d with image index %d", d.Index, img.Index())
		}
		seen = append(seen, img.Index())
	})
	if err := l.Apply(1, mustBatch(t, &ClusterIDRecord{ClusterID: "c"})); err != nil {
		t.Fatalf("Apply(1) error: %v", err)
	}
	if err := l.Apply(2, mustBatch(t, &TopicRecord{Name: "a", TopicID: topicA})); err != nil {
		t.Fatalf("Apply(2) error: %v", err)
	}
	err := l.Apply(3, mustBatch(t, &TopicRecord{Name: "a", TopicID: topicB}))
	if !errors.Is(err, ErrInconsistent) {
		t.Errorf("Apply(duplicate topic) = %v, want ErrInconsistent", err)
	}
	if err := l.Apply(4, []byte{9, 9}); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("Apply(garbage) = %v, want ErrUnknownRecord", err)
	}
	if got := l.Image().Index(); got != 2 {
		t.Errorf("Image().Index() = %d after a rejected batch, want 2", got)
	}
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Errorf("subscriber saw indexes %v, want [1 2]", seen)
	}

	// A late subscriber catches up with one delta from the empty image.
	var late []*Delta
	l.Subscribe(func(_ *Image, d *Delta) { late = append(late, d) })
	if len(late) != 1 || !late[0].ClusterIDChanged || !late[0].TopicCreated(topicA) {
		t.Fatalf("late subscriber got %+v, want one catch-up delta with the cluster id and topic a", late)
	}
}

func TestLoaderSnapshotRestore(t *testing.T) {
	src := NewLoader(LoaderConfig{})
	if err := src.Apply(5, mustBatch(t, &TopicRecord{Name: "a", TopicID: topicA},
		&PartitionRecord{TopicID: topicA, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})); err != nil {
		t.Fatalf("Apply error: %v", err)
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot error: %v", err)
	}

	dst := NewLoader(LoaderConfig{})
	if err := dst.Apply(1, mustBatch(t, &TopicRecord{Name: "b", TopicID: topicB})); err != nil {
		t.Fatalf("Apply error: %v", err)
	}
	var got *Delta
	dst.Subscribe(func(_ *Image, d *Delta) { got = d })
	if err := dst.Restore(snap); err != nil {
		t.Fatalf("Restore error: %v", err)
	}
	if got == nil || !got.TopicCreated(topicA) || len(got.DeletedTopics) != 1 || got.DeletedTopics[0].ID != topicB {
		t.Errorf("Restore delta = %+v, want topic a created and b deleted", got)
	}
	if dst.Image().Index() != 5 {
		t.Errorf("restored image index = %d, want 5", dst.Image().Index())
	}
	if err := dst.Restore([]byte("junk")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Restore(junk) = %v, want ErrCorrupt", err)
	}
}
