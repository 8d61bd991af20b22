package cli

// strata config describe|alter: kafka-configs.sh for topics, brokers and
// groups. Describe shows each config's value, source (DEFAULT_CONFIG,
// STATIC_BROKER_CONFIG, DYNAMIC_*), and whether it is sensitive or
// read-only; by default only configs that someone set (source other than
// DEFAULT_CONFIG), with --all every config. Alter sends
// IncrementalAlterConfigs (--add-config sets, --delete-config removes the
// override), which the cluster forwards to its active controller.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newConfigCommand() *cobra.Command {
	cmd, cf := newParentCommand("config", "Describe and alter topic, broker and group configs (like kafka-configs.sh)",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(newConfigDescribeCommand(cf), newConfigAlterCommand(cf))
	return cmd
}

// configEntity is what --entity-type, --entity-name and --entity-default
// name.
type configEntity struct {
	typ     string
	name    string
	dflt    bool
	hasName bool
}

func (e *configEntity) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.typ, "entity-type", "", "topics, brokers or groups")
	cmd.Flags().StringVar(&e.name, "entity-name", "", "topic name, broker id or group id")
	cmd.Flags().BoolVar(&e.dflt, "entity-default", false, "the cluster-wide broker default (--entity-type brokers)")
}

// resource checks the flags and returns the config resource they name.
func (e *configEntity) resource(cmd *cobra.Command) (kmsg.ConfigResourceType, string, error) {
	e.hasName = cmd.Flags().Changed("entity-name")
	var typ kmsg.ConfigResourceType
	switch e.typ {
	case "topics", "topic":
		typ = kmsg.ConfigResourceTypeTopic
	case "brokers", "broker":
		typ = kmsg.ConfigResourceTypeBroker
	case "groups", "group":
		typ = kmsg.ConfigResourceTypeGroupConfig
	case "":
		return 0, "", errors.New("--entity-type is required: topics, brokers or groups")
	default:
		return 0, "", fmt.Errorf("--entity-type %q: want topics, brokers or groups", e.typ)
	}
	switch {
	case e.dflt && e.hasName:
		return 0, "", errors.New("give --entity-name or --entity-default, not both")
	case e.dflt && typ != kmsg.ConfigResourceTypeBroker:
		return 0, "", errors.New("--entity-default applies to --entity-type brokers only")
	case e.dflt:
		return typ, "", nil
	case !e.hasName || e.name == "":
		return 0, "", fmt.Errorf("--entity-name is required for %s", e.typ)
	case typ == kmsg.ConfigResourceTypeBroker:
		if id, err := strconv.ParseInt(e.name, 10, 32); err != nil || id < 0 {
			return 0, "", fmt.Errorf("--entity-name %q: a broker is named by its id", e.name)
		}
	}
	return typ, e.name, nil
}

func entityLabel(typ kmsg.ConfigResourceType, name string) string {
	switch {
	case typ == kmsg.ConfigResourceTypeBroker && name == "":
		return "the cluster-wide broker default"
	case typ == kmsg.ConfigResourceTypeBroker:
		return "broker " + name
	case typ == kmsg.ConfigResourceTypeTopic:
		return "topic " + name
	default:
		return "group " + name
	}
}

func newConfigDescribeCommand(cf *clientFlags) *cobra.Command {
	var (
		entity configEntity
		all    bool
		names  []string
	)
	cmd := silence(&cobra.Command{
		Use:   "describe",
		Short: "Show a topic's, broker's or group's configs with their sources",
		Long: `Show a topic's, broker's or group's configs: value, source, and whether
each is sensitive (value hidden) or read-only. Without --all only configs
someone set are shown (source other than DEFAULT_CONFIG).

  strata config describe --entity-type topics --entity-name orders
  strata config describe --entity-type brokers --entity-name 1 --all
  strata config describe --entity-type brokers --entity-default
  strata config describe --entity-type groups --entity-name my-group --all`,
		Args: cobra.NoArgs,
	})
	entity.bind(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "show every config, defaults included")
	cmd.Flags().StringSliceVar(&names, "config", nil, "only these configs (comma separated or repeated)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		typ, name, err := entity.resource(cmd)
		if err != nil {
			return err
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
			return describeConfigs(ctx, cmd.OutOrStdout(), cl, typ, name, names, all)
		})
	}
	return cmd
}

func describeConfigs(ctx context.Context, w io.Writer, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, names []string, all bool) error {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, names
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("describe configs of %s: %w", entityLabel(typ, name), err)
	}
	if len(resp.Resources) != 1 {
		return fmt.Errorf("describe configs of %s: %d resources answered, want 1", entityLabel(typ, name), len(resp.Resources))
	}
	r := resp.Resources[0]
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		if r.ErrorMessage != nil && *r.ErrorMessage != "" {
			err = fmt.Errorf("%w: %s", err, *r.ErrorMessage)
		}
		return fmt.Errorf("describe configs of %s: %w", entityLabel(typ, name), err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE\tSENSITIVE\tREAD-ONLY\tSYNONYMS")
	for _, c := range r.Configs {
		if !all && names == nil && c.Source == kmsg.ConfigSourceDefaultConfig {
			continue
		}
		value := "null"
		switch {
		case c.IsSensitive:
			value = "(sensitive)"
		case c.Value != nil:
			value = *c.Value
		}
		var syns []string
		for _, s := range c.ConfigSynonyms {
			v := "null"
			switch {
			case c.IsSensitive:
				v = "(sensitive)"
			case s.Value != nil:
				v = *s.Value
			}
			syns = append(syns, s.Source.String()+":"+s.Name+"="+v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%s\n", c.Name, value, c.Source, c.IsSensitive, c.ReadOnly, strings.Join(syns, ","))
	}
	return tw.Flush()
}

func newConfigAlterCommand(cf *clientFlags) *cobra.Command {
	var (
		entity configEntity
		add    string
		del    []string
	)
	cmd := silence(&cobra.Command{
		Use:   "alter",
		Short: "Set or remove config overrides of a topic, broker or group",
		Long: `Set (--add-config) or remove (--delete-config) config overrides of a topic,
a broker, the cluster-wide broker default, or a group, with
IncrementalAlterConfigs. A list value goes in brackets: cleanup.policy=[compact,delete].

  strata config alter --entity-type topics --entity-name orders --add-config retention.ms=3600000,cleanup.policy=compact
  strata config alter --entity-type brokers --entity-default --add-config log.retention.ms=86400000
  strata config alter --entity-type brokers --entity-name 1 --delete-config log.retention.ms
  strata config alter --entity-type groups --entity-name my-group --add-config consumer.session.timeout.ms=60000`,
		Args: cobra.NoArgs,
	})
	entity.bind(cmd)
	cmd.Flags().StringVar(&add, "add-config", "", "configs to set: k1=v1,k2=[v2a,v2b],...")
	cmd.Flags().StringSliceVar(&del, "delete-config", nil, "configs whose override to remove (comma separated or repeated)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		typ, name, err := entity.resource(cmd)
		if err != nil {
			return err
		}
		sets, err := parseAddConfig(add)
		if err != nil {
			return err
		}
		if len(sets) == 0 && len(del) == 0 {
			return errors.New("nothing to do: give --add-config and/or --delete-config")
		}
		var ops []kadm.AlterConfig
		for _, kv := range sets {
			ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: &kv[1]})
		}
		for _, k := range del {
			ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: strings.TrimSpace(k)})
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			if err := alterConfigs(ctx, cl, adm, typ, name, ops); err != nil {
				return fmt.Errorf("alter configs of %s: %w", entityLabel(typ, name), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Completed updating config for %s.\n", entityLabel(typ, name))
			return nil
		})
	}
	return cmd
}

func alterConfigs(ctx context.Context, cl *kgo.Client, adm *kadm.Client, typ kmsg.ConfigResourceType, name string, ops []kadm.AlterConfig) error {
	var (
		res kadm.AlterConfigsResponses
		err error
	)
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		res, err = adm.AlterTopicConfigs(ctx, ops, name)
	case kmsg.ConfigResourceTypeBroker:
		var ids []int32
		if name != "" {
			id, _ := strconv.ParseInt(name, 10, 32)
			ids = []int32{int32(id)}
		}
		res, err = adm.AlterBrokerConfigs(ctx, ops, ids...)
	default:
		// kadm has no group configs (KIP-848): send IncrementalAlterConfigs
		// for resource type 32 ourselves.
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		for _, op := range ops {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = op.Name, op.Value
			c.Op = kmsg.IncrementalAlterConfigOpSet
			if op.Op == kadm.DeleteConfig {
				c.Op = kmsg.IncrementalAlterConfigOpDelete
			}
			rr.Configs = append(rr.Configs, c)
		}
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, r := range resp.Resources {
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				if r.ErrorMessage != nil && *r.ErrorMessage != "" {
					return fmt.Errorf("%w: %s", err, *r.ErrorMessage)
				}
				return err
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
			}
			return r.Err
		}
	}
	return nil
}

// parseAddConfig splits kafka-configs.sh's --add-config: k=v pairs
// separated by commas, where a value in brackets may hold commas.
func parseAddConfig(s string) ([][2]string, error) {
	var out [][2]string
	for s = strings.TrimSpace(s); s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("--add-config: %q is not key=value", s)
		}
		key, rest := strings.TrimSpace(s[:eq]), s[eq+1:]
		var value string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("--add-config: %s: unclosed [", key)
			}
			value, rest = rest[1:end], rest[end+1:]
		} else if comma := strings.IndexByte(rest, ','); comma >= 0 {
			value, rest = rest[:comma], rest[comma:]
		} else {
			value, rest = rest, ""
		}
		out = append(out, [2]string{key, strings.TrimSpace(value)})
		rest = strings.TrimSpace(rest)
		if rest != "" && rest[0] != ',' {
			return nil, fmt.Errorf("--add-config: unexpected %q after %s", rest, key)
		}
		s = strings.TrimSpace(strings.TrimPrefix(rest, ","))
	}
	return out, nil
}
