package cli_test

import (
	"bufio"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConsumeGroupResumesFromCommittedOffset(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	seedTen(t, bs, "ten")
	runs := []struct {
		give []string
		want string
	}{
		{give: []string{"--count", "4"}, want: values(0, 1, 2, 3)},
		{give: []string{"--count", "3", "--balancer", "range"}, want: values(4, 5, 6)},
		{give: []string{"--exit-at-end", "--balancer", "roundrobin"}, want: values(7, 8, 9)},
		{give: []string{"--exit-at-end", "--balancer", "sticky"}, want: ""},
	}
	for _, rr := range runs {
		args := append([]string{"consume", "ten", b, "--group", "g"}, rr.give...)
		r := mustRun(t, "", args...)
		if r.stdout != rr.want {
			t.Errorf("consume ten --group g %v: stdout %q, want %q", rr.give, r.stdout, rr.want)
		}
	}
	if got := committed(t, bs, "g", "ten"); !cmp.Equal(got, map[int32]int64{0: 10}) {
		t.Errorf("committed by g after reading everything: %v, want 0:10", got)
	}
	// Another group has its own offsets and sees every record.
	r := mustRun(t, "", "consume", "ten", b, "--group", "other", "--exit-at-end", "--print-key")
	if want := "k0\tv0\nk1\tv1\nk2\tv2\nk3\tv3\nk4\tv4\nk5\tv5\nk6\tv6\nk7\tv7\nk8\tv8\nk9\tv9\n"; r.stdout != want {
		t.Errorf("consume ten --group other --exit-at-end: stdout %q, want %q", r.stdout, want)
	}
	// With nothing committed, --from-beginning=false starts at the end.
	r = mustRun(t, "", "consume", "ten", b, "--group", "late", "--from-beginning=false", "--exit-at-end")
	if r.stdout != "" {
		t.Errorf("consume ten --group late --from-beginning=false --exit-at-end: stdout %q, want nothing", r.stdout)
	}
}

func TestConsumeGroupOverSeveralPartitions(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "multi", b, "--partitions", "3")
	produceTo(t, bs, "multi", 0, 4)
	produceTo(t, bs, "multi", 2, 3)
	commitDirect(t, bs, "g", map[string]map[int32]int64{"multi": {0: 1}})

	r := mustRun(t, "", "consume", "multi", b, "--group", "g", "--exit-at-end", "--format", `%p %v\n`)
	var got []string
	for l := range strings.Lines(r.stdout) {
		got = append(got, strings.TrimSuffix(l, "\n"))
	}
	want := []string{"0 p0-1", "0 p0-2", "0 p0-3", "2 p2-0", "2 p2-1", "2 p2-2"}
	// Partitions interleave in any order; each keeps its own.
	slices.SortStableFunc(got, func(a, b string) int { return strings.Compare(a[:1], b[:1]) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consume multi --group g --exit-at-end (-want +got):\n%s", diff)
	}
	// Partition 1 was empty and nothing was read there, so nothing is
	// committed for it; the describe lag is zero everywhere else.
	if got := committed(t, bs, "g", "multi"); !cmp.Equal(got, map[int32]int64{0: 4, 2: 3}) {
		t.Errorf("committed after consume --exit-at-end: %v, want 0:4 2:3", got)
	}
}

func TestConsumeGroupCommitsOnlyWhatItPrinted(t *testing.T) {
	c, bs := fakeClusterHandle(t)
	seedTen(t, bs, "ten")
	// Report a high watermark of 4 to the command's lookup, as if v4..v9
	// were appended after it started: they are fetched, not printed, and
	// must not be committed.
	c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ListOffsetsRequest)
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Timestamp != -1 {
			c.KeepControl()
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = req.Topics[0].Topic
		rp := kmsg.NewListOffsetsResponseTopicPartition()
		rp.Partition = 0
		rp.Offset = 4
		rp.LeaderEpoch = 0
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	r := mustRun(t, "", "consume", "ten", "--bootstrap", bs, "--group", "e", "--exit-at-end")
	if want := values(0, 1, 2, 3); r.stdout != want {
		t.Errorf("consume ten --group e --exit-at-end with high watermark 4: stdout %q, want %q", r.stdout, want)
	}
	if got := committed(t, bs, "e", "ten"); !cmp.Equal(got, map[int32]int64{0: 4}) {
		t.Errorf("committed by e: %v, want 0:4", got)
	}
	r = mustRun(t, "", "consume", "ten", "--bootstrap", bs, "--group", "e", "--count", "2")
	if want := values(4, 5); r.stdout != want {
		t.Errorf("consume ten --group e --count 2 afterwards: stdout %q, want %q", r.stdout, want)
	}
}

func TestConsumeGroupPassesTransactionMarkers(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "txn", "--bootstrap", bs, "--partitions", "1")
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.TransactionalID("cli-group-test"))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "txn", Value: []byte("in-txn")}).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatalf("EndTransaction: %v", err)
	}
	// The record is at 0 and the commit marker at 1: reading to the end
	// commits 2, past the marker.
	r := mustRun(t, "", "consume", "txn", "--bootstrap", bs, "--group", "m", "--exit-at-end")
	if r.stdout != "in-txn\n" {
		t.Errorf("consume txn --group m --exit-at-end: stdout %q, want %q", r.stdout, "in-txn\n")
	}
	if got := committed(t, bs, "m", "txn"); !cmp.Equal(got, map[int32]int64{0: 2}) {
		t.Errorf("committed by m: %v, want 0:2", got)
	}
}

func TestConsumeGroupCommitsWhenInterrupted(t *testing.T) {
	bs := fakeCluster(t)
	seedTen(t, bs, "ten")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan result, 1)
	go func() {
		r := runWith(ctx, strings.NewReader(""), w, "consume", "ten", "--bootstrap", bs, "--group", "i")
		w.Close()
		done <- r
	}()
	sc := bufio.NewScanner(out)
	var n int
	for sc.Scan() {
		if n++; n == 10 {
			cancel()
		}
	}
	if r := <-done; r.err != nil {
		t.Fatalf("consume ten --group i, interrupted: %v", r.err)
	}
	if n != 10 {
		t.Errorf("consume ten --group i, interrupted: printed %d records, want 10", n)
	}
	// The last autocommit may not have run yet; the commit on exit did.
	if got := committed(t, bs, "i", "ten"); !cmp.Equal(got, map[int32]int64{0: 10}) {
		t.Errorf("committed by i after the interrupt: %v, want 0:10", got)
	}
	if d := describeOne(t, bs, "i"); d.header["State"] != "Empty" || len(d.members) != 0 {
		t.Errorf("group i after its consumer exited: state %s with %d members, want Empty without members", d.header["State"], len(d.members))
	}
}

func TestConsumeGroupReportsFailedCommit(t *testing.T) {
	c, bs := fakeClusterHandle(t)
	seedTen(t, bs, "ten")
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			st.TopicID = rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	r := run(t, "", "consume", "ten", "--bootstrap", bs, "--group", "f", "--count", "2")
	if want := values(0, 1); r.stdout != want {
		t.Errorf("consume ten --group f --count 2 with failing commits: stdout %q, want %q", r.stdout, want)
	}
	if want := `strata: group "f": commit offsets: OFFSET_METADATA_TOO_LARGE: `; !strings.HasPrefix(r.errLine, want) {
		t.Errorf("consume ten --group f --count 2 with failing commits: error line %q, want prefix %q", r.errLine, want)
	}
}
