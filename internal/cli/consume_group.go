package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// --group-protocol values, named as Kafka's group.protocol setting.
const (
	groupProtocolClassic  = "classic"
	groupProtocolConsumer = "consumer"
)

// groupOptions turns --group-protocol and --balancer into kgo options.
func groupOptions(cf *consumeFlags) ([]kgo.Opt, error) {
	var balancer kgo.GroupBalancer
	switch cf.balancer {
	case "cooperative-sticky":
		balancer = kgo.CooperativeStickyBalancer()
	case "sticky":
		balancer = kgo.StickyBalancer()
	case "range":
		balancer = kgo.RangeBalancer()
	case "roundrobin":
		balancer = kgo.RoundRobinBalancer()
	default:
		return nil, fmt.Errorf("--balancer %q: want cooperative-sticky, sticky, range or roundrobin", cf.balancer)
	}
	opts := []kgo.Opt{kgo.Balancers(balancer)}
	switch cf.groupProtocol {
	case groupProtocolClassic:
	case groupProtocolConsumer:
		// kgo picks the broker's assignor from the first balancer:
		// the sticky ones mean "uniform", range means "range".
		if cf.balancer == "roundrobin" {
			return nil, errors.New("--balancer roundrobin: with --group-protocol consumer the broker assigns; want sticky or cooperative-sticky (its uniform assignor) or range")
		}
		opts = append(opts, kgo.ServerSideBalancer())
	default:
		return nil, fmt.Errorf("--group-protocol %q: want classic or consumer", cf.groupProtocol)
	}
	return opts, nil
}

// fatalGroupError reports whether a group-management error will not heal by
// rejoining, so consume --group should stop with it rather than warn.
func fatalGroupError(err error) bool {
	for _, fatal := range []error{
		kerr.GroupAuthorizationFailed,
		kerr.TopicAuthorizationFailed,
		kerr.InvalidGroupID,
		kerr.InconsistentGroupProtocol,
		kerr.UnsupportedAssignor,
		kerr.GroupMaxSizeReached,
		kerr.UnsupportedVersion,
	} {
		if errors.Is(err, fatal) {
			return true
		}
	}
	return false
}

// clusterSupports reports whether every broker that answers ApiVersions
// supports the request key at version minVersion or above.
func clusterSupports(ctx context.Context, adm *kadm.Client, key kmsg.Key, minVersion int16) (bool, error) {
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("api versions: %w", err)
	}
	var answered int
	var lastErr error
	for _, v := range vs {
		if v.Err != nil {
			lastErr = v.Err
			continue
		}
		answered++
		if maxV, ok := v.KeyMaxVersion(int16(key)); !ok || maxV < minVersion {
			return false, nil
		}
	}
	if answered == 0 {
		return false, fmt.Errorf("api versions: no broker answered: %w", lastErr)
	}
	return true, nil
}

// resolveGroupConsume looks up the topic's partitions and offsets and the
// group's committed offsets, and returns per partition where this group
// will resume (its committed offset when that is in the log, else where the
// reset policy puts it) and the start-time high watermark.
func resolveGroupConsume(cmd *cobra.Command, client *clientFlags, cf *consumeFlags, topic string) (map[int32]consumeRange, error) {
	cl, err := client.newClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(cmd.Context(), client.timeout)
	defer cancel()

	if cf.groupProtocol == groupProtocolConsumer {
		// NB: kgo quietly joins with the classic protocol when the
		// cluster lacks KIP-848; asking for it explicitly deserves an
		// error instead.
		ok, err := clusterSupports(ctx, adm, kmsg.ConsumerGroupHeartbeat, 1)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errors.New("--group-protocol consumer: the cluster does not support KIP-848 consumer groups (no ConsumerGroupHeartbeat v1); use --group-protocol classic")
		}
	}
	ranges, err := lookupConsumeRanges(ctx, cmd, adm, cf, topic, false, 0)
	if err != nil {
		return nil, err
	}
	committed, err := committedOffsets(ctx, adm, cf.group)
	if err != nil {
		return nil, groupError(cf.group, err)
	}
	for p, r := range ranges {
		c, ok := committed.Lookup(topic, p)
		if !ok || c.Err != nil {
			continue
		}
		// Outside the log kgo applies the reset policy, which is where
		// lookupConsumeRanges already put r.start.
		if c.At >= r.logStart && c.At <= r.end {
			r.start = c.At
			ranges[p] = r
		}
	}
	return ranges, nil
}

func runGroupConsume(cmd *cobra.Command, client *clientFlags, cf *consumeFlags, topic string, format recordFormat, level kgo.IsolationLevel) error {
	opts, err := groupOptions(cf)
	if err != nil {
		return err
	}
	ranges, err := resolveGroupConsume(cmd, client, cf, topic)
	if err != nil {
		return client.explainTimeout(err)
	}

	ctx, stop := context.WithCancel(cmd.Context())
	defer stop()
	var progress *groupProgress
	if cf.exitAtEnd {
		progress = &groupProgress{topic: topic, stop: stop}
		progress.mu.assigned = make(map[int32]bool)
		progress.mu.finished = make(map[int32]bool)
		for p, r := range ranges {
			if r.start >= r.end {
				progress.mu.finished[p] = true
			}
		}
		if len(progress.mu.finished) == len(ranges) {
			return nil // nothing to read before the start-time high watermarks
		}
		opts = append(opts,
			kgo.OnPartitionsAssigned(progress.onAssigned),
			kgo.OnPartitionsRevoked(progress.onRevoked),
			kgo.OnPartitionsLost(progress.onLost),
		)
	}
	reset := kgo.NewOffset().AtStart()
	if !cf.fromBeginning {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(cf.group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(reset),
		// Commit only what was printed: --count and --exit-at-end leave
		// polled records unprinted.
		kgo.AutoCommitMarks(),
		// Rebalances wait while a poll's records are printed and marked,
		// so a revoke commits (by default) exactly what was printed.
		kgo.BlockRebalanceOnPoll(),
		kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(level),
	)
	cl, err := client.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.CloseAllowingRebalance()
	if progress != nil {
		var done []int32
		for p := range progress.mu.finished {
			done = append(done, p)
		}
		// Not yet assigned, but pausing holds for whenever they are.
		cl.PauseFetchPartitions(map[string][]int32{topic: done})
	}

	out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	c := &consumer{
		cl:        cl,
		rw:        newRecordWriter(out, format, cf.json),
		out:       out,
		errOut:    cmd.ErrOrStderr(),
		topic:     topic,
		group:     cf.group,
		progress:  progress,
		remaining: cf.count,
		limited:   cf.count > 0,
		exitAtEnd: cf.exitAtEnd,
		ranges:    ranges,
	}
	loopErr := c.consumeLoop(ctx)

	// The final commit runs even when the command was interrupted.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), client.timeout)
	defer cancel()
	if err := cl.CommitMarkedOffsets(commitCtx); err != nil && loopErr == nil {
		loopErr = groupError(cf.group, client.explainTimeout(fmt.Errorf("commit offsets: %w", err)))
	}
	return loopErr
}

// groupProgress is consume --group --exit-at-end's view of which partitions
// this member owns and which reached their start-time high watermark. The
// poll loop and kgo's rebalance callbacks (run on kgo's goroutines) share
// it.
type groupProgress struct {
	topic string             // set at construction, never changed
	stop  context.CancelFunc // ends the poll loop; set at construction, never changed

	mu struct {
		sync.Mutex
		assigned map[int32]bool // partitions this member owns now
		finished map[int32]bool // partitions at their end; never unset
	}
}

func (gp *groupProgress) isFinished(p int32) bool {
	gp.mu.Lock()
	defer gp.mu.Unlock()
	return gp.mu.finished[p]
}

// finish marks p done and reports whether every owned partition is.
func (gp *groupProgress) finish(p int32) bool {
	gp.mu.Lock()
	defer gp.mu.Unlock()
	gp.mu.finished[p] = true
	return gp.doneLocked()
}

// doneLocked reports whether this member owns partitions and all of them
// are at their end.
func (gp *groupProgress) doneLocked() bool {
	if len(gp.mu.assigned) == 0 {
		return false
	}
	for p := range gp.mu.assigned {
		if !gp.mu.finished[p] {
			return false
		}
	}
	return true
}

func (gp *groupProgress) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	gp.mu.Lock()
	for _, p := range assigned[gp.topic] {
		gp.mu.assigned[p] = true
	}
	done := gp.doneLocked()
	gp.mu.Unlock()
	if done {
		// Every partition we got was at its end already: no record
		// will arrive to end the poll loop.
		gp.stop()
	}
}

func (gp *groupProgress) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	// Setting a revoke callback replaces kgo's default one, which
	// commits what was marked; do the same. NB: an error here is not
	// reported: the member is handing the partitions over and at worst
	// their new owner re-reads what we printed since the last commit.
	_ = cl.CommitMarkedOffsets(ctx)
	gp.forget(revoked)
}

func (gp *groupProgress) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	gp.forget(lost)
}

func (gp *groupProgress) forget(partitions map[string][]int32) {
	gp.mu.Lock()
	defer gp.mu.Unlock()
	for _, p := range partitions[gp.topic] {
		delete(gp.mu.assigned, p)
	}
}
