//go:build robustness

package robustness

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"
)

const (
	// resumeBound: after a heal, a write and a read on every partition of
	// the probe topic must succeed within this.
	resumeBound = 60 * time.Second
	// healthyBound: after a heal, every node must be back in every ISR
	// within this before the next fault.
	healthyBound = 90 * time.Second
)

// round injects one fault and heals it. It returns when the fault is
// healed (the time writes are measured from) and whether the fault, by
// design, stopped writes for its whole length (then its length is
// allowed on top of the unavailability bound).
type round func(ctx context.Context, rec recorder) (healed time.Time, blocking time.Duration, err error)

// loop runs rounds until the fault window closes: before each one the
// cluster is healthy; after each heal writes and reads must resume within
// resumeBound and every ISR must be full again within healthyBound.
func (r *chaosRun) loop(ctx context.Context, rec recorder, next round) error {
	bg := context.WithoutCancel(ctx)
	if err := r.c.waitHealthy(bg, healthyBound, r.topic, r.probe); err != nil {
		return fmt.Errorf("before the first fault: %w", err)
	}
	r.hold(ctx, r.between(time.Second, 3*time.Second))
	for ctx.Err() == nil && time.Now().Before(r.faultsEnd) {
		healed, blocking, err := next(ctx, rec)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// The load ended while the round looked for its target;
			// rounds heal whatever they did before they return.
			return nil
		}
		if err != nil {
			return err
		}
		if err := r.recovered(bg, healed, blocking); err != nil {
			return err
		}
		r.hold(ctx, r.between(500*time.Millisecond, 2*time.Second))
	}
	return nil
}

// recovered probes until writes and reads work again, then waits for full
// ISRs, and records the resume time.
func (r *chaosRun) recovered(ctx context.Context, healed time.Time, blocking time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, resumeBound)
	err := r.prober.probe(pctx)
	cancel()
	resumed := time.Since(healed)
	if err != nil {
		return fmt.Errorf("writes and reads did not resume within %v of the heal: %w", resumeBound, err)
	}
	r.mu.Lock()
	r.maxResume = max(r.maxResume, resumed)
	r.longestBlocking = max(r.longestBlocking, blocking)
	r.mu.Unlock()
	r.logf("writes and reads resumed %v after the heal", resumed.Round(time.Millisecond))
	if err := r.c.waitHealthy(ctx, healthyBound, r.topic, r.probe); err != nil {
		return fmt.Errorf("after the heal: %w", err)
	}
	return nil
}

// begin records a fault window with verify's recorder and in the test log.
func (r *chaosRun) begin(rec recorder, name string) (end func()) {
	r.mu.Lock()
	r.faults++
	r.mu.Unlock()
	r.logf("fault: %s", name)
	stop := rec.Begin(name)
	return func() {
		stop()
		r.logf("healed: %s", name)
	}
}

func (r *chaosRun) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// hold waits d or until ctx ends.
func (r *chaosRun) hold(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// between is a random duration in [lo, hi).
func (r *chaosRun) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)))
}

// randomLeader picks a random partition of the workload topic and returns
// its leader.
func (r *chaosRun) randomLeader(ctx context.Context) (*node, int32, error) {
	var n *node
	var part int32
	err := poll(ctx, "a leader of the workload topic", 30*time.Second, func(ctx context.Context) (bool, error) {
		st, err := r.c.topicState(ctx, r.topic)
		if err != nil {
			return false, err
		}
		part = int32(r.rng.IntN(len(st)))
		if l := st[part].leader; l > 0 {
			n = r.c.node(l)
			return true, nil
		}
		return false, fmt.Errorf("%s[%d] has no leader", r.topic, part)
	})
	return n, part, err
}

func (r *chaosRun) activeController(ctx context.Context) (*node, error) {
	var n *node
	err := poll(ctx, "the active controller", 30*time.Second, func(ctx context.Context) (bool, error) {
		id, err := r.c.activeController(ctx)
		if err != nil {
			return false, err
		}
		n = r.c.node(id)
		return true, nil
	})
	return n, err
}

func (r *chaosRun) others(n *node) []int {
	var o []int
	for _, m := range r.c.nodes {
		if m != n {
			o = append(o, m.idx)
		}
	}
	return o
}

// killAndRestart SIGKILLs n, keeps it down for a while, and starts it again.
func (r *chaosRun) killAndRestart(ctx context.Context, rec recorder, n *node, why string) (time.Time, time.Duration, error) {
	end := r.begin(rec, fmt.Sprintf("SIGKILL %v (%s)", n, why))
	n.kill()
	r.hold(ctx, r.between(time.Second, 4*time.Second))
	err := n.restart("")
	end()
	return time.Now(), 0, err
}

// leaderKill: SIGKILL the leader of a random partition, restart it.
func leaderKill(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		n, p, err := r.randomLeader(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		return r.killAndRestart(ctx, rec, n, fmt.Sprintf("leader of %s[%d]", r.topic, p))
	})
}

// controllerKill: SIGKILL the active controller (the metadata quorum's
// leader), restart it.
func controllerKill(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		n, err := r.activeController(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		return r.killAndRestart(ctx, rec, n, "active controller")
	})
}

// doubleFailover: SIGKILL a partition's leader and, as soon as another
// replica leads, that one too, before the followers caught up; then
// restart both. Two of three nodes down stops writes (min.insync.replicas
// 2) and the metadata quorum until one returns.
func doubleFailover(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		first, p, err := r.randomLeader(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		end := r.begin(rec, fmt.Sprintf("SIGKILL %v (leader of %s[%d]), then its successor", first, r.topic, p))
		first.kill()
		var second *node
		err = poll(context.WithoutCancel(ctx), fmt.Sprintf("a new leader of %s[%d]", r.topic, p), 30*time.Second, func(ctx context.Context) (bool, error) {
			l, err := r.c.leaderOf(ctx, r.topic, p)
			if err != nil {
				return false, err
			}
			if l == first.id {
				return false, fmt.Errorf("still led by %v", first)
			}
			second = r.c.node(l)
			return true, nil
		})
		if err != nil {
			first.restart("")
			end()
			return time.Time{}, 0, err
		}
		second.kill()
		bothDown := time.Now()
		r.logf("SIGKILL %v, the new leader of %s[%d]", second, r.topic, p)
		r.hold(ctx, r.between(time.Second, 3*time.Second))
		nodes := []*node{first, second}
		if r.rng.IntN(2) == 0 {
			nodes[0], nodes[1] = second, first
		}
		// The first restart ends the blocking part; the second may
		// follow while the first catches up.
		var errs []error
		errs = append(errs, nodes[0].restart(""))
		blocking := time.Since(bothDown)
		r.hold(ctx, r.between(0, 2*time.Second))
		errs = append(errs, nodes[1].restart(""))
		end()
		return time.Now(), blocking, errors.Join(errs...)
	})
}

// leaderOrController picks a partition's leader, or one time in three the
// active controller, and says which it is.
func (r *chaosRun) leaderOrController(ctx context.Context) (*node, string, error) {
	if r.rng.IntN(3) == 0 {
		c, err := r.activeController(ctx)
		return c, "active controller", err
	}
	l, p, err := r.randomLeader(ctx)
	return l, fmt.Sprintf("leader of %s[%d]", r.topic, p), err
}

// leaderPause: SIGSTOP a partition's leader (or now and then the active
// controller) for longer than the broker session timeout, then SIGCONT.
// When it wakes it is a zombie: it must not acknowledge anything that its
// successor does not have.
func leaderPause(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		n, why, err := r.leaderOrController(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		d := sessionTimeout + r.between(time.Second, 4*time.Second)
		end := r.begin(rec, fmt.Sprintf("SIGSTOP %v (%s) for %v", n, why, d.Round(time.Millisecond)))
		err = n.pause()
		r.hold(ctx, d)
		err = errors.Join(err, n.resume())
		end()
		return time.Now(), 0, err
	})
}

// leaderIsolated: cut a partition's leader off from every other node, both
// ways, but not from the clients, for longer than the session timeout.
func leaderIsolated(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		n, p, err := r.randomLeader(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		d := sessionTimeout + r.between(2*time.Second, 5*time.Second)
		end := r.begin(rec, fmt.Sprintf("isolate %v (leader of %s[%d]) from its peers, not from clients, for %v", n, r.topic, p, d.Round(time.Millisecond)))
		err = r.c.nw.partition([]int{n.idx}, r.others(n))
		r.hold(ctx, d)
		err = errors.Join(err, r.c.nw.heal())
		end()
		return time.Now(), 0, err
	})
}

// asymmetricPartition: a partition's leader A loses the ability to reach
// one peer, or every peer, while they still reach it; or the other way
// round (no one reaches A, A reaches everyone). Connections are refused at
// the receiver's listener ports (see refuseConnectionsFrom).
func asymmetricPartition(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		a, p, err := r.randomLeader(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		others := r.others(a)
		d := sessionTimeout + r.between(2*time.Second, 5*time.Second)
		var what string
		switch r.rng.IntN(3) {
		case 0:
			b := others[r.rng.IntN(len(others))]
			what = fmt.Sprintf("%v (leader of %s[%d]) cannot reach node %d; node %d reaches it", a, r.topic, p, b+1, b+1)
			err = r.c.nw.refuseConnectionsFrom(b, a.idx)
		case 1:
			what = fmt.Sprintf("%v (leader of %s[%d]) reaches no peer; every peer reaches it", a, r.topic, p)
			for _, b := range others {
				err = errors.Join(err, r.c.nw.refuseConnectionsFrom(b, a.idx))
			}
		default:
			what = fmt.Sprintf("no peer reaches %v (leader of %s[%d]); it reaches every peer", a, r.topic, p)
			for _, b := range others {
				err = errors.Join(err, r.c.nw.refuseConnectionsFrom(a.idx, b))
			}
		}
		end := r.begin(rec, fmt.Sprintf("%s, for %v", what, d.Round(time.Millisecond)))
		r.hold(ctx, d)
		err = errors.Join(err, r.c.nw.heal())
		end()
		return time.Now(), 0, err
	})
}

// quorumSplit: five nodes split into a minority of two and a majority of
// three, with the active controller on a side chosen by the seed. Clients
// reach everyone.
func quorumSplit(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		ctrl, err := r.activeController(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		rest := r.others(ctrl)
		r.rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		var minority, majority []int
		if r.rng.IntN(2) == 0 {
			minority, majority = []int{ctrl.idx, rest[0]}, rest[1:]
		} else {
			minority, majority = rest[:2], append([]int{ctrl.idx}, rest[2:]...)
		}
		slices.Sort(minority)
		slices.Sort(majority)
		d := sessionTimeout + r.between(2*time.Second, 6*time.Second)
		end := r.begin(rec, fmt.Sprintf("split nodes %v | %v (active controller node %d) for %v", ids(minority), ids(majority), ctrl.id, d.Round(time.Millisecond)))
		err = r.c.nw.partition(minority, majority)
		r.hold(ctx, d)
		err = errors.Join(err, r.c.nw.heal())
		end()
		return time.Now(), 0, err
	})
}

func ids(idx []int) []int {
	out := make([]int, len(idx))
	for i, x := range idx {
		out[i] = x + 1
	}
	return out
}

// lossAndJitter: 10% packet loss and 50ms ± 50ms (normal) delay on every
// packet between nodes, in on-off periods. Clients are not affected: only
// packets to the other nodes' addresses are queued.
func lossAndJitter(ctx context.Context, r *chaosRun, rec recorder) error {
	var passed, dropped int64
	err := r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		d := r.between(8*time.Second, 15*time.Second)
		end := r.begin(rec, fmt.Sprintf("10%% loss, 50ms±50ms delay between all nodes for %v", d.Round(time.Millisecond)))
		var queues []*netem
		var err error
		for _, n := range r.c.nodes {
			q, qerr := openNetem(n.ns, 0.10, 50*time.Millisecond, 50*time.Millisecond, r.rng.Uint64())
			if qerr != nil {
				err = qerr
				break
			}
			queues = append(queues, q)
			if qerr := r.c.nw.queueToPeers(n.idx); qerr != nil {
				err = qerr
				break
			}
		}
		if err == nil {
			r.hold(ctx, d)
		}
		// Rules first, so nothing new is queued, then the queues.
		err = errors.Join(err, r.c.nw.heal())
		for _, q := range queues {
			q.Close()
			passed += q.passed.Load()
			dropped += q.dropped.Load()
		}
		end()
		return time.Now(), 0, err
	})
	r.note("netem: %d packets between nodes delayed, %d dropped", passed, dropped)
	if err == nil && (passed == 0 || dropped == 0) {
		err = fmt.Errorf("the loss and delay queues saw %d packets passed, %d dropped: the fault did not happen", passed, dropped)
	}
	return err
}

func needIptables(t *testing.T, r *chaosRun, spec *clusterSpec) {
	requireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("this scenario needs iptables (apt-get install iptables; .ci/run installs it)")
	}
}

// diskFullSetup puts one node's partition logs on a small tmpfs.
func diskFullSetup(t *testing.T, r *chaosRun, spec *clusterSpec) {
	spec.tmpfsLogDir = r.rng.IntN(spec.nodes)
	spec.tmpfsSize = 64 << 20
}

// diskFull fills the tmpfs holding a broker's partition logs with a
// ballast file and waits until the broker has given up on it: with its
// only log directory offline the broker stops, as Kafka's does (the
// leadership of its partitions moves away as for a crash; if it kept
// running with the directory offline, DescribeLogDirs would show it).
// Then it frees the space and starts the broker again.
func diskFull(ctx context.Context, r *chaosRun, rec recorder) error {
	victim := r.c.nodes[r.c.spec.tmpfsLogDir]
	ballast := filepath.Join(victim.tmpfs, "chaos-ballast")
	var effect int
	err := r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		end := r.begin(rec, fmt.Sprintf("fill the disk of %v's log directory", victim))
		err := fill(ballast)
		how := r.waitDiskFullSeen(ctx, victim, 20*time.Second)
		if how != "" {
			effect++
		}
		r.hold(ctx, r.between(time.Second, 3*time.Second))
		err = errors.Join(err, os.Remove(ballast))
		r.logf("freed the disk of %v (%s); starting it again", victim, cmp.Or(how, "no effect seen"))
		err = errors.Join(err, victim.terminate(30*time.Second))
		err = errors.Join(err, victim.restart(""))
		end()
		return time.Now(), 0, err
	})
	if err == nil && effect == 0 {
		err = fmt.Errorf("%v neither stopped nor reported its full log directory offline: the fault did not happen", victim)
	}
	return err
}

// fill writes path until the file system is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, unix.ENOSPC) {
				return nil
			}
			return err
		}
	}
}

// waitDiskFullSeen waits until the node has stopped or reports its log
// directory failed (KAFKA_STORAGE_ERROR in DescribeLogDirs), and says
// which; "" if neither happened within timeout.
func (r *chaosRun) waitDiskFullSeen(ctx context.Context, n *node, timeout time.Duration) string {
	var how string
	poll(ctx, "the full disk to take effect", timeout, func(ctx context.Context) (bool, error) {
		if !n.alive() {
			how = "it stopped"
			return true, nil
		}
		dirs, err := r.c.adm.DescribeBrokerLogDirs(ctx, n.id, nil)
		if err != nil {
			return false, err
		}
		if d, ok := dirs[n.tmpfs]; ok && d.Err != nil {
			how = "its log directory is offline"
			return true, nil
		}
		return false, errors.New("log directory online")
	})
	return how
}

// rollingRestart: SIGTERM each node in turn (a controlled shutdown), start
// it again, wait for full ISRs, next.
func rollingRestart(ctx context.Context, r *chaosRun, rec recorder) error {
	i := r.rng.IntN(len(r.c.nodes))
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		n := r.c.nodes[i%len(r.c.nodes)]
		i++
		end := r.begin(rec, fmt.Sprintf("SIGTERM %v and restart it", n))
		err := n.terminate(30 * time.Second)
		err = errors.Join(err, n.restart(""))
		end()
		return time.Now(), 0, err
	})
}

// rollingUpgradeSetup starts the cluster on the older binary.
func rollingUpgradeSetup(t *testing.T, r *chaosRun, spec *clusterSpec) {
	old, how := olderBinary(t)
	t.Log(how)
	r.note("%s", how)
	spec.binary = old
	r.data["old"] = old
	r.data["new"] = strataBinary(t)
}

// rollingUpgrade restarts each node in turn (SIGTERM) on the newer binary;
// once all run it, it rolls them back to the older one, and so on.
func rollingUpgrade(ctx context.Context, r *chaosRun, rec recorder) error {
	i := r.rng.IntN(len(r.c.nodes))
	upgraded := 0
	target, name := r.data["new"], "upgrade"
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		if upgraded == len(r.c.nodes) {
			upgraded = 0
			if target == r.data["new"] {
				target, name = r.data["old"], "downgrade"
			} else {
				target, name = r.data["new"], "upgrade"
			}
		}
		n := r.c.nodes[i%len(r.c.nodes)]
		i++
		upgraded++
		end := r.begin(rec, fmt.Sprintf("%s %v: SIGTERM, start %s", name, n, filepath.Base(target)))
		err := n.terminate(30 * time.Second)
		err = errors.Join(err, n.restart(target))
		end()
		return time.Now(), 0, err
	})
}

// groupCoordinatorKill: an extra member joins one of the workload's
// consumer groups (subscribed to another topic, so it takes none of the
// workload's partitions but makes the group rebalance), and the group's
// coordinator is SIGKILLed during that rebalance; later the member leaves
// (another rebalance).
func groupCoordinatorKill(ctx context.Context, r *chaosRun, rec recorder) error {
	var mu sync.Mutex
	var members []*kgo.Client
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range members {
			m.Close()
		}
	}()
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		var gs []groupInfo
		err := poll(ctx, "a workload consumer group with members", 30*time.Second, func(ctx context.Context) (bool, error) {
			all, err := r.c.groups(ctx)
			gs = all[:0]
			for _, g := range all {
				if !strings.HasPrefix(g.name, "chaos-churn") {
					gs = append(gs, g)
				}
			}
			return len(gs) > 0, err
		})
		if err != nil {
			return time.Time{}, 0, err
		}
		g := gs[r.rng.IntN(len(gs))]
		coord, err := r.c.coordinatorOf(ctx, g.name, 0)
		if err != nil {
			return time.Time{}, 0, err
		}
		n := r.c.node(coord)
		opts := []kgo.Opt{kgo.SeedBrokers(r.c.seeds()...), kgo.ConsumerGroup(g.name), kgo.ConsumeTopics(r.churn),
			kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
			kgo.RequestTimeoutOverhead(3 * time.Second), kgo.DialTimeout(2 * time.Second)}
		switch {
		case g.typ == "consumer":
			opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
		case g.protocol == "range":
			opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
		case g.protocol == "roundrobin":
			opts = append(opts, kgo.Balancers(kgo.RoundRobinBalancer()))
		case g.protocol == "sticky":
			opts = append(opts, kgo.Balancers(kgo.StickyBalancer()))
		default:
			opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()))
		}
		m, err := kgo.NewClient(opts...)
		if err != nil {
			return time.Time{}, 0, err
		}
		mu.Lock()
		members = append(members, m)
		mu.Unlock()
		pollCtx, stopPolling := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pollCtx.Err() == nil {
				m.PollFetches(pollCtx)
			}
		}()
		end := r.begin(rec, fmt.Sprintf("a member joins %s group %s; SIGKILL its coordinator %v", g.typ, g.name, n))
		r.hold(ctx, r.between(0, time.Second))
		n.kill()
		r.hold(ctx, r.between(time.Second, 4*time.Second))
		err = n.restart("")
		end()
		healed := time.Now()
		r.hold(ctx, r.between(time.Second, 3*time.Second))
		stopPolling()
		wg.Wait()
		mu.Lock()
		members = slices.DeleteFunc(members, func(c *kgo.Client) bool { return c == m })
		mu.Unlock()
		m.Close() // leaves the group
		r.logf("the extra member left group %s", g.name)
		return healed, 0, err
	})
}

// txnCoordinatorKill: with transactional producers in the workload,
// alternately SIGKILL the coordinator of one of their transactional ids and
// the leader of a random partition.
func txnCoordinatorKill(ctx context.Context, r *chaosRun, rec recorder) error {
	turn := r.rng.IntN(2)
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		turn++
		if turn%2 == 0 {
			n, p, err := r.randomLeader(ctx)
			if err != nil {
				return time.Time{}, 0, err
			}
			return r.killAndRestart(ctx, rec, n, fmt.Sprintf("leader of %s[%d]", r.topic, p))
		}
		var txids []string
		err := poll(ctx, "the workload's transactional ids", 30*time.Second, func(ctx context.Context) (bool, error) {
			ids, err := r.c.transactionalIDs(ctx)
			txids = ids
			return len(ids) > 0, err
		})
		if err != nil {
			return time.Time{}, 0, err
		}
		id := txids[r.rng.IntN(len(txids))]
		coord, err := r.c.coordinatorOf(ctx, id, 1)
		if err != nil {
			return time.Time{}, 0, err
		}
		return r.killAndRestart(ctx, rec, r.c.node(coord), fmt.Sprintf("transaction coordinator of %q", id))
	})
}

// clockJumpSetup gives every node a clock offset file.
func clockJumpSetup(t *testing.T, r *chaosRun, spec *clusterSpec) {
	requireFlag(t, "--test-clock-offset-file", os.DevNull, "branch h/failpoints")
	spec.clockFiles = true
}

// clockJump: the wall clock of a partition's leader (or now and then of
// the active controller) jumps forward by minutes to hours and back behind
// true time, then returns to it. Forward jumps stay well under the
// retention (7 days), backward ones under message.timestamp.after.max.ms
// (1h), past which Kafka itself refuses the clients' timestamps.
func clockJump(ctx context.Context, r *chaosRun, rec recorder) error {
	err := r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		n, why, err := r.leaderOrController(ctx)
		if err != nil {
			return time.Time{}, 0, err
		}
		jumps := []time.Duration{
			r.between(10*time.Minute, 6*time.Hour).Round(time.Second),
			-r.between(5*time.Minute, 50*time.Minute).Round(time.Second),
		}
		if r.rng.IntN(2) == 0 {
			jumps[0], jumps[1] = jumps[1], jumps[0]
		}
		end := r.begin(rec, fmt.Sprintf("the clock of %v (%s) jumps to %+v, then to %+v, then back", n, why, jumps[0], jumps[1]))
		for _, j := range jumps {
			err = errors.Join(err, n.setClockOffset(j))
			r.hold(ctx, r.between(2*time.Second, 5*time.Second))
		}
		err = errors.Join(err, n.setClockOffset(0))
		end()
		return time.Now(), 0, err
	})
	for _, n := range r.c.nodes {
		err = errors.Join(err, n.setClockOffset(0))
	}
	return err
}

// powerLossSetup runs every node with --fsync never on the lazy file
// system, which keeps what was not fsynced in the process's memory, so a
// SIGKILL loses it as a power loss would. Half the seeds also write back
// every second, as the kernel's dirty writeback would.
func powerLossSetup(t *testing.T, r *chaosRun, spec *clusterSpec) {
	requireFlag(t, "--test-fs", "lazy", "branch h/vfs")
	spec.flags = append(spec.flags, "--fsync", "never", "--test-fs", "lazy")
	if r.rng.IntN(2) == 0 {
		spec.flags = append(spec.flags, "--test-fs-writeback", "1s")
		r.note("lazy file system writes back every second")
	} else {
		r.note("lazy file system keeps everything until an fsync (segment roll or shutdown)")
	}
}

// powerLoss: one broker at a time (a minority) loses power: SIGKILL drops
// everything it had not fsynced; it restarts and must catch up from the
// others without losing or exposing anything acknowledged.
func powerLoss(ctx context.Context, r *chaosRun, rec recorder) error {
	return r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		var n *node
		var why string
		if r.rng.IntN(2) == 0 {
			l, p, err := r.randomLeader(ctx)
			if err != nil {
				return time.Time{}, 0, err
			}
			n, why = l, fmt.Sprintf("leader of %s[%d]", r.topic, p)
		} else {
			n, why = r.c.nodes[r.rng.IntN(len(r.c.nodes))], "a random node"
		}
		return r.killAndRestart(ctx, rec, n, why+", power loss: unsynced writes dropped")
	})
}

// corruptSegmentSetup rolls segments every 16 KiB, so followers have
// closed segments to corrupt within a short run.
func corruptSegmentSetup(t *testing.T, r *chaosRun, spec *clusterSpec) {
	// NB: the CRC repair of follower segments came with the lazy file
	// system (branch h/vfs); its flag tells whether this binary has both.
	requireFlag(t, "--test-fs", "lazy", "branch h/vfs, with the CRC repair of follower segments")
	spec.flags = append(spec.flags, "--segment-bytes", "16384")
}

// corruptSegment stops a follower of a random partition (SIGKILL or
// SIGTERM), flips one bit inside a batch of one of its closed segments
// (where the CRC covers it), tears the tail of its active segment, and
// starts it again. The follower must find the corruption (the scrubber or
// a read checks the CRC), truncate to it and fetch the rest again from the
// leader; it must never serve it. Then the partition's leader is killed,
// so the repaired follower may lead.
func corruptSegment(ctx context.Context, r *chaosRun, rec recorder) error {
	var repaired int
	err := r.loop(ctx, rec, func(ctx context.Context, rec recorder) (time.Time, time.Duration, error) {
		bg := context.WithoutCancel(ctx)
		var p int32
		var leader, follower *node
		var segs []string
		err := poll(ctx, "a follower with a closed segment", 30*time.Second, func(ctx context.Context) (bool, error) {
			st, err := r.c.topicState(ctx, r.topic)
			if err != nil {
				return false, err
			}
			p = int32(r.rng.IntN(len(st)))
			ps := st[p]
			if ps.leader < 1 {
				return false, fmt.Errorf("%s[%d] has no leader", r.topic, p)
			}
			var fs []int32
			for _, id := range ps.isr {
				if id != ps.leader {
					fs = append(fs, id)
				}
			}
			if len(fs) == 0 {
				return false, fmt.Errorf("%s[%d] has no in-sync follower", r.topic, p)
			}
			leader, follower = r.c.node(ps.leader), r.c.node(fs[r.rng.IntN(len(fs))])
			segs, err = filepath.Glob(filepath.Join(follower.dataDir, "logs", fmt.Sprintf("%s-%d", r.topic, p), "*.log"))
			if err != nil {
				return false, err
			}
			return len(segs) >= 2, fmt.Errorf("%v has %d segments of %s[%d]", follower, len(segs), r.topic, p)
		})
		if err != nil {
			return time.Time{}, 0, err
		}
		slices.Sort(segs)
		how := "SIGKILL"
		if r.rng.IntN(2) == 0 {
			how = "SIGTERM"
		}
		end := r.begin(rec, fmt.Sprintf("%s follower %v of %s[%d]; flip a bit in a closed segment and tear the active one", how, follower, r.topic, p))
		logStart := follower.logSize()
		if how == "SIGKILL" {
			follower.kill()
		} else {
			err = follower.terminate(30 * time.Second)
		}
		closed := segs[r.rng.IntN(len(segs)-1)]
		flipped, ferr := flipBitInBatch(closed, r.rng.Int64())
		torn, terr := tearTail(segs[len(segs)-1], 1+r.rng.Int64N(40))
		r.logf("%s; %s", flipped, torn)
		err = errors.Join(err, ferr, terr, follower.restart(""))
		end()
		healed := time.Now()
		// The repair shows in the follower's log: its restart's recovery
		// truncated the partition at the flipped batch (when the batch
		// was past the recovery point), or its replica fetcher did on
		// reading it (when the scrubber or a read found it later).
		found := poll(bg, "the follower to repair its log", 30*time.Second, func(context.Context) (bool, error) {
			return follower.logContains(logStart, "truncated a corrupt log") ||
				follower.logLineContains(logStart, "truncating log at invalid batch", fmt.Sprintf("topic=%s partition=%d ", r.topic, p), "corrupt log: crc"), nil
		}) == nil
		if found {
			repaired++
		}
		r.logf("%v repaired a corrupt log: %v", follower, found)
		if err != nil {
			return healed, 0, err
		}
		// Then the leader goes, so the repaired follower may lead.
		if err := r.recovered(bg, healed, 0); err != nil {
			return healed, 0, err
		}
		_, _, err = r.killAndRestart(ctx, rec, leader, fmt.Sprintf("leader of %s[%d], after its follower's repair", r.topic, p))
		return time.Now(), 0, err
	})
	r.note("followers repaired a corrupt log in %d rounds", repaired)
	if err == nil && repaired == 0 {
		err = errors.New("no follower reported repairing a corrupt log: the fault did not happen or was not found")
	}
	return err
}

// flipBitInBatch flips one bit, chosen by seed, inside one record batch of
// a segment file, at or after the batch's CRC field (Kafka's CRC-32C
// covers the attributes to the end; the partition leader epoch before it
// is not covered).
func flipBitInBatch(path string, seed int64) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	type span struct{ from, to int64 }
	var spans []span
	for pos := int64(0); pos+61 <= int64(len(b)); {
		l := int64(binary.BigEndian.Uint32(b[pos+8 : pos+12]))
		end := pos + 12 + l
		if l < 49 || end > int64(len(b)) {
			break
		}
		spans = append(spans, span{pos + 17, end})
		pos = end
	}
	if len(spans) == 0 {
		return "", fmt.Errorf("%s: no record batch to corrupt", path)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	s := spans[rng.IntN(len(spans))]
	at := s.from + rng.Int64N(s.to-s.from)
	bit := byte(1) << rng.IntN(8)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{b[at] ^ bit}, at); err != nil {
		return "", err
	}
	return fmt.Sprintf("flipped bit %d of byte %d of %s", bits.TrailingZeros8(bit), at, filepath.Base(path)), nil
}

// tearTail cuts n bytes off the end of a segment file, as a write torn by
// a crash would leave it; an empty file is left alone.
func tearTail(path string, n int64) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Size() == 0 {
		return fmt.Sprintf("%s is empty, not torn", filepath.Base(path)), nil
	}
	n = min(n, fi.Size())
	if err := os.Truncate(path, fi.Size()-n); err != nil {
		return "", err
	}
	return fmt.Sprintf("cut %d bytes off the end of %s", n, filepath.Base(path)), nil
}
