//go:build robustness

package robustness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Every namespace, link and bridge the suite makes has a name starting
// with one of these, so TestMain can tell leftovers apart from other tests'.
const (
	nsPrefix     = "chns"
	bridgePrefix = "chbr"
	vethPrefix   = "chv"
)

// network is a set of test hosts in network namespaces on a bridge in the
// root namespace: host i has address <subnet>.<i+1> and the root
// namespace (the test process, so the clients) <subnet>.254. Each host's
// namespace has two iptables chains, CHAOS-IN (from INPUT) and CHAOS-OUT
// (from OUTPUT), that hold every rule a nemesis adds; healing flushes them.
type network struct {
	suffix   string
	subnet   string
	n        int
	iptables bool // the chains exist: partitions and loss are possible
}

// sh runs a command and returns its combined output in the error.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func mustSh(t *testing.T, args ...string) {
	t.Helper()
	if err := sh(args...); err != nil {
		t.Fatal(err)
	}
}

// requireRoot skips the test unless it can make namespaces.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the fault suite needs root: network namespaces, veth pairs, iptables and tmpfs mounts")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the fault suite needs iproute2 (ip)")
	}
}

// newNetwork makes n hosts. Everything is removed at cleanup: deleting a
// namespace drops its rules, deleting one end of a veth deletes the pair.
func newNetwork(t *testing.T, n int) *network {
	t.Helper()
	requireRoot(t)
	b := make([]byte, 2)
	rand.Read(b)
	nw := &network{suffix: hex.EncodeToString(b), n: n}
	madeMu.Lock()
	made = append(made, nw.suffix)
	madeMu.Unlock()
	// NB: 10.215/16 only; internal/node's namespace tests use 10.213/16.
	// A /24 that an interface already has (another run) is skipped.
	addrs, _ := exec.Command("ip", "-4", "-o", "addr").Output()
	for i := range 250 {
		nw.subnet = fmt.Sprintf("10.215.%d", 1+(int(b[0])+i)%250)
		if !strings.Contains(string(addrs), " "+nw.subnet+".") {
			break
		}
	}
	br := bridgePrefix + nw.suffix
	mustSh(t, "ip", "link", "add", br, "type", "bridge")
	t.Cleanup(func() { sh("ip", "link", "del", br) })
	mustSh(t, "ip", "addr", "add", nw.subnet+".254/24", "dev", br)
	mustSh(t, "ip", "link", "set", br, "up")
	_, ipErr := exec.LookPath("iptables")
	nw.iptables = ipErr == nil
	for i := range n {
		ns, veth := nw.ns(i), nw.veth(i)
		mustSh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { sh("ip", "netns", "del", ns) })
		mustSh(t, "ip", "link", "add", veth, "type", "veth", "peer", "name", "p"+veth)
		t.Cleanup(func() { sh("ip", "link", "del", veth) })
		mustSh(t, "ip", "link", "set", "p"+veth, "netns", ns)
		mustSh(t, "ip", "link", "set", veth, "master", br)
		mustSh(t, "ip", "link", "set", veth, "up")
		mustSh(t, "ip", "netns", "exec", ns, "ip", "addr", "add", nw.addr(i)+"/24", "dev", "p"+veth)
		mustSh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "p"+veth, "up")
		mustSh(t, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
		if nw.iptables {
			for _, c := range [][2]string{{"CHAOS-IN", "INPUT"}, {"CHAOS-OUT", "OUTPUT"}} {
				mustSh(t, nw.iptablesArgs(i, "-N", c[0])...)
				mustSh(t, nw.iptablesArgs(i, "-A", c[1], "-j", c[0])...)
			}
		}
	}
	return nw
}

func (nw *network) ns(i int) string   { return fmt.Sprintf("%s%s%d", nsPrefix, nw.suffix, i) }
func (nw *network) veth(i int) string { return fmt.Sprintf("%s%s%d", vethPrefix, nw.suffix, i) }
func (nw *network) addr(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, i+1) }

func (nw *network) iptablesArgs(i int, args ...string) []string {
	return append([]string{"ip", "netns", "exec", nw.ns(i), "iptables", "-w"}, args...)
}

func (nw *network) requireIptables(t *testing.T) {
	t.Helper()
	if !nw.iptables {
		t.Skip("this scenario needs iptables (apt-get install iptables; .ci/run installs it)")
	}
}

// cutLink takes host i's link down: it reaches no one and no one reaches
// it, clients included. healLink brings it back.
func (nw *network) cutLink(i int) error  { return sh("ip", "link", "set", nw.veth(i), "down") }
func (nw *network) healLink(i int) error { return sh("ip", "link", "set", nw.veth(i), "up") }

// dropFrom makes host to drop every packet from host from: from's
// connections to to time out and to's connections to from get no answer,
// as a cut cable would (dropped on arrival, so neither sender gets an
// immediate error from its own stack).
func (nw *network) dropFrom(to, from int) error {
	return sh(nw.iptablesArgs(to, "-A", "CHAOS-IN", "-s", nw.addr(from), "-j", "DROP")...)
}

// refuseConnectionsFrom makes host to drop what host from sends to to's
// listeners (Kafka and controller ports), and nothing else: from can no
// longer reach to, while to's own connections to from still work (their
// packets from from come from from's listener ports to to's ephemeral
// ports). This is the asymmetric partition at the connection level; at
// the packet level a one-way cut breaks TCP both ways.
func (nw *network) refuseConnectionsFrom(to, from int) error {
	return sh(nw.iptablesArgs(to, "-A", "CHAOS-IN", "-s", nw.addr(from), "-p", "tcp",
		"--dport", fmt.Sprintf("%d:%d", kafkaPort, controllerPort), "-j", "DROP")...)
}

// partition drops all traffic between the hosts of a and of b, both ways.
// Clients (the root namespace) still reach everyone.
func (nw *network) partition(a, b []int) error {
	for _, x := range a {
		for _, y := range b {
			if err := nw.dropFrom(x, y); err != nil {
				return err
			}
			if err := nw.dropFrom(y, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// queueToPeers sends every packet host i sends to another host through
// NFQUEUE queue 0 of i's namespace; with no program on the queue the
// packets pass (--queue-bypass).
func (nw *network) queueToPeers(i int) error {
	for j := range nw.n {
		if j == i {
			continue
		}
		if err := sh(nw.iptablesArgs(i, "-A", "CHAOS-OUT", "-d", nw.addr(j), "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass")...); err != nil {
			return err
		}
	}
	return nil
}

// heal removes every rule a nemesis added on every host and brings every
// link up. It tries everything and returns the first error.
func (nw *network) heal() error {
	var first error
	for i := range nw.n {
		if nw.iptables {
			for _, c := range []string{"CHAOS-IN", "CHAOS-OUT"} {
				if err := sh(nw.iptablesArgs(i, "-F", c)...); err != nil && first == nil {
					first = err
				}
			}
		}
		if err := nw.healLink(i); err != nil && first == nil {
			first = err
		}
	}
	return first
}

var (
	madeMu sync.Mutex
	made   []string // suffixes of the networks this process made
)

// leftoverNamespaces lists the namespaces this process made that still
// exist (another run of the suite may have its own meanwhile).
func leftoverNamespaces() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	madeMu.Lock()
	defer madeMu.Unlock()
	var left []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
			continue
		}
		for _, sfx := range made {
			if strings.HasPrefix(f[0], nsPrefix+sfx) {
				left = append(left, f[0])
			}
		}
	}
	return left
}
