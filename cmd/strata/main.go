// Command strata is the Strata broker and its admin CLI in one binary:
// `strata serve` runs a node; every other subcommand is a Kafka client
// (franz-go) talking to a running cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/cli"
	"github.com/strata-io/strata/internal/clock"
	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/node"
	"github.com/strata-io/strata/internal/version"
)

func main() {
	if b := os.Getenv("STRATA_BOOTSTRAP"); b != "" {
		cli.DefaultBootstrap = b
	}
	cli.DefaultSASLPassword = os.Getenv("STRATA_SASL_PASSWORD")
	root := &cobra.Command{
		Use:           "strata",
		Short:         "Strata: a Kafka-compatible streaming log in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(serveCommand(), cli.NewVersionCommand(), cli.NewCertCommand())
	root.AddCommand(cli.Commands()...)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, cli.ErrorLine(err))
		code := 1
		if ee := (*cli.ExitError)(nil); errors.As(err, &ee) {
			code = ee.Code
		}
		os.Exit(code)
	}
}

func serveCommand() *cobra.Command {
	defaults := config.DefaultStatic()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Strata node (broker and controller)",
		Long: `Run a Strata node (broker and controller).

--config takes a Kafka server.properties file: Kafka's property names
(node.id, process.roles, listeners, advertised.listeners,
controller.listener.names, controller.quorum.voters, log.dirs,
num.partitions, default.replication.factor, min.insync.replicas,
log.retention.*, ...) map onto Strata's settings, and every other Kafka broker
config is kept as a static broker config. Properties Strata does not act on
are listed once in a warning at startup. Lines may also use the flag names
below (retention = 24h). Flags and STRATA_* variables override the file.`,
		Args: cobra.NoArgs,
	}
	configPath := config.BindFlags(cmd.Flags(), &defaults)
	// For fault tests only: the broker's wall clock (record timestamps,
	// retention, transaction and offset expiry) is shifted by the
	// duration in this file ("+1h", "-30m"), read again every 100 ms.
	clockOffsetFile := cmd.Flags().String("test-clock-offset-file", "", "test only: shift the wall clock by the duration in this file (+1h, -30m), re-read every 100ms")
	_ = cmd.Flags().MarkHidden("test-clock-offset-file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := failpoint.CheckEnv(); err != nil {
			return err
		}
		cfg, err := config.Load(cmd.Flags(), *configPath, os.Environ())
		if err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		logger := newLogger(cfg)
		if len(cfg.Unacted) > 0 {
			logger.Warn("config file properties Strata accepts but does not act on",
				"config", *configPath, "properties", strings.Join(cfg.Unacted, ","))
		}
		if *clockOffsetFile != "" {
			if err := clock.UseOffsetFile(*clockOffsetFile); err != nil {
				return err
			}
			logger.Warn("wall clock shifted by a test offset file", "file", *clockOffsetFile, "offset", clock.Offset())
		}
		if fps := failpoint.Active(); fps != "" {
			logger.Warn("failpoints switched on: this broker misbehaves on purpose", "failpoints", fps)
		}
		ctx := cmd.Context()
		n, err := node.New(node.Config{Static: cfg, Logger: logger})
		if err != nil {
			return err
		}
		if err := n.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("node stopped", "err", err)
			return err
		}
		return nil
	}
	return cmd
}

func newLogger(cfg config.Static) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
