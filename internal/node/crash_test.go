package node

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// strataBinary builds cmd/strata once per test run.
func strataBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "strata")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/strata-io/strata/cmd/strata").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort returns a loopback address that nothing listens on now, for a
// child process to bind. NB: it is chosen below the kernel's ephemeral
// range (32768+ here), so until the child binds it no outgoing connection
// can take it as its source port, nor can a dial to it connect to itself.
//
// A port is handed out once per test binary: a test asks for several
// before its children bind any, and one returned twice would make two
// children collide (bind: address already in use).
func freePort(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if _, taken := portsHandedOut.LoadOrStore(addr, true); taken {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port in 20000-31999 after 100 tries")
	return ""
}

// portsHandedOut holds every address freePort returned in this process.
var portsHandedOut sync.Map

// child is a `strata serve` process.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	dir  string
	args []string // the extra serve flags, to restart it alike
	done chan struct{}
}

func startChild(t *testing.T, dir, addr string, args ...string) *child {
	t.Helper()
	c := spawnChild(t, dir, addr, args...)
	c.waitListening()
	return c
}

// spawnChild starts `strata serve` without waiting for it: cluster members
// need each other before any of them serves.
func spawnChild(t *testing.T, dir, addr string, args ...string) *child {
	t.Helper()
	return spawnChildLogging(t, testWriter{t}, dir, addr, args...)
}

// spawnChildLogging is spawnChild with the child's log (its stderr) going
// to log.
func spawnChildLogging(t *testing.T, log io.Writer, dir, addr string, args ...string) *child {
	t.Helper()
	level := "warn"
	if os.Getenv("STRATATEST_LOG") != "" {
		level = "debug"
	}
	cmd := exec.Command(strataBinary(t), append([]string{"serve", "--data-dir", dir, "--listen", addr, "--log-level", level}, args...)...)
	cmd.Stdout = io.Discard
	cmd.Stderr = log
	// NB: strata serve takes every STRATA_* variable for a setting (and
	// refuses unknown ones); a developer's shell must not reconfigure or
	// break the test's brokers.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
	if err := cmd.Start(); err != nil {
		t.Fatalf("start strata: %v", err)
	}
	c := &child{t: t, cmd: cmd, addr: addr, dir: dir, args: args, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() { c.kill() })
	return c
}

// waitListening waits until the child accepts connections on its Kafka
// listener.
func (c *child) waitListening() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-c.done:
			c.t.Fatalf("strata exited during start: %v", c.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("strata not listening on %s after 30s", c.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *child) terminate() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.t.Errorf("strata did not exit within 30s of SIGTERM")
		c.kill()
	}
}

type acked struct {
	partition int32
	offset    int64
}

// TestAcknowledgedRecordsSurviveSIGKILL: with fsync=always and acks=all,
// every acknowledged record is present exactly once after a SIGKILL and
// restart, offsets have no gap, and producing continues at the next offset.
func TestAcknowledgedRecordsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	dir := t.TempDir()
	addr := freePort(t)
	srv := startChild(t, dir, addr, "--fsync", "always")

	admin := kgoClient(t, addr)
	topic := "crash"
	if r, err := kadmClient(admin).CreateTopic(ctxTimeout(t, 10*time.Second), 3, 1, nil, topic); err != nil || r.Err != nil {
		t.Fatalf("create %s: %v / %v", topic, err, r.Err)
	}
	p := kgoClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(5*time.Second), kgo.ProducerLinger(time.Millisecond))

	var mu sync.Mutex
	ackedByValue := make(map[string]acked)
	var firstErr error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			v := strconv.Itoa(i)
			p.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ackedByValue[string(r.Value)] = acked{r.Partition, r.Offset}
				} else if firstErr == nil && ctx.Err() == nil {
					firstErr = err
				}
			})
		}
	}()
	// Kill once a good number of records are acknowledged, mid-stream.
	waitFor(t, "20,000 acknowledged records", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil {
			t.Fatalf("produce failed before the kill: %v", firstErr)
		}
		return len(ackedByValue) >= 20000
	})
	srv.kill()
	cancel()
	wg.Wait()
	p.Close()
	mu.Lock()
	nAcked := len(ackedByValue)
	mu.Unlock()
	t.Logf("%d records acknowledged before SIGKILL", nAcked)

	srv = startChild(t, dir, addr, "--fsync", "always")
	c := kgoClient(t, addr)
	ends, err := kadmClient(c).ListEndOffsets(ctxTimeout(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	ends.Each(func(o kadmListedOffset) { total += o.Offset })
	recs := consumeFrom(t, addr, topic, int(total))
	seen := make(map[string]acked)
	next := map[int32]int64{}
	for _, r := range recs {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d follows %d: gap or reorder", r.Partition, r.Offset, next[r.Partition]-1)
		}
		next[r.Partition] = r.Offset + 1
		v := string(r.Value)
		if prev, dup := seen[v]; dup {
			t.Fatalf("record %q stored twice: %v and %d/%d", v, prev, r.Partition, r.Offset)
		}
		seen[v] = acked{r.Partition, r.Offset}
	}
	for v, a := range ackedByValue {
		got, ok := seen[v]
		if !ok {
			t.Fatalf("acknowledged record %q (partition %d offset %d) lost", v, a.partition, a.offset)
		}
		if got != a {
			t.Fatalf("acknowledged record %q at %v, now at %v", v, a, got)
		}
	}
	t.Logf("after restart: %d records stored, all %d acknowledged present once", len(seen), nAcked)

	// The next produce continues each partition at its end offset.
	p2 := kgoClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for part := int32(0); part < 3; part++ {
		r, err := p2.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Partition: part, Value: []byte("after")}).First()
		if err != nil {
			t.Fatalf("produce after restart: %v", err)
		}
		if r.Offset != next[part] {
			t.Fatalf("partition %d: produce after restart got offset %d, want %d", part, r.Offset, next[part])
		}
	}
	srv.terminate()
}

func kgoClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func consumeFrom(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	c := kgoClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxTimeout(t, 60*time.Second)
	var out []*kgo.Record
	for len(out) < n {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", len(out), n, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	// Sort per partition by offset for the gap check.
	byPart := map[int32][]*kgo.Record{}
	for _, r := range out {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	out = out[:0]
	for p := int32(0); p < int32(len(byPart))+16; p++ {
		out = append(out, byPart[p]...)
	}
	return out
}

// TestIdempotentRetryAfterSIGKILLIsDeduplicated: a producer whose batch was
// acknowledged just before the broker died retries it after the restart;
// the producer state rebuilt from the log answers the original offset.
func TestIdempotentRetryAfterSIGKILLIsDeduplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	dir := t.TempDir()
	addr := freePort(t)
	srv := startChild(t, dir, addr, "--fsync", "always")
	if _, err := kadmClient(kgoClient(t, addr)).CreateTopic(ctxTimeout(t, 10*time.Second), 1, 1, nil, "retry"); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, addr)
	init := kmsgInitProducerID()
	ir := rc.send(init).(*kmsgInitProducerIDResponse)
	pid := ir.ProducerID
	var offsets []int64
	for i, seq := range []int32{0, 3, 5} {
		b := idempotentBatch(t, pid, 0, seq, strings3(i)...)
		code, off := produceCode(t, rc, produceReq(9, -1, "retry", b))
		if code != 0 {
			t.Fatalf("produce seq %d: code %d", seq, code)
		}
		offsets = append(offsets, off)
	}
	srv.kill()
	srv = startChild(t, dir, addr, "--fsync", "always")
	rc = dialRaw(t, addr)
	// Retry the last two batches (within the 5 remembered per producer).
	for i, seq := range []int32{3, 5} {
		b := idempotentBatch(t, pid, 0, seq, strings3(i+1)...)
		code, off := produceCode(t, rc, produceReq(9, -1, "retry", b))
		if code != 0 || off != offsets[i+1] {
			t.Fatalf("retry of seq %d after restart: code %d offset %d, want offset %d", seq, code, off, offsets[i+1])
		}
	}
	if hw := highWatermark(t, addr, "retry"); hw != 7 {
		t.Fatalf("high watermark %d after retries, want 7: a retry was appended again", hw)
	}
	// The next sequence continues normally.
	if code, off := produceCode(t, rc, produceReq(9, -1, "retry", idempotentBatch(t, pid, 0, 7, "x"))); code != 0 || off != 7 {
		t.Fatalf("next batch after restart: code %d offset %d", code, off)
	}
	srv.terminate()
}

// strings3 returns batch i's values: 3, 2 and 2 records.
func strings3(i int) []string {
	return [][]string{{"a", "b", "c"}, {"d", "e"}, {"f", "g"}}[i]
}
