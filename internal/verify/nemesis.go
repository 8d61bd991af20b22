package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Nemesis injects faults during the load phase. Run is called once in its
// own goroutine with a ctx cancelled when the load phase ends; it must
// heal everything before returning. It reports each fault window through
// rec so reports can draw them.
type Nemesis interface {
	Run(ctx context.Context, rec *FaultRecorder) error
}

// NemesisFunc adapts a function to Nemesis.
type NemesisFunc func(ctx context.Context, rec *FaultRecorder) error

// Run calls f.
func (f NemesisFunc) Run(ctx context.Context, rec *FaultRecorder) error { return f(ctx, rec) }

// FaultRecorder collects fault windows; it is goroutine-safe.
type FaultRecorder struct {
	start time.Time // the history's T=0; set when made, never changed

	mu     sync.Mutex
	faults []Fault // guarded by mu; End < 0 while the window is open
}

func newFaultRecorder(start time.Time) *FaultRecorder { return &FaultRecorder{start: start} }

// Begin records the start of a fault window named e.g. "kill node 2" and
// returns the function that ends it. Calling end more than once is
// harmless; a window never ended closes when the load phase ends.
func (r *FaultRecorder) Begin(name string) (end func()) {
	i := r.open(name)
	var once sync.Once
	return func() { once.Do(func() { r.close(i, "", nil) }) }
}

// BeginDetail is Begin whose end function also keeps the fault's output
// (trimmed to 16 KiB) and error for the report.
func (r *FaultRecorder) BeginDetail(name string) (end func(output string, err error)) {
	i := r.open(name)
	var once sync.Once
	return func(output string, err error) { once.Do(func() { r.close(i, output, err) }) }
}

func (r *FaultRecorder) open(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, Fault{Name: name, Start: time.Since(r.start), End: -1})
	return len(r.faults) - 1
}

func (r *FaultRecorder) close(i int, output string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := &r.faults[i]
	f.End = time.Since(r.start)
	const maxOutput = 16 << 10
	if len(output) > maxOutput {
		output = output[:maxOutput] + "\n[output trimmed]"
	}
	f.Output = output
	if err != nil {
		f.Err = err.Error()
	}
}

// windows returns the faults, closing open ones at end.
func (r *FaultRecorder) windows(end time.Duration) []Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Fault(nil), r.faults...)
	for i := range out {
		if out[i].End < 0 {
			out[i].End = max(end, out[i].Start)
		}
	}
	return out
}

// CommandNemesis runs Command with `sh -c` every Interval during the load
// phase, the first time one Interval after the load starts. Each run is a
// fault window named after the command, with its combined output. A run
// in progress when the load ends is waited for (a half-done restart would
// leave the cluster broken), bounded by Timeout; runs never overlap.
type CommandNemesis struct {
	Command  string
	Interval time.Duration
	// Timeout bounds one run of the command (default 5 minutes); after
	// it the command's process is killed.
	Timeout time.Duration
}

// Run implements Nemesis.
func (n CommandNemesis) Run(ctx context.Context, rec *FaultRecorder) error {
	if n.Interval <= 0 {
		return fmt.Errorf("nemesis interval must be positive, got %s", n.Interval)
	}
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	t := time.NewTimer(n.Interval)
	defer t.Stop()
	var errs []error
	for run := 1; ; run++ {
		select {
		case <-ctx.Done():
			return errors.Join(errs...)
		case <-t.C:
		}
		began := time.Now()
		if err := n.runOnce(rec, run, timeout); err != nil {
			errs = append(errs, err)
		}
		t.Reset(max(n.Interval-time.Since(began), time.Millisecond))
	}
}

func (n CommandNemesis) runOnce(rec *FaultRecorder, run int, timeout time.Duration) error {
	// NB: not ctx: the load ending must not kill a restart half-way.
	cctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "sh", "-c", n.Command)
	cmd.WaitDelay = time.Second
	var out boundedBuffer
	out.limit = 64 << 10
	cmd.Stdout = &out
	cmd.Stderr = &out
	end := rec.BeginDetail(fmt.Sprintf("nemesis #%d: %s", run, n.Command))
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("nemesis run %d (%s): %w", run, n.Command, err)
	}
	end(strings.TrimSpace(out.String()), err)
	return err
}

// boundedBuffer keeps at most limit bytes written to it.
type boundedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
