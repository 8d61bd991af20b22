package node

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/cli"
	"github.com/strata-io/strata/internal/config"
)

// runCLI runs "strata ARGS..." in process and returns its stdout.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "strata", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cli.Commands()...)
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// TestConfigCLIAgainstStrata runs `strata config describe|alter` for a
// broker, the cluster-wide default and a group against a real node.
func TestConfigCLIAgainstStrata(t *testing.T) {
	tn := startNode(t, func(s *config.Static) { s.KafkaProps = lowGroupBounds })
	b := "--bootstrap=" + tn.addr
	match := func(what, out, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("%s: output\n%s\ndoes not match %s", what, out, re)
		}
	}
	out, err := runCLI(t, "config", "describe", "--entity-type", "brokers", "--entity-name", "1", "--all", b)
	if err != nil {
		t.Fatalf("config describe broker 1 --all: %v", err)
	}
	match("broker --all", out, `(?m)^num\.partitions +1 +DEFAULT_CONFIG +false +true +DEFAULT_CONFIG:num\.partitions=1$`)
	match("broker --all", out, `(?m)^ssl\.keystore\.password +\(sensitive\) +DEFAULT_CONFIG +true +false`)
	match("broker --all", out, `(?m)^group\.consumer\.min\.session\.timeout\.ms +1000 +STATIC_BROKER_CONFIG +false +true`)

	if _, err := runCLI(t, "config", "alter", "--entity-type", "brokers", "--entity-default", "--add-config", "log.retention.ms=86400000", b); err != nil {
		t.Fatalf("config alter --entity-default: %v", err)
	}
	waitFor(t, "the cluster default to be described", 10*time.Second, func() bool {
		out, err := runCLI(t, "config", "describe", "--entity-type", "brokers", "--entity-default", b)
		return err == nil && regexp.MustCompile(`(?m)^log\.retention\.ms +86400000 +DYNAMIC_DEFAULT_BROKER_CONFIG `).MatchString(out)
	})
	if _, err := runCLI(t, "config", "alter", "--entity-type", "brokers", "--entity-name", "1", "--add-config", "node.id=4", b); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("config alter node.id: %v, want a read-only error", err)
	}

	if _, err := runCLI(t, "config", "alter", "--entity-type", "groups", "--entity-name", "g1", "--add-config", "consumer.session.timeout.ms=20000", b); err != nil {
		t.Fatalf("config alter group: %v", err)
	}
	waitFor(t, "the group config to be described", 10*time.Second, func() bool {
		out, err := runCLI(t, "config", "describe", "--entity-type", "groups", "--entity-name", "g1", b)
		return err == nil && regexp.MustCompile(`(?m)^consumer\.session\.timeout\.ms +20000 +GROUP_CONFIG +false +false`).MatchString(out)
	})
	if _, err := runCLI(t, "config", "alter", "--entity-type", "groups", "--entity-name", "g1", "--add-config", "consumer.session.timeout.ms=999999", b); err == nil || !strings.Contains(err.Error(), "INVALID_CONFIG") {
		t.Errorf("config alter group above the maximum: %v, want INVALID_CONFIG", err)
	}
}
