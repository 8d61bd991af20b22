package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/kafkaerr"
)

func newTopicCommand() *cobra.Command {
	cmd, cf := newParentCommand("topic", "Create, list, describe, delete and grow topics, and delete their records",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(
		newTopicCreateCommand(cf),
		newTopicListCommand(cf),
		newTopicDescribeCommand(cf),
		newTopicDeleteCommand(cf),
		newTopicAlterPartitionsCommand(cf),
		newTopicReassignCommand(cf),
		newTopicDeleteRecordsCommand(cf),
	)
	return cmd
}

// withAdmin runs fn with an admin client and a context bounded by --timeout,
// then closes the client.
func withAdmin(cmd *cobra.Command, cf *clientFlags, fn func(ctx context.Context, adm *kadm.Client) error) error {
	return withClients(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
		return fn(ctx, adm)
	})
}

// withClients is withAdmin for commands that also send raw requests through
// the kgo client under the admin client.
func withClients(cmd *cobra.Command, cf *clientFlags, fn func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error) error {
	cl, err := cf.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(cf.timeout.Milliseconds(), math.MaxInt32)))
	ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
	defer cancel()
	return cf.explainTimeout(fn(ctx, cl, adm))
}

func newTopicCreateCommand(cf *clientFlags) *cobra.Command {
	var (
		partitions        int32
		replicationFactor int16
		configs           []string
		ifNotExists       bool
	)
	cmd := silence(&cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Args:  cobra.ExactArgs(1),
	})
	cmd.Flags().Int32Var(&partitions, "partitions", -1, "number of partitions (-1: broker default)")
	cmd.Flags().Int16Var(&replicationFactor, "replication-factor", -1, "replicas per partition (-1: broker default)")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "topic config override key=value (repeatable)")
	cmd.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed when the topic already exists")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if partitions == 0 || partitions < -1 {
			return fmt.Errorf("--partitions must be positive or -1, got %d", partitions)
		}
		if replicationFactor == 0 || replicationFactor < -1 {
			return fmt.Errorf("--replication-factor must be positive or -1, got %d", replicationFactor)
		}
		cfgs := make(map[string]*string, len(configs))
		for _, c := range configs {
			k, v, err := splitKeyValue("config", c)
			if err != nil {
				return err
			}
			if _, dup := cfgs[k]; dup {
				return fmt.Errorf("--config %q given twice", k)
			}
			cfgs[k] = kadm.StringPtr(v)
		}
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			resps, err := adm.CreateTopics(ctx, partitions, replicationFactor, cfgs, name)
			if err != nil {
				return topicError(name, err)
			}
			resp, ok := resps[name]
			if !ok {
				return topicError(name, errors.New("missing from the CreateTopics response"))
			}
			out := cmd.OutOrStdout()
			if resp.Err != nil {
				if ifNotExists && errors.Is(resp.Err, kerr.TopicAlreadyExists) {
					_, err := fmt.Fprintf(out, "topic %q already exists\n", name)
					return err
				}
				return topicError(name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
			}
			msg := fmt.Sprintf("created topic %q", name)
			if resp.NumPartitions > 0 && resp.ReplicationFactor > 0 {
				msg += fmt.Sprintf(" with %d partitions, replication factor %d", resp.NumPartitions, resp.ReplicationFactor)
			}
			_, err = fmt.Fprintln(out, msg)
			return err
		})
	}
	return cmd
}

func newTopicListCommand(cf *clientFlags) *cobra.Command {
	var internal bool
	cmd := silence(&cobra.Command{
		Use:   "list",
		Short: "List topics with their partition count and replication factor",
		Args:  cobra.NoArgs,
	})
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics such as __consumer_offsets")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			var (
				tds kadm.TopicDetails
				err error
			)
			if internal {
				tds, err = adm.ListTopicsWithInternal(ctx)
			} else {
				tds, err = adm.ListTopics(ctx)
			}
			if err != nil {
				return fmt.Errorf("list topics: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION-FACTOR")
			for _, td := range tds.Sorted() {
				if td.Err != nil {
					fmt.Fprintf(tw, "%s\t-\t-\t%s\n", td.Topic, errorName(td.Err))
					continue
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\n", td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
			}
			return tw.Flush()
		})
	}
	return cmd
}

func newTopicDescribeCommand(cf *clientFlags) *cobra.Command {
	cmd := silence(&cobra.Command{
		Use:   "describe NAME...",
		Short: "Show a topic's ID, config overrides and per-partition leader, replicas, ISR, ELR and offsets",
		Args:  cobra.MinimumNArgs(1),
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := dedupe(args)
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			md, err := adm.Metadata(ctx, names...)
			if err != nil {
				return fmt.Errorf("describe topics: %w", err)
			}
			var errs []error
			var found []string
			for _, name := range names {
				td, ok := md.Topics[name]
				switch {
				case !ok:
					errs = append(errs, topicError(name, kerr.UnknownTopicOrPartition))
				case td.Err != nil:
					errs = append(errs, topicError(name, td.Err))
				default:
					found = append(found, name)
				}
			}
			if len(found) == 0 {
				return joinLine(errs)
			}
			configs, err := adm.DescribeTopicConfigs(ctx, found...)
			if err != nil {
				return fmt.Errorf("describe topic configs: %w", err)
			}
			// NB: a partition without a leader has no offsets to list; it is
			// described anyway, its offsets shown as "-".
			var shardErrs *kadm.ShardErrors
			starts, err := adm.ListStartOffsets(ctx, found...)
			if err != nil && !errors.As(err, &shardErrs) {
				return fmt.Errorf("list log start offsets: %w", err)
			}
			ends, err := adm.ListEndOffsets(ctx, found...)
			if err != nil && !errors.As(err, &shardErrs) {
				return fmt.Errorf("list high watermarks: %w", err)
			}
			elr, err := describeELR(ctx, cl, found)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, name := range found {
				rc, cerr := configs.On(name, nil)
				if cerr == nil && rc.Err != nil {
					cerr = kafkaerr.WithMessage(rc.Err, rc.ErrMessage)
				}
				if cerr != nil {
					errs = append(errs, topicError(name, fmt.Errorf("describe configs: %w", cerr)))
					continue
				}
				if err := writeTopicDescription(out, md.Topics[name], rc.Configs, starts, ends, elr); err != nil {
					return err
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}

// partitionELR is a partition's KIP-966 eligible leader replicas and last
// known ELR, from DescribeTopicPartitions.
type partitionELR struct{ elr, lastKnown []int32 }

// describeELR asks for the ELR of every partition of topics with
// DescribeTopicPartitions, following its cursor. It returns nil, without
// an error, when the broker does not serve the API (the description then
// has no ELR columns, as kafka-topics.sh prints for such brokers).
func describeELR(ctx context.Context, cl *kgo.Client, topics []string) (map[string]map[int32]partitionELR, error) {
	out := map[string]map[int32]partitionELR{}
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	for _, t := range topics {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = t
		req.Topics = append(req.Topics, rt)
	}
	// A broker answers at most a few thousand partitions at once; a cursor
	// that does not move would loop forever, so the pages are bounded.
	for page := 0; page < 100000; page++ {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			// NB: kgo refuses a request the broker does not advertise with
			// an unexported "broker is too old" error.
			if errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "too old") {
				return nil, nil
			}
			return nil, fmt.Errorf("describe topic partitions: %w", err)
		}
		for _, rt := range resp.Topics {
			if rt.Topic == nil || rt.ErrorCode != 0 {
				continue
			}
			ps := out[*rt.Topic]
			if ps == nil {
				ps = map[int32]partitionELR{}
				out[*rt.Topic] = ps
			}
			for _, p := range rt.Partitions {
				ps[p.Partition] = partitionELR{elr: p.EligibleLeaderReplicas, lastKnown: p.LastKnownELR}
			}
		}
		c := resp.NextCursor
		if c == nil {
			return out, nil
		}
		if req.Cursor != nil && req.Cursor.Topic == c.Topic && req.Cursor.Partition == c.Partition {
			return nil, fmt.Errorf("describe topic partitions: the cursor %s-%d does not move", c.Topic, c.Partition)
		}
		req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: c.Topic, Partition: c.Partition}
	}
	return nil, errors.New("describe topic partitions: too many pages")
}

// writeTopicDescription prints one topic in the layout of kafka-topics.sh
// --describe: a topic line, then one tab-indented line per partition. With
// elr (nil when the broker cannot say), each partition line shows its
// eligible leader replicas and last known ELR (KIP-966) after the ISR.
func writeTopicDescription(w io.Writer, td kadm.TopicDetail, configs []kadm.Config, starts, ends kadm.ListedOffsets, elr map[string]map[int32]partitionELR) error {
	var overrides []string
	for _, c := range configs {
		// Only topic-level overrides: broker-wide settings are not a
		// property of this topic.
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		overrides = append(overrides, c.Key+"="+v)
	}
	slices.Sort(overrides)
	if _, err := fmt.Fprintf(w, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
		td.Topic, topicIDString(td.ID), len(td.Partitions), td.Partitions.NumReplicas(), strings.Join(overrides, ",")); err != nil {
		return err
	}
	for _, p := range td.Partitions.Sorted() {
		elrCols := ""
		if elr != nil {
			e := elr[td.Topic][p.Partition]
			elrCols = fmt.Sprintf("\tElr: %s\tLastKnownElr: %s", joinInt32s(e.elr), joinInt32s(e.lastKnown))
		}
		line := fmt.Sprintf("\tPartition: %d\tLeader: %d\tLeaderEpoch: %d\tReplicas: %s\tIsr: %s%s\tOffline: %s\tLogStartOffset: %s\tHighWatermark: %s",
			p.Partition, p.Leader, p.LeaderEpoch, joinInt32s(p.Replicas), joinInt32s(p.ISR), elrCols, joinInt32s(p.OfflineReplicas),
			listedOffset(starts, td.Topic, p.Partition), listedOffset(ends, td.Topic, p.Partition))
		if p.Err != nil {
			line += "\tError: " + errorName(p.Err)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// topicIDString prints a topic ID as Kafka does (Uuid.toString): URL-safe
// base64 without padding.
func topicIDString(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// listedOffset prints an offset from a ListOffsets answer, or "-" plus the
// error name when the partition had none.
func listedOffset(l kadm.ListedOffsets, topic string, partition int32) string {
	o, ok := l.Lookup(topic, partition)
	switch {
	case !ok:
		return "-"
	case o.Err != nil:
		return "-(" + errorName(o.Err) + ")"
	default:
		return strconv.FormatInt(o.Offset, 10)
	}
}

// errorName is the protocol name of a Kafka error, or its text otherwise.
func errorName(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}

func joinInt32s(is []int32) string {
	parts := make([]string, len(is))
	for i, v := range is {
		parts[i] = strconv.FormatInt(int64(v), 10)
	}
	return strings.Join(parts, ",")
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func newTopicDeleteCommand(cf *clientFlags) *cobra.Command {
	cmd := silence(&cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics",
		Args:  cobra.MinimumNArgs(1),
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := dedupe(args)
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			resps, err := adm.DeleteTopics(ctx, names...)
			if err != nil {
				return fmt.Errorf("delete topics: %w", err)
			}
			var errs []error
			out := cmd.OutOrStdout()
			for _, name := range names {
				resp, ok := resps[name]
				switch {
				case !ok:
					errs = append(errs, topicError(name, errors.New("missing from the DeleteTopics response")))
				case resp.Err != nil:
					errs = append(errs, topicError(name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage)))
				default:
					if _, err := fmt.Fprintf(out, "deleted topic %q\n", name); err != nil {
						return err
					}
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}

func newTopicAlterPartitionsCommand(cf *clientFlags) *cobra.Command {
	var partitions int
	cmd := silence(&cobra.Command{
		Use:   "alter-partitions NAME --partitions N",
		Short: "Raise a topic's partition count to N",
		Args:  cobra.ExactArgs(1),
	})
	cmd.Flags().IntVar(&partitions, "partitions", 0, "the new total partition count (must exceed the current one)")
	_ = cmd.MarkFlagRequired("partitions")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if partitions <= 0 || partitions > math.MaxInt32 {
			return fmt.Errorf("--partitions must be positive, got %d", partitions)
		}
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			resps, err := adm.UpdatePartitions(ctx, partitions, name)
			if err != nil {
				return topicError(name, err)
			}
			resp, ok := resps[name]
			if !ok {
				return topicError(name, errors.New("missing from the CreatePartitions response"))
			}
			if resp.Err != nil {
				return topicError(name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "topic %q now has %d partitions\n", name, partitions)
			return err
		})
	}
	return cmd
}
