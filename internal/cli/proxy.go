package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/strata-io/strata/internal/restproxy"
)

// newProxyCommand is `strata proxy`: the Confluent REST Proxy API in
// front of any Kafka cluster, standalone.
func newProxyCommand() *cobra.Command {
	cmd := silence(&cobra.Command{
		Use:   "proxy",
		Short: "Serve the Confluent REST Proxy API (v2, v3) for a Kafka cluster",
		Long: `Serve the Confluent REST Proxy API over HTTP, speaking the Kafka protocol to
the cluster at --bootstrap: list topics and partitions, produce binary and JSON
records, consumer instances (subscribe, assign, seek, records, commit) and the
v3 cluster, topic and streaming produce routes. Avro, Protobuf and JSON Schema
need a schema registry and are not served.

The listener binds to loopback by default; --listen 0.0.0.0:8082 serves every
interface (the API has no authentication of its own).`,
		Args: cobra.NoArgs,
	})
	f := addClientFlags(cmd.Flags(), "how long each Kafka call of a request may take")
	cfg := restproxy.DefaultConfig()
	listen := cmd.Flags().String("listen", "127.0.0.1:8082", "host:port of the HTTP listener")
	cmd.Flags().Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", cfg.MaxBodyBytes, "largest request body (each record of a streaming v3 produce); larger ones get 413")
	cmd.Flags().DurationVar(&cfg.BodyReadTimeout, "body-read-timeout", cfg.BodyReadTimeout, "a client that takes longer to send a body gets 408")
	cmd.Flags().DurationVar(&cfg.ConsumerInstanceTimeout, "consumer-instance-timeout", cfg.ConsumerInstanceTimeout, "close consumer instances without requests for this long (consumer.instance.timeout.ms)")
	cmd.Flags().IntVar(&cfg.MaxConsumerInstances, "max-consumer-instances", cfg.MaxConsumerInstances, "most live consumer instances; more get 429")
	cmd.Flags().DurationVar(&cfg.ConsumerRequestTimeout, "consumer-request-timeout", cfg.ConsumerRequestTimeout, "how long a records request waits for records (consumer.request.timeout.ms)")
	cmd.Flags().Int64Var(&cfg.ConsumerRequestMaxBytes, "consumer-request-max-bytes", cfg.ConsumerRequestMaxBytes, "most key and value bytes in one records response (consumer.request.max.bytes)")
	cmd.Flags().StringVar(&cfg.BaseURL, "base-url", "", "scheme://host:port clients reach the proxy at, for base_uri and v3 links (default: each request's Host)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		seeds, err := f.seeds()
		if err != nil {
			return err
		}
		if err := f.checkLogin(seeds); err != nil {
			return err
		}
		cfg.Bootstrap = seeds
		cfg.ClientOpts = f.connOpts(seeds)
		cfg.RequestTimeout = f.timeout
		p, err := restproxy.New(cfg)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			p.Close()
			return fmt.Errorf("--listen %s: %w", *listen, err)
		}
		srv := &http.Server{
			Handler:           p,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		}
		fmt.Fprintf(cmd.OutOrStdout(), "REST proxy for %s listening on http://%s\n", f.bootstrap, ln.Addr())
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return p.Run(gctx) })
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				srv.Close()
			}
			return nil
		})
		return g.Wait()
	}
	return cmd
}
