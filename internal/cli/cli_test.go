package cli_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/cli"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// result is what one in-process run of the binary's client commands left
// behind. errLine is what main would print for err.
type result struct {
	stdout, stderr string
	err            error
	errLine        string
}

// fakeCluster starts a kfake cluster on 127.0.0.1:0 and returns its
// bootstrap list.
func fakeCluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	_, bootstrap := fakeClusterHandle(t, opts...)
	return bootstrap
}

// fakeClusterHandle is fakeCluster for tests that also steer the cluster.
func fakeClusterHandle(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c, strings.Join(c.ListenAddrs(), ",")
}

// run executes "strata ARGS..." the way cmd/strata will: a root command
// holding cli.Commands(), with stdin, stdout and stderr captured.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWith(t.Context(), strings.NewReader(stdin), nil, args...)
}

// runWith is run with a caller's context and stdin, and stdout going to
// stdout when it is not nil (result.stdout is then empty). It does not touch
// t, so it may run on another goroutine.
func runWith(ctx context.Context, stdin io.Reader, stdout io.Writer, args ...string) result {
	root := &cobra.Command{Use: "strata", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cli.Commands()...)
	var out, errOut bytes.Buffer
	if stdout == nil {
		stdout = &out
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	r := result{stdout: out.String(), stderr: errOut.String(), err: err}
	if err != nil {
		r.errLine = cli.ErrorLine(err)
	}
	return r
}

// mustRun runs the command and fails the test if it returned an error.
func mustRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.err != nil {
		t.Fatalf("strata %s: unexpected error %q (stderr %q)", strings.Join(args, " "), r.errLine, r.stderr)
	}
	return r
}

// produceDirect writes records with a plain kgo client, for inputs the
// produce command cannot express (explicit timestamps, binary bytes).
func produceDirect(t *testing.T, bootstrap string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
}
