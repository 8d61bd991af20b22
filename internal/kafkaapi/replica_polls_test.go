package kafkaapi

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func fetchOf(topicID [16]byte, partitions ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID
	for _, p := range partitions {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// TestReplicaPollsHurryFollowersOfNewLeaderships: Expect ends the named
// followers' polls (no one else's), their fetches are hurried until they
// name the partition or the window passes.
func TestReplicaPollsHurryFollowersOfNewLeaderships(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewReplicaPolls(func() time.Time { return now })
	old, created := [16]byte{1}, [16]byte{2}

	wake2, done2 := r.register(2)
	wake3, done3 := r.register(3)
	defer done3()
	if r.hurried(2, fetchOf(old, 0)) {
		t.Fatal("hurried before any Expect")
	}
	r.Expect(created, 0, []int32{2})
	select {
	case <-wake2:
	default:
		t.Fatal("Expect did not end follower 2's poll")
	}
	select {
	case <-wake3:
		t.Fatal("Expect ended follower 3's poll; it follows nothing new")
	default:
	}
	done2()
	if len(r.polls[2]) != 0 {
		t.Fatalf("a finished poll stays registered: %v", r.polls)
	}

	// Follower 2 has not applied the metadata yet: its fetches are
	// hurried, until one names the partition.
	if !r.hurried(2, fetchOf(old, 0)) || !r.hurried(2, fetchOf(created, 1)) {
		t.Fatal("a fetch without the expected partition is not hurried")
	}
	if r.hurried(2, fetchOf(created, 0)) {
		t.Fatal("the fetch naming the partition is still hurried")
	}
	if r.hurried(2, fetchOf(old, 0)) {
		t.Fatal("hurried again after the follower took the partition on")
	}

	// A follower that never takes it on is hurried only within the window.
	r.Expect(created, 5, []int32{3})
	if !r.hurried(3, fetchOf(old, 0)) {
		t.Fatal("follower 3 not hurried")
	}
	now = now.Add(expectWindow + time.Millisecond)
	if r.hurried(3, fetchOf(old, 0)) {
		t.Fatal("still hurried after the window")
	}
	if len(r.expect) != 0 {
		t.Fatalf("expectations left behind: %v", r.expect)
	}
	var nilPolls *ReplicaPolls // a handler without the registry
	nilPolls.Expect(created, 0, []int32{1})
	if nilPolls.hurried(1, fetchOf(old, 0)) {
		t.Fatal("nil registry hurried")
	}
}
