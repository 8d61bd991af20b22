package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

func TestConfigDescribeAndAlter(t *testing.T) {
	b := "--bootstrap=" + fakeCluster(t)
	mustRun(t, "", "topic", "create", "orders", b, "--partitions", "1", "--replication-factor", "1")

	r := mustRun(t, "", "config", "alter", "--entity-type", "topics", "--entity-name", "orders", b,
		"--add-config", "retention.ms=3600000,cleanup.policy=[compact,delete]")
	if want := "Completed updating config for topic orders.\n"; r.stdout != want {
		t.Errorf("config alter: stdout %q, want %q", r.stdout, want)
	}
	r = mustRun(t, "", "config", "describe", "--entity-type", "topics", "--entity-name", "orders", b)
	for _, want := range []string{
		`(?m)^CONFIG +VALUE +SOURCE +SENSITIVE +READ-ONLY +SYNONYMS$`,
		`(?m)^cleanup\.policy +compact,delete +DYNAMIC_TOPIC_CONFIG +false +false +\S+`,
		`(?m)^retention\.ms +3600000 +DYNAMIC_TOPIC_CONFIG +false +false`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("config describe: stdout\n%s\ndoes not match %s", r.stdout, want)
		}
	}
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Errorf("config describe without --all: %d lines, want the header and the 2 overrides:\n%s", n, r.stdout)
	}
	mustRun(t, "", "config", "alter", "--entity-type", "topics", "--entity-name", "orders", b, "--delete-config", "retention.ms")
	r = mustRun(t, "", "config", "describe", "--entity-type", "topics", "--entity-name", "orders", b)
	if strings.Contains(r.stdout, "retention.ms") {
		t.Errorf("config describe after --delete-config retention.ms still lists it:\n%s", r.stdout)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "describe", b}, "--entity-type is required"},
		{[]string{"config", "describe", "--entity-type", "users", "--entity-name", "x", b}, "want topics, brokers or groups"},
		{[]string{"config", "describe", "--entity-type", "topics", b}, "--entity-name is required"},
		{[]string{"config", "describe", "--entity-type", "topics", "--entity-default", b}, "brokers only"},
		{[]string{"config", "describe", "--entity-type", "brokers", "--entity-name", "one", b}, "broker is named by its id"},
		{[]string{"config", "alter", "--entity-type", "topics", "--entity-name", "orders", b}, "nothing to do"},
		{[]string{"config", "alter", "--entity-type", "topics", "--entity-name", "orders", "--add-config", "novalue", b}, "not key=value"},
	} {
		r := run(t, "", tt.args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
			t.Errorf("strata %s: error %v, want one mentioning %q", strings.Join(tt.args, " "), r.err, tt.want)
		}
	}
}
