//go:build failpoints

package failpoint

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Compiled reports whether this binary was built with the failpoints tag.
const Compiled = true

// point is one switched-on failpoint.
type point struct {
	act  action
	left atomic.Int64 // evaluations that may still fire; -1: unlimited
	hits atomic.Int64 // times the action fired
}

var (
	mu sync.Mutex // serializes changes of points
	// points maps the switched-on failpoints; copied on change, so Inject
	// reads it with one atomic load.
	points atomic.Pointer[map[Name]*point]
	// hits outlives Disable, so a test can ask after the fact.
	hitCounts sync.Map // Name -> *atomic.Int64
)

func init() {
	if err := enableSpec(os.Getenv(EnvVar)); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", EnvVar, err)
		os.Exit(2)
	}
}

// Inject evaluates the failpoint name: it sleeps, panics or crashes when
// that is its action, and reports whether the call site should take its
// failure branch (action return).
func Inject(name Name) bool {
	m := points.Load()
	if m == nil {
		return false
	}
	p := (*m)[name]
	if p == nil {
		return false
	}
	return p.eval(name)
}

func (p *point) eval(name Name) bool {
	if p.act.percent > 0 && rand.Float64()*100 >= p.act.percent {
		return false
	}
	if p.left.Load() >= 0 {
		for {
			n := p.left.Load()
			if n <= 0 {
				return false
			}
			if p.left.CompareAndSwap(n, n-1) {
				break
			}
		}
	}
	p.hits.Add(1)
	counter(name).Add(1)
	switch p.act.kind {
	case actReturn:
		return true
	case actSleep:
		time.Sleep(p.act.sleep)
	case actPanic:
		panic(fmt.Sprintf("failpoint %s: panic", name))
	case actCrash:
		fmt.Fprintf(os.Stderr, "failpoint %s: crash (SIGKILL)\n", name)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute) // the signal is on its way
		os.Exit(137)
	}
	return false
}

func counter(name Name) *atomic.Int64 {
	if c, ok := hitCounts.Load(name); ok {
		return c.(*atomic.Int64)
	}
	c, _ := hitCounts.LoadOrStore(name, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// Hits reports how many times name's action fired since the process
// started (also counting while it was switched on earlier).
func Hits(name Name) int64 { return counter(name).Load() }

// Enable switches name on with spec ([P%][N*]ACTION, see the package doc)
// and returns a function that restores what name was before.
func Enable(name Name, spec string) (restore func(), err error) {
	if !known(name) {
		return nil, fmt.Errorf("unknown failpoint %q", name)
	}
	act, err := parseAction(spec)
	if err != nil {
		return nil, fmt.Errorf("failpoint %s: %w", name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	prev := current()[name]
	set(name, newPoint(act))
	return func() {
		mu.Lock()
		defer mu.Unlock()
		set(name, prev)
	}, nil
}

// Disable switches name off.
func Disable(name Name) {
	mu.Lock()
	defer mu.Unlock()
	set(name, nil)
}

// Active lists the switched-on failpoints as name=action, sorted, for the
// log line at start.
func Active() string {
	var out []string
	for n, p := range current() {
		out = append(out, string(n)+"="+p.act.spec)
	}
	sort.Strings(out)
	return strings.Join(out, ";")
}

// CheckEnv is nil in a failpoints build (init already validated the
// environment).
func CheckEnv() error { return nil }

func newPoint(act action) *point {
	p := &point{act: act}
	if act.count > 0 {
		p.left.Store(act.count)
	} else {
		p.left.Store(-1)
	}
	return p
}

func current() map[Name]*point {
	if m := points.Load(); m != nil {
		return *m
	}
	return nil
}

// set installs p for name (nil removes it); mu held.
func set(name Name, p *point) {
	next := make(map[Name]*point)
	for n, q := range current() {
		next[n] = q
	}
	if p == nil || p.act.kind == actOff {
		delete(next, name)
	} else {
		next[name] = p
	}
	if len(next) == 0 {
		points.Store(nil)
		return
	}
	points.Store(&next)
}

// enableSpec switches on every name=action of a STRATA_FAILPOINTS value
// (entries separated by ';'), all or none.
func enableSpec(s string) error {
	type entry struct {
		name Name
		act  action
	}
	var entries []entry
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, a, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("%q: want name=action", part)
		}
		name := Name(strings.TrimSpace(n))
		if !known(name) {
			return fmt.Errorf("unknown failpoint %q", name)
		}
		act, err := parseAction(a)
		if err != nil {
			return fmt.Errorf("failpoint %s: %w", name, err)
		}
		entries = append(entries, entry{name, act})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range entries {
		set(e.name, newPoint(e.act))
	}
	return nil
}
