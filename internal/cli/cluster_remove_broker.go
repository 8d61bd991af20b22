package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/kafkaerr"
)

// newClusterRemoveBrokerCommand is `cluster remove-broker ID`: what
// kafka-cluster.sh unregister does (UnregisterBroker), with a guard
// against removing a broker that is still alive.
func newClusterRemoveBrokerCommand(cf *clientFlags) *cobra.Command {
	var force bool
	cmd := silence(&cobra.Command{
		Use:   "remove-broker ID",
		Short: "Unregister a broker that is gone for good",
		Long: `Unregister a broker that is gone for good (Kafka's UnregisterBroker, as
kafka-cluster.sh unregister does). The broker disappears from the cluster
metadata; its leaderships move to other replicas and it leaves the ISRs.
A broker-only node also leaves the metadata quorum, so the controllers stop
replicating to it. A node that is also a controller stays a quorum voter.

Partitions keep the broker in their replica lists until they are
reassigned (strata topic reassign). A broker that starts again with the
same id registers again.

Stop the broker first: a running broker registers again at its next
heartbeat. --force unregisters an alive (unfenced) broker anyway.`,
		Args: cobra.ExactArgs(1),
	})
	cmd.Flags().BoolVar(&force, "force", false, "unregister the broker even if it is alive (it registers again at its next heartbeat)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := strconv.ParseInt(strings.TrimSpace(args[0]), 10, 32)
		if err != nil || id < 0 {
			return fmt.Errorf("broker id must be a non-negative integer, got %q", args[0])
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			return removeBroker(ctx, cmd.OutOrStdout(), cl, adm, int32(id), force)
		})
	}
	return cmd
}

func removeBroker(ctx context.Context, w io.Writer, cl *kgo.Client, adm *kadm.Client, id int32, force bool) error {
	before := clusterStatus{ActiveController: -1}
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.IncludeFencedBrokers = true
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("describe cluster: %w", err)
	}
	if err := kerr.ErrorForCode(dresp.ErrorCode); err != nil {
		return fmt.Errorf("describe cluster: %w", kafkaerr.WithMessage(err, derefString(dresp.ErrorMessage)))
	}
	alive := false
	for _, b := range dresp.Brokers {
		alive = alive || b.NodeID == id && !b.IsFenced
	}
	if alive && !force {
		return fmt.Errorf("broker %d is alive (registered and not fenced): stop it first, or pass --force (a running broker registers again at its next heartbeat)", id)
	}
	readQuorum(ctx, cl, &before)

	if err := unregisterBroker(ctx, cl, id); err != nil {
		return err
	}
	fmt.Fprintf(w, "Broker %d unregistered.\n", id)

	after := clusterStatus{ActiveController: -1}
	readQuorum(ctx, cl, &after)
	if alive {
		fmt.Fprintf(w, "Broker %d was alive: it registers again at its next heartbeat.\n", id)
	}
	switch {
	case slices.Contains(before.Controllers, id):
		fmt.Fprintf(w, "Node %d stays a controller (metadata quorum voter): Strata does not change the voter set.\n", id)
	case alive:
		// It may already be back in the quorum: registering adds it.
	case slices.Contains(after.Observers, id):
		return fmt.Errorf("broker %d is unregistered but still listed as a metadata quorum observer; run the command again", id)
	case slices.Contains(before.Observers, id):
		fmt.Fprintf(w, "Node %d left the metadata quorum (it was an observer).\n", id)
	}

	md, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	n := 0
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			if slices.Contains(p.Replicas, id) {
				n++
			}
		}
	}
	switch {
	case n == 1:
		_, err = fmt.Fprintf(w, "1 partition still lists broker %d as a replica; move it with strata topic reassign.\n", id)
	case n > 1:
		_, err = fmt.Fprintf(w, "%d partitions still list broker %d as a replica; move them with strata topic reassign.\n", n, id)
	}
	return err
}

// unregisterBroker sends UnregisterBroker, retrying while the controller
// changes (NOT_CONTROLLER, REQUEST_TIMED_OUT) until ctx ends.
func unregisterBroker(ctx context.Context, cl *kgo.Client, id int32) error {
	for tries := 1; ; tries++ {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("unregister broker %d: %w", id, err)
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kerr.BrokerIDNotRegistered):
			return fmt.Errorf("broker %d is not registered: %w", id, kafkaerr.WithMessage(err, derefString(resp.ErrorMessage)))
		case errors.Is(err, kerr.NotController), errors.Is(err, kerr.RequestTimedOut):
			timer := time.NewTimer(retryBackoff(tries))
			select {
			case <-timer.C:
				continue
			case <-ctx.Done():
				timer.Stop()
			}
		}
		return fmt.Errorf("unregister broker %d: %w", id, kafkaerr.WithMessage(err, derefString(resp.ErrorMessage)))
	}
}
