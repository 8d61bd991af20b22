package controller

import (
	"slices"
	"testing"
	"time"
)

// TestPropagationLagging: a broker lags until it reports the offset; one
// silent for longer than recent is not waited for; every report wakes
// waiters.
func TestPropagationLagging(t *testing.T) {
	p := newPropagation()
	now := time.Unix(1000, 0)
	p.report(1, 10, now)
	p.report(2, 7, now)
	p.report(3, 3, now.Add(-time.Minute)) // silent for a minute
	lag, changed := p.lagging([]int32{1, 2, 3, 4}, 10, now, time.Second)
	if !slices.Equal(lag, []int32{2}) {
		t.Fatalf("lagging = %v, want [2] (3 is silent, 4 never reported)", lag)
	}
	p.report(2, 10, now)
	select {
	case <-changed:
	default:
		t.Fatal("a report did not wake the waiter")
	}
	if lag, _ := p.lagging([]int32{1, 2, 3}, 10, now, time.Second); len(lag) != 0 {
		t.Fatalf("lagging = %v after broker 2 caught up", lag)
	}
	// A restarted broker reports a lower offset than before: it lags again.
	p.report(1, 2, now)
	if lag, _ := p.lagging([]int32{1}, 10, now, time.Second); !slices.Equal(lag, []int32{1}) {
		t.Fatalf("lagging = %v, want [1] after it restarted behind", lag)
	}
}
