package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// is 100 on every mainstream Linux architecture.
const userHZ = 100

// procRoot is where the proc file system is mounted.
const procRoot = "/proc"

// ReadCPUTime returns the user plus system CPU time process pid has used,
// from /proc/PID/stat.
func ReadCPUTime(pid int) (time.Duration, error) {
	return readCPUTime(procRoot, pid)
}

func readCPUTime(root string, pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the contents
// of /proc/PID/stat.
func parseStatCPU(b []byte) (time.Duration, error) {
	// NB: field 2 is the command name in parentheses, and it may itself
	// hold spaces and parentheses; the fields after it start after the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("stat: no ')' after the command name")
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("stat: stime: %w", err)
	}
	ticks := utime + stime
	if ticks > math.MaxInt64/uint64(time.Second/userHZ) {
		return 0, fmt.Errorf("stat: cpu time of %d ticks is out of range", ticks)
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// ReadMemory returns the resident set size (VmRSS) and its peak since the
// process started (VmHWM) of process pid in bytes, from /proc/PID/status.
func ReadMemory(pid int) (rss, hwm int64, err error) {
	return readMemory(procRoot, pid)
}

func readMemory(root string, pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	return parseStatusMemory(b)
}

// parseStatusMemory reads the VmRSS and VmHWM lines ("VmRSS:	  1234 kB")
// of /proc/PID/status.
func parseStatusMemory(b []byte) (rss, hwm int64, err error) {
	var haveRSS, haveHWM bool
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("status: %s: unexpected value %q", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0, 0, fmt.Errorf("status: %s: bad size %q", name, f[0])
		}
		if name == "VmRSS" {
			rss, haveRSS = kb*1024, true
		} else {
			hwm, haveHWM = kb*1024, true
		}
	}
	if !haveRSS || !haveHWM {
		// Kernel threads and zombies have no memory lines.
		return 0, 0, errors.New("status: no VmRSS and VmHWM lines")
	}
	return rss, hwm, nil
}

// RSSSampler samples the resident set size of a process at a fixed period
// and keeps the largest value. Its Run is the only goroutine it needs.
type RSSSampler struct {
	root  string        // set in NewRSSSampler, never changed
	pid   int           // set in NewRSSSampler, never changed
	every time.Duration // set in NewRSSSampler, never changed

	mu struct {
		sync.Mutex
		peak    int64
		samples int
	}
}

// NewRSSSampler returns a sampler of process pid that reads /proc/PID/status
// every period once Run is called. It starts nothing.
func NewRSSSampler(pid int, every time.Duration) *RSSSampler {
	return &RSSSampler{root: procRoot, pid: pid, every: every}
}

// Run samples at once and then every period until ctx is done, and returns
// nil then. It returns the error early if the process can no longer be
// read (it exited).
func (s *RSSSampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		rss, _, err := readMemory(s.root, s.pid)
		if err != nil {
			return fmt.Errorf("sample memory of pid %d: %w", s.pid, err)
		}
		s.mu.Lock()
		s.mu.peak = max(s.mu.peak, rss)
		s.mu.samples++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Peak returns the largest RSS sampled so far in bytes, and how many
// samples were taken.
func (s *RSSSampler) Peak() (rss int64, samples int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.peak, s.mu.samples
}

// brokerComm is the command name (/proc/PID/comm) of a strata process.
const brokerComm = "strata"

// ErrAmbiguousBroker is returned by FindBroker when more than one strata
// process listens on a bootstrap port.
var ErrAmbiguousBroker = errors.New("more than one strata process listens on the bootstrap port")

// FindBroker looks for the local broker behind the seed addresses
// (host:port): a process other than this one whose /proc/PID/comm is
// "strata" and which listens on the port of a seed whose host is this
// machine (localhost, the host name, or one of its addresses). Listening
// sockets come from /proc/net/tcp and tcp6 and are matched to processes by
// inode through /proc/PID/fd. It returns 0 and no error when there is no
// such process (or no seed is local), and ErrAmbiguousBroker, wrapped with
// the candidates, when there are several.
func FindBroker(seeds []string) (int, error) {
	ports := localSeedPorts(seeds)
	if len(ports) == 0 {
		return 0, nil
	}
	pids, err := findListeners(procRoot, brokerComm, ports, os.Getpid())
	if err != nil {
		return 0, err
	}
	switch len(pids) {
	case 0:
		return 0, nil
	case 1:
		return pids[0], nil
	}
	return 0, fmt.Errorf("%w: pids %v", ErrAmbiguousBroker, pids)
}

// localSeedPorts returns the ports of the seeds whose host is this machine.
func localSeedPorts(seeds []string) []int {
	var addrs []net.Addr
	addrsLoaded := false
	hostname, _ := os.Hostname()
	var ports []int
	for _, s := range seeds {
		host, portStr, err := net.SplitHostPort(s)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port <= 0 || port > 65535 {
			continue
		}
		local := host == "" || strings.EqualFold(host, "localhost") || (hostname != "" && strings.EqualFold(host, hostname))
		if ip := net.ParseIP(host); !local && ip != nil {
			local = ip.IsLoopback() || ip.IsUnspecified()
			if !local && !addrsLoaded {
				addrs, _ = net.InterfaceAddrs()
				addrsLoaded = true
			}
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
					local = true
				}
			}
		}
		if local && !slices.Contains(ports, port) {
			ports = append(ports, port)
		}
	}
	return ports
}

// findListeners returns the processes named comm, other than exclude,
// holding a TCP socket that listens on one of ports.
func findListeners(root, comm string, ports []int, exclude int) ([]int, error) {
	inodes := make(map[string]bool)
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join(root, "net", name))
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6
		}
		if err != nil {
			return nil, fmt.Errorf("read listening sockets: %w", err)
		}
		for _, ino := range listeningInodes(b, ports) {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return nil, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == exclude {
			continue
		}
		dir := filepath.Join(root, e.Name())
		c, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil || strings.TrimSuffix(string(c), "\n") != comm {
			continue
		}
		if holdsSocket(filepath.Join(dir, "fd"), inodes) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// holdsSocket reports whether an fd in dir links to "socket:[INODE]" for one
// of inodes. Processes of other users cannot be read and count as not.
func holdsSocket(dir string, inodes map[string]bool) bool {
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		ino, ok := strings.CutPrefix(link, "socket:[")
		if ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true
		}
	}
	return false
}

// listeningInodes parses /proc/net/tcp or tcp6 and returns the inodes of
// sockets in state LISTEN on one of ports.
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//	 0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 ...
func listeningInodes(b []byte, ports []int) []string {
	const stateListen = "0A"
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != stateListen {
			continue
		}
		_, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil || !slices.Contains(ports, int(port)) {
			continue
		}
		out = append(out, f[9])
	}
	return out
}
