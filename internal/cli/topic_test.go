package cli_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestTopicLifecycle(t *testing.T) {
	bs := fakeCluster(t, kfake.NumBrokers(3))
	b := "--bootstrap=" + bs

	r := mustRun(t, "", "topic", "create", "orders", b, "--partitions", "3", "--replication-factor", "2", "--config", "retention.ms=1000", "--config", "cleanup.policy=compact")
	if want := `created topic "orders" with 3 partitions, replication factor 2` + "\n"; r.stdout != want {
		t.Errorf("topic create: stdout %q, want %q", r.stdout, want)
	}
	mustRun(t, "", "topic", "create", "events", b, "--partitions", "1", "--replication-factor", "1")

	r = mustRun(t, "", "topic", "list", b)
	if want := "TOPIC   PARTITIONS  REPLICATION-FACTOR\nevents  1           1\norders  3           2\n"; r.stdout != want {
		t.Errorf("topic list: stdout\n%s\nwant\n%s", r.stdout, want)
	}

	r = mustRun(t, "", "topic", "describe", "orders", b)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("topic describe orders: got %d lines, want 4:\n%s", len(lines), r.stdout)
	}
	head := regexp.MustCompile(`^Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: cleanup.policy=compact,retention.ms=1000$`)
	if !head.MatchString(lines[0]) {
		t.Errorf("topic describe orders: first line %q does not match %s", lines[0], head)
	}
	for i, line := range lines[1:] {
		part := regexp.MustCompile(`^\tPartition: ` + string(rune('0'+i)) +
			`\tLeader: \d+\tLeaderEpoch: \d+\tReplicas: \d+,\d+\tIsr: \d+,\d+\tElr: \tLastKnownElr: \tOffline: \tLogStartOffset: 0\tHighWatermark: 0$`)
		if !part.MatchString(line) {
			t.Errorf("topic describe orders: partition line %q does not match %s", line, part)
		}
	}

	r = mustRun(t, "", "topic", "alter-partitions", "orders", "--partitions", "5", b)
	if want := `topic "orders" now has 5 partitions` + "\n"; r.stdout != want {
		t.Errorf("topic alter-partitions: stdout %q, want %q", r.stdout, want)
	}
	r = mustRun(t, "", "topic", "describe", "orders", "events", b)
	if got := strings.Count(r.stdout, "\tPartition: "); got != 6 {
		t.Errorf("topic describe orders events: %d partition lines, want 6:\n%s", got, r.stdout)
	}

	r = mustRun(t, "", "topic", "delete", "orders", "events", b)
	if want := "deleted topic \"orders\"\ndeleted topic \"events\"\n"; r.stdout != want {
		t.Errorf("topic delete: stdout %q, want %q", r.stdout, want)
	}
	r = mustRun(t, "", "topic", "list", b)
	if want := "TOPIC  PARTITIONS  REPLICATION-FACTOR\n"; r.stdout != want {
		t.Errorf("topic list after delete: stdout %q, want %q", r.stdout, want)
	}
}

func TestTopicDescribeShowsOffsets(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "t", b, "--partitions", "2")
	mustRun(t, "a\nb\nc\n", "produce", "t", b, "--partition", "1")
	r := mustRun(t, "", "topic", "describe", "t", b)
	for _, want := range []string{
		"\tPartition: 0\t", "LogStartOffset: 0\tHighWatermark: 0\n",
		"\tPartition: 1\t", "LogStartOffset: 0\tHighWatermark: 3\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("topic describe t: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestTopicCreateExisting(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "x", b)

	r := run(t, "", "topic", "create", "x", b)
	if !errors.Is(r.err, kerr.TopicAlreadyExists) {
		t.Fatalf("topic create x twice: err %v, want TOPIC_ALREADY_EXISTS", r.err)
	}
	if want := `strata: topic "x": TOPIC_ALREADY_EXISTS: `; !strings.HasPrefix(r.errLine, want) || strings.Contains(r.errLine, "\n") {
		t.Errorf("topic create x twice: error line %q, want one line starting %q", r.errLine, want)
	}
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("topic create x twice: printed stdout %q stderr %q, want nothing (main prints the error)", r.stdout, r.stderr)
	}

	r = mustRun(t, "", "topic", "create", "x", b, "--if-not-exists")
	if want := `topic "x" already exists` + "\n"; r.stdout != want {
		t.Errorf("topic create x --if-not-exists: stdout %q, want %q", r.stdout, want)
	}
}

func TestUnknownTopicErrors(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "known", b, "--partitions", "1")
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"topic", "describe", "nope"}, want: `strata: topic "nope": UNKNOWN_TOPIC_OR_PARTITION: `},
		{give: []string{"topic", "delete", "nope"}, want: `strata: topic "nope": UNKNOWN_TOPIC_OR_PARTITION: `},
		{give: []string{"topic", "alter-partitions", "nope", "--partitions", "4"}, want: `strata: topic "nope": UNKNOWN_TOPIC_OR_PARTITION: `},
		{give: []string{"consume", "nope", "--exit-at-end"}, want: `strata: topic "nope": UNKNOWN_TOPIC_OR_PARTITION: `},
		{give: []string{"consume", "known", "--partition", "3"}, want: `strata: topic "known": partition 3 does not exist (the topic has 1 partitions)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			r := run(t, "", append(tt.give, b)...)
			if !strings.HasPrefix(r.errLine, tt.want) || strings.Contains(r.errLine, "\n") {
				t.Errorf("strata %s: error line %q, want one line starting %q", strings.Join(tt.give, " "), r.errLine, tt.want)
			}
		})
	}

	t.Run("describe known and unknown", func(t *testing.T) {
		r := run(t, "", "topic", "describe", "known", "nope", b)
		if !strings.HasPrefix(r.stdout, "Topic: known\t") {
			t.Errorf("topic describe known nope: stdout %q, want the known topic described", r.stdout)
		}
		if want := `strata: topic "nope": UNKNOWN_TOPIC_OR_PARTITION: `; !strings.HasPrefix(r.errLine, want) {
			t.Errorf("topic describe known nope: error line %q, want prefix %q", r.errLine, want)
		}
	})

	t.Run("produce", func(t *testing.T) {
		r := run(t, "a\n", "produce", "nope", b, "--timeout", "5s")
		if want := `strata: topic "nope": produce: `; !strings.HasPrefix(r.errLine, want) || !strings.Contains(r.errLine, "UNKNOWN_TOPIC_OR_PARTITION") {
			t.Errorf("produce nope: error line %q, want prefix %q naming UNKNOWN_TOPIC_OR_PARTITION", r.errLine, want)
		}
		if want := "produced 0 records, 1 failed\n"; r.stderr != want {
			t.Errorf("produce nope: stderr %q, want %q", r.stderr, want)
		}
	})
}

func TestTopicCreateRejectsBadConfigFlag(t *testing.T) {
	bs := fakeCluster(t)
	r := run(t, "", "topic", "create", "x", "--bootstrap", bs, "--config", "retention.ms")
	if want := `strata: --config "retention.ms": want key=value`; r.errLine != want {
		t.Errorf("topic create --config retention.ms: error line %q, want %q", r.errLine, want)
	}
}

func TestUnreachableBootstrapFailsWithinTimeout(t *testing.T) {
	// Port 1 on loopback: nothing listens there, so dials are refused.
	r := run(t, "", "topic", "list", "--bootstrap", "127.0.0.1:1", "--timeout", "1s")
	if r.err == nil {
		t.Fatalf("topic list against 127.0.0.1:1: no error, stdout %q", r.stdout)
	}
	if strings.Contains(r.errLine, "\n") || !strings.HasPrefix(r.errLine, "strata: ") {
		t.Errorf("topic list against 127.0.0.1:1: error line %q, want one line", r.errLine)
	}
	t.Logf("unreachable: %s", r.errLine)
}

func TestTopicDeleteRecords(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "t", b, "--partitions", "2")
	mustRun(t, "a\nb\nc\nd\n", "produce", "t", b, "--partition", "1")
	r := mustRun(t, "", "topic", "delete-records", "t", "--partition", "1", "--before", "3", b)
	if want := "partition 1: log start offset now 3\n"; r.stdout != want {
		t.Errorf("topic delete-records: stdout %q, want %q", r.stdout, want)
	}
	r = mustRun(t, "", "topic", "describe", "t", b)
	if !strings.Contains(r.stdout, "\tPartition: 1\t") || !strings.Contains(r.stdout, "LogStartOffset: 3\tHighWatermark: 4\n") {
		t.Errorf("topic describe t after delete-records: stdout lacks log start offset 3:\n%s", r.stdout)
	}
	if r := run(t, "", "topic", "delete-records", "t", "--partition", "0", "--before", "5", b); r.err == nil || !strings.Contains(r.err.Error(), "OFFSET_OUT_OF_RANGE") {
		t.Errorf("topic delete-records beyond the high watermark: err %v, want OFFSET_OUT_OF_RANGE", r.err)
	}
}
