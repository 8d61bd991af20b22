package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/console"
)

// DefaultConsoleListen is where `strata console` serves by default:
// loopback only, since the console has no login of its own.
const DefaultConsoleListen = "127.0.0.1:9645"

func newConsoleCommand() *cobra.Command {
	var listen string
	cmd := silence(&cobra.Command{
		Use:   "console",
		Short: "Serve the web console for a Kafka cluster (Strata or Apache Kafka)",
		Long: `Console serves the web console over HTTP: cluster overview, topics, a
message browser, consumer groups and live throughput and lag charts. It talks
to the cluster only through the Kafka protocol, with the TLS and SASL settings
of the other client commands, and keeps no state of its own.

The console has no login: anyone who can reach --listen can change the
cluster with the rights of the console's Kafka client. Keep the default
loopback address, or put an authenticating proxy in front.`,
		Args: cobra.NoArgs,
	})
	cf := addClientFlags(cmd.Flags(), "how long one console request may wait for the cluster")
	cmd.Flags().StringVar(&listen, "listen", DefaultConsoleListen, "HTTP host:port to serve the console on")
	allowed := cmd.Flags().StringSlice("allowed-hosts", nil, "DNS names the console answers to besides IP addresses and localhost (a request naming another Host is refused, against DNS rebinding); \"*\" allows any")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runConsole(cmd.Context(), cmd.ErrOrStderr(), cf, listen, *allowed)
	}
	return cmd
}

// runConsole serves the console until ctx is cancelled, then shuts the
// HTTP server down (waiting up to 5s for requests in flight).
func runConsole(ctx context.Context, stderr io.Writer, cf *clientFlags, listen string, allowedHosts []string) error {
	seeds, err := cf.seeds()
	if err != nil {
		return err
	}
	if err := cf.checkLogin(seeds); err != nil {
		return err
	}
	opts := cf.sasl.opts()
	if cf.tls != nil {
		opts = append(opts, kgo.Dialer(cf.tls.DialContext))
	}
	c, err := console.New(console.Config{Bootstrap: seeds, ClientOpts: opts, RequestTimeout: cf.timeout, AllowedHosts: allowedHosts})
	if err != nil {
		return err
	}
	defer c.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	srv := &http.Server{
		Handler:           c,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Each API request is bounded by --timeout; answers are small.
		WriteTimeout:   cf.timeout + console.DefaultBodyReadTimeout + 5*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       log.New(stderr, "strata console: ", 0),
	}
	fmt.Fprintf(stderr, "strata console: serving http://%s/console/ for the cluster at %s\n", ln.Addr(), strings.Join(seeds, ","))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}
