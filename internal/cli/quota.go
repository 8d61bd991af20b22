package cli

// strata quota describe|alter: client quotas, like kafka-configs.sh with
// --entity-type users/clients/ips. An entity is given by --user,
// --client-id and --ip, each a name or "<default>" (the default entity);
// --user with --client-id names the combined entity. Describe lists every
// entity matching the flags (none: all quotas); alter sends
// AlterClientQuotas, which the cluster forwards to its active controller.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newQuotaCommand() *cobra.Command {
	cmd, cf := newParentCommand("quota", "Describe and alter client quotas (producer/consumer byte rates, request percentage, mutation and connection rates)",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(newQuotaDescribeCommand(cf), newQuotaAlterCommand(cf))
	return cmd
}

// quotaEntityFlags are --user, --client-id and --ip.
type quotaEntityFlags struct{ user, client, ip string }

func (e *quotaEntityFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.user, "user", "", `user principal name, or "<default>"`)
	cmd.Flags().StringVar(&e.client, "client-id", "", `client id, or "<default>"`)
	cmd.Flags().StringVar(&e.ip, "ip", "", `client IP address, or "<default>"`)
}

// components returns the entity components the flags set, in the order
// user, client-id, ip.
func (e *quotaEntityFlags) components(cmd *cobra.Command) kadm.ClientQuotaEntity {
	var out kadm.ClientQuotaEntity
	for _, f := range []struct{ flag, typ, v string }{{"user", "user", e.user}, {"client-id", "client-id", e.client}, {"ip", "ip", e.ip}} {
		if !cmd.Flags().Changed(f.flag) {
			continue
		}
		c := kadm.ClientQuotaEntityComponent{Type: f.typ}
		if f.v != "<default>" {
			v := f.v
			c.Name = &v
		}
		out = append(out, c)
	}
	return out
}

func newQuotaDescribeCommand(cf *clientFlags) *cobra.Command {
	var entity quotaEntityFlags
	cmd := silence(&cobra.Command{
		Use:   "describe",
		Short: "List client quotas",
		Long: `List the client quotas of the entities matching --user, --client-id and
--ip (all entities having the other types too); without flags, every quota.

  strata quota describe
  strata quota describe --user alice
  strata quota describe --client-id "<default>"`,
		Args: cobra.NoArgs,
	})
	entity.bind(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var filter []kadm.DescribeClientQuotaComponent
		for _, c := range entity.components(cmd) {
			f := kadm.DescribeClientQuotaComponent{Type: c.Type, MatchName: c.Name, MatchType: 0}
			if c.Name == nil {
				f.MatchType = 1
			}
			filter = append(filter, f)
		}
		return withClients(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
			qs, err := adm.DescribeClientQuotas(ctx, false, filter)
			if err != nil {
				return fmt.Errorf("describe client quotas: %w", err)
			}
			var lines []string
			for _, q := range qs {
				slices.SortFunc(q.Entity, func(a, b kadm.ClientQuotaEntityComponent) int { return strings.Compare(a.Type, b.Type) })
				var vals []string
				for _, v := range q.Values {
					vals = append(vals, v.Key+"="+strconv.FormatFloat(v.Value, 'f', -1, 64))
				}
				slices.Sort(vals)
				lines = append(lines, q.Entity.String()+"\t"+strings.Join(vals, ","))
			}
			slices.Sort(lines)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTITY\tQUOTAS")
			for _, l := range lines {
				fmt.Fprintln(tw, l)
			}
			return tw.Flush()
		})
	}
	return cmd
}

func newQuotaAlterCommand(cf *clientFlags) *cobra.Command {
	var (
		entity quotaEntityFlags
		add    string
		del    []string
	)
	cmd := silence(&cobra.Command{
		Use:   "alter",
		Short: "Set or remove client quotas of a user, client id or IP",
		Long: `Set (--add-config) or remove (--delete-config) quotas of one entity:
producer_byte_rate, consumer_byte_rate, request_percentage and
controller_mutation_rate for users and client ids, connection_creation_rate
for IPs. Quotas apply on every broker without a restart.

  strata quota alter --client-id app --add-config producer_byte_rate=5242880,consumer_byte_rate=5242880
  strata quota alter --user alice --client-id "<default>" --add-config request_percentage=50
  strata quota alter --user "<default>" --delete-config producer_byte_rate
  strata quota alter --ip 10.0.0.7 --add-config connection_creation_rate=10`,
		Args: cobra.NoArgs,
	})
	entity.bind(cmd)
	cmd.Flags().StringVar(&add, "add-config", "", "quotas to set: k1=v1,k2=v2")
	cmd.Flags().StringSliceVar(&del, "delete-config", nil, "quotas to remove (comma separated or repeated)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		e := entity.components(cmd)
		if len(e) == 0 {
			return errors.New("name the entity with --user, --client-id or --ip")
		}
		var ops []kadm.AlterClientQuotaOp
		if add != "" {
			for kv := range strings.SplitSeq(add, ",") {
				k, v, ok := strings.Cut(kv, "=")
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if !ok || err != nil {
					return fmt.Errorf("--add-config %q: want key=number", kv)
				}
				ops = append(ops, kadm.AlterClientQuotaOp{Key: strings.TrimSpace(k), Value: f})
			}
		}
		for _, k := range del {
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
		if len(ops) == 0 {
			return errors.New("nothing to do: give --add-config or --delete-config")
		}
		return withClients(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
			res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: e, Ops: ops}})
			if err != nil {
				return fmt.Errorf("alter client quotas of %v: %w", e, err)
			}
			for _, r := range res {
				if r.Err != nil {
					if r.ErrMessage != "" {
						return fmt.Errorf("alter client quotas of %v: %w: %s", e, r.Err, r.ErrMessage)
					}
					return fmt.Errorf("alter client quotas of %v: %w", e, r.Err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Altered client quotas of %v\n", e)
			return nil
		})
	}
	return cmd
}
