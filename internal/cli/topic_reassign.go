package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strata-io/strata/internal/kafkaerr"
)

// newTopicReassignCommand moves one partition to other brokers
// (AlterPartitionReassignments), optionally waiting until the move is
// complete (ListPartitionReassignments shows nothing for it).
func newTopicReassignCommand(cf *clientFlags) *cobra.Command {
	var (
		partition int
		replicas  string
		cancel    bool
		wait      bool
	)
	cmd := silence(&cobra.Command{
		Use:   "reassign NAME --partition P (--replicas 3,2,1 | --cancel)",
		Short: "Move a partition to other brokers; the new replicas catch up by fetching",
		Args:  cobra.ExactArgs(1),
	})
	cmd.Flags().IntVar(&partition, "partition", -1, "the partition to move")
	cmd.Flags().StringVar(&replicas, "replicas", "", "the target broker ids, preferred leader first")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the partition's ongoing reassignment")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the reassignment completes")
	_ = cmd.MarkFlagRequired("partition")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if partition < 0 || partition > math.MaxInt32 {
			return fmt.Errorf("--partition must be a partition id, got %d", partition)
		}
		var target []int32
		switch {
		case cancel && replicas != "":
			return errors.New("give either --replicas or --cancel")
		case cancel:
		case replicas == "":
			return errors.New("--replicas is required (or --cancel)")
		default:
			for _, s := range strings.Split(replicas, ",") {
				id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				if err != nil || id < 0 {
					return fmt.Errorf("--replicas %q: %q is not a broker id", replicas, s)
				}
				target = append(target, int32(id))
			}
		}
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			var req kadm.AlterPartitionAssignmentsReq
			req.Assign(name, int32(partition), target)
			resps, err := adm.AlterPartitionAssignments(ctx, req)
			if err != nil {
				return topicError(name, err)
			}
			resp, ok := resps[name][int32(partition)]
			if !ok {
				return topicError(name, errors.New("missing from the AlterPartitionReassignments response"))
			}
			if resp.Err != nil {
				return topicError(name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage))
			}
			out := cmd.OutOrStdout()
			if cancel {
				_, err := fmt.Fprintf(out, "reassignment of %s-%d cancelled\n", name, partition)
				return err
			}
			fmt.Fprintf(out, "reassignment of %s-%d to %v started\n", name, partition, target)
			if !wait {
				return nil
			}
			for {
				l, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{name: {int32(partition): {}}})
				if err != nil {
					return topicError(name, err)
				}
				if len(l.Sorted()) == 0 {
					_, err := fmt.Fprintf(out, "reassignment of %s-%d complete\n", name, partition)
					return err
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("reassignment of %s-%d still in progress: %w", name, partition, ctx.Err())
				case <-time.After(200 * time.Millisecond):
				}
			}
		})
	}
	return cmd
}
