package cli

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// newTopicDeleteRecordsCommand is `strata topic delete-records`: the
// DeleteRecords API, as kafka-delete-records.sh.
func newTopicDeleteRecordsCommand(cf *clientFlags) *cobra.Command {
	var partitions []int
	var before int64
	cmd := silence(&cobra.Command{
		Use:   "delete-records NAME --partition P --before OFFSET",
		Short: "Delete the records of partitions below an offset (raise their log start offset)",
		Long: `Delete the records of the given partitions below OFFSET by raising each
partition's log start offset, as kafka-delete-records.sh does. --before -1
means the high watermark (everything committed). The command waits until
every in-sync follower has deleted them too, up to --timeout. Topics whose
cleanup.policy does not include delete refuse (POLICY_VIOLATION).`,
		Args: cobra.ExactArgs(1),
	})
	cmd.Flags().IntSliceVar(&partitions, "partition", nil, "partition to delete from (repeatable, or comma separated)")
	cmd.Flags().Int64Var(&before, "before", 0, "delete records below this offset (-1: the high watermark)")
	_ = cmd.MarkFlagRequired("partition")
	_ = cmd.MarkFlagRequired("before")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if before < -1 {
			return fmt.Errorf("--before must be an offset or -1, got %d", before)
		}
		offsets := make(kadm.Offsets)
		for _, p := range partitions {
			if p < 0 || p > math.MaxInt32 {
				return fmt.Errorf("--partition must be a partition number, got %d", p)
			}
			offsets.Add(kadm.Offset{Topic: name, Partition: int32(p), At: before})
		}
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			resps, err := adm.DeleteRecords(ctx, offsets)
			if err != nil {
				return topicError(name, fmt.Errorf("delete records: %w", err))
			}
			var errs []error
			out := cmd.OutOrStdout()
			for _, p := range partitions {
				r, ok := resps.Lookup(name, int32(p))
				switch {
				case !ok:
					errs = append(errs, topicError(name, fmt.Errorf("partition %d: %w", p, errors.New("missing from the DeleteRecords response"))))
				case r.Err != nil:
					errs = append(errs, topicError(name, fmt.Errorf("partition %d: %w", p, r.Err)))
				default:
					if _, err := fmt.Fprintf(out, "partition %d: log start offset now %d\n", p, r.LowWatermark); err != nil {
						return err
					}
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}
