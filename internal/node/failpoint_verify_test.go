//go:build failpoints

package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/verify"
)

// The tests here prove that strata verify catches what it claims: each
// runs verify's real workload (verify.Run, then verify.Check) against a
// broker with one deliberately broken behaviour (internal/failpoint) and
// asserts that Check reports the anomaly that behaviour causes; a control
// run, the same workload with the same legal faults but no broken
// behaviour, must be clean. Two families:
//
//   - one in-process node; a nemesis switches the failpoints on
//     (failpoint.Enable) for the load phase only, so the settle phase and
//     the final reads see the broker as it is: produce-drop-response
//     (a legal fault: lost answers, retried) in every run, plus
//     duplicate-on-retry, read-committed-ignores-aborts or
//     fetch-skip-batch;
//   - three strata-failpoints processes with replication held back
//     (replica-fetch=sleep(500ms)) and a nemesis that SIGKILLs the leader
//     of partition 0 and restarts it, plus ack-before-isr or serve-past-hw.
//
// TestVerifyCLICatchesFailpointAckBeforeISR runs the CLI itself
// (strata-failpoints verify --json --nemesis SCRIPT) against the broken
// cluster and checks its exit status and JSON.

// failpointVerifyConfig is the workload of every run here: 15s at 200
// records/s from two idempotent producers and a transactional one
// aborting 30% of its transactions, read by the default consumers (assign
// read_committed, classic group read_committed, KIP-848 group
// read_uncommitted).
func failpointVerifyConfig(t *testing.T, seeds []string, nemesis verify.Nemesis) verify.Config {
	return verify.Config{
		Bootstrap:     seeds,
		Topic:         "verify-fp",
		Partitions:    6,
		Duration:      15 * time.Second,
		Rate:          200,
		Seed:          13,
		Producers:     2,
		Transactional: 1,
		AbortRatio:    0.3,
		SettleTimeout: 20 * time.Second,
		RecordTimeout: 20 * time.Second,
		Nemesis:       nemesis,
		Logf:          t.Logf,
	}
}

// runFailpointVerify runs the workload, checks the history and logs the
// summary.
func runFailpointVerify(t *testing.T, cfg verify.Config) *verify.Result {
	t.Helper()
	res := runAndCheck(t, cfg)
	t.Logf("anomaly counts: %v", res.Counts)
	if res.Acked == 0 {
		t.Fatalf("verify: no write was acknowledged: the workload did not run")
	}
	return res
}

// wantClean fails unless res found nothing and checked everything, with
// every consumer having read and transactions committed (and, with
// wantAborts, aborted).
func wantClean(t *testing.T, res *verify.Result, wantAborts bool) {
	t.Helper()
	if !res.OK() {
		t.Errorf("control run: anomalies %v, unchecked %q; want none (summary above)", res.Counts, res.Unknown)
	}
	if res.TxnCommitted == 0 || wantAborts && res.TxnAborted == 0 {
		t.Errorf("control run: %d transactions committed, %d aborted; want some committed (and aborted: %v)", res.TxnCommitted, res.TxnAborted, wantAborts)
	}
	for i, c := range res.Consumers {
		if c.Distinct == 0 {
			t.Errorf("control run: consumer #%d (%s) read nothing", i, c.Spec)
		}
	}
}

// wantAnomaly fails unless res counts at least one anomaly of typ, with
// an example of it.
func wantAnomaly(t *testing.T, res *verify.Result, typ string) {
	t.Helper()
	if res.Counts[typ] == 0 {
		t.Fatalf("broken run: no %s anomaly reported (counts %v): the checker missed the broken behaviour", typ, res.Counts)
	}
	i := slices.IndexFunc(res.Anomalies, func(a verify.Anomaly) bool { return a.Type == typ })
	if i < 0 {
		t.Fatalf("broken run: %d %s anomalies counted but none listed", res.Counts[typ], typ)
	}
	t.Logf("%d %s anomalies, e.g. %s", res.Counts[typ], typ, res.Anomalies[i].Example)
}

// failpointsDuringLoad is a nemesis that switches failpoints (name ->
// [P%][N*]ACTION) on in this process when the load starts and restores
// them when it ends: one fault window.
func failpointsDuringLoad(fps map[failpoint.Name]string) verify.Nemesis {
	return verify.NemesisFunc(func(ctx context.Context, rec *verify.FaultRecorder) error {
		var restores []func()
		defer func() {
			for _, r := range slices.Backward(restores) {
				r()
			}
		}()
		var names []string
		for _, n := range slices.Sorted(maps.Keys(fps)) {
			r, err := failpoint.Enable(n, fps[n])
			if err != nil {
				return err
			}
			restores = append(restores, r)
			names = append(names, string(n)+"="+fps[n])
		}
		end := rec.Begin("failpoints " + strings.Join(names, ";"))
		<-ctx.Done()
		end()
		return nil
	})
}

// TestVerifyCatchesFailpointsOnOneNode: against one node that loses some
// produce answers (produce-drop-response=10%return, a legal fault), verify
// is clean; with one broken behaviour on as well during the load it
// reports that behaviour's anomaly: duplicate-on-retry (a retried batch
// appended again) -> duplicate; read-committed-ignores-aborts (no aborted
// transactions list) -> aborted-read; fetch-skip-batch (a fetch skips the
// batch at its offset) -> poll-skip.
func TestVerifyCatchesFailpointsOnOneNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 15s workloads")
	}
	for _, tt := range []struct {
		name   string
		broken failpoint.Name // "" for the control
		want   string
	}{
		{name: "control"},
		{name: "duplicate-on-retry", broken: failpoint.DuplicateOnRetry, want: verify.Duplicate},
		{name: "read-committed-ignores-aborts", broken: failpoint.ReadCommittedIgnoresAborts, want: verify.AbortedRead},
		{name: "fetch-skip-batch", broken: failpoint.FetchSkipBatch, want: verify.PollSkip},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tn := startNode(t)
			fps := map[failpoint.Name]string{failpoint.ProduceDropResponse: "10%return"}
			if tt.broken != "" {
				fps[tt.broken] = "return"
			}
			hits := map[failpoint.Name]int64{}
			for n := range fps {
				hits[n] = failpoint.Hits(n)
			}
			res := runFailpointVerify(t, failpointVerifyConfig(t, []string{tn.addr}, failpointsDuringLoad(fps)))
			for n := range fps {
				hits[n] = failpoint.Hits(n) - hits[n]
				if hits[n] == 0 {
					t.Errorf("failpoint %s never fired during the load", n)
				}
			}
			t.Logf("failpoint firings: %v", hits)
			if len(res.Faults) != 1 {
				t.Errorf("%d fault windows, want 1 (the failpoints switched on)", len(res.Faults))
			}
			if tt.broken == "" {
				wantClean(t, res, true)
				return
			}
			wantAnomaly(t, res, tt.want)
		})
	}
}

// failpointClusterFlags are the serve flags of the three-process clusters:
// a SIGKILLed broker is fenced after 2s.
var failpointClusterFlags = []string{"--offsets-topic-partitions", "3", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms"}

// waitRegistered waits until tc's first broker lists every broker.
func waitRegistered(t *testing.T, tc *testCluster) {
	t.Helper()
	// NB: a fresh client per try: franz-go answers repeated metadata
	// requests from its cache.
	waitFor(t, fmt.Sprintf("%d registered brokers", len(tc.nodes)), 60*time.Second, func() bool {
		cl, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		md, err := kadm.NewClient(cl).BrokerMetadata(ctxTimeout(t, 10*time.Second))
		return err == nil && len(md.Brokers) == len(tc.nodes)
	})
}

// partitionState asks the brokers at addrs in turn for the leader and
// ISR of topic's partition p; leader -1 when none answers with a leader.
func partitionState(addrs []string, topic string, p int32) (leader int32, isr []int32) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
	for _, a := range addrs {
		resp, err := rawRequest(a, req, 5*time.Second)
		if err != nil {
			continue
		}
		for _, tp := range resp.(*kmsg.MetadataResponse).Topics {
			for _, pp := range tp.Partitions {
				if pp.Partition == p && pp.ErrorCode == 0 && pp.Leader > 0 {
					return pp.Leader, pp.ISR
				}
			}
		}
	}
	return -1, nil
}

// restartAfterFailover restarts node id of tc, dead, once another broker
// leads topic's partition 0, and puts it in tc.nodes. With replication held
// back the ISR may have shrunk to the dead node alone; then no broker can
// take over until it returns (no unclean election), so after 20s it is
// restarted anyway.
func restartAfterFailover(t *testing.T, tc *testCluster, id int32, topic string) (*child, error) {
	if err := waitFailover(tc, id, topic, 20*time.Second); err != nil {
		t.Logf("restarting node %d without a failover: %v", id, err)
	}
	n, err := respawn(t, tc.nodes[id-1])
	if err != nil {
		return nil, err
	}
	tc.nodes[id-1] = n
	return n, nil
}

// waitFailover waits (at most d) until a broker other than victim leads
// topic's partition 0, asking the brokers other than victim.
func waitFailover(tc *testCluster, victim int32, topic string, d time.Duration) error {
	others := slices.Clone(tc.addrs)
	others = slices.Delete(others, int(victim-1), int(victim))
	deadline := time.Now().Add(d)
	for {
		if l, _ := partitionState(others, topic, 0); l > 0 && l != victim {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no broker but %d leads %s-0 after %s", victim, topic, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// respawn starts c's process again alike (binary, flags, data directory,
// environment: the same failpoints) and waits until it listens. It does
// not fail the test: nemeses call it from their own goroutine.
func respawn(t *testing.T, c *child) (*child, error) {
	cmd := exec.Command(c.cmd.Path, c.cmd.Args[1:]...)
	cmd.Env = c.cmd.Env
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("restart %s: %w", c.addr, err)
	}
	n := &child{t: t, cmd: cmd, addr: c.addr, dir: c.dir, args: c.args, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { n.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", n.addr, time.Second); err == nil {
			conn.Close()
			return n, nil
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("restarted broker %s exited: %v", n.addr, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("restarted broker %s not listening after 30s", n.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaderKiller is a nemesis that, every interval during the load,
// SIGKILLs the broker leading partition 0 of the topic, waits until
// another broker leads it, starts the killed one again and waits (at most
// 30s) until partition 0's ISR is full again: one fault window per kill.
// A kill in progress when the load ends is completed.
type leaderKiller struct {
	t        *testing.T
	tc       *testCluster // nodes replaced by restarts; read by the test only after the run
	topic    string
	interval time.Duration

	kills atomic.Int32
	mu    sync.Mutex
	err   error // guarded by mu: why a kill could not be completed
}

func (k *leaderKiller) Run(ctx context.Context, rec *verify.FaultRecorder) error {
	t := time.NewTimer(k.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := k.killOnce(rec); err != nil {
			k.mu.Lock()
			k.err = err
			k.mu.Unlock()
			return err
		}
		t.Reset(k.interval)
	}
}

func (k *leaderKiller) killOnce(rec *verify.FaultRecorder) error {
	leader, _ := partitionState(k.tc.addrs, k.topic, 0)
	if leader < 1 || int(leader) > len(k.tc.nodes) {
		return fmt.Errorf("no leader of %s-0 to kill", k.topic)
	}
	end := rec.Begin(fmt.Sprintf("SIGKILL node %d (leader of %s-0), then restart it", leader, k.topic))
	defer end()
	victim := k.tc.nodes[leader-1]
	victim.kill()
	if _, err := restartAfterFailover(k.t, k.tc, leader, k.topic); err != nil {
		return err
	}
	k.kills.Add(1)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, isr := partitionState(k.tc.addrs, k.topic, 0); len(isr) == len(k.tc.nodes) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// TestVerifyCatchesFailpointsOnLeaderKill: on three brokers whose
// followers fetch every 500ms (replica-fetch=sleep(500ms), a legal fault)
// while a nemesis SIGKILLs partition 0's leader and restarts it, verify is
// clean; with ack-before-isr (acks=all answered before the followers have
// the records) it reports lost writes, with serve-past-hw (consumers read
// past the high watermark) inconsistent offsets: values polled at offsets
// the new leader gave to other records.
func TestVerifyCatchesFailpointsOnLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	for _, tt := range []struct {
		name   string
		broken string // STRATA_FAILPOINTS entry; "" for the control
		want   string
		// producers and duration override the workload's. A record read
		// past the HW shows up only if it was read (a long poll wakes on
		// the HW, so only a fetch that happens to come while records
		// wait past it gets them) and, after the failover, its offset goes
		// to another record: when the producers resend their
		// unacknowledged batches in the same order each lands where it
		// was and the broken read is unobservable. More producers and
		// more kills make both likely.
		producers int
		duration  time.Duration
	}{
		{name: "control"},
		{name: "ack-before-isr", broken: "ack-before-isr=return", want: verify.LostWrite},
		{name: "serve-past-hw", broken: "serve-past-hw=return", want: verify.InconsistentOffsets, producers: 5, duration: 30 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fps := "replica-fetch=sleep(500ms)"
			if tt.broken != "" {
				fps += ";" + tt.broken
			}
			tc := startFailpointCluster(t, 3, fps, failpointClusterFlags...)
			waitRegistered(t, tc)
			cfg := failpointVerifyConfig(t, tc.addrs, nil)
			if tt.producers > 0 {
				cfg.Producers = tt.producers
			}
			if tt.duration > 0 {
				cfg.Duration = tt.duration
			}
			killer := &leaderKiller{t: t, tc: tc, topic: cfg.Topic, interval: 4 * time.Second}
			cfg.Nemesis = killer
			res := runFailpointVerify(t, cfg)
			killer.mu.Lock()
			kerr := killer.err
			killer.mu.Unlock()
			if kerr != nil {
				t.Fatalf("nemesis: %v", kerr)
			}
			kills := int(killer.kills.Load())
			if kills == 0 || len(res.Faults) != kills {
				t.Fatalf("%d leaders SIGKILLed, %d fault windows; want at least one, one window per kill", kills, len(res.Faults))
			}
			t.Logf("%d leader SIGKILLs; longest produce gap %v", kills, res.LongestProduceGap)
			if tt.broken == "" {
				// NB: with replication held back every transaction step
				// waits for the followers: a transaction takes seconds,
				// and the few of a 15s run may all commit.
				wantClean(t, res, false)
				return
			}
			wantAnomaly(t, res, tt.want)
		})
	}
}

// writePIDFile writes c's process id to dir/node<id>.pid (atomically: a
// nemesis script reads it meanwhile).
func writePIDFile(dir string, id int, c *child) error {
	path := filepath.Join(dir, fmt.Sprintf("node%d.pid", id))
	if err := os.WriteFile(path+".tmp", []byte(fmt.Sprint(c.cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// leaderKillScript is a nemesis command for strata verify --nemesis: it
// waits until every broker runs (its pid file names a live process) and
// partition 0 of the topic has a leader, then SIGKILLs that leader.
const leaderKillScript = `set -u
bin=%q bootstrap=%q topic=%q pids=%q
leader=
for _ in $(seq 150); do
	alive=1
	for f in "$pids"/node*.pid; do kill -0 "$(cat "$f")" 2>/dev/null || alive=0; done
	leader=$("$bin" topic describe "$topic" --bootstrap "$bootstrap" 2>/dev/null | awk -F'\t' '$2 == "Partition: 0" { sub("Leader: ", "", $3); print $3 }')
	if [ "$alive" = 1 ] && [ -n "$leader" ] && [ "$leader" -gt 0 ]; then break; fi
	leader=
	sleep 0.2
done
if [ -z "$leader" ]; then echo "no live cluster with a leader of $topic-0 after 30s"; exit 1; fi
kill -9 "$(cat "$pids/node$leader.pid")"
echo "SIGKILLed node $leader, the leader of $topic-0"
`

// restartDead restarts, until stop is closed, every node of tc that dies:
// once another broker leads topic's partition 0 (or after 20s, when none
// can) it starts the node again and rewrites its pid file. It reports the
// number of restarts and the first error on done.
func restartDead(t *testing.T, tc *testCluster, topic, pids string, stop <-chan struct{}) (restarts *atomic.Int32, wait func() error) {
	restarts = new(atomic.Int32)
	var firstErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for i, c := range tc.nodes {
				select {
				case <-c.done:
				default:
					continue
				}
				n, err := restartAfterFailover(t, tc, int32(i+1), topic)
				if err == nil {
					restarts.Add(1)
					err = writePIDFile(pids, i+1, n)
				}
				if err != nil {
					firstErr = err
					return
				}
			}
		}
	})
	return restarts, func() error { wg.Wait(); return firstErr }
}

// TestVerifyCLICatchesFailpointAckBeforeISR runs `strata-failpoints
// verify --json` with --nemesis running a script that SIGKILLs partition
// 0's leader (the test restarts it) against three brokers with
// ack-before-isr and replication held back: it must exit 1 and report
// lost writes in its JSON result.
func TestVerifyCLICatchesFailpointAckBeforeISR(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	const topic = "verify-cli-fp"
	tc := startFailpointCluster(t, 3, "ack-before-isr=return;replica-fetch=sleep(500ms)", failpointClusterFlags...)
	waitRegistered(t, tc)
	dir := t.TempDir()
	for i, c := range tc.nodes {
		if err := writePIDFile(dir, i+1, c); err != nil {
			t.Fatal(err)
		}
	}
	bootstrap := strings.Join(tc.addrs, ",")
	script := filepath.Join(dir, "kill-leader.sh")
	if err := os.WriteFile(script, fmt.Appendf(nil, leaderKillScript, failpointBinary(t), bootstrap, topic, dir), 0o644); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	restarts, waitRestarts := restartDead(t, tc, topic, dir, stop)
	stopped := false
	stopRestarts := func() error {
		if !stopped {
			stopped = true
			close(stop)
		}
		return waitRestarts()
	}
	defer stopRestarts()

	cmd := exec.CommandContext(ctxTimeout(t, 5*time.Minute), failpointBinary(t), "verify",
		"--bootstrap", bootstrap, "--topic", topic, "--partitions", "6", "--seed", "17",
		"--duration", "15s", "--rate", "200", "--abort-ratio", "0.3", "--settle-timeout", "20s", "--timeout", "20s",
		"--nemesis", "sh "+script, "--nemesis-interval", "5s", "--json")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = testWriter{t}
	start := time.Now()
	runErr := cmd.Run()
	if err := stopRestarts(); err != nil {
		t.Fatalf("restarting killed brokers: %v", err)
	}
	var exitErr *exec.ExitError
	if !errors.As(runErr, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("strata-failpoints verify: %v after %v; want exit status 1 (anomalies)\nstdout:\n%s", runErr, time.Since(start).Round(time.Millisecond), stdout.String())
	}
	var res verify.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("verify --json output: %v\n%s", err, stdout.String())
	}
	t.Logf("strata-failpoints verify exited 1 after %v: %d sent, %d acknowledged, anomaly counts %v, %d brokers restarted; notes %q; unchecked %q",
		time.Since(start).Round(time.Millisecond), res.Sent, res.Acked, res.Counts, restarts.Load(), res.Notes, res.Unknown)
	kills := 0
	for _, f := range res.Faults {
		if f.Err == "" && strings.HasPrefix(f.Output, "SIGKILLed node ") {
			kills++
		}
		t.Logf("fault %q: %s %s", f.Name, f.Output, f.Err)
	}
	if kills == 0 {
		t.Fatalf("no nemesis run killed a leader: faults %+v", res.Faults)
	}
	wantAnomaly(t, &res, verify.LostWrite)
}
