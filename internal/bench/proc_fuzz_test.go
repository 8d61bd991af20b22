package bench

import (
	"testing"
)

// FuzzProcParsers feeds arbitrary bytes to the /proc parsers: they must not
// panic, and what they accept must be in range.
func FuzzProcParsers(f *testing.F) {
	f.Add([]byte("4242 (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 123 456 789\n"))
	f.Add([]byte("VmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n"))
	f.Add([]byte("   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStatCPU(b); err == nil && d < 0 {
			t.Errorf("parseStatCPU(%q) = %v, want >= 0", b, d)
		}
		if rss, hwm, err := parseStatusMemory(b); err == nil && (rss < 0 || hwm < 0) {
			t.Errorf("parseStatusMemory(%q) = %d, %d, want >= 0", b, rss, hwm)
		}
		_ = listeningInodes(b, []int{9092})
	})
}
