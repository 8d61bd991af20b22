package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromiumPath is Debian's chromium package; the test skips without it
// (.ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// TestConsoleInChromium drives the console's pages in headless Chromium
// against an in-process node: create a topic, produce a record, find it in
// the message browser, see a consumer group's lag and reset its offsets
// (plus add partitions, edit a config and delete a topic). Each page is
// saved as a PNG under $STRATATEST_ARTIFACTS/console (default: a temporary
// directory), and the cluster is checked with a plain Kafka client after
// each change.
func TestConsoleInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no %s (apt-get install chromium): %v", chromiumPath, err)
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	dir := t.TempDir()
	if a := os.Getenv("STRATATEST_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", dir)

	e := newEnv(t)
	b := startBrowser(t)
	base := e.srv.URL + "/console/#"
	cluster := clusterResp{}
	e.ok("GET", "/console/api/cluster", nil, 200, &cluster)

	// Overview.
	b.step("overview", chromedp.Navigate(base+"/"), b.waitText("#cluster-id", cluster.ClusterID), b.waitVisible("#quorum-table"))
	b.shot(dir, "01-overview")

	// Create a topic.
	b.step("create topic",
		chromedp.Navigate(base+"/topics"),
		b.waitVisible("#create-name"),
		chromedp.SendKeys(chromedp.CSS("#create-name"), "e2e-orders"),
		chromedp.SendKeys(chromedp.CSS("#create-partitions"), "3"),
		chromedp.SendKeys(chromedp.CSS("#create-configs"), "retention.ms=86400000"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		b.waitText("#create-result .msg.ok", "Created e2e-orders with 3 partitions"),
		b.waitVisible(`#topics-table tr[data-topic="e2e-orders"]`))
	md, err := e.adm.Metadata(e.ctx(), "e2e-orders")
	if err != nil || md.Topics["e2e-orders"].Err != nil || len(md.Topics["e2e-orders"].Partitions) != 3 {
		t.Fatalf("after the create: metadata %+v, %v; want e2e-orders with 3 partitions", md.Topics["e2e-orders"], err)
	}
	if v := topicConfig(t, e, "e2e-orders", "retention.ms"); v != "86400000" {
		t.Errorf("retention.ms = %q, want 86400000", v)
	}
	b.shot(dir, "02-topics")

	// Produce a record.
	b.step("produce",
		chromedp.Navigate(base+"/topics/e2e-orders/messages"),
		b.waitVisible("#produce-submit"),
		b.setSelect("#produce-partition", "1"),
		chromedp.SendKeys(chromedp.CSS("#produce-key"), "order-1"),
		chromedp.SendKeys(chromedp.CSS("#produce-value"), `{"id":1,"item":"widget","qty":3}`),
		chromedp.SendKeys(chromedp.CSS("#produce-headers"), "source=e2e"),
		chromedp.Click(chromedp.CSS("#produce-submit")),
		b.waitText("#produce-result .msg.ok", "Produced to partition 1 at offset 0"))
	rec := consumeOne(t, e, "e2e-orders", 1)
	if string(rec.Key) != "order-1" || string(rec.Value) != `{"id":1,"item":"widget","qty":3}` || len(rec.Headers) != 1 || rec.Headers[0].Key != "source" || string(rec.Headers[0].Value) != "e2e" {
		t.Fatalf("the cluster holds %q=%q %v, want the record the page produced", rec.Key, rec.Value, rec.Headers)
	}

	// Find it in the message browser: JSON pretty-printed, then as hex.
	row := `#records-table tr[data-partition="1"][data-offset="0"]`
	b.step("browse",
		b.setSelect("#browse-partition", "1"),
		b.setSelect("#browse-from", "earliest"),
		chromedp.Click(chromedp.CSS("#browse-submit")),
		b.waitVisible(row),
		b.waitText(row, "order-1"),
		b.waitText(row, "\"item\": \"widget\""),
		b.waitText(row, "source"),
		b.waitText("#browse-info", "1 records"))
	b.shot(dir, "03-messages")
	b.step("browse as hex", b.setSelect("#browse-format", "hex"), b.waitText(row, "7b 22 69 64 22 3a 31"))
	b.shot(dir, "04-messages-hex")

	// A consumer group with lag: 4 more records on partition 1, the group
	// committed at 1 of 5.
	var more []*kgo.Record
	for i := 2; i <= 5; i++ {
		more = append(more, &kgo.Record{Topic: "e2e-orders", Partition: 1, Key: fmt.Appendf(nil, "order-%d", i), Value: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	e.produce(more...)
	offs := make(kadm.Offsets)
	offs.Add(kadm.Offset{Topic: "e2e-orders", Partition: 1, At: 1, LeaderEpoch: -1})
	if err := e.adm.CommitAllOffsets(e.ctx(), "e2e-billing", offs); err != nil {
		t.Fatalf("commit: %v", err)
	}
	b.step("groups",
		chromedp.Navigate(base+"/groups"),
		b.waitText(`#groups-table tr[data-group="e2e-billing"] td.lag`, "4"))
	b.shot(dir, "05-groups")
	// The lag chart draws a line once it has two samples (polled every 2s).
	b.step("group",
		chromedp.Navigate(base+"/groups/e2e-billing"),
		b.waitText("#group-lag", "4"),
		b.waitText(`#offsets-table tr[data-topic="e2e-orders"][data-partition="1"]`, "4"),
		b.waitChartPoints(".card svg.chart", 3))
	b.shot(dir, "06-group-lag")

	// Reset its offsets: preview first (nothing committed), then apply.
	b.step("reset preview",
		b.setSelect("#reset-to", "earliest"),
		chromedp.Click(chromedp.CSS("#reset-preview")),
		b.waitVisible(`#preview-table tr[data-topic="e2e-orders"][data-partition="1"]`),
		b.waitText(`#preview-table tr[data-partition="1"]`, "-1"))
	if at := committedAt(t, e, "e2e-billing", "e2e-orders", 1); at != 1 {
		t.Fatalf("after the preview the group has %d committed, want 1 (nothing committed yet)", at)
	}
	b.shot(dir, "07-reset-preview")
	b.step("reset apply",
		chromedp.Click(chromedp.CSS("#reset-apply")),
		b.waitText("#reset-result .msg.ok", "Committed new offsets for 1 partitions"),
		b.waitText("#group-lag", "5"),
		b.waitChartPoints(".card svg.chart", 6))
	if at := committedAt(t, e, "e2e-billing", "e2e-orders", 1); at != 0 {
		t.Fatalf("after the reset the group has %d committed, want 0", at)
	}
	b.shot(dir, "08-reset-applied")

	// Edit a config.
	b.step("edit config",
		chromedp.Navigate(base+"/topics/e2e-orders/configs"),
		b.waitVisible(`#configs-table tr[data-config="retention.ms"]`),
		b.setInput(`#configs-table tr[data-config="retention.ms"] input`, "7200000"),
		chromedp.Click(chromedp.CSS(`#configs-table tr[data-config="retention.ms"] button`)),
		b.waitText("#config-result .msg.ok", "Set retention.ms"))
	if v := topicConfig(t, e, "e2e-orders", "retention.ms"); v != "7200000" {
		t.Errorf("after the edit retention.ms = %q, want 7200000", v)
	}
	b.shot(dir, "09-configs")

	// Add partitions.
	b.step("add partitions",
		chromedp.Navigate(base+"/topics/e2e-orders"),
		b.waitVisible(`#partitions-table`),
		b.setInput("#add-partitions-count", "4"),
		chromedp.Click(chromedp.CSS("#add-partitions-submit")),
		b.waitText("#add-partitions-result .msg.ok", "now has 4 partitions"),
		b.waitVisible(`#partitions-table tbody tr:nth-child(4)`),
		b.waitText(".card h2", "4 partitions"))
	if md, err := e.adm.Metadata(e.ctx(), "e2e-orders"); err != nil || len(md.Topics["e2e-orders"].Partitions) != 4 {
		t.Errorf("after adding partitions: %d partitions (%v), want 4", len(md.Topics["e2e-orders"].Partitions), err)
	}
	b.shot(dir, "10-partitions")

	// Delete a topic: the button needs the name typed.
	e.ok("POST", "/console/api/topics", map[string]any{"name": "e2e-scratch", "partitions": 1}, 201, nil)
	b.step("delete topic",
		chromedp.Navigate(base+"/topics/e2e-scratch"),
		b.waitVisible("#delete-confirm"),
		chromedp.SendKeys(chromedp.CSS("#delete-confirm"), "e2e-scratch"),
		chromedp.Click(chromedp.CSS("#delete-submit")),
		b.waitVisible(`#topics-table tr[data-topic="e2e-orders"]`))
	e.fails("GET", "/console/api/topics/e2e-scratch", nil, 404)

	// Live throughput: a producer writes ~200 records/s (for at most 30s)
	// while the overview polls the high watermarks.
	ctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			recs := make([]*kgo.Record, 20)
			for j := range recs {
				recs[j] = &kgo.Record{Topic: "e2e-orders", Partition: int32(j % 3), Value: fmt.Appendf(nil, "load-%d-%d", i, j)}
			}
			if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil && ctx.Err() == nil {
				t.Errorf("background produce: %v", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	b.step("throughput",
		chromedp.Navigate(base+"/"),
		b.waitChartPoints("#throughput-chart svg.chart", 6),
		b.waitJS(`/· [1-9][0-9,.]*$/.test(document.querySelector('#throughput-chart .legend').textContent)`))
	stop()
	wg.Wait()
	b.shot(dir, "11-overview-throughput")

	b.checkNoErrors()
}

// browser is one headless Chromium tab and the JavaScript errors it saw.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string // guarded by mu
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	b := &browser{t: t, ctx: ctx}
	// Start the browser with no deadline (a deadline on the first action
	// would bind the browser's life to it).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	consoleCalls := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
				msg += " " + ex.Description
			}
			b.addError("exception: " + msg)
		}
	})
	wg.Go(func() {
		for ev, err := range consoleCalls {
			if err != nil {
				return
			}
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				continue
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value))
			}
			b.addError("console.error: " + strings.Join(parts, " "))
		}
	})
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		wg.Wait()
	})
	return b
}

func (b *browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// checkNoErrors fails the test for any JavaScript exception or
// console.error the pages raised.
func (b *browser) checkNoErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("page error: %s", e)
	}
}

// step runs actions with a generous deadline and fails the test, naming
// the step, when one fails.
func (b *browser) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		b.t.Fatalf("step %q: %v\npage text:\n%s", name, err, body)
	}
	b.t.Logf("step %q took %s", name, time.Since(start).Round(time.Millisecond))
}

// waitVisible waits for a CSS selector to match a visible element.
func (b *browser) waitVisible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// waitText waits until an element matching sel contains text.
func (b *browser) waitText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll(%s)].some(el => el.textContent.includes(%s))`, jsString(sel), jsString(text)),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))
}

// waitJS waits until a JavaScript expression is truthy.
func (b *browser) waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))
}

// waitChartPoints waits until the first chart matching sel draws at least
// n samples (the pages poll every 2-3s).
func (b *browser) waitChartPoints(sel string, n int) chromedp.Action[chromedp.Void] {
	return b.waitJS(fmt.Sprintf(`Number(document.querySelector(%s)?.dataset.points) >= %d`, jsString(sel), n))
}

// setSelect chooses an option of a <select> and fires its change event,
// as a user's choice does.
func (b *browser) setSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return b.setAndFire(sel, value, "change")
}

// setInput replaces an input's value and fires its input event.
func (b *browser) setInput(sel, value string) chromedp.Action[chromedp.Void] {
	return b.setAndFire(sel, value, "input")
}

func (b *browser) setAndFire(sel, value, event string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		if (!el) throw new Error('no element ' + %s);
		el.value = %s;
		if (el.value !== %s) throw new Error('cannot set ' + %s + ' to ' + %s);
		el.dispatchEvent(new Event(%s, {bubbles: true}));
	})()`, jsString(sel), jsString(sel), jsString(value), jsString(value), jsString(sel), jsString(value), jsString(event)))
}

// shot saves a full-page PNG of the current page as dir/name.png.
func (b *browser) shot(dir, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func jsString(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}

// topicConfig reads a topic config from the cluster.
func topicConfig(t *testing.T, e *env, topic, name string) string {
	t.Helper()
	rcs, err := e.adm.DescribeTopicConfigs(e.ctx(), topic)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs of %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == name {
			return c.MaybeValue()
		}
	}
	return ""
}

// committedAt is a group's committed offset for a partition (-1: none).
func committedAt(t *testing.T, e *env, group, topic string, p int32) int64 {
	t.Helper()
	os, err := e.adm.FetchOffsets(e.ctx(), group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	if o, ok := os.Lookup(topic, p); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// consumeOne reads the first record of a partition with a plain client.
func consumeOne(t *testing.T, e *env, topic string, p int32) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := e.ctx()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record in %s[%d]: %v", topic, p, ctx.Err())
		}
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0]
		}
	}
}
