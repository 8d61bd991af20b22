package cli

// strata user: SCRAM credentials (KIP-554), stored in the metadata log
// through AlterUserScramCredentials and read with
// DescribeUserScramCredentials, as kafka-configs --entity-type users
// --alter --add-config 'SCRAM-SHA-512=[password=...]' does. The password
// never leaves the CLI: it sends the salt and the salted password.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strata-io/strata/internal/kafkaerr"
)

func newUserCommand() *cobra.Command {
	cmd, cf := newParentCommand("user", "Create, delete and list SCRAM users (SASL/SCRAM credentials)",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(newUserCreateCommand(cf), newUserDeleteCommand(cf), newUserListCommand(cf))
	return cmd
}

// parseScramMechanisms reads --mechanism values (comma-separated allowed).
func parseScramMechanisms(given []string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	for _, g := range given {
		for m := range strings.SplitSeq(g, ",") {
			var mech kadm.ScramMechanism
			switch strings.ToUpper(strings.TrimSpace(m)) {
			case "SCRAM-SHA-256":
				mech = kadm.ScramSha256
			case "SCRAM-SHA-512":
				mech = kadm.ScramSha512
			default:
				return nil, fmt.Errorf("--mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", m)
			}
			if !slices.Contains(out, mech) {
				out = append(out, mech)
			}
		}
	}
	return out, nil
}

// alterUsers sends the change and reports each user's outcome.
func alterUsers(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, del []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM, verb string) error {
	resps, err := adm.AlterUserSCRAMs(ctx, del, ups)
	if err != nil {
		return fmt.Errorf("alter SCRAM credentials: %w", err)
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("user %q: %w", r.User, kafkaerr.WithMessage(r.Err, r.ErrMessage)))
			continue
		}
		if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s user %q\n", verb, r.User); err != nil {
			return err
		}
	}
	return joinLine(errs)
}

func newUserCreateCommand(cf *clientFlags) *cobra.Command {
	var (
		password   string
		mechanisms []string
		iterations int32
	)
	cmd := silence(&cobra.Command{
		Use:   "create USER --password PASSWORD",
		Short: "Create a SCRAM user, or set its password (takes effect at the next login, without a restart)",
		Args:  cobra.ExactArgs(1),
	})
	cmd.Flags().StringVar(&password, "password", "", "the user's password (required)")
	cmd.Flags().StringSliceVar(&mechanisms, "mechanism", []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}, "SCRAM mechanisms to store a credential for")
	cmd.Flags().Int32Var(&iterations, "iterations", 4096, "PBKDF2 iterations (4096-16384)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if password == "" {
			return errors.New("--password is required")
		}
		mechs, err := parseScramMechanisms(mechanisms)
		if err != nil {
			return err
		}
		var ups []kadm.UpsertSCRAM
		for _, m := range mechs {
			ups = append(ups, kadm.UpsertSCRAM{User: args[0], Mechanism: m, Iterations: iterations, Password: password})
		}
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			return alterUsers(ctx, cmd, adm, nil, ups, "created")
		})
	}
	return cmd
}

func newUserDeleteCommand(cf *clientFlags) *cobra.Command {
	var mechanisms []string
	cmd := silence(&cobra.Command{
		Use:   "delete USER",
		Short: "Delete a SCRAM user's credentials (every mechanism unless --mechanism is given)",
		Args:  cobra.ExactArgs(1),
	})
	cmd.Flags().StringSliceVar(&mechanisms, "mechanism", nil, "only delete these mechanisms' credentials")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		mechs, err := parseScramMechanisms(mechanisms)
		if err != nil {
			return err
		}
		user := args[0]
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			if len(mechs) == 0 {
				described, err := adm.DescribeUserSCRAMs(ctx, user)
				if err != nil {
					return fmt.Errorf("describe user %q: %w", user, err)
				}
				d := described[user]
				if d.Err != nil {
					return fmt.Errorf("user %q: %w", user, kafkaerr.WithMessage(d.Err, d.ErrMessage))
				}
				for _, ci := range d.CredInfos {
					mechs = append(mechs, ci.Mechanism)
				}
			}
			var del []kadm.DeleteSCRAM
			for _, m := range mechs {
				del = append(del, kadm.DeleteSCRAM{User: user, Mechanism: m})
			}
			return alterUsers(ctx, cmd, adm, del, nil, "deleted")
		})
	}
	return cmd
}

func newUserListCommand(cf *clientFlags) *cobra.Command {
	cmd := silence(&cobra.Command{
		Use:   "list [USER...]",
		Short: "List SCRAM users with their mechanisms and iterations",
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			described, err := adm.DescribeUserSCRAMs(ctx, dedupe(args)...)
			if err != nil {
				return fmt.Errorf("describe users: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
			var errs []error
			for _, d := range described.Sorted() {
				if d.Err != nil {
					errs = append(errs, fmt.Errorf("user %q: %w", d.User, kafkaerr.WithMessage(d.Err, d.ErrMessage)))
					continue
				}
				for _, ci := range d.CredInfos {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", d.User, ci.Mechanism, ci.Iterations)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return joinLine(errs)
		})
	}
	return cmd
}
