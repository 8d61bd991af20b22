//go:build failpoints

package failpoint

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAction(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		kind    actionKind
		count   int64
		percent float64
		sleep   time.Duration
	}{
		{"return", actReturn, 0, 0, 0},
		{"on", actReturn, 0, 0, 0},
		{"off", actOff, 0, 0, 0},
		{"panic", actPanic, 0, 0, 0},
		{"crash", actCrash, 0, 0, 0},
		{"sleep(250ms)", actSleep, 0, 0, 250 * time.Millisecond},
		{"3*return", actReturn, 3, 0, 0},
		{"12.5%return", actReturn, 0, 12.5, 0},
		{"50%2*sleep(1s)", actSleep, 2, 50, time.Second},
	} {
		a, err := parseAction(tc.spec)
		if err != nil {
			t.Errorf("parseAction(%q): %v", tc.spec, err)
			continue
		}
		if a.kind != tc.kind || a.count != tc.count || a.percent != tc.percent || a.sleep != tc.sleep {
			t.Errorf("parseAction(%q) = %+v", tc.spec, a)
		}
	}
	for _, bad := range []string{"", "retrun", "0*return", "-1*return", "0%return", "101%return", "sleep(x)", "sleep(-1s)", "sleep(1s"} {
		if _, err := parseAction(bad); err == nil {
			t.Errorf("parseAction(%q) succeeded", bad)
		}
	}
}

func TestEnableCountAndRestore(t *testing.T) {
	before := Hits(FetchSkipBatch)
	restore, err := Enable(FetchSkipBatch, "2*return")
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for range 4 {
		got = append(got, Inject(FetchSkipBatch))
	}
	if want := []bool{true, true, false, false}; !equal(got, want) {
		t.Fatalf("2*return fired %v, want %v", got, want)
	}
	if n := Hits(FetchSkipBatch) - before; n != 2 {
		t.Fatalf("Hits = %d, want 2", n)
	}
	if Active() != "fetch-skip-batch=2*return" {
		t.Fatalf("Active() = %q", Active())
	}
	restore()
	if Inject(FetchSkipBatch) || Active() != "" {
		t.Fatalf("after restore: Inject true or Active %q", Active())
	}
	if _, err := Enable("no-such-point", "return"); err == nil {
		t.Fatal("Enable of an unknown name succeeded")
	}
}

func TestPercent(t *testing.T) {
	restore, err := Enable(ServePastHW, "50%return")
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	n := 0
	for range 2000 {
		if Inject(ServePastHW) {
			n++
		}
	}
	// 2000 draws at p=0.5: 1000 ± 20σ (σ≈22) cannot miss.
	if n < 550 || n > 1450 {
		t.Fatalf("50%% fired %d of 2000", n)
	}
}

func TestSleepAndPanic(t *testing.T) {
	restore, err := Enable(ReplicaFetch, "1*sleep(20ms)")
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	start := time.Now()
	if Inject(ReplicaFetch) {
		t.Fatal("sleep reported true")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("sleep(20ms) returned after %v", d)
	}
	r2, err := Enable(SegmentBeforeFsync, "panic")
	if err != nil {
		t.Fatal(err)
	}
	defer r2()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "segment-before-fsync") {
			t.Fatalf("recover() = %v", r)
		}
	}()
	Inject(SegmentBeforeFsync)
	t.Fatal("panic action did not panic")
}

func TestEnableSpec(t *testing.T) {
	defer Disable(AckBeforeISR)
	defer Disable(ReplicaFetch)
	if err := enableSpec(" ack-before-isr=return ; replica-fetch=sleep(1ms);"); err != nil {
		t.Fatal(err)
	}
	if got, want := Active(), "ack-before-isr=return;replica-fetch=sleep(1ms)"; got != want {
		t.Fatalf("Active() = %q, want %q", got, want)
	}
	for _, bad := range []string{"ack-before-isr", "nope=return", "ack-before-isr=maybe"} {
		if err := enableSpec(bad); err == nil {
			t.Errorf("enableSpec(%q) succeeded", bad)
		}
	}
	if !errors.Is(Error(AckBeforeISR), ErrInjected) {
		t.Fatal("Error does not wrap ErrInjected")
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
