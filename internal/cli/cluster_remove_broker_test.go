package cli_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The end-to-end path (a stopped broker unregistered, leaving the quorum)
// is tested against real nodes in internal/node (TestRemoveBroker).

func TestClusterRemoveBrokerRejectsBadInput(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"cluster", "remove-broker"}, "accepts 1 arg(s), received 0"},
		{[]string{"cluster", "remove-broker", "1", "2"}, "accepts 1 arg(s), received 2"},
		{[]string{"cluster", "remove-broker", "x"}, `broker id must be a non-negative integer, got "x"`},
		{[]string{"cluster", "remove-broker", "--", "-1"}, `broker id must be a non-negative integer, got "-1"`},
		{[]string{"cluster", "remove-broker", "2147483648"}, `broker id must be a non-negative integer, got "2147483648"`},
	}
	for _, tt := range tests {
		args := append([]string{"--bootstrap=127.0.0.1:1"}, tt.give...)
		r := run(t, "", args...)
		if r.err == nil || !strings.Contains(r.errLine, tt.want) {
			t.Errorf("strata %s: error %q, want one containing %q", strings.Join(tt.give, " "), r.errLine, tt.want)
		}
	}
}

func TestClusterRemoveBrokerRefusesAliveBroker(t *testing.T) {
	bs := fakeCluster(t, kfake.NumBrokers(2))
	r := run(t, "", "cluster", "remove-broker", "1", "--bootstrap="+bs)
	want := "broker 1 is alive (registered and not fenced): stop it first, or pass --force"
	if r.err == nil || !strings.Contains(r.errLine, want) {
		t.Errorf("cluster remove-broker of an alive broker: error %q, stdout %q; want an error containing %q", r.errLine, r.stdout, want)
	}
}
