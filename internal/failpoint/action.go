//go:build failpoints

package failpoint

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type actionKind int

const (
	actOff actionKind = iota
	actReturn
	actSleep
	actPanic
	actCrash
)

// action is a parsed [P%][N*]ACTION.
type action struct {
	spec    string
	kind    actionKind
	sleep   time.Duration
	count   int64   // 0: unlimited
	percent float64 // 0: always
}

func parseAction(s string) (action, error) {
	s = strings.TrimSpace(s)
	a := action{spec: s}
	rest := s
	if i := strings.IndexByte(rest, '%'); i >= 0 {
		p, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || !(p > 0 && p <= 100) {
			return a, fmt.Errorf("%q: the percentage must be in (0, 100]", s)
		}
		a.percent, rest = p, rest[i+1:]
	}
	if i := strings.IndexByte(rest, '*'); i >= 0 {
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n <= 0 {
			return a, fmt.Errorf("%q: the count must be a positive integer", s)
		}
		a.count, rest = n, rest[i+1:]
	}
	switch {
	case rest == "return" || rest == "on":
		a.kind = actReturn
	case rest == "off":
		a.kind = actOff
	case rest == "panic":
		a.kind = actPanic
	case rest == "crash":
		a.kind = actCrash
	case strings.HasPrefix(rest, "sleep(") && strings.HasSuffix(rest, ")"):
		d, err := time.ParseDuration(rest[len("sleep(") : len(rest)-1])
		if err != nil || d < 0 {
			return a, fmt.Errorf("%q: sleep wants a non-negative Go duration, e.g. sleep(100ms)", s)
		}
		a.kind, a.sleep = actSleep, d
	default:
		return a, fmt.Errorf("%q: unknown action (want return, on, off, sleep(D), panic or crash, optionally after P%% and N*)", s)
	}
	return a, nil
}
