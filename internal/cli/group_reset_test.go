package cli_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
)

func TestGroupResetOffsetsModes(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	seedTen(t, bs, "ten") // v0..v9 stamped 1000ms..10000ms
	r := mustRun(t, "", "consume", "ten", b, "--group", "r", "--count", "5")
	if want := values(0, 1, 2, 3, 4); r.stdout != want {
		t.Fatalf("consume ten --group r --count 5: stdout %q, want %q", r.stdout, want)
	}

	// Each step starts from where the previous one left the commit.
	tests := []struct {
		name       string
		give       []string
		wantTable  string // "current new" of partition 0
		wantCommit int64
	}{
		{name: "earliest, dry run", give: []string{"--topic", "ten", "--to-earliest", "--dry-run"}, wantTable: "5 0", wantCommit: 5},
		{name: "latest", give: []string{"--topic", "ten", "--to-latest"}, wantTable: "5 10", wantCommit: 10},
		{name: "offset", give: []string{"--topic", "ten:0", "--to-offset", "3"}, wantTable: "10 3", wantCommit: 3},
		{name: "offset past the end is clamped", give: []string{"--topic", "ten", "--to-offset", "100"}, wantTable: "3 10", wantCommit: 10},
		{name: "datetime RFC3339 on a record", give: []string{"--topic", "ten", "--to-datetime", "1970-01-01T00:00:07Z"}, wantTable: "10 6", wantCommit: 6},
		{name: "datetime ms between records", give: []string{"--topic", "ten", "--to-datetime", "8500"}, wantTable: "6 8", wantCommit: 8},
		{name: "datetime after every record", give: []string{"--topic", "ten", "--to-datetime", "99999"}, wantTable: "8 10", wantCommit: 10},
		{name: "shift back", give: []string{"--all-topics", "--shift-by", "-4"}, wantTable: "10 6", wantCommit: 6},
		{name: "shift back past the start is clamped", give: []string{"--topic", "ten", "--shift-by", "-100"}, wantTable: "6 0", wantCommit: 0},
		{name: "shift forward", give: []string{"--topic", "ten", "--shift-by", "3"}, wantTable: "0 3", wantCommit: 3},
		{name: "shift forward, dry run", give: []string{"--all-topics", "--shift-by", "2", "--dry-run"}, wantTable: "3 5", wantCommit: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"group", "reset-offsets", "r", b}, tt.give...)
			r := mustRun(t, "", args...)
			want := "TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET\nten 0 " + tt.wantTable + "\n"
			if got := squeeze(r.stdout); got != want {
				t.Errorf("group reset-offsets r %v: table %q, want %q", tt.give, got, want)
			}
			wantErr := `committed new offsets for 1 partitions of group "r"` + "\n"
			if strings.Contains(strings.Join(tt.give, " "), "--dry-run") {
				wantErr = `dry run: nothing committed for group "r"` + "\n"
			}
			if r.stderr != wantErr {
				t.Errorf("group reset-offsets r %v: stderr %q, want %q", tt.give, r.stderr, wantErr)
			}
			if got := committed(t, bs, "r", "ten"); !cmp.Equal(got, map[int32]int64{0: tt.wantCommit}) {
				t.Errorf("group reset-offsets r %v: committed %v, want 0:%d", tt.give, got, tt.wantCommit)
			}
		})
	}

	// The group resumes where the reset put it.
	r = mustRun(t, "", "consume", "ten", b, "--group", "r", "--count", "1")
	if want := values(3); r.stdout != want {
		t.Errorf("consume ten --group r after resetting to 3: stdout %q, want %q", r.stdout, want)
	}
}

// squeeze collapses each line's runs of spaces, so tables compare without
// their column widths.
func squeeze(s string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		b.WriteString(strings.Join(strings.Fields(l), " "))
		b.WriteString("\n")
	}
	return b.String()
}

func TestGroupResetOffsetsClampsToLogStart(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	seedTen(t, bs, "ten")
	adm := adminClient(t, bs)
	del := make(kadm.Offsets)
	del.AddOffset("ten", 0, 4, -1)
	if _, err := adm.DeleteRecords(t.Context(), del); err != nil {
		t.Fatalf("DeleteRecords(ten:0 before 4): %v", err)
	}
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"--to-earliest"}, want: "ten 0 - 4\n"},
		{give: []string{"--to-offset", "1"}, want: "ten 0 4 4\n"},
		{give: []string{"--to-datetime", "0"}, want: "ten 0 4 4\n"},
	}
	for _, tt := range tests {
		args := append([]string{"group", "reset-offsets", "c", b, "--topic", "ten"}, tt.give...)
		r := mustRun(t, "", args...)
		if got := squeeze(r.stdout); got != "TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET\n"+tt.want {
			t.Errorf("group reset-offsets c %v after deleting records before 4: table %q, want row %q", tt.give, got, tt.want)
		}
	}
}

func TestGroupResetOffsetsSeveralTopicsAndPartitions(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "a", b, "--partitions", "3")
	mustRun(t, "", "topic", "create", "z", b, "--partitions", "1")
	produceTo(t, bs, "a", 0, 2)
	produceTo(t, bs, "a", 1, 4)
	produceTo(t, bs, "a", 2, 6)
	produceTo(t, bs, "z", 0, 1)

	// New group, partitions named twice and out of order, and the whole
	// topic z.
	r := mustRun(t, "", "group", "reset-offsets", "m", b, "--topic", "z", "--topic", "a:2,0", "--topic", "a:2", "--to-latest")
	want := "TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET\na 0 - 2\na 2 - 6\nz 0 - 1\n"
	if got := squeeze(r.stdout); got != want {
		t.Errorf("group reset-offsets m --topic z --topic a:2,0 --topic a:2 --to-latest: table %q, want %q", got, want)
	}
	if got := committed(t, bs, "m", "a"); !cmp.Equal(got, map[int32]int64{0: 2, 2: 6}) {
		t.Errorf("committed on a: %v, want 0:2 2:6", got)
	}
	// A whole topic wins over a partition list given for it too.
	r = mustRun(t, "", "group", "reset-offsets", "m", b, "--topic", "a:1", "--topic", "a", "--to-earliest", "--dry-run")
	want = "TOPIC PARTITION CURRENT-OFFSET NEW-OFFSET\na 0 2 0\na 1 - 0\na 2 6 0\n"
	if got := squeeze(r.stdout); got != want {
		t.Errorf("group reset-offsets m --topic a:1 --topic a --dry-run: table %q, want %q", got, want)
	}

	tests := []struct {
		name string
		give []string
		want string
	}{
		{name: "unknown topic", give: []string{"m", "--topic", "nope", "--to-latest"},
			want: `strata: topic "nope": UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.`},
		{name: "unknown partition", give: []string{"m", "--topic", "a:0,7", "--to-latest"},
			want: `strata: topic "a": partition 7 does not exist (the topic has 3 partitions)`},
		{name: "shift without a commit", give: []string{"m", "--topic", "a", "--shift-by", "1"},
			want: `strata: topic "a": partition 1: nothing committed to shift`},
		{name: "all topics of a group without commits", give: []string{"fresh", "--all-topics", "--to-earliest"},
			want: `strata: group "fresh": no committed offsets to reset; name topics with --topic`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", append([]string{"group", "reset-offsets", b}, tt.give...)...)
			if r.errLine != tt.want {
				t.Errorf("group reset-offsets %v: error line %q, want %q", tt.give, r.errLine, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("group reset-offsets %v: stdout %q, want nothing", tt.give, r.stdout)
			}
		})
	}
	if got := committed(t, bs, "m", "a"); !cmp.Equal(got, map[int32]int64{0: 2, 2: 6}) {
		t.Errorf("committed on a after failed resets: %v, want 0:2 2:6 unchanged", got)
	}
}
