//go:build robustness

package robustness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	kafkaPort      = 9092
	controllerPort = 9093

	// The suite runs brokers with short failure detection, so that a
	// fault loop fits many faults: a broker silent for sessionTimeout is
	// fenced.
	sessionTimeout    = 3 * time.Second
	heartbeatInterval = 500 * time.Millisecond
)

// clusterSpec describes the nodes of one scenario.
type clusterSpec struct {
	nodes int      // 3 or 5; each is broker and controller
	flags []string // extra `strata serve` flags for every node
	// tmpfsLogDir, when >= 0, puts that node's partition logs (--log-dirs)
	// on a tmpfs of tmpfsSize bytes; its metadata log stays on disk.
	tmpfsLogDir int
	tmpfsSize   int64
	binary      string // default: the tree under test
	// clockFiles gives each node a --test-clock-offset-file (node.clockFile).
	clockFiles bool
}

// node is one `strata serve` process in its namespace. Its fields are set
// at start; cmd and done change on restart, under mu.
type node struct {
	idx     int
	id      int32
	ns      string
	addr    string // Kafka listener, host:port
	dataDir string
	logDirs string // "" = DATA_DIR/logs
	tmpfs   string // a log directory on a small tmpfs, or ""
	// clockFile shifts the node's wall clock by the duration it holds
	// (--test-clock-offset-file), or "".
	clockFile string
	args      []string
	logPath   string

	mu      sync.Mutex
	binary  string
	cmd     *exec.Cmd
	done    chan struct{}
	paused  bool
	logFile *os.File
	starts  int
}

// cluster is the nodes of one scenario and an admin client reaching them
// from the root namespace.
type cluster struct {
	t     *testing.T
	nw    *network
	nodes []*node
	spec  clusterSpec
	cl    *kgo.Client
	adm   *kadm.Client
	dir   string // node logs
}

func startCluster(t *testing.T, spec clusterSpec, artifacts string) *cluster {
	t.Helper()
	nw := newNetwork(t, spec.nodes)
	bin := spec.binary
	if bin == "" {
		bin = strataBinary(t)
	}
	c := &cluster{t: t, nw: nw, spec: spec, dir: artifacts}
	var voters []string
	for i := range spec.nodes {
		voters = append(voters, fmt.Sprintf("%d@%s:%d", i+1, nw.addr(i), controllerPort))
	}
	for i := range spec.nodes {
		n := &node{
			idx: i, id: int32(i + 1), ns: nw.ns(i), binary: bin,
			addr:    net.JoinHostPort(nw.addr(i), fmt.Sprint(kafkaPort)),
			dataDir: t.TempDir(),
			logPath: filepath.Join(artifacts, fmt.Sprintf("node%d.log", i+1)),
		}
		if i == spec.tmpfsLogDir {
			n.tmpfs = mountTmpfs(t, spec.tmpfsSize)
			n.logDirs = n.tmpfs
		}
		n.args = []string{
			"serve", "--node-id", fmt.Sprint(n.id), "--data-dir", n.dataDir,
			"--listen", n.addr, "--controller-listen", fmt.Sprintf("%s:%d", nw.addr(i), controllerPort),
			"--controller-voters", strings.Join(voters, ","),
			"--broker-session-timeout", sessionTimeout.String(),
			"--broker-heartbeat-interval", heartbeatInterval.String(),
			"--replica-lag-time-max", "5s",
			"--offsets-topic-partitions", "6", "--transaction-state-partitions", "6",
			"--group-initial-rebalance-delay", "500ms",
			// As the workload's classic members ask: a KIP-848 member
			// that closed while its coordinator was down cannot leave,
			// and holds its partitions until its session expires; the
			// default 45s outlasts the checker's 30s settle window.
			"--group-consumer-session-timeout", "20s",
			"--default-replication-factor", fmt.Sprint(min(3, spec.nodes)),
			"--log-level", "info",
		}
		if n.logDirs != "" {
			n.args = append(n.args, "--log-dirs", n.logDirs)
		}
		if spec.clockFiles {
			n.clockFile = filepath.Join(t.TempDir(), "clock-offset")
			if err := n.setClockOffset(0); err != nil {
				t.Fatal(err)
			}
			n.args = append(n.args, "--test-clock-offset-file", n.clockFile)
		}
		n.args = append(n.args, spec.flags...)
		c.nodes = append(c.nodes, n)
	}
	// Processes go before the namespaces at cleanup (cleanups run last
	// registered first), and a paused process is killed all the same.
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.kill()
			n.mu.Lock()
			if n.logFile != nil {
				n.logFile.Close()
			}
			n.mu.Unlock()
		}
	})
	for _, n := range c.nodes {
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
	}
	var seeds []string
	for _, n := range c.nodes {
		seeds = append(seeds, n.addr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequestTimeoutOverhead(3*time.Second),
		kgo.RetryTimeout(5*time.Second), kgo.DialTimeout(2*time.Second), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	c.cl, c.adm = cl, kadm.NewClient(cl)
	for _, n := range c.nodes {
		if err := n.waitListening(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := c.waitAllRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted at
// cleanup. NB: mounted before the node starts: `ip netns exec` gives the
// process its own mount namespace, which sees mounts that exist then.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	mustSh(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir)
	t.Cleanup(func() {
		if err := sh("umount", dir); err != nil {
			sh("umount", "-l", dir)
		}
	})
	return dir
}

func (n *node) String() string { return fmt.Sprintf("node %d", n.id) }

// setClockOffset shifts the node's wall clock by d from now on (the node
// reads its offset file again every 100ms); written by rename, so the node
// never reads half a file.
func (n *node) setClockOffset(d time.Duration) error {
	tmp := n.clockFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%+v\n", d)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, n.clockFile)
}

// start runs the node's process (again).
func (n *node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.done:
		default:
			return fmt.Errorf("%v: start while running", n)
		}
	}
	if n.logFile == nil {
		f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		n.logFile = f
	}
	n.starts++
	fmt.Fprintf(n.logFile, "=== %s start #%d: %s\n", time.Now().Format(time.RFC3339Nano), n.starts, filepath.Base(n.binary))
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns, n.binary}, n.args...)...)
	cmd.Stdout = n.logFile
	cmd.Stderr = n.logFile
	cmd.Env = childEnv()
	// A test binary that dies (a -timeout panic skips every cleanup)
	// takes its nodes with it. NB: Linux sends it when the thread that
	// started the child ends; Go ends a thread only when a goroutine
	// locked to it exits locked, which this package avoids (netem).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %v: %w", n, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.cmd, n.done, n.paused = cmd, done, false
	return nil
}

func (n *node) running() (cmd *exec.Cmd, done chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd, n.done
}

func (n *node) alive() bool {
	cmd, done := n.running()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill() {
	cmd, done := n.running()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// terminate sends SIGTERM (controlled shutdown) and waits; a node still
// running after timeout is killed and that is an error.
func (n *node) terminate(timeout time.Duration) error {
	cmd, done := n.running()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		n.kill()
		return fmt.Errorf("%v did not exit within %v of SIGTERM", n, timeout)
	}
}

// pause and resume send SIGSTOP and SIGCONT.
func (n *node) pause() error {
	cmd, _ := n.running()
	n.mu.Lock()
	n.paused = true
	n.mu.Unlock()
	return cmd.Process.Signal(syscall.SIGSTOP)
}

func (n *node) resume() error {
	cmd, _ := n.running()
	n.mu.Lock()
	n.paused = false
	n.mu.Unlock()
	return cmd.Process.Signal(syscall.SIGCONT)
}

// restart starts a stopped node with binary (empty: the same one) and
// waits until it listens.
func (n *node) restart(binary string) error {
	if binary != "" {
		n.mu.Lock()
		n.binary = binary
		n.mu.Unlock()
	}
	if err := n.start(); err != nil {
		return err
	}
	return n.waitListening(60 * time.Second)
}

func (n *node) waitListening(timeout time.Duration) error {
	_, done := n.running()
	deadline := time.Now().Add(timeout)
	for {
		// NB: dialed from the root namespace, through the bridge.
		conn, err := net.DialTimeout("tcp", n.addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%v exited during start (log: %s)", n, n.logPath)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%v not listening on %s after %v", n, n.addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) seeds() []string {
	var s []string
	for _, n := range c.nodes {
		s = append(s, n.addr)
	}
	return s
}

func (c *cluster) node(id int32) *node { return c.nodes[id-1] }

// poll calls cond every 200ms until it returns true, an error that is not
// errRetry, or timeout; then it returns an error naming what it waited for
// and cond's last complaint.
func poll(ctx context.Context, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := cond(cctx)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting %v for %s: %v", timeout, what, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// metadataFrom asks node id for its metadata of topics (nil: none),
// bypassing the client's metadata cache.
func (c *cluster) metadataFrom(ctx context.Context, id int32, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	var resp kmsg.Response
	var err error
	if id < 0 {
		resp, err = c.cl.Request(ctx, req)
	} else {
		resp, err = c.cl.Broker(int(id)).Request(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// waitAllRegistered waits until every node's metadata lists every node as
// a broker.
func (c *cluster) waitAllRegistered(ctx context.Context) error {
	return c.waitHealthy(ctx, 60*time.Second)
}

// partitionState is one partition as the metadata shows it.
type partitionState struct {
	leader   int32
	replicas []int32
	isr      []int32
}

// topicState reads the partitions of topic from some broker's metadata.
func (c *cluster) topicState(ctx context.Context, topic string) (map[int32]partitionState, error) {
	m, err := c.metadataFrom(ctx, -1, topic)
	if err != nil {
		return nil, err
	}
	if len(m.Topics) != 1 {
		return nil, fmt.Errorf("topic %s not in metadata", topic)
	}
	td := m.Topics[0]
	if err := kerr.ErrorForCode(td.ErrorCode); err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := make(map[int32]partitionState)
	for _, pd := range td.Partitions {
		out[pd.Partition] = partitionState{leader: pd.Leader, replicas: pd.Replicas, isr: pd.ISR}
	}
	return out, nil
}

// leaderOf returns the leader of topic's partition p.
func (c *cluster) leaderOf(ctx context.Context, topic string, p int32) (int32, error) {
	st, err := c.topicState(ctx, topic)
	if err != nil {
		return -1, err
	}
	ps, ok := st[p]
	if !ok || ps.leader < 0 {
		return -1, fmt.Errorf("%s[%d] has no leader", topic, p)
	}
	return ps.leader, nil
}

// waitHealthy waits until every node runs and every node's metadata shows
// every broker registered and every partition of topics with a leader and
// a full ISR.
func (c *cluster) waitHealthy(ctx context.Context, timeout time.Duration, topics ...string) error {
	return poll(ctx, "a healthy cluster (every node registered, every ISR full, as every node sees it)", timeout, func(ctx context.Context) (bool, error) {
		for _, n := range c.nodes {
			if !n.alive() {
				return false, fmt.Errorf("%v is not running", n)
			}
		}
		// Also refreshes the client's list of brokers, which Broker(id)
		// needs.
		if _, err := c.metadataFrom(ctx, -1); err != nil {
			return false, err
		}
		for _, n := range c.nodes {
			m, err := c.metadataFrom(ctx, n.id, topics...)
			if err != nil {
				return false, fmt.Errorf("metadata from %v: %w", n, err)
			}
			if len(m.Brokers) != len(c.nodes) {
				return false, fmt.Errorf("%v sees %d of %d brokers", n, len(m.Brokers), len(c.nodes))
			}
			if len(m.Topics) != len(topics) {
				return false, fmt.Errorf("%v knows %d of topics %v", n, len(m.Topics), topics)
			}
			for _, td := range m.Topics {
				if err := kerr.ErrorForCode(td.ErrorCode); err != nil {
					return false, fmt.Errorf("%v: topic %s: %w", n, *td.Topic, err)
				}
				for _, pd := range td.Partitions {
					if pd.Leader < 0 || len(pd.ISR) != len(pd.Replicas) {
						return false, fmt.Errorf("%v sees %s[%d] with leader %d, replicas %v, ISR %v", n, *td.Topic, pd.Partition, pd.Leader, pd.Replicas, pd.ISR)
					}
				}
			}
		}
		return true, nil
	})
}

// activeController asks the metadata quorum (DescribeQuorum) for its
// leader, the active controller.
func (c *cluster) activeController(ctx context.Context) (int32, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("DescribeQuorum: malformed answer")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return -1, fmt.Errorf("DescribeQuorum: %w", err)
	}
	if p.LeaderID < 1 {
		return -1, errors.New("DescribeQuorum: no leader")
	}
	return p.LeaderID, nil
}

// coordinatorOf finds the coordinator of a group (keyType 0) or
// transactional id (1).
func (c *cluster) coordinatorOf(ctx context.Context, key string, keyType int8) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = keyType
	req.CoordinatorKeys = []string{key}
	req.CoordinatorKey = key
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return -1, err
	}
	if len(resp.Coordinators) > 0 {
		co := resp.Coordinators[0]
		if err := kerr.ErrorForCode(co.ErrorCode); err != nil {
			return -1, fmt.Errorf("FindCoordinator %q: %w", key, err)
		}
		return co.NodeID, nil
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return -1, fmt.Errorf("FindCoordinator %q: %w", key, err)
	}
	return resp.NodeID, nil
}

// groups lists the consumer groups with members, sorted, with their type
// ("classic" or "consumer") and, for classic groups, the assignor in use.
func (c *cluster) groups(ctx context.Context) ([]groupInfo, error) {
	var out []groupInfo
	for _, typ := range []string{"classic", "consumer"} {
		listed, err := c.adm.ListGroupsByType(ctx, []string{typ})
		if err != nil {
			return nil, err
		}
		for _, g := range listed.Sorted() {
			gi := groupInfo{name: g.Group, typ: typ}
			if typ == "classic" {
				d, err := c.adm.DescribeGroups(ctx, g.Group)
				if err != nil {
					return nil, err
				}
				dg := d[g.Group]
				if dg.Err != nil || len(dg.Members) == 0 || dg.ProtocolType != "consumer" {
					continue
				}
				gi.protocol = dg.Protocol
			}
			out = append(out, gi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

type groupInfo struct {
	name     string
	typ      string // classic | consumer
	protocol string // classic: the assignor the group chose
}

// transactionalIDs lists the transactional ids the coordinators know.
func (c *cluster) transactionalIDs(ctx context.Context) ([]string, error) {
	txs, err := c.adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, tx := range txs.Sorted() {
		ids = append(ids, tx.TxnID)
	}
	return ids, nil
}

// logSize is how long the node's log file is now.
func (n *node) logSize() int64 {
	fi, err := os.Stat(n.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logContains reports whether the node's log from byte from on holds s.
// logLineContains reports whether one line of n's log from offset from on
// contains every one of parts.
func (n *node) logLineContains(from int64, parts ...string) bool {
	f, err := os.Open(n.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<40))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return true
		}
	}
	return false
}

func (n *node) logContains(from int64, s string) bool {
	f, err := os.Open(n.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<40))
	return err == nil && strings.Contains(string(b), s)
}
