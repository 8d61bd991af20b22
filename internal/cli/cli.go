package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/tlsconfig"
)

// DefaultBootstrap is the default value of every command's --bootstrap flag.
// main may overwrite it (for example from STRATA_BOOTSTRAP) before calling
// Commands; it is read only when the commands are built.
var DefaultBootstrap = "127.0.0.1:9092"

// defaultTimeout is the default of every command's --timeout flag.
const defaultTimeout = 30 * time.Second

// clientID names the CLI in broker logs and quotas.
const clientID = "strata-cli"

// Commands returns the client subcommands (topic, group, txn, produce,
// consume, cluster, config, acl, bench, verify, console, proxy), built fresh on each call so that flag state is never shared
// between runs.
func Commands() []*cobra.Command {
	return []*cobra.Command{
		newTopicCommand(),
		newGroupCommand(),
		newTxnCommand(),
		newProduceCommand(),
		newConsumeCommand(),
		newClusterCommand(),
		newConfigCommand(),
		newQuotaCommand(),
		newACLCommand(),
		newBenchCommand(),
		newUserCommand(),
		newVerifyCommand(),
		newConsoleCommand(),
		newProxyCommand(),
	}
}

// ErrorLine renders err as the single line main prints to stderr:
// "strata: " followed by the error with any line breaks folded into "; ".
func ErrorLine(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	var parts []string
	for line := range strings.Lines(msg) {
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	msg = strings.Join(parts, "; ")
	return "strata: " + msg
}

// clientFlags are the connection flags every command has.
type clientFlags struct {
	bootstrap string
	timeout   time.Duration
	// TLS to the brokers: any of these turns it on.
	useTLS         bool
	tlsCA          string
	tlsCert        string
	tlsKey         string
	verifyHostname bool
	tls            *tlsconfig.Store // built by seeds; nil without TLS
	sasl           saslFlags
}

// silence makes cobra leave error printing to main and print no usage on
// runtime errors. Bad flags still fail with one line.
func silence(cmd *cobra.Command) *cobra.Command {
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	return cmd
}

// newParentCommand builds a command that only holds subcommands (topic,
// group). Its --bootstrap and --timeout are persistent, so they work after
// any subcommand, and an unknown subcommand is reported as such rather than
// as an unknown flag.
func newParentCommand(use, short, timeoutUsage string) (*cobra.Command, *clientFlags) {
	cmd := silence(&cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		// NB: cobra reports unknown subcommands only under the root; below
		// it prints help and exits 0, which hides typos from scripts.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			err := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				err += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
			}
			return errors.New(err)
		},
	})
	cmd.SuggestionsMinimumDistance = 2
	return cmd, addClientFlags(cmd.PersistentFlags(), timeoutUsage)
}

// addClientFlags defines --bootstrap and --timeout on fs; timeoutUsage
// says what the timeout bounds for these commands.
func addClientFlags(fs *pflag.FlagSet, timeoutUsage string) *clientFlags {
	f := &clientFlags{}
	fs.StringVar(&f.bootstrap, "bootstrap", DefaultBootstrap, "comma-separated host:port list of brokers to connect to first")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, timeoutUsage)
	fs.BoolVar(&f.useTLS, "tls", false, "connect with TLS (an SSL or SASL_SSL listener), trusting the system CAs unless --tls-ca is set; implied by the other --tls-* flags")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CA certificates to trust for the brokers' certificates (Kafka's ssl.truststore.location)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM file with a client certificate chain, and its key unless --tls-key is set (Kafka's ssl.keystore.location)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM file with the client certificate's private key")
	fs.BoolVar(&f.verifyHostname, "tls-verify-hostname", true, "check that each broker's certificate names the host dialed (Kafka's ssl.endpoint.identification.algorithm=https)")
	f.sasl.bind(fs)
	return f
}

// seeds validates the flags and returns the seed broker list.
func (f *clientFlags) seeds() ([]string, error) {
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %s", f.timeout)
	}
	if f.sasl.mechanism != "" && f.sasl.opts() == nil {
		return nil, fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.sasl.mechanism)
	}
	var seeds []string
	for s := range strings.SplitSeq(f.bootstrap, ",") {
		s = strings.TrimSpace(s)
		if s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("--bootstrap is empty")
	}
	if f.useTLS || f.tlsCA != "" || f.tlsCert != "" || f.tlsKey != "" {
		st, err := tlsconfig.New(tlsconfig.Config{CAFile: f.tlsCA, CertFile: f.tlsCert, KeyFile: f.tlsKey, VerifyHostname: f.verifyHostname, ReloadInterval: -1})
		if err != nil {
			return nil, fmt.Errorf("--tls-*: %w", err)
		}
		f.tls = st
	}
	return seeds, nil
}

// newClient builds a kgo client for f plus extra options. The caller closes
// it. It does not connect yet.
func (f *clientFlags) newClient(extra ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := f.seeds()
	if err != nil {
		return nil, err
	}
	if err := f.checkLogin(seeds); err != nil {
		return nil, err
	}
	opts := append(f.connOpts(seeds), extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return cl, nil
}

// checkLogin, with SASL flags, logs in once before the command runs: a
// franz-go client retries a refused login until its retry timeout (a
// produce with a wrong password only ended when interrupted), so a wrong
// password or unknown mechanism is reported at once instead.
func (f *clientFlags) checkLogin(seeds []string) error {
	if len(f.sasl.opts()) == 0 {
		return nil
	}
	probe, err := kgo.NewClient(append(f.connOpts(seeds), kgo.RequestRetries(0))...)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), min(f.timeout, 30*time.Second))
	defer cancel()
	_, err = probe.Request(ctx, kmsg.NewPtrMetadataRequest())
	var ke *kerr.Error
	if errors.As(err, &ke) && (ke == kerr.SaslAuthenticationFailed || ke == kerr.UnsupportedSaslMechanism || ke == kerr.IllegalSaslState) {
		return fmt.Errorf("login to %s as %q with %s: %w", f.bootstrap, f.sasl.username, f.sasl.mechanism, err)
	}
	return nil // anything else is the command's to report, with its own retries
}

// connOpts are the connection options every client of a command gets.
func (f *clientFlags) connOpts(seeds []string) []kgo.Opt {
	opts := f.sasl.opts()
	if f.tls != nil {
		opts = append(opts, kgo.Dialer(f.tls.DialContext))
	}
	return append(opts,
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(min(f.timeout, 10*time.Second)),
		kgo.RetryTimeout(f.timeout),
		// NB: franz-go waits 5s between metadata refreshes by default, and
		// a consumer backs off up to 5s from a broker it cannot reach, so
		// after a broker dies a client may keep trying the dead leader
		// for seconds after the controller moved leadership (issue 9).
		// The Java client backs off 100ms doubling to 1s
		// (retry.backoff.ms, retry.backoff.max.ms); do the same.
		kgo.MetadataMinAge(time.Second),
		kgo.RetryBackoffFn(retryBackoff),
	)
}

// retryBackoff is the Java client's: 100ms, doubling, at most 1s.
func retryBackoff(tries int) time.Duration {
	return min(100*time.Millisecond<<min(max(tries-1, 0), 4), time.Second)
}

// explainTimeout turns a bare deadline error into one that says what was
// waited for, so "context deadline exceeded" never stands alone.
func (f *clientFlags) explainTimeout(err error) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s within --timeout %s: %w", f.bootstrap, f.timeout, err)
	}
	return err
}

// lineErrors is a list of errors printed on one line, separated by "; ".
// It unwraps to all of them.
type lineErrors []error

func (es lineErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es lineErrors) Unwrap() []error { return es }

// joinLine returns nil for no errors, the error itself for one, and a
// lineErrors for more.
func joinLine(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	default:
		return lineErrors(errs)
	}
}

// topicError prefixes err with the topic it is about.
func topicError(topic string, err error) error {
	return fmt.Errorf("topic %q: %w", topic, err)
}

// unescape turns the escapes \n, \t, \r, \0 and \\ in a flag value into the
// bytes they name; any other backslash sequence is kept as written.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i+1])
		}
		i++
	}
	return b.String()
}

// splitKeyValue parses "k=v" (the value may contain '='; the key may not be
// empty).
func splitKeyValue(flag, s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("--%s %q: want key=value", flag, s)
	}
	return k, v, nil
}
