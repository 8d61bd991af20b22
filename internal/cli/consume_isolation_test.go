package cli_test

import (
	"strings"
	"testing"
)

func TestConsumeIsolationHidesAbortedAndOpenTransactions(t *testing.T) {
	bs := txnCluster(t)
	b := "--bootstrap=" + bs
	topic := unique("iso")
	mustRun(t, "", "topic", "create", topic, b, "--partitions", "1")
	produceTo(t, bs, topic, 0, 1) // "p0-0", outside any transaction

	p := newTxnProducer(t, bs, unique("iso-txn"))
	p.transact(true, topic, "c0", "c1")
	p.transact(false, topic, "a0", "a1")
	p.transact(true, topic, "c2")
	// An open transaction: read_committed stops before it, and
	// --exit-at-end must not wait for it.
	p.begin(topic, "o0")

	committed := "p0-0\nc0\nc1\nc2\n"
	everything := "p0-0\nc0\nc1\na0\na1\nc2\no0\n"
	tests := []struct {
		name string
		give []string
		want string
	}{
		{name: "default is read_uncommitted", give: nil, want: everything},
		{name: "read_uncommitted", give: []string{"--isolation", "read_uncommitted"}, want: everything},
		{name: "read_committed", give: []string{"--isolation", "read_committed"}, want: committed},
		{name: "read_committed in a group", give: []string{"--isolation", "read_committed", "--group", unique("iso-g")}, want: committed},
		{name: "read_uncommitted in a group", give: []string{"--group", unique("iso-g")}, want: everything},
		// The end for -N is the last stable offset: the last two
		// offsets before it are c2 and its commit marker.
		{name: "read_committed from the end", give: []string{"--isolation", "read_committed", "--offset", "-2"}, want: "c2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"consume", topic, b, "--exit-at-end"}, tt.give...)
			r := mustRun(t, "", args...)
			if r.stdout != tt.want {
				t.Errorf("strata %s: stdout %q, want %q", strings.Join(args, " "), r.stdout, tt.want)
			}
		})
	}

	// Once the open transaction commits, read_committed sees it too.
	p.end(true)
	r := mustRun(t, "", "consume", topic, b, "--exit-at-end", "--isolation", "read_committed")
	if want := committed + "o0\n"; r.stdout != want {
		t.Errorf("consume --isolation read_committed after the commit: stdout %q, want %q", r.stdout, want)
	}
}

func TestConsumeIsolationRejectsUnknownLevel(t *testing.T) {
	r := run(t, "", "consume", "t", "--bootstrap=127.0.0.1:1", "--isolation", "read-committed")
	want := `strata: --isolation "read-committed": want read_uncommitted or read_committed`
	if r.errLine != want {
		t.Errorf("consume --isolation read-committed: error %q, want %q", r.errLine, want)
	}
}
