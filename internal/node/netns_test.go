package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// netnsHosts are test hosts in network namespaces on a bridge in the root
// namespace: host i has address 10.213.<net>.<i+1>, the test process
// reaches them through the bridge, and cutting a host's link isolates it
// from everyone.
type netnsHosts struct {
	t      *testing.T
	suffix string
	subnet string
	n      int
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetnsHosts(t *testing.T, n int) *netnsHosts {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 not installed")
	}
	b := make([]byte, 2)
	rand.Read(b)
	h := &netnsHosts{t: t, suffix: hex.EncodeToString(b), n: n}
	h.subnet = fmt.Sprintf("10.213.%d", 1+int(b[0])%250)
	br := "sbr" + h.suffix
	run(t, "ip", "link", "add", br, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", br).Run() })
	run(t, "ip", "addr", "add", h.subnet+".254/24", "dev", br)
	run(t, "ip", "link", "set", br, "up")
	for i := range n {
		ns, veth := h.ns(i), h.veth(i)
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "link", "add", veth, "type", "veth", "peer", "name", "p"+veth)
		// Deleting one end deletes the pair, even while the namespace
		// lingers after its processes.
		t.Cleanup(func() { exec.Command("ip", "link", "del", veth).Run() })
		run(t, "ip", "link", "set", "p"+veth, "netns", ns)
		run(t, "ip", "link", "set", veth, "master", br)
		run(t, "ip", "link", "set", veth, "up")
		run(t, "ip", "netns", "exec", ns, "ip", "addr", "add", h.addr(i)+"/24", "dev", "p"+veth)
		run(t, "ip", "netns", "exec", ns, "ip", "link", "set", "p"+veth, "up")
		run(t, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	}
	return h
}

func (h *netnsHosts) ns(i int) string   { return fmt.Sprintf("sns%s%d", h.suffix, i) }
func (h *netnsHosts) veth(i int) string { return fmt.Sprintf("sv%s%d", h.suffix, i) }
func (h *netnsHosts) addr(i int) string { return fmt.Sprintf("%s.%d", h.subnet, i+1) }

// cut isolates host i (its link goes down); heal reconnects it.
func (h *netnsHosts) cut(i int)  { run(h.t, "ip", "link", "set", h.veth(i), "down") }
func (h *netnsHosts) heal(i int) { run(h.t, "ip", "link", "set", h.veth(i), "up") }

// spawn starts `strata serve` on host i.
func (h *netnsHosts) spawn(i int, dir string, args ...string) *child {
	t := h.t
	t.Helper()
	addr := net.JoinHostPort(h.addr(i), "9092")
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns(i), strataBinary(t), "serve", "--data-dir", dir,
		"--listen", addr, "--log-level", "warn"}, args...)...)
	cmd.Stdout = io.Discard
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start strata in %s: %v", h.ns(i), err)
	}
	c := &child{t: t, cmd: cmd, addr: addr, dir: dir, args: args, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.kill() })
	return c
}

// TestPartitionedLeaderLosesNoAcknowledgedWrite cuts the partition
// leader's host off from every peer and client for longer than the broker
// session timeout while an acks=all producer runs, then heals the network.
// The cut-off leader cannot acknowledge (its followers are unreachable), a
// new leader takes over, and when the old one returns it truncates what it
// alone had. Nothing acknowledged is lost; nothing consumed vanishes.
func TestPartitionedLeaderLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and three processes")
	}
	hosts := newNetnsHosts(t, 3)
	var voters []string
	for i := range 3 {
		voters = append(voters, fmt.Sprintf("%d@%s:9093", i+1, hosts.addr(i)))
	}
	tc := &testCluster{}
	for i := range 3 {
		tc.addrs = append(tc.addrs, net.JoinHostPort(hosts.addr(i), "9092"))
		tc.nodes = append(tc.nodes, hosts.spawn(i, t.TempDir(), "--node-id", fmt.Sprint(i+1),
			"--controller-voters", strings.Join(voters, ","), "--controller-listen", hosts.addr(i)+":9093",
			"--offsets-topic-partitions", "3", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms",
			"--replica-lag-time-max", "2s"))
	}
	for _, c := range tc.nodes {
		c.waitListening()
	}
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...)))
	waitFor(t, "creating the topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "cut")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "a full ISR", 30*time.Second, func() bool {
		l, isr := leaderOf(t, tc.addrs[0], "cut", 0)
		return l > 0 && len(isr) == 3
	})
	// Clients give up on a request to the cut-off host quickly.
	load := startHistoryLoad(t, tc.addrs, "cut", kgo.RequestTimeoutOverhead(2*time.Second))
	load.waitAcked(t, "3,000 acknowledged records", 3000)
	leader, _ := leaderOf(t, tc.addrs[0], "cut", 0)
	victim := int(leader - 1)
	other := tc.addrs[(victim+1)%3]
	hosts.cut(victim)
	cutAt := load.acked.Load()
	waitFor(t, "a new leader on the majority side", 30*time.Second, func() bool {
		l, _ := leaderOf(t, other, "cut", 0)
		return l > 0 && l != leader
	})
	load.waitAcked(t, "acknowledgements under the new leader", 3000)
	hosts.heal(victim)
	waitFor(t, "the healed broker back in the ISR", 60*time.Second, func() bool {
		_, isr := leaderOf(t, other, "cut", 0)
		return len(isr) == 3
	})
	load.waitAcked(t, "acknowledgements after healing", 2000)
	final := load.stopAndCheck(t, other, "cut")
	t.Logf("leader %d cut off: %d records acknowledged (%d before the cut), %d stored", leader, load.acked.Load(), cutAt, len(final[0]))
}
