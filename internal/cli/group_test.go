package cli_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// adminClient returns a kadm client on bs, closed at the end of the test.
func adminClient(t *testing.T, bs string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bs, ",")...))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// commitDirect commits offsets for group as an admin would (no member).
func commitDirect(t *testing.T, bs, group string, offsets map[string]map[int32]int64) {
	t.Helper()
	os := make(kadm.Offsets)
	for topic, ps := range offsets {
		for p, o := range ps {
			os.AddOffset(topic, p, o, -1)
		}
	}
	if err := adminClient(t, bs).CommitAllOffsets(t.Context(), group, os); err != nil {
		t.Fatalf("CommitAllOffsets(%s): %v", group, err)
	}
}

// committed returns what group has committed on topic, by partition.
func committed(t *testing.T, bs, group, topic string) map[int32]int64 {
	t.Helper()
	os, err := adminClient(t, bs).FetchOffsets(t.Context(), group)
	if err != nil {
		t.Fatalf("FetchOffsets(%s): %v", group, err)
	}
	out := make(map[int32]int64)
	for p, o := range os[topic] {
		if o.Err != nil {
			t.Fatalf("FetchOffsets(%s): topic %s partition %d: %v", group, topic, p, o.Err)
		}
		if o.At >= 0 {
			out[p] = o.At
		}
	}
	return out
}

// produceTo writes n records valued "pP-i" to partition p of topic.
func produceTo(t *testing.T, bs, topic string, p int32, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("p" + strconv.Itoa(int(p)) + "-" + strconv.Itoa(i))})
	}
	if len(recs) > 0 {
		produceDirect(t, bs, recs...)
	}
}

// joinMember starts a group member that owns partitions but never fetches
// nor commits, so the group's committed offsets stay as the test set them.
func joinMember(t *testing.T, bs, group, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(strings.Split(bs, ",")...),
		kgo.ClientID("member-test"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
	}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	cl.PauseFetchTopics(topic)
	t.Cleanup(cl.Close)
	return cl
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// description is one group of `group describe` output.
type description struct {
	header  map[string]string
	members [][]string // MEMBER-ID INSTANCE-ID CLIENT-ID CLIENT-HOST ASSIGNMENT
	offsets [][]string // TOPIC PARTITION COMMITTED-OFFSET LOG-END-OFFSET LAG MEMBER-ID
}

// parseDescribe splits describe output into groups: a header line, the
// members table and the offsets table, separated by blank lines.
func parseDescribe(t *testing.T, out string) []description {
	t.Helper()
	blocks := strings.Split(strings.TrimSuffix(out, "\n"), "\n\n")
	if len(blocks)%3 != 0 {
		t.Fatalf("group describe: %d blocks, want 3 per group, in %q", len(blocks), out)
	}
	var ds []description
	for i := 0; i < len(blocks); i += 3 {
		d := description{header: map[string]string{}}
		for _, kv := range strings.Split(blocks[i], "\t") {
			k, v, ok := strings.Cut(kv, ": ")
			if !ok {
				t.Fatalf("group describe: header field %q in %q is not Key: value", kv, blocks[i])
			}
			d.header[k] = v
		}
		d.members = tableRows(t, blocks[i+1], "MEMBER-ID", 5)
		d.offsets = tableRows(t, blocks[i+2], "TOPIC", 6)
		ds = append(ds, d)
	}
	return ds
}

// tableRows splits a table's rows into n fields; the last field keeps any
// spaces.
func tableRows(t *testing.T, block, firstColumn string, n int) [][]string {
	t.Helper()
	lines := strings.Split(block, "\n")
	if !strings.HasPrefix(lines[0], firstColumn) {
		t.Fatalf("table %q: header does not start with %s", block, firstColumn)
	}
	var rows [][]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < n {
			t.Fatalf("table row %q: %d fields, want %d", l, len(f), n)
		}
		rows = append(rows, append(f[:n-1:n-1], strings.Join(f[n-1:], " ")))
	}
	return rows
}

// describeOne runs `group describe group` and parses its output.
func describeOne(t *testing.T, bs, group string) description {
	t.Helper()
	r := mustRun(t, "", "group", "describe", group, "--bootstrap", bs)
	ds := parseDescribe(t, r.stdout)
	if len(ds) != 1 {
		t.Fatalf("group describe %s: %d groups in output %q", group, len(ds), r.stdout)
	}
	return ds[0]
}

// describeWhenExists is describeOne for polling: a group the coordinator
// does not know yet describes as empty.
func describeWhenExists(t *testing.T, bs, group string) description {
	t.Helper()
	r := run(t, "", "group", "describe", group, "--bootstrap", bs)
	if strings.Contains(r.errLine, "GROUP_ID_NOT_FOUND") {
		return description{header: map[string]string{}}
	}
	if r.err != nil {
		t.Fatalf("group describe %s: unexpected error %q", group, r.errLine)
	}
	return parseDescribe(t, r.stdout)[0]
}

// listRows runs `group list` with args and returns its rows without the
// header.
func listRows(t *testing.T, bs string, args ...string) [][]string {
	t.Helper()
	r := mustRun(t, "", append([]string{"group", "list", "--bootstrap", bs}, args...)...)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if want := "GROUP TYPE STATE PROTOCOL-TYPE PROTOCOL MEMBERS"; strings.Join(strings.Fields(lines[0]), " ") != want {
		t.Fatalf("group list %v: header %q, want %q", args, lines[0], want)
	}
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestGroupDescribeShowsLagAndMembers(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "orders", "--bootstrap", bs, "--partitions", "3")
	produceTo(t, bs, "orders", 0, 7)
	produceTo(t, bs, "orders", 1, 5)
	commitDirect(t, bs, "g", map[string]map[int32]int64{"orders": {0: 4, 1: 5}})

	d := describeOne(t, bs, "g")
	wantHeader := map[string]string{"Group": "g", "Type": "classic", "State": "Empty", "ProtocolType": "-", "Protocol": "-", "Coordinator": "0", "Members": "0"}
	if diff := cmp.Diff(wantHeader, d.header); diff != "" {
		t.Errorf("group describe g, no members: header (-want +got):\n%s", diff)
	}
	if len(d.members) != 0 {
		t.Errorf("group describe g, no members: members %q, want none", d.members)
	}
	// Lag is the log end offset minus the committed offset; partition 2
	// has neither a commit nor an owner, so it is not listed.
	wantOffsets := [][]string{
		{"orders", "0", "4", "7", "3", "-"},
		{"orders", "1", "5", "5", "0", "-"},
	}
	if diff := cmp.Diff(wantOffsets, d.offsets); diff != "" {
		t.Errorf("group describe g, no members: offsets (-want +got):\n%s", diff)
	}

	// A member that owns all three partitions but commits nothing.
	member := joinMember(t, bs, "g", "orders", kgo.Balancers(kgo.RangeBalancer()))
	waitFor(t, "group g to be Stable with its member owning orders:0,1,2", func() bool {
		d = describeWhenExists(t, bs, "g")
		return d.header["State"] == "Stable" && len(d.members) == 1 && d.members[0][4] == "orders:0,1,2"
	})
	id := d.members[0][0]
	if d.header["Protocol"] != "range" || d.header["ProtocolType"] != "consumer" || d.header["Members"] != "1" {
		t.Errorf("group describe g, one member: header %v, want protocol range, protocol type consumer, 1 member", d.header)
	}
	if got := d.members[0]; got[1] != "-" || got[2] != "member-test" || !strings.HasPrefix(got[3], "127.0.0.1") {
		t.Errorf("group describe g, one member: member %q, want no instance id, client id member-test, host 127.0.0.1", got)
	}
	wantOffsets = [][]string{
		{"orders", "0", "4", "7", "3", id},
		{"orders", "1", "5", "5", "0", id},
		{"orders", "2", "-", "0", "-", id},
	}
	if diff := cmp.Diff(wantOffsets, d.offsets); diff != "" {
		t.Errorf("group describe g, one member: offsets (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff([][]string{{"g", "classic", "Stable", "consumer", "range", "1"}}, listRows(t, bs)); diff != "" {
		t.Errorf("group list with g active (-want +got):\n%s", diff)
	}

	// An active group refuses resets, dry or not, and deletion.
	for _, dry := range []string{"--dry-run=false", "--dry-run"} {
		r := run(t, "", "group", "reset-offsets", "g", "--topic", "orders", "--to-earliest", dry, "--bootstrap", bs)
		if want := `strata: group "g": offsets can be reset only while the group is inactive (Empty), but it is Stable with 1 members; stop its consumers first`; r.errLine != want {
			t.Errorf("group reset-offsets g %s while active: error line %q, want %q", dry, r.errLine, want)
		}
		if r.stdout != "" {
			t.Errorf("group reset-offsets g %s while active: stdout %q, want empty", dry, r.stdout)
		}
	}
	if got := committed(t, bs, "g", "orders"); !cmp.Equal(got, map[int32]int64{0: 4, 1: 5}) {
		t.Errorf("committed offsets after refused resets: %v, want unchanged 0:4 1:5", got)
	}
	r := run(t, "", "group", "delete", "g", "--bootstrap", bs)
	if want := `strata: group "g": NON_EMPTY_GROUP: The group is not empty.`; r.errLine != want {
		t.Errorf("group delete g while active: error line %q, want %q", r.errLine, want)
	}

	member.Close()
	waitFor(t, "group g to be Empty after its member left", func() bool {
		return describeWhenExists(t, bs, "g").header["State"] == "Empty"
	})
	r = mustRun(t, "", "group", "delete", "g", "--bootstrap", bs)
	if want := "deleted group \"g\"\n"; r.stdout != want {
		t.Errorf("group delete g: stdout %q, want %q", r.stdout, want)
	}
	r = run(t, "", "group", "describe", "g", "--bootstrap", bs)
	if want := `strata: group "g": GROUP_ID_NOT_FOUND: The group id does not exist.`; r.errLine != want {
		t.Errorf("group describe g after delete: error line %q, want %q", r.errLine, want)
	}
}

func TestGroupConsumerProtocol(t *testing.T) {
	bs := fakeCluster(t)
	seedTen(t, bs, "ten")
	b := "--bootstrap=" + bs

	r := mustRun(t, "", "consume", "ten", b, "--group", "g848", "--group-protocol", "consumer", "--count", "3")
	if want := values(0, 1, 2); r.stdout != want {
		t.Errorf("consume ten --group g848 --group-protocol consumer --count 3: stdout %q, want %q", r.stdout, want)
	}
	d := describeOne(t, bs, "g848")
	if d.header["Type"] != "consumer" || d.header["ProtocolType"] != "consumer" || d.header["Members"] != "0" {
		t.Errorf("group describe g848 after its consumer left: header %v, want type consumer and no members", d.header)
	}
	if diff := cmp.Diff([][]string{{"ten", "0", "3", "10", "7", "-"}}, d.offsets); diff != "" {
		t.Errorf("group describe g848: offsets (-want +got):\n%s", diff)
	}

	r = mustRun(t, "", "consume", "ten", b, "--group", "g848", "--group-protocol", "consumer", "--balancer", "range", "--exit-at-end")
	if want := values(3, 4, 5, 6, 7, 8, 9); r.stdout != want {
		t.Errorf("consume ten --group g848 --exit-at-end, second run: stdout %q, want %q", r.stdout, want)
	}
	if diff := cmp.Diff([][]string{{"ten", "0", "10", "10", "0", "-"}}, describeOne(t, bs, "g848").offsets); diff != "" {
		t.Errorf("group describe g848 after the second run: offsets (-want +got):\n%s", diff)
	}

	joinMember(t, bs, "g848", "ten", kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
	waitFor(t, "KIP-848 group g848 to be Stable with its member owning ten:0", func() bool {
		d = describeWhenExists(t, bs, "g848")
		return d.header["State"] == "Stable" && len(d.members) == 1 && d.members[0][4] == "ten:0"
	})
	if d.header["Protocol"] != "uniform" || d.header["GroupEpoch"] == "" || d.header["AssignmentEpoch"] == "" {
		t.Errorf("group describe g848 with a member: header %v, want protocol uniform and the epochs", d.header)
	}
	if diff := cmp.Diff([][]string{{"ten", "0", "10", "10", "0", d.members[0][0]}}, d.offsets); diff != "" {
		t.Errorf("group describe g848 with a member: offsets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"g848", "consumer", "Stable", "consumer", "uniform", "1"}}, listRows(t, bs, "--type", "consumer")); diff != "" {
		t.Errorf("group list --type consumer (-want +got):\n%s", diff)
	}
	if rows := listRows(t, bs, "--type", "classic"); len(rows) != 0 {
		t.Errorf("group list --type classic: rows %q, want none", rows)
	}
	r = run(t, "", "group", "reset-offsets", "g848", "--all-topics", "--to-earliest", b)
	if !strings.Contains(r.errLine, "but it is Stable with 1 members") {
		t.Errorf("group reset-offsets g848 while its member is active: error line %q, want a refusal", r.errLine)
	}
}

func TestGroupListFiltersByStateAndType(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "t", "--bootstrap", bs, "--partitions", "2")
	commitDirect(t, bs, "idle-b", map[string]map[int32]int64{"t": {0: 0}})
	commitDirect(t, bs, "idle-a", map[string]map[int32]int64{"t": {1: 0}})
	joinMember(t, bs, "busy", "t", kgo.Balancers(kgo.RoundRobinBalancer()))
	waitFor(t, "group busy to be Stable", func() bool {
		return describeWhenExists(t, bs, "busy").header["State"] == "Stable"
	})

	tests := []struct {
		give []string
		want [][]string
	}{
		{give: nil, want: [][]string{
			{"busy", "classic", "Stable", "consumer", "roundrobin", "1"},
			{"idle-a", "classic", "Empty", "-", "-", "0"},
			{"idle-b", "classic", "Empty", "-", "-", "0"},
		}},
		{give: []string{"--state", "empty"}, want: [][]string{
			{"idle-a", "classic", "Empty", "-", "-", "0"},
			{"idle-b", "classic", "Empty", "-", "-", "0"},
		}},
		{give: []string{"--state", "Stable,Dead"}, want: [][]string{
			{"busy", "classic", "Stable", "consumer", "roundrobin", "1"},
		}},
		{give: []string{"--state", "PreparingRebalance"}, want: nil},
		{give: []string{"--type", "CLASSIC", "--state", "Empty", "--state", "Stable"}, want: [][]string{
			{"busy", "classic", "Stable", "consumer", "roundrobin", "1"},
			{"idle-a", "classic", "Empty", "-", "-", "0"},
			{"idle-b", "classic", "Empty", "-", "-", "0"},
		}},
		{give: []string{"--type", "consumer"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, listRows(t, bs, tt.give...)); diff != "" {
				t.Errorf("group list %v (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func TestGroupDescribeSeveralGroups(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "a", "--bootstrap", bs, "--partitions", "1")
	mustRun(t, "", "topic", "create", "b", "--bootstrap", bs, "--partitions", "2")
	produceTo(t, bs, "a", 0, 3)
	produceTo(t, bs, "b", 1, 9)
	commitDirect(t, bs, "one", map[string]map[int32]int64{"a": {0: 1}, "b": {1: 9}})
	commitDirect(t, bs, "two", map[string]map[int32]int64{"b": {0: 0, 1: 2}})

	r := run(t, "", "group", "describe", "two", "missing", "one", "two", "--bootstrap", bs)
	if want := `strata: group "missing": GROUP_ID_NOT_FOUND: The group id does not exist.`; r.errLine != want {
		t.Errorf("group describe two missing one: error line %q, want %q", r.errLine, want)
	}
	ds := parseDescribe(t, r.stdout)
	var got []string
	for _, d := range ds {
		got = append(got, d.header["Group"])
	}
	if want := []string{"two", "one"}; !slices.Equal(got, want) {
		t.Fatalf("group describe two missing one two: groups %q, want %q", got, want)
	}
	if diff := cmp.Diff([][]string{{"b", "0", "0", "0", "0", "-"}, {"b", "1", "2", "9", "7", "-"}}, ds[0].offsets); diff != "" {
		t.Errorf("group describe: two's offsets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"a", "0", "1", "3", "2", "-"}, {"b", "1", "9", "9", "0", "-"}}, ds[1].offsets); diff != "" {
		t.Errorf("group describe: one's offsets (-want +got):\n%s", diff)
	}
}

func TestGroupDelete(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "t", "--bootstrap", bs, "--partitions", "1")
	commitDirect(t, bs, "x", map[string]map[int32]int64{"t": {0: 0}})
	commitDirect(t, bs, "y", map[string]map[int32]int64{"t": {0: 0}})

	r := run(t, "", "group", "delete", "x", "nope", "y", "--bootstrap", bs)
	if want := "deleted group \"x\"\ndeleted group \"y\"\n"; r.stdout != want {
		t.Errorf("group delete x nope y: stdout %q, want %q", r.stdout, want)
	}
	if want := `strata: group "nope": GROUP_ID_NOT_FOUND: The group id does not exist.`; r.errLine != want {
		t.Errorf("group delete x nope y: error line %q, want %q", r.errLine, want)
	}
	if rows := listRows(t, bs); len(rows) != 0 {
		t.Errorf("group list after deleting every group: %q, want none", rows)
	}
}

// TestGroupCommandsOnClassicOnlyBroker runs against a cluster that speaks
// Kafka 3.6's API versions: no ConsumerGroupDescribe, no ConsumerGroupHeartbeat,
// no group types in ListGroups.
func TestGroupCommandsOnClassicOnlyBroker(t *testing.T) {
	bs := fakeCluster(t, kfake.MaxVersions(kversion.V3_6_0()))
	seedTen(t, bs, "ten")
	b := "--bootstrap=" + bs

	r := mustRun(t, "", "consume", "ten", b, "--group", "old", "--count", "2")
	if want := values(0, 1); r.stdout != want {
		t.Errorf("consume ten --group old --count 2: stdout %q, want %q", r.stdout, want)
	}
	d := describeOne(t, bs, "old")
	if d.header["Type"] != "classic" || d.header["State"] != "Empty" {
		t.Errorf("group describe old: header %v, want a classic Empty group", d.header)
	}
	if diff := cmp.Diff([][]string{{"ten", "0", "2", "10", "8", "-"}}, d.offsets); diff != "" {
		t.Errorf("group describe old: offsets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"old", "classic", "Empty", "consumer", "-", "0"}}, listRows(t, bs)); diff != "" {
		t.Errorf("group list (-want +got):\n%s", diff)
	}
	if rows := listRows(t, bs, "--type", "consumer"); len(rows) != 0 {
		t.Errorf("group list --type consumer on a classic-only cluster: %q, want none", rows)
	}
	r = run(t, "", "group", "describe", "nope", b)
	if want := `strata: group "nope": GROUP_ID_NOT_FOUND: The group id does not exist.`; r.errLine != want {
		t.Errorf("group describe nope: error line %q, want %q", r.errLine, want)
	}
	r = run(t, "", "consume", "ten", b, "--group", "new", "--group-protocol", "consumer", "--count", "1")
	if want := "strata: --group-protocol consumer: the cluster does not support KIP-848 consumer groups"; !strings.HasPrefix(r.errLine, want) {
		t.Errorf("consume --group-protocol consumer on a classic-only cluster: error line %q, want prefix %q", r.errLine, want)
	}
}

func TestGroupFlagErrorsAreOneLine(t *testing.T) {
	bs := fakeCluster(t)
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"group", "reset-offsets", "g", "--to-earliest"}, want: `strata: at least one of the flags in the group [topic all-topics] is required`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t"}, want: `strata: at least one of the flags in the group [to-earliest to-latest to-offset to-datetime shift-by] is required`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-offset", "3"}, want: `strata: if any flags in the group [to-earliest to-latest to-offset to-datetime shift-by] are set none of the others can be`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t", "--all-topics", "--to-latest"}, want: `strata: if any flags in the group [topic all-topics] are set none of the others can be`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t:x", "--to-latest"}, want: `strata: --topic "t:x": partition "x" is not a non-negative number`},
		{give: []string{"group", "reset-offsets", "g", "--topic", ":1", "--to-latest"}, want: `strata: --topic ":1": want TOPIC or TOPIC:P,P...`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"}, want: `strata: --to-datetime "yesterday": want Unix milliseconds or RFC3339`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-offset", "-1"}, want: `strata: --to-offset must not be negative, got -1`},
		{give: []string{"group", "reset-offsets", "g", "--topic", "t", "--to-earliest=false"}, want: `strata: --to-earliest=false names no reset target`},
		{give: []string{"group", "reset-offsets", "--topic", "t", "--to-latest"}, want: `strata: accepts 1 arg(s), received 0`},
		{give: []string{"group", "list", "--state", "Bogus"}, want: `strata: --state "Bogus": want one of Empty, Stable,`},
		{give: []string{"group", "list", "--type", "share"}, want: `strata: --type "share": want classic or consumer`},
		{give: []string{"group", "describe"}, want: `strata: requires at least 1 arg(s), only received 0`},
		{give: []string{"group", "lst"}, want: `strata: unknown command "lst" for "strata group" (did you mean list?)`},
		{give: []string{"consume", "t", "--group", "g", "--offset", "3"}, want: `strata: if any flags in the group [group offset] are set none of the others can be`},
		{give: []string{"consume", "t", "--group", "g", "--partition", "0"}, want: `strata: if any flags in the group [group partition] are set none of the others can be`},
		{give: []string{"consume", "t", "--balancer", "range"}, want: `strata: --balancer needs --group`},
		{give: []string{"consume", "t", "--group-protocol", "consumer"}, want: `strata: --group-protocol needs --group`},
		{give: []string{"consume", "t", "--group", "g", "--balancer", "fair"}, want: `strata: --balancer "fair": want cooperative-sticky, sticky, range or roundrobin`},
		{give: []string{"consume", "t", "--group", "g", "--group-protocol", "next"}, want: `strata: --group-protocol "next": want classic or consumer`},
		{give: []string{"consume", "t", "--group", "g", "--group-protocol", "consumer", "--balancer", "roundrobin"}, want: `strata: --balancer roundrobin: with --group-protocol consumer the broker assigns`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			r := run(t, "", append(slices.Clone(tt.give), "--bootstrap", bs)...)
			if r.err == nil {
				t.Fatalf("strata %v: no error, stdout %q", tt.give, r.stdout)
			}
			if !strings.HasPrefix(r.errLine, tt.want) || strings.Contains(r.errLine, "\n") {
				t.Errorf("strata %v: error line %q, want one line starting %q", tt.give, r.errLine, tt.want)
			}
			if r.stdout != "" || r.stderr != "" {
				t.Errorf("strata %v: printed stdout %q stderr %q, want nothing", tt.give, r.stdout, r.stderr)
			}
		})
	}
}
