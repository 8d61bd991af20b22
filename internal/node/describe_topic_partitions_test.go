package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/group"
)

// describePage sends one DescribeTopicPartitions request.
func describePage(t *testing.T, addr string, topics []string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor) *kmsg.DescribeTopicPartitionsResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	for _, name := range topics {
		req.Topics = append(req.Topics, kmsg.DescribeTopicPartitionsRequestTopic{Topic: name})
	}
	req.ResponsePartitionLimit, req.Cursor = limit, cursor
	return dialRaw(t, addr).send(req).(*kmsg.DescribeTopicPartitionsResponse)
}

// TestDescribeTopicPartitionsPaginates: DescribeTopicPartitions pages
// through every partition of many topics in name order, a response at a
// time of at most ResponsePartitionLimit partitions, continuing from the
// cursor each answer gives, with the KIP-966 fields on every partition.
func TestDescribeTopicPartitionsPaginates(t *testing.T) {
	tn := startNode(t)
	var named []string
	for i := range 10 {
		name := fmt.Sprintf("page-%02d", i)
		tn.createTopic(name, int32(i%4+1), nil)
		named = append(named, name)
	}
	waitFor(t, "the offsets topic", 30*time.Second, func() bool {
		_, ok := tn.node.ctrl.Image().TopicByName(group.OffsetsTopic)
		return ok
	})
	// partitionsOf lists topic-partition names of the image's topics that
	// keep selects, in name order.
	partitionsOf := func(keep func(string) bool) []string {
		var out []string
		for _, tp := range tn.node.ctrl.Image().Topics() {
			for _, p := range tp.Partitions {
				if keep(tp.Name) {
					out = append(out, fmt.Sprintf("%s-%d", tp.Name, p.Partition))
				}
			}
		}
		return out
	}

	for _, tc := range []struct {
		name   string
		topics []string
		want   []string
	}{
		{"every topic", nil, partitionsOf(func(string) bool { return true })},
		{"named topics", append([]string{"page-09", "page-00"}, named...), partitionsOf(func(n string) bool { return strings.HasPrefix(n, "page-") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, total := tc.want, len(tc.want)
			const limit = 7
			var got []string
			var cursor *kmsg.DescribeTopicPartitionsRequestCursor
			pages := 0
			for {
				resp := describePage(t, tn.addr, tc.topics, limit, cursor)
				pages++
				n := 0
				for _, rt := range resp.Topics {
					if rt.ErrorCode != 0 || rt.Topic == nil {
						t.Fatalf("page %d: topic %v error %d", pages, rt.Topic, rt.ErrorCode)
					}
					if rt.AuthorizedOperations <= 0 {
						t.Errorf("page %d: topic %s authorized operations %d, want every topic operation", pages, *rt.Topic, rt.AuthorizedOperations)
					}
					for _, p := range rt.Partitions {
						if p.ErrorCode != 0 || p.LeaderID != 1 || len(p.ISR) != 1 || p.EligibleLeaderReplicas == nil || len(p.EligibleLeaderReplicas) != 0 ||
							p.LastKnownELR == nil || len(p.LastKnownELR) != 0 {
							t.Errorf("page %d: %s-%d = %+v, want led by 1 with an empty, non-null ELR and last known ELR", pages, *rt.Topic, p.Partition, p)
						}
						got = append(got, fmt.Sprintf("%s-%d", *rt.Topic, p.Partition))
						n++
					}
				}
				if n > limit {
					t.Fatalf("page %d holds %d partitions, more than the limit %d", pages, n, limit)
				}
				if resp.NextCursor == nil {
					break
				}
				if n != limit {
					t.Errorf("page %d holds %d partitions and a next cursor, want a full page of %d", pages, n, limit)
				}
				cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
				if pages > total {
					t.Fatalf("more pages than partitions: the cursor does not move")
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("partitions over all pages (-want +got):\n%s", diff)
			}
			if wantPages := (total + limit - 1) / limit; pages != wantPages {
				t.Errorf("%d pages for %d partitions at %d a page, want %d", pages, total, limit, wantPages)
			}
		})
	}

	// A cursor in the middle of a topic starts there; unknown topics are
	// answered without taking room; a cursor outside the named topics is
	// an invalid request.
	resp := describePage(t, tn.addr, []string{"nope", "page-03", "page-07"}, 3, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "page-03", Partition: 2})
	var got []string
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			got = append(got, fmt.Sprintf("%s:%s", *rt.Topic, kerr.ErrorForCode(rt.ErrorCode).(*kerr.Error).Message))
		}
		for _, p := range rt.Partitions {
			got = append(got, fmt.Sprintf("%s-%d", *rt.Topic, p.Partition))
		}
	}
	if diff := cmp.Diff([]string{"page-03-2", "page-03-3", "page-07-0"}, got); diff != "" {
		t.Errorf("page from cursor page-03-2 (-want +got):\n%s", diff)
	}
	if c := resp.NextCursor; c == nil || c.Topic != "page-07" || c.Partition != 1 {
		t.Errorf("next cursor = %+v, want page-07 partition 1", c)
	}
	resp = describePage(t, tn.addr, []string{"nope", "page-01"}, 100, nil)
	if len(resp.Topics) != 2 || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code || *resp.Topics[0].Topic != "nope" ||
		resp.Topics[1].ErrorCode != 0 || len(resp.Topics[1].Partitions) != 2 || resp.NextCursor != nil {
		t.Errorf("DescribeTopicPartitions(nope, page-01) = %+v, want nope unknown and page-01's 2 partitions", resp)
	}
	resp = describePage(t, tn.addr, []string{"page-01"}, 100, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "page-02"})
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("DescribeTopicPartitions(cursor outside the topics) = %+v, want INVALID_REQUEST", resp)
	}
}
