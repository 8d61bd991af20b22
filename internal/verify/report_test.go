package verify

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// timelineHistory is a 30-second history: 50 acknowledged records a
// second, each polled by the assign consumer, except during a fault from
// 10s to 15s when sends fail; one record acknowledged at 20s is lost.
func timelineHistory() *History {
	h := &History{
		Version: HistoryVersion, Seed: 42, RunTag: tag, Topic: "report", StartOffsets: []int64{0},
		Bootstrap: []string{"127.0.0.1:9092"}, Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Rate: 50,
		Consumers: []ConsumerSpec{{Mode: ModeAssign, Isolation: ReadUncommitted, Members: 1}},
		Processes: []Process{
			{ID: 0, Role: "producer", Kind: KindIdempotent},
			{ID: 1, Role: "consumer", Kind: ModeAssign, Isolation: ReadUncommitted},
		},
		LoadStart: time.Second, LoadEnd: 29 * time.Second, SettleEnd: 30 * time.Second, End: 30*time.Second + 500*time.Millisecond,
		Faults: []Fault{{Name: "nemesis #1: restart broker 2", Start: 10 * time.Second, End: 15 * time.Second, Output: "restarted <2>"}},
	}
	h.Events = append(h.Events, Event{Type: EvAssigned, Process: 1, Partitions: []int32{0}, T: 500 * time.Millisecond})
	var final []FinalRecord
	off, seq := int64(0), int64(0)
	for ms := 1000; ms < 29000; ms += 20 {
		t := time.Duration(ms) * time.Millisecond
		v := encodeValue(tag, 0, seq, 0)
		h.Events = append(h.Events, Event{Type: EvSend, Process: 0, Seq: seq, Value: v, T: t})
		if ms >= 10000 && ms < 15000 {
			h.Events = append(h.Events, Event{Type: EvAck, Process: 0, Seq: seq, Value: v, T: t + 5*time.Millisecond, Err: "NOT_LEADER_OR_FOLLOWER"})
			seq++
			continue
		}
		h.Events = append(h.Events, Event{Type: EvAck, Process: 0, Seq: seq, Value: v, Offset: off, T: t + 5*time.Millisecond})
		if ms != 20000 {
			h.Events = append(h.Events, Event{Type: EvPoll, Process: 1, Records: []Rec{{Offset: off, Value: v}}, T: t + 10*time.Millisecond})
			final = append(final, FinalRecord{Offset: off, Value: v})
		}
		off++
		seq++
	}
	h.Events = append(h.Events, Event{Type: EvClose, Process: 1, Partitions: []int32{0}, T: 30 * time.Second})
	h.Final = []FinalPartition{{Partition: 0, HighWatermark: off, LastStableOffset: off,
		Uncommitted: final, UncommittedComplete: true, Committed: final, CommittedComplete: true}}
	return h
}

func TestTimelineHistoryFindsItsOneLostWrite(t *testing.T) {
	res := Check(timelineHistory())
	if len(res.Counts) != 1 || res.Counts[LostWrite] != 1 {
		t.Fatalf("Check(timeline history) counts %v; want one lost-write", res.Counts)
	}
	if a := res.Anomalies[0]; a.Offset != 700 || a.T != 20005*time.Millisecond {
		t.Errorf("Check(timeline history): lost write at offset %d, %v; want offset 700 at 20.005s", a.Offset, a.T)
	}
	if res.LongestProduceGap != 5*time.Second+20*time.Millisecond {
		t.Errorf("Check(timeline history): longest produce gap %v, want 5.02s", res.LongestProduceGap)
	}
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	h := timelineHistory()
	res := Check(h)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, h, res); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`<span class="verdict bad" id="verdict">ANOMALIES</span>`,
		`<svg id="timeline"`,
		`<g class="fault"><title>nemesis #1: restart broker 2: 10.0s to 15.0s</title>`,
		`<path class="anomaly"`,
		"restarted &lt;2&gt;", // fault output, escaped
		"lost-write",
		"seed 42",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteHTML output lacks %q", want)
		}
	}
	if n := strings.Count(out, `<g class="fault">`); n != 1 {
		t.Errorf("WriteHTML drew %d fault windows, want 1", n)
	}
	if n := strings.Count(out, `<path class="anomaly"`); n != 1 {
		t.Errorf("WriteHTML marked %d anomalies, want 1", n)
	}
	// Nothing is loaded from elsewhere: no scripts, no links, and the only
	// URL is the SVG namespace.
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Errorf("WriteHTML output has a script")
	}
	for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+[^"' <]*`).FindAllString(out, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("WriteHTML output refers to %q", u)
		}
	}
	if regexp.MustCompile(`(?i)\s(src|href)=`).MatchString(out) {
		t.Errorf("WriteHTML output has a src or href attribute")
	}
}

// TestReportRendersInChromium opens the report in headless Chromium, checks
// what the page shows, and takes screenshots of the page and the timeline
// (into $STRATATEST_ARTIFACTS when set, else the test's temporary directory).
// It is skipped without /usr/bin/chromium (Debian's chromium package).
func TestReportRendersInChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s (apt-get install chromium): %v", chromium, err)
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	h := timelineHistory()
	res := Check(h)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, h, res); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	run := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, a); err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
	}
	run("open the report", chromedp.Navigate("file://"+page))
	run("wait for the timeline", chromedp.WaitVisible(chromedp.CSS("#timeline")))
	verdict, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#verdict")))
	if err != nil {
		t.Fatalf("chromium: verdict: %v", err)
	}
	count := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("chromium: %s: %v", js, err)
		}
		return n
	}
	faults := count(`document.querySelectorAll('#timeline g.fault rect').length`)
	anomalies := count(`document.querySelectorAll('#timeline path.anomaly').length`)
	scripts := count(`document.scripts.length`)
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("chromium: page screenshot: %v", err)
	}
	timeline, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#timeline")))
	if err != nil {
		t.Fatalf("chromium: timeline screenshot: %v", err)
	}
	cancel()
	cancelBrowser()
	cancelAlloc()

	if verdict != "ANOMALIES" || faults != 1 || anomalies != 1 || scripts != 0 {
		t.Errorf("rendered report: verdict %q, %d fault bands, %d anomaly markers, %d scripts; want ANOMALIES, 1, 1, 0", verdict, faults, anomalies, scripts)
	}
	out := os.Getenv("STRATATEST_ARTIFACTS")
	if out == "" {
		out = dir
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"verify-report.png": full, "verify-timeline.png": timeline} {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(b))
	}

	// The timeline screenshot shows the fault window as an orange band:
	// the pixel in the middle of the window, in the empty top of the
	// throughput panel, is the band's tint over white; the same height
	// outside the window is white.
	img, err := png.Decode(bytes.NewReader(timeline))
	if err != nil {
		t.Fatalf("timeline screenshot: %v", err)
	}
	if w := img.Bounds().Dx(); w < tlWidth-2 || w > tlWidth+2 {
		t.Fatalf("timeline screenshot is %d pixels wide, want about %d (device scale 1)", w, tlWidth)
	}
	xMax, _ := timelineScale(h)
	at := func(sec float64) (r, g, b int) {
		x := int(tlLeft + sec/xMax*tlPlotW)
		c := img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+tlTop+6)
		r32, g32, b32, _ := c.RGBA()
		return int(r32 >> 8), int(g32 >> 8), int(b32 >> 8)
	}
	near := func(got, want int) bool { return got >= want-20 && got <= want+20 }
	if r, g, b := at(12.5); !near(r, 255) || !near(g, 227) || !near(b, 202) {
		t.Errorf("timeline pixel inside the fault window is rgb(%d,%d,%d), want about rgb(255,227,202)", r, g, b)
	}
	if r, g, b := at(5.5); !near(r, 255) || !near(g, 255) || !near(b, 255) {
		t.Errorf("timeline pixel outside the fault window is rgb(%d,%d,%d), want white", r, g, b)
	}
}
