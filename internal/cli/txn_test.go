package cli_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

// txnListed is one `txn list --json` line.
type txnListed struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
}

// txnDescribed is one `txn describe --json` line.
type txnDescribed struct {
	TransactionalID string             `json:"transactional_id"`
	Coordinator     int32              `json:"coordinator"`
	State           string             `json:"state"`
	ProducerID      int64              `json:"producer_id"`
	ProducerEpoch   int16              `json:"producer_epoch"`
	TimeoutMs       int32              `json:"timeout_ms"`
	StartTimestamp  int64              `json:"start_timestamp"`
	DurationMs      *int64             `json:"duration_ms"`
	Partitions      map[string][]int32 `json:"partitions"`
}

func decodeLines[T any](t *testing.T, what, out string) []T {
	t.Helper()
	var vs []T
	for line := range strings.Lines(out) {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%s: json.Unmarshal(%q): %v", what, line, err)
		}
		vs = append(vs, v)
	}
	return vs
}

// listedIDs runs `txn list --json ARGS` and returns the listed ids that
// start with prefix (a real broker may hold other tests' transactions).
func listedIDs(t *testing.T, b, prefix string, args ...string) map[string]txnListed {
	t.Helper()
	r := mustRun(t, "", append([]string{"txn", "list", b, "--json"}, args...)...)
	out := make(map[string]txnListed)
	for _, lt := range decodeLines[txnListed](t, "txn list --json", r.stdout) {
		if strings.HasPrefix(lt.TransactionalID, prefix) {
			out[lt.TransactionalID] = lt
		}
	}
	return out
}

// completed reports whether a listed state is that of an ended transaction.
// NB: kfake reports Empty after a commit or abort; Kafka reports
// CompleteCommit or CompleteAbort.
func completed(state string) bool {
	return state == "Empty" || state == "CompleteCommit" || state == "CompleteAbort"
}

func TestTxnListAndDescribe(t *testing.T) {
	bs := txnCluster(t)
	b := "--bootstrap=" + bs
	topic := unique("txn-t")
	mustRun(t, "", "topic", "create", topic, b, "--partitions", "1")
	prefix := unique("txnid")
	doneID, openID := prefix+"-done", prefix+"-open"

	done := newTxnProducer(t, bs, doneID)
	done.transact(true, topic, "x")
	open := newTxnProducer(t, bs, openID)
	open.begin(topic, "y")

	all := listedIDs(t, b, prefix)
	if len(all) != 2 {
		t.Fatalf("txn list: listed %v, want %s and %s", all, doneID, openID)
	}
	if s := all[openID].State; s != "Ongoing" {
		t.Errorf("txn list: %s is %q, want Ongoing", openID, s)
	}
	if s := all[doneID].State; !completed(s) {
		t.Errorf("txn list: %s is %q, want Empty or CompleteCommit", doneID, s)
	}

	tests := []struct {
		name string
		give []string
		want []string
	}{
		{name: "state", give: []string{"--state", "ongoing"}, want: []string{openID}},
		{name: "producer id", give: []string{"--producer-id", strconv.FormatInt(all[doneID].ProducerID, 10)}, want: []string{doneID}},
		{name: "two producer ids", give: []string{"--producer-id", strconv.FormatInt(all[doneID].ProducerID, 10) + "," + strconv.FormatInt(all[openID].ProducerID, 10)}, want: []string{doneID, openID}},
		{name: "duration zero", give: []string{"--duration-ms", "0", "--state", "Ongoing"}, want: []string{openID}},
		{name: "duration an hour", give: []string{"--duration-ms", "3600000", "--state", "Ongoing"}, want: nil},
		{name: "pattern", give: []string{"--pattern", "-open$"}, want: []string{openID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for id := range listedIDs(t, b, prefix, tt.give...) {
				got = append(got, id)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("txn list %v (-want +got):\n%s", tt.give, diff)
			}
		})
	}

	// The table has a header and one row per transaction.
	r := mustRun(t, "", "txn", "list", b, "--state", "Ongoing", "--pattern", "^"+prefix)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "TRANSACTIONAL-ID COORDINATOR PRODUCER-ID STATE" {
		t.Fatalf("txn list --state Ongoing: stdout %q, want a header and one row", r.stdout)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[0] != openID || f[2] != strconv.FormatInt(all[openID].ProducerID, 10) || f[3] != "Ongoing" {
		t.Errorf("txn list --state Ongoing: row %q, want %s, its coordinator, producer id %d, Ongoing", lines[1], openID, all[openID].ProducerID)
	}

	r = mustRun(t, "", "txn", "describe", openID, doneID, b, "--json")
	ds := decodeLines[txnDescribed](t, "txn describe --json", r.stdout)
	if len(ds) != 2 || ds[0].TransactionalID != openID || ds[1].TransactionalID != doneID {
		t.Fatalf("txn describe %s %s --json: %+v, want both in that order", openID, doneID, ds)
	}
	o := ds[0]
	if o.State != "Ongoing" || o.ProducerID != all[openID].ProducerID || o.StartTimestamp <= 0 || o.DurationMs == nil || o.TimeoutMs <= 0 {
		t.Errorf("txn describe %s: %+v, want Ongoing with its producer id, a start time, a duration and a timeout", openID, o)
	}
	if diff := cmp.Diff(map[string][]int32{topic: {0}}, o.Partitions); diff != "" {
		t.Errorf("txn describe %s: partitions (-want +got):\n%s", openID, diff)
	}
	if d := ds[1]; !completed(d.State) || len(d.Partitions) != 0 {
		t.Errorf("txn describe %s: %+v, want a completed transaction with no partitions", doneID, d)
	}

	r = mustRun(t, "", "txn", "describe", openID, b)
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	wantHeader := "TRANSACTIONAL-ID COORDINATOR STATE PRODUCER-ID PRODUCER-EPOCH TIMEOUT-MS START-TIME DURATION-MS PARTITIONS"
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != wantHeader {
		t.Fatalf("txn describe %s: stdout %q, want a header and one row", openID, r.stdout)
	}
	if f := strings.Fields(lines[1]); len(f) != 9 || f[0] != openID || f[2] != "Ongoing" || f[8] != topic+":0" {
		t.Errorf("txn describe %s: row %q, want %s ... Ongoing ... %s:0", openID, lines[1], openID, topic)
	}
}

func TestTxnDescribeUnknownID(t *testing.T) {
	bs := txnCluster(t)
	b := "--bootstrap=" + bs
	topic := unique("txn-u")
	mustRun(t, "", "topic", "create", topic, b, "--partitions", "1")
	known := unique("txnid-known")
	newTxnProducer(t, bs, known).transact(true, topic, "x")
	missing := unique("txnid-missing")

	r := run(t, "", "txn", "describe", known, missing, b)
	if r.err == nil {
		t.Fatalf("txn describe %s %s: no error, want TRANSACTIONAL_ID_NOT_FOUND for %s", known, missing, missing)
	}
	if want := `strata: transactional id "` + missing + `": TRANSACTIONAL_ID_NOT_FOUND`; !strings.HasPrefix(r.errLine, want) {
		t.Errorf("txn describe %s %s: error %q, want it to start with %q", known, missing, r.errLine, want)
	}
	if !strings.Contains(r.stdout, known) {
		t.Errorf("txn describe %s %s: stdout %q, want the known id still described", known, missing, r.stdout)
	}
}

func TestTxnListRejectsBadFlags(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"--state", "Running"}, want: `strata: --state "Running": want one of Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead, PrepareEpochFence`},
		{give: []string{"--duration-ms", "-5"}, want: "strata: --duration-ms must not be negative, got -5"},
		{give: []string{"--producer-id", "-1"}, want: "strata: --producer-id must not be negative, got -1"},
		{give: []string{"--pattern", "("}, want: "strata: --pattern \"(\": error parsing regexp: missing closing ): `(`"},
	}
	for _, tt := range tests {
		r := run(t, "", append([]string{"txn", "list", "--bootstrap=127.0.0.1:1"}, tt.give...)...)
		if r.errLine != tt.want {
			t.Errorf("txn list %v: error %q, want %q", tt.give, r.errLine, tt.want)
		}
	}
	if r := run(t, "", "txn", "describe", "--bootstrap=127.0.0.1:1"); r.err == nil {
		t.Errorf("txn describe without ids: no error")
	}
}

func TestTxnCommandsNameTheMissingAPI(t *testing.T) {
	// Kafka 2.8 predates KIP-664.
	b := "--bootstrap=" + fakeCluster(t, kfake.MaxVersions(kversion.V2_8_0()))
	for _, tt := range []struct {
		give []string
		want string
	}{
		{give: []string{"txn", "list", b}, want: "strata: the cluster does not serve ListTransactions (KIP-664): at least one broker lacks it"},
		{give: []string{"txn", "describe", "x", b}, want: "strata: the cluster does not serve DescribeTransactions (KIP-664): at least one broker lacks it"},
	} {
		if r := run(t, "", tt.give...); r.errLine != tt.want {
			t.Errorf("strata %s: error %q, want %q", strings.Join(tt.give, " "), r.errLine, tt.want)
		}
	}
}
