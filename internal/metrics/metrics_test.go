package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs /metrics from h with the given Accept-Encoding and returns
// the response and its body as sent.
func scrape(t *testing.T, h http.Handler, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func testHandler(t *testing.T) http.Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_test_total", Help: "A test counter."}, []string{"api"})
	c.WithLabelValues("Produce").Add(3)
	c.WithLabelValues("Fetch").Add(5)
	reg.MustRegister(c)
	return Handler(reg, slog.New(slog.DiscardHandler))
}

// parse decodes a text exposition and returns strata_test_total's values
// by label.
func parse(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	got := map[string]float64{}
	for _, m := range fams["strata_test_total"].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	return got
}

func TestHandlerGzipsWhenAsked(t *testing.T) {
	want := map[string]float64{"Produce": 3, "Fetch": 5}
	h := testHandler(t)
	for _, ae := range []string{"gzip", "deflate, gzip;q=0.5", "GZIP", "identity;q=1, gzip ; q=0.1"} {
		resp, body := scrape(t, h, ae)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Accept-Encoding %q: status %d, Content-Encoding %q; want 200, gzip", ae, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", ae, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("Accept-Encoding %q: gunzip: %v", ae, err)
		}
		if got := parse(t, plain); len(got) != 2 || got["Produce"] != 3 || got["Fetch"] != 5 {
			t.Fatalf("Accept-Encoding %q: got %v, want %v", ae, got, want)
		}
	}
	// Twice more on the pooled writers: a reused writer starts afresh.
	for range 2 {
		_, body := scrape(t, h, "gzip")
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if got := parse(t, plain); got["Produce"] != 3 || got["Fetch"] != 5 {
			t.Fatalf("reused gzip writer: got %v", got)
		}
	}
}

func TestHandlerPlainUnlessGzipAccepted(t *testing.T) {
	h := testHandler(t)
	for _, ae := range []string{"", "identity", "gzip;q=0", "br, zstd", "x-gzip-not"} {
		resp, body := scrape(t, h, ae)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("Accept-Encoding %q: status %d, Content-Encoding %q; want 200, none", ae, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		if !strings.Contains(string(body), `strata_test_total{api="Fetch"} 5`) {
			t.Fatalf("Accept-Encoding %q: body lacks the counter:\n%s", ae, body)
		}
		if got := parse(t, body); got["Produce"] != 3 || got["Fetch"] != 5 {
			t.Fatalf("Accept-Encoding %q: got %v", ae, got)
		}
	}
}
