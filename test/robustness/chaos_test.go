//go:build robustness

package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/strata-io/strata/internal/verify"
)

// Environment knobs (read only here, by the test process; the brokers get
// none of them).
//
//	STRATATEST_CHAOS_SEEDS     seeds per scenario (default 1; `make chaos` sets 5)
//	STRATATEST_CHAOS_SEED      run only this seed (as printed by a failure)
//	STRATATEST_CHAOS_DURATION  load phase per run (default 25s with one seed, 45s with more)
//	STRATATEST_CHAOS_KEEP      keep node logs of passing runs too
//	STRATATEST_CHAOS_BINARY    test this strata binary instead of building ./cmd/strata
//	STRATATEST_ARTIFACTS       put the run's reports there (as .ci/run sets it) instead of $TMPDIR
const (
	envBinary    = "STRATATEST_CHAOS_BINARY"
	envArtifacts = "STRATATEST_ARTIFACTS"
	envSeeds     = "STRATATEST_CHAOS_SEEDS"
	envSeed      = "STRATATEST_CHAOS_SEED"
	envDuration  = "STRATATEST_CHAOS_DURATION"
	envKeep      = "STRATATEST_CHAOS_KEEP"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if left := leftoverNamespaces(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: network namespaces left behind: %v\n", left)
		code = 1
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// recorder is what a nemesis needs of verify's FaultRecorder.
type recorder interface {
	Begin(name string) (end func())
}

// scenario is one kind of fault run in a loop under load.
type scenario struct {
	name  string
	nodes int
	// flags are extra `strata serve` flags for every node.
	flags []string
	// setup adjusts the cluster before it starts (tmpfs, binaries) and
	// may skip the test when the machine lacks something.
	setup func(t *testing.T, r *chaosRun, spec *clusterSpec)
	// workload adjusts the verify run.
	workload func(cfg *verify.Config)
	nemesis  func(ctx context.Context, r *chaosRun, rec recorder) error
}

var scenarios = []scenario{
	{name: "leader-kill", nodes: 3, nemesis: leaderKill},
	{name: "controller-kill", nodes: 3, nemesis: controllerKill},
	{name: "double-failover", nodes: 3, nemesis: doubleFailover},
	{name: "leader-pause", nodes: 3, nemesis: leaderPause},
	{name: "leader-isolated", nodes: 3, setup: needIptables, nemesis: leaderIsolated},
	{name: "asymmetric-partition", nodes: 3, setup: needIptables, nemesis: asymmetricPartition},
	{name: "quorum-split", nodes: 5, setup: needIptables, nemesis: quorumSplit},
	{name: "loss-jitter", nodes: 3, setup: needIptables, nemesis: lossAndJitter},
	{name: "disk-full", nodes: 3, setup: diskFullSetup, nemesis: diskFull},
	{name: "corrupt-segment", nodes: 3, setup: corruptSegmentSetup, nemesis: corruptSegment},
	{name: "power-loss", nodes: 3, setup: powerLossSetup, nemesis: powerLoss},
	{name: "rolling-restart", nodes: 3, nemesis: rollingRestart},
	{name: "rolling-upgrade", nodes: 3, setup: rollingUpgradeSetup, nemesis: rollingUpgrade},
	{name: "group-coordinator-kill", nodes: 3, nemesis: groupCoordinatorKill},
	{name: "txn-coordinator-kill", nodes: 3, workload: func(cfg *verify.Config) { cfg.Transactional = 2 }, nemesis: txnCoordinatorKill},
	{name: "clock-jump", nodes: 3, setup: clockJumpSetup, nemesis: clockJump},
}

// chaosRun is one scenario with one seed.
type chaosRun struct {
	t     *testing.T
	name  string
	seed  int64
	c     *cluster
	topic string // the verify workload's topic
	// probe topic: after each heal a record is produced to and fetched
	// from every partition, to measure how long until both work again.
	probe     string
	churn     string     // topic of the group nemesis's extra member
	faultsEnd time.Time  // no fault starts after this
	dir       string     // artifacts
	rng       *rand.Rand // used by the nemesis goroutine only
	prober    *prober
	data      map[string]string // scenario-specific state set in setup

	mu              sync.Mutex
	faults          int
	longestBlocking time.Duration // longest fault that stops writes by design
	maxResume       time.Duration // longest heal-to-writes-and-reads-resumed
	notes           []string
}

func (r *chaosRun) logf(format string, args ...any) {
	r.t.Logf("%s %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// runOutcome is one line of the summary table.
type runOutcome struct {
	scenario   string
	seed       int64
	acked      int
	anomalies  int
	produceGap time.Duration
	fetchGap   time.Duration
	faults     int
	maxResume  time.Duration
	elapsed    time.Duration
	status     string
}

var (
	outcomesMu sync.Mutex
	outcomes   []runOutcome
)

func seedsFor(name string) []int64 {
	if s := os.Getenv(envSeed); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", envSeed, s, err))
		}
		return []int64{n}
	}
	count := 1
	if s := os.Getenv(envSeeds); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("%s=%q: want a positive count", envSeeds, s))
		}
		count = n
	}
	// Deterministic per scenario: the name's hash, then consecutive seeds.
	h := fnv.New32a()
	h.Write([]byte(name))
	base := int64(h.Sum32()%100000) * 100
	var seeds []int64
	for i := range count {
		seeds = append(seeds, base+int64(i)+1)
	}
	return seeds
}

func loadDuration() time.Duration {
	if s := os.Getenv(envDuration); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			panic(fmt.Sprintf("%s=%q: %v", envDuration, s, err))
		}
		return d
	}
	if n, _ := strconv.Atoi(os.Getenv(envSeeds)); n > 1 {
		return 45 * time.Second
	}
	return 25 * time.Second
}

// TestChaos runs every scenario with each seed: TestChaos/<scenario>/seed=N.
func TestChaos(t *testing.T) {
	requireRoot(t)
	// CI keeps $STRATATEST_ARTIFACTS; elsewhere the reports go to $TMPDIR.
	parent := ""
	if a := os.Getenv(envArtifacts); a != "" {
		parent = a
		if err := os.MkdirAll(a, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.MkdirTemp(parent, "strata-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("artifacts (node logs, histories, reports) under %s", root)
	start := time.Now()
	t.Cleanup(func() { writeSummary(t, root, time.Since(start)) })
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, seed := range seedsFor(sc.name) {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					runScenario(t, sc, seed, filepath.Join(root, fmt.Sprintf("%s-seed%d", sc.name, seed)))
				})
			}
		})
	}
}

func runScenario(t *testing.T, sc scenario, seed int64, dir string) {
	began := time.Now()
	out := runOutcome{scenario: sc.name, seed: seed, status: "FAIL"}
	// keep is set when the workload noted something unusual (e.g. a
	// fenced producer): the run passes but keeps its evidence.
	var keep bool
	defer func() {
		out.elapsed = time.Since(began)
		if t.Skipped() {
			out.status = "skip"
		} else if !t.Failed() {
			out.status = "ok"
		}
		outcomesMu.Lock()
		outcomes = append(outcomes, out)
		outcomesMu.Unlock()
		if t.Failed() {
			t.Logf("FAILED with seed %d; node logs and the report in %s; rerun this seed alone with:\n  %s=%d go test -tags robustness -count=1 -run 'TestChaos/%s/' ./test/robustness",
				seed, dir, envSeed, seed, sc.name)
		} else if keep {
			t.Logf("kept node logs and the history of this run in %s: the workload noted something unusual", dir)
		} else if os.Getenv(envKeep) == "" {
			for i := range sc.nodes {
				os.Remove(filepath.Join(dir, fmt.Sprintf("node%d.log", i+1)))
			}
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("scenario %s, seed %d", sc.name, seed)
	r := &chaosRun{
		t: t, name: sc.name, seed: seed, dir: dir,
		topic: fmt.Sprintf("chaos-%d", seed), probe: "chaos-probe", churn: "chaos-churn",
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		data: map[string]string{},
	}
	spec := clusterSpec{nodes: sc.nodes, flags: sc.flags, tmpfsLogDir: -1}
	if sc.setup != nil {
		sc.setup(t, r, &spec)
	}
	r.c = startCluster(t, spec, dir)
	r.c.createTopic(t, r.probe, 3)
	r.c.createTopic(t, r.churn, 1)
	r.prober = newProber(t, r.c, r.probe)

	d := loadDuration()
	cfg := verify.Config{
		Bootstrap: r.c.seeds(),
		Topic:     r.topic,
		Duration:  d,
		Rate:      300,
		Seed:      seed,
		Logf:      r.logf,
	}
	if sc.workload != nil {
		sc.workload(&cfg)
	}
	nemDone := make(chan error, 1)
	cfg.Nemesis = verify.NemesisFunc(func(ctx context.Context, rec *verify.FaultRecorder) error {
		// Faults stop a while before the load does, so the run ends with
		// a stretch of healthy load after the last heal.
		r.faultsEnd = time.Now().Add(d - min(d/3, 15*time.Second))
		err := sc.nemesis(ctx, r, rec)
		if herr := r.c.nw.heal(); herr != nil && err == nil {
			err = herr
		}
		nemDone <- err
		return err
	})
	h, err := verify.Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("verify.Run: %v", err)
	}
	var nemErr error
	select {
	case nemErr = <-nemDone:
	default:
		t.Fatalf("verify.Run returned before the nemesis did")
	}
	res := verify.Check(h)
	out.acked, out.anomalies = res.Acked, len(res.Anomalies)
	out.produceGap, out.fetchGap = res.LongestProduceGap, res.LongestFetchGap
	r.mu.Lock()
	out.faults, out.maxResume = r.faults, r.maxResume
	blocking, notes := r.longestBlocking, r.notes
	r.mu.Unlock()
	writeReports(t, dir, h, res)
	keep = len(res.Notes) > 0
	defer func() {
		if t.Failed() || keep {
			if f, err := os.Create(filepath.Join(dir, "history.json")); err == nil {
				json.NewEncoder(f).Encode(h)
				f.Close()
			}
		}
	}()

	var sum strings.Builder
	res.WriteSummary(&sum)
	t.Logf("result:\n%s", sum.String())
	for _, n := range notes {
		t.Logf("note: %s", n)
	}
	t.Logf("%d faults; longest produce gap %v, longest fetch gap %v; writes and reads resumed at most %v after a heal; longest fault that stops writes by design %v",
		out.faults, res.LongestProduceGap.Round(time.Millisecond), res.LongestFetchGap.Round(time.Millisecond), out.maxResume.Round(time.Millisecond), blocking)

	if nemErr != nil {
		t.Errorf("nemesis: %v", nemErr)
	}
	if out.faults == 0 {
		t.Errorf("the nemesis injected no fault: the run tested nothing")
	}
	if !res.OK() {
		var b strings.Builder
		for i, a := range res.Anomalies {
			if i == 20 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(res.Anomalies)-20)
				break
			}
			fmt.Fprintf(&b, "  %s %s[%d]@%d: %s\n", a.Type, r.topic, a.Partition, a.Offset, a.Example)
		}
		t.Errorf("checker found %d anomalies %v:\n%s", len(res.Anomalies), res.Counts, b.String())
	}
	// Bounded unavailability: beyond a fault that stops writes by design
	// (a majority of replicas down), writes and reads must not stop for
	// longer than this, whatever the fault.
	const unavailabilityBound = 60 * time.Second
	if limit := blocking + unavailabilityBound; res.LongestProduceGap > limit || res.LongestFetchGap > limit {
		t.Errorf("unavailability beyond the bound: longest produce gap %v, fetch gap %v; bound %v (%v of faults that stop writes by design + %v)",
			res.LongestProduceGap, res.LongestFetchGap, limit, blocking, unavailabilityBound)
	}
}

// writeReports saves the history, the result and the HTML report.
func writeReports(t *testing.T, dir string, h *verify.History, res *verify.Result) {
	save := func(name string, write func(f *os.File) error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("save %s: %v", name, err)
			return
		}
		defer f.Close()
		if err := write(f); err != nil {
			t.Errorf("write %s: %v", name, err)
		}
	}
	save("result.json", func(f *os.File) error { return res.WriteJSON(f) })
	save("summary.txt", func(f *os.File) error { return res.WriteSummary(f) })
	save("report.html", func(f *os.File) error { return verify.WriteHTML(f, h, res) })
}

// writeSummary logs the table of every run and writes it to summary.txt.
func writeSummary(t *testing.T, root string, total time.Duration) {
	outcomesMu.Lock()
	defer outcomesMu.Unlock()
	if len(outcomes) == 0 {
		return
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tseed\tacked\tanomalies\tlongest produce gap\tlongest fetch gap\tfaults\tmax resume after heal\ttime\tresult")
	for _, o := range outcomes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%v\t%d\t%v\t%v\t%s\n", o.scenario, o.seed, o.acked, o.anomalies,
			o.produceGap.Round(time.Millisecond), o.fetchGap.Round(time.Millisecond), o.faults,
			o.maxResume.Round(time.Millisecond), o.elapsed.Round(time.Second), o.status)
	}
	tw.Flush()
	// Per scenario, as the closing note of a run wants it.
	type agg struct {
		seeds, acked, anomalies, passed int
		produceGap, fetchGap            time.Duration
	}
	var order []string
	per := map[string]*agg{}
	for _, o := range outcomes {
		if o.status == "skip" {
			continue
		}
		a := per[o.scenario]
		if a == nil {
			a = &agg{}
			per[o.scenario] = a
			order = append(order, o.scenario)
		}
		a.seeds++
		a.acked += o.acked
		a.anomalies += o.anomalies
		a.produceGap = max(a.produceGap, o.produceGap)
		a.fetchGap = max(a.fetchGap, o.fetchGap)
		if o.status == "ok" {
			a.passed++
		}
	}
	b.WriteString("\nper scenario:\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tseeds\tacked\tanomalies\tlongest produce gap\tlongest fetch gap\tpassed")
	for _, name := range order {
		a := per[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%v\t%d/%d\n", name, a.seeds, a.acked, a.anomalies,
			a.produceGap.Round(time.Millisecond), a.fetchGap.Round(time.Millisecond), a.passed, a.seeds)
	}
	tw.Flush()
	fmt.Fprintf(&b, "total time %v\n", total.Round(time.Second))
	path := filepath.Join(root, "summary.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("write %s: %v", path, err)
	}
	t.Logf("summary (also in %s):\n%s", path, b.String())
}
