package cli

// strata acl create|list|delete: Kafka's kafka-acls.sh over CreateAcls,
// DescribeAcls and DeleteAcls, with its flag names (--allow-principal,
// --deny-principal, --allow-host, --deny-host, --operation, --topic,
// --group, --cluster, --transactional-id, --resource-pattern-type).

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/kafkaerr"
)

func newACLCommand() *cobra.Command {
	cmd, cf := newParentCommand("acl", "Create, list and delete ACLs (the brokers need authorizer.class.name set)",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(newACLCreateCommand(cf), newACLListCommand(cf), newACLDeleteCommand(cf))
	return cmd
}

// aclResourceFlags select resources: by type and name, with a pattern type.
type aclResourceFlags struct {
	topics, groups, txnIDs, tokens, users []string
	cluster                               bool
	pattern                               string
}

func (f *aclResourceFlags) bind(fs *pflag.FlagSet, patternDefault, patternUsage string) {
	fs.StringSliceVar(&f.topics, "topic", nil, "topic name (or prefix with --resource-pattern-type prefixed; * is every topic)")
	fs.StringSliceVar(&f.groups, "group", nil, "consumer group id")
	fs.StringSliceVar(&f.txnIDs, "transactional-id", nil, "transactional id")
	fs.StringSliceVar(&f.tokens, "delegation-token", nil, "delegation token id")
	fs.StringSliceVar(&f.users, "user-principal", nil, "user resource (the principal tokens are created for)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource ("+acl.ClusterName+")")
	fs.StringVar(&f.pattern, "resource-pattern-type", patternDefault, patternUsage)
}

// aclResource is one resource pattern of the flags.
type aclResource struct {
	typ  acl.ResourceType
	name string
}

func (f *aclResourceFlags) resources() []aclResource {
	var out []aclResource
	add := func(t acl.ResourceType, names []string) {
		for _, n := range names {
			out = append(out, aclResource{t, n})
		}
	}
	add(acl.ResourceTopic, f.topics)
	add(acl.ResourceGroup, f.groups)
	add(acl.ResourceTransactionalID, f.txnIDs)
	add(acl.ResourceDelegationToken, f.tokens)
	add(acl.ResourceUser, f.users)
	if f.cluster {
		out = append(out, aclResource{acl.ResourceCluster, acl.ClusterName})
	}
	return out
}

func parseOperations(given []string, dflt acl.Operation) ([]acl.Operation, error) {
	if len(given) == 0 {
		return []acl.Operation{dflt}, nil
	}
	var out []acl.Operation
	for _, s := range given {
		op, err := acl.ParseOperation(s)
		if err != nil || op == acl.OpUnknown {
			return nil, fmt.Errorf("--operation %q: want Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, TwoPhaseCommit or All", s)
		}
		out = append(out, op)
	}
	return out, nil
}

func newACLCreateCommand(cf *clientFlags) *cobra.Command {
	var (
		res                   aclResourceFlags
		allow, deny           []string
		allowHosts, denyHosts []string
		operations            []string
	)
	cmd := silence(&cobra.Command{
		Use:   "create",
		Short: "Add ACLs: each principal, host and operation on each resource given",
		Example: `  strata acl create --allow-principal User:alice --operation Read --operation Describe --topic orders
  strata acl create --allow-principal User:alice --operation Read --group app- --resource-pattern-type prefixed
  strata acl create --deny-principal User:mallory --operation All --topic '*'`,
		Args: cobra.NoArgs,
	})
	res.bind(cmd.Flags(), "literal", "literal (the exact name, or * for all) or prefixed")
	cmd.Flags().StringSliceVar(&allow, "allow-principal", nil, "principal to allow, as Type:Name (User:alice; User:* is everyone)")
	cmd.Flags().StringSliceVar(&deny, "deny-principal", nil, "principal to deny, as Type:Name")
	cmd.Flags().StringSliceVar(&allowHosts, "allow-host", nil, "client IP address the allow ACLs apply to (default *, every host)")
	cmd.Flags().StringSliceVar(&denyHosts, "deny-host", nil, "client IP address the deny ACLs apply to (default *, every host)")
	cmd.Flags().StringSliceVar(&operations, "operation", nil, "operation (Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All); repeatable")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		pattern, err := acl.ParsePatternType(res.pattern)
		if err != nil || (pattern != acl.PatternLiteral && pattern != acl.PatternPrefixed) {
			return fmt.Errorf("--resource-pattern-type %q: want literal or prefixed", res.pattern)
		}
		resources := res.resources()
		if len(resources) == 0 {
			return errors.New("name a resource: --topic, --group, --cluster, --transactional-id, --delegation-token or --user-principal")
		}
		if len(allow)+len(deny) == 0 {
			return errors.New("name a principal: --allow-principal or --deny-principal")
		}
		if len(operations) == 0 {
			return errors.New("name an operation: --operation")
		}
		ops, err := parseOperations(operations, acl.OpUnknown)
		if err != nil {
			return err
		}
		if len(allowHosts) == 0 {
			allowHosts = []string{acl.WildcardHost}
		}
		if len(denyHosts) == 0 {
			denyHosts = []string{acl.WildcardHost}
		}
		var bindings []acl.Binding
		for _, r := range resources {
			for _, side := range []struct {
				principals, hosts []string
				perm              acl.Permission
			}{{allow, allowHosts, acl.PermissionAllow}, {deny, denyHosts, acl.PermissionDeny}} {
				for _, p := range side.principals {
					for _, h := range side.hosts {
						for _, op := range ops {
							b := acl.Binding{ResourceType: r.typ, ResourceName: r.name, PatternType: pattern, Principal: p, Host: h, Operation: op, Permission: side.perm}
							if err := b.Validate(); err != nil {
								return err
							}
							bindings = append(bindings, b)
						}
					}
				}
			}
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
			req := kmsg.NewPtrCreateACLsRequest()
			for _, b := range bindings {
				c := kmsg.NewCreateACLsRequestCreation()
				c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceType(b.ResourceType), b.ResourceName, kmsg.ACLResourcePatternType(b.PatternType)
				c.Principal, c.Host, c.Operation, c.PermissionType = b.Principal, b.Host, kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
				req.Creations = append(req.Creations, c)
			}
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return fmt.Errorf("create ACLs: %w", err)
			}
			if len(resp.Results) != len(bindings) {
				return fmt.Errorf("create ACLs: %d results for %d ACLs", len(resp.Results), len(bindings))
			}
			var errs []error
			out := cmd.OutOrStdout()
			for i, r := range resp.Results {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("ACL %s: %w", describeBinding(bindings[i]), kafkaerr.WithMessage(err, deref(r.ErrorMessage))))
					continue
				}
				if _, err := fmt.Fprintf(out, "created ACL %s\n", describeBinding(bindings[i])); err != nil {
					return err
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}

// describeBinding renders an ACL on one line.
func describeBinding(b acl.Binding) string {
	return fmt.Sprintf("%s %s to %s from host %s on %s %s %q", b.Permission, b.Operation, b.Principal, b.Host, b.PatternType, b.ResourceType, b.ResourceName)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// aclFilterFlags are the filters of list and delete.
type aclFilterFlags struct {
	res        aclResourceFlags
	principal  string
	host       string
	operations []string
	permission string
}

func (f *aclFilterFlags) bind(fs *pflag.FlagSet) {
	f.res.bind(fs, "any", "any (every pattern), match (every ACL that applies to the named resource: literal, * and prefixes of it), literal or prefixed")
	fs.StringVar(&f.principal, "principal", "", "only ACLs of this principal (Type:Name)")
	fs.StringVar(&f.host, "host", "", "only ACLs for this host")
	fs.StringSliceVar(&f.operations, "operation", nil, "only ACLs for this operation; repeatable")
	fs.StringVar(&f.permission, "permission", "any", "allow, deny or any")
}

// filters returns the DescribeAcls/DeleteAcls filters: one per resource
// and operation (every resource when none is named).
func (f *aclFilterFlags) filters() ([]acl.Filter, error) {
	pattern, err := acl.ParsePatternType(f.res.pattern)
	if err != nil || pattern == acl.PatternUnknown {
		return nil, fmt.Errorf("--resource-pattern-type %q: want any, match, literal or prefixed", f.res.pattern)
	}
	perm, err := acl.ParsePermission(f.permission)
	if err != nil || perm == acl.PermissionUnknown {
		return nil, fmt.Errorf("--permission %q: want allow, deny or any", f.permission)
	}
	ops, err := parseOperations(f.operations, acl.OpAny)
	if err != nil {
		return nil, err
	}
	base := acl.Filter{ResourceType: acl.ResourceAny, PatternType: pattern, Permission: perm}
	if f.principal != "" {
		base.Principal = &f.principal
	}
	if f.host != "" {
		base.Host = &f.host
	}
	resources := f.res.resources()
	var out []acl.Filter
	for _, op := range ops {
		if len(resources) == 0 {
			fl := base
			fl.Operation = op
			out = append(out, fl)
		}
		for _, r := range resources {
			fl := base
			fl.Operation, fl.ResourceType = op, r.typ
			name := r.name
			fl.ResourceName = &name
			out = append(out, fl)
		}
	}
	return out, nil
}

func describeFilterRequest(f acl.Filter) *kmsg.DescribeACLsRequest {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = kmsg.ACLResourceType(f.ResourceType), f.ResourceName, kmsg.ACLResourcePatternType(f.PatternType)
	req.Principal, req.Host, req.Operation, req.PermissionType = f.Principal, f.Host, kmsg.ACLOperation(f.Operation), kmsg.ACLPermissionType(f.Permission)
	return req
}

func newACLListCommand(cf *clientFlags) *cobra.Command {
	var ff aclFilterFlags
	cmd := silence(&cobra.Command{
		Use:   "list",
		Short: "List ACLs, all of them or those matching the filters",
		Example: `  strata acl list
  strata acl list --principal User:alice
  strata acl list --topic orders --resource-pattern-type match`,
		Args: cobra.NoArgs,
	})
	ff.bind(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		filters, err := ff.filters()
		if err != nil {
			return err
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
			seen := map[acl.Binding]bool{}
			var rows []acl.Binding
			for _, f := range filters {
				resp, err := describeFilterRequest(f).RequestWith(ctx, cl)
				if err != nil {
					return fmt.Errorf("describe ACLs: %w", err)
				}
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					return fmt.Errorf("describe ACLs: %w", kafkaerr.WithMessage(err, deref(resp.ErrorMessage)))
				}
				for _, r := range resp.Resources {
					for _, a := range r.ACLs {
						b := acl.Binding{ResourceType: acl.ResourceType(r.ResourceType), ResourceName: r.ResourceName, PatternType: acl.PatternType(r.ResourcePatternType),
							Principal: a.Principal, Host: a.Host, Operation: acl.Operation(a.Operation), Permission: acl.Permission(a.PermissionType)}
						if !seen[b] {
							seen[b] = true
							rows = append(rows, b)
						}
					}
				}
			}
			return printBindings(cmd, rows)
		})
	}
	return cmd
}

func printBindings(cmd *cobra.Command, rows []acl.Binding) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESOURCE-TYPE\tPATTERN\tNAME\tPRINCIPAL\tHOST\tOPERATION\tPERMISSION")
	for _, b := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ResourceType, b.PatternType, b.ResourceName, b.Principal, b.Host, b.Operation, b.Permission)
	}
	return tw.Flush()
}

func newACLDeleteCommand(cf *clientFlags) *cobra.Command {
	var (
		ff  aclFilterFlags
		all bool
	)
	cmd := silence(&cobra.Command{
		Use:   "delete",
		Short: "Delete the ACLs matching the filters",
		Example: `  strata acl delete --principal User:alice --topic orders
  strata acl delete --principal User:alice
  strata acl delete --all`,
		Args: cobra.NoArgs,
	})
	ff.bind(cmd.Flags())
	cmd.Flags().BoolVar(&all, "all", false, "delete every ACL the other filters match, even with no resource or principal named")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if !all && ff.principal == "" && len(ff.res.resources()) == 0 {
			return errors.New("name a resource or --principal, or pass --all to delete every ACL")
		}
		filters, err := ff.filters()
		if err != nil {
			return err
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
			req := kmsg.NewPtrDeleteACLsRequest()
			for _, f := range filters {
				d := describeFilterRequest(f)
				rf := kmsg.NewDeleteACLsRequestFilter()
				rf.ResourceType, rf.ResourceName, rf.ResourcePatternType = d.ResourceType, d.ResourceName, d.ResourcePatternType
				rf.Principal, rf.Host, rf.Operation, rf.PermissionType = d.Principal, d.Host, d.Operation, d.PermissionType
				req.Filters = append(req.Filters, rf)
			}
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return fmt.Errorf("delete ACLs: %w", err)
			}
			var errs []error
			var rows []acl.Binding
			seen := map[acl.Binding]bool{}
			for _, r := range resp.Results {
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("delete ACLs: %w", kafkaerr.WithMessage(err, deref(r.ErrorMessage))))
					continue
				}
				for _, m := range r.MatchingACLs {
					b := acl.Binding{ResourceType: acl.ResourceType(m.ResourceType), ResourceName: m.ResourceName, PatternType: acl.PatternType(m.ResourcePatternType),
						Principal: m.Principal, Host: m.Host, Operation: acl.Operation(m.Operation), Permission: acl.Permission(m.PermissionType)}
					if !seen[b] {
						seen[b] = true
						rows = append(rows, b)
					}
				}
			}
			out := cmd.OutOrStdout()
			for _, b := range rows {
				if _, err := fmt.Fprintf(out, "deleted ACL %s\n", describeBinding(b)); err != nil {
					return err
				}
			}
			if len(rows) == 0 && len(errs) == 0 {
				if _, err := fmt.Fprintln(out, "no ACL matched"); err != nil {
					return err
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}
