package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// svgDoc is the part of the chart the tests look at.
type svgDoc struct {
	XMLName   xml.Name `xml:"svg"`
	Polylines []struct {
		Points string `xml:"points,attr"`
		Stroke string `xml:"stroke,attr"`
	} `xml:"polyline"`
	Circles []struct {
		Fill string `xml:"fill,attr"`
	} `xml:"circle"`
	Texts []string `xml:"text"`
}

func decodeSVG(t *testing.T, b []byte) svgDoc {
	t.Helper()
	// Walk every token first: Unmarshal alone would not reject some
	// malformed documents past the parts it maps.
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v\n%s", err, b)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("xml.Unmarshal(chart): %v", err)
	}
	return doc
}

func TestWriteChart(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	res := &Result{
		Workload: WorkloadProduce,
		Topic:    `a<b&"c"`, // must be escaped
		Records:  5000, RecordsPerSecond: 1000, MBPerSecond: 1.024,
		Latency: &Latency{P99Ms: 3.5},
		Series: []Interval{
			{EndSeconds: 1, Seconds: 1, Records: 900, RecordsPerSecond: 900, P99Ms: p(2.5)},
			{EndSeconds: 2, Seconds: 1, Records: 1100, RecordsPerSecond: 1100, P99Ms: p(3.5)},
			{EndSeconds: 3, Seconds: 1, Records: 0, RecordsPerSecond: 0}, // no latency samples
			{EndSeconds: 4, Seconds: 1, Records: 1500, RecordsPerSecond: 1500, P99Ms: p(12)},
			{EndSeconds: 4.5, Seconds: 0.5, Records: 1500, RecordsPerSecond: 3000, P99Ms: p(1)},
		},
	}
	var buf bytes.Buffer
	if err := WriteChart(&buf, res); err != nil {
		t.Fatalf("WriteChart: %v", err)
	}
	doc := decodeSVG(t, buf.Bytes())
	if len(doc.Polylines) != 2 {
		t.Fatalf("WriteChart: %d polylines, want 2 (throughput, latency)", len(doc.Polylines))
	}
	if got := len(strings.Fields(doc.Polylines[0].Points)); got != 5 {
		t.Errorf("throughput polyline has %d points, want 5", got)
	}
	if got := len(strings.Fields(doc.Polylines[1].Points)); got != 4 {
		t.Errorf("latency polyline has %d points, want 4 (one second had no samples)", got)
	}
	if got := len(doc.Circles); got != 9 {
		t.Errorf("chart has %d dots, want 9 (one per point)", got)
	}
	for _, want := range []string{"time (s)", "records/s", "p99 latency (ms)", `a<b&"c"`} {
		found := false
		for _, txt := range doc.Texts {
			if strings.Contains(txt, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("chart has no text containing %q; texts %q", want, doc.Texts)
		}
	}
	// Points stay inside the plot area.
	for _, pl := range doc.Polylines {
		for _, pt := range strings.Fields(pl.Points) {
			x, y, ok := strings.Cut(pt, ",")
			if !ok || strings.HasPrefix(x, "-") || strings.HasPrefix(y, "-") {
				t.Errorf("point %q is malformed or negative", pt)
			}
		}
	}
}

func TestWriteChartConsumeHasNoLatencyLine(t *testing.T) {
	res := &Result{
		Workload: WorkloadConsume, Topic: "t",
		Series: []Interval{{EndSeconds: 1, Seconds: 1, Records: 10, RecordsPerSecond: 10}},
	}
	var buf bytes.Buffer
	if err := WriteChart(&buf, res); err != nil {
		t.Fatalf("WriteChart: %v", err)
	}
	doc := decodeSVG(t, buf.Bytes())
	if len(doc.Polylines) != 1 || len(strings.Fields(doc.Polylines[0].Points)) != 1 {
		t.Errorf("consume chart: polylines %+v, want one with one point", doc.Polylines)
	}
}

func TestWriteChartEmptySeries(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteChart(&buf, &Result{Workload: WorkloadProduce, Topic: "t"}); err != nil {
		t.Fatalf("WriteChart: %v", err)
	}
	if doc := decodeSVG(t, buf.Bytes()); len(doc.Polylines) != 0 {
		t.Errorf("empty series: %d polylines, want 0", len(doc.Polylines))
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct {
		give            float64
		wantMax, wantSt float64
	}{
		{give: 0, wantMax: 1, wantSt: 0.2},
		{give: 1, wantMax: 1, wantSt: 0.2},
		{give: 93_000, wantMax: 100_000, wantSt: 20_000},
		{give: 7, wantMax: 8, wantSt: 2},
		{give: 100, wantMax: 100, wantSt: 20},
	}
	for _, tt := range tests {
		gotMax, gotStep := niceScale(tt.give, 5)
		if diff := gotMax - tt.wantMax; diff > 1e-9 || diff < -1e-9 || gotStep-tt.wantSt > 1e-9 || tt.wantSt-gotStep > 1e-9 {
			t.Errorf("niceScale(%v, 5) = %v, %v, want %v, %v", tt.give, gotMax, gotStep, tt.wantMax, tt.wantSt)
		}
	}
}
