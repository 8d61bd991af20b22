package bench

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	give := "4242 (we ird) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 123 456 789\n"
	got, err := parseStatCPU([]byte(give))
	if err != nil {
		t.Fatalf("parseStatCPU: %v", err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Errorf("parseStatCPU(%q) = %v, want %v (325 ticks of 10ms)", give, got, want)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 1 0",
		"1 (x) S 1 1 1 0 -1 0 0 0 0 0 9223372036854775807 9223372036854775807 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q): no error", bad)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	give := "Name:\tstrata\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t9\n"
	rss, hwm, err := parseStatusMemory([]byte(give))
	if err != nil {
		t.Fatalf("parseStatusMemory: %v", err)
	}
	if rss != 1024*1024 || hwm != 2048*1024 {
		t.Errorf("parseStatusMemory = %d, %d, want %d, %d", rss, hwm, 1024*1024, 2048*1024)
	}
	for _, bad := range []string{"Name:\tkthreadd\n", "VmRSS:\t12 MB\nVmHWM:\t1 kB\n", "VmRSS:\tx kB\nVmHWM:\t1 kB\n"} {
		if _, _, err := parseStatusMemory([]byte(bad)); err == nil {
			t.Errorf("parseStatusMemory(%q): no error", bad)
		}
	}
}

func TestReadOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := ReadCPUTime(pid)
	if err != nil {
		t.Fatalf("ReadCPUTime(self): %v", err)
	}
	// Burn CPU for a few clock ticks so the count must move.
	spinUntil := time.Now().Add(60 * time.Millisecond)
	x := 0
	for time.Now().Before(spinUntil) {
		x++
	}
	after, err := ReadCPUTime(pid)
	if err != nil {
		t.Fatalf("ReadCPUTime(self): %v", err)
	}
	if after <= before {
		t.Errorf("ReadCPUTime(self) went from %v to %v after spinning 60ms (%d loops), want it to grow", before, after, x)
	}
	rss, hwm, err := ReadMemory(pid)
	if err != nil {
		t.Fatalf("ReadMemory(self): %v", err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("ReadMemory(self) = rss %d, hwm %d, want 0 < rss <= hwm", rss, hwm)
	}
}

func TestRSSSamplerSamplesOwnProcess(t *testing.T) {
	s := NewRSSSampler(os.Getpid(), 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("RSSSampler.Run: %v", err)
	}
	peak, n := s.Peak()
	if peak <= 0 || n < 2 {
		t.Errorf("Peak() = %d bytes in %d samples, want > 0 in at least 2", peak, n)
	}
}

func TestRSSSamplerStopsWhenProcessIsGone(t *testing.T) {
	s := NewRSSSampler(1, time.Millisecond)
	s.root = t.TempDir() // no such process there
	if err := s.Run(t.Context()); err == nil {
		t.Errorf("RSSSampler.Run on a missing process: no error")
	}
}

func TestFindListenersFindsOwnListeningSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatalf("read own comm: %v", err)
	}
	name := strings.TrimSpace(string(comm))

	pids, err := findListeners(procRoot, name, []int{port}, -1)
	if err != nil {
		t.Fatalf("findListeners: %v", err)
	}
	if len(pids) != 1 || pids[0] != os.Getpid() {
		t.Errorf("findListeners(%q, port %d) = %v, want [%d]", name, port, pids, os.Getpid())
	}
	// Excluding ourselves, or another name, finds nothing.
	if pids, _ := findListeners(procRoot, name, []int{port}, os.Getpid()); len(pids) != 0 {
		t.Errorf("findListeners excluding self = %v, want none", pids)
	}
	if pids, _ := findListeners(procRoot, "strata-no-such", []int{port}, -1); len(pids) != 0 {
		t.Errorf("findListeners(other name) = %v, want none", pids)
	}
	// FindBroker looks for "strata", which this test binary is not.
	if pid, err := FindBroker([]string{ln.Addr().String()}); err != nil || pid != 0 {
		t.Errorf("FindBroker(%s) = %d, %v, want 0, nil", ln.Addr(), pid, err)
	}
}

func TestListeningInodes(t *testing.T) {
	give := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2384 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
`
	got := listeningInodes([]byte(give), []int{9092})
	if len(got) != 1 || got[0] != "1111" {
		t.Errorf("listeningInodes(port 9092) = %v, want [1111] (the LISTEN socket only)", got)
	}
}

func TestLocalSeedPorts(t *testing.T) {
	host, _ := os.Hostname()
	seeds := []string{"127.0.0.1:9092", "localhost:9093", "[::1]:9094", "192.0.2.1:9095", "example.invalid:9096", "bad", "127.0.0.1:9092"}
	if host != "" {
		seeds = append(seeds, net.JoinHostPort(host, "9097"))
	}
	got := localSeedPorts(seeds)
	want := []int{9092, 9093, 9094}
	if host != "" {
		want = append(want, 9097)
	}
	if !slices.Equal(got, want) {
		t.Errorf("localSeedPorts(%q) = %v, want %v", seeds, got, want)
	}
}
