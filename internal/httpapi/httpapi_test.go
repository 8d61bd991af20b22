package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEnabled(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"", false}, {"off", false}, {"OFF", false}, {" ", false},
		{"127.0.0.1:9644", true}, {":9644", true},
	}
	for _, tt := range tests {
		if got := Enabled(tt.give); got != tt.want {
			t.Errorf("Enabled(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestReadyzAndHealthz(t *testing.T) {
	s := New(DefaultConfig("127.0.0.1:0"))
	var notReady error = errors.New("fenced")
	s.Mount("/healthz", Healthz())
	s.Mount("/readyz", Readyz(func() error { return notReady }))
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := get("/readyz"); code != 503 || body != "not ready: fenced\n" {
		t.Errorf("/readyz not ready = %d %q, want 503 not ready: fenced", code, body)
	}
	notReady = nil
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz ready = %d %q, want 200 ready", code, body)
	}
	if code, _ := get("/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ unmounted = %d, want 404", code)
	}
	MountPprof(s)
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ mounted = %d, want 200", code)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	s := New(DefaultConfig("127.0.0.1:0"))
	s.Mount("/healthz", Healthz())
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if _, err := http.Get("http://" + s.Addr().String() + "/healthz"); err == nil {
		t.Errorf("GET after shutdown succeeded")
	}
}

func TestValidateRejectsBadAddress(t *testing.T) {
	if err := DefaultConfig("9644").Validate(); err == nil {
		t.Errorf("Validate(%q) = nil, want an error", "9644")
	}
}
