package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/console"
)

// TestAPIBadInput sends every kind of bad request the brief names and
// wants a 4xx JSON error for each, never a hang.
func TestAPIBadInput(t *testing.T) {
	e := newEnv(t, func(c *consoleConfig) { c.BodyReadTimeout = 500 * time.Millisecond })
	e.ok("POST", "/console/api/topics", map[string]any{"name": "t", "partitions": 1}, 201, nil)

	mutations := []struct{ method, path string }{
		{"POST", "/console/api/topics"},
		{"POST", "/console/api/topics/t/partitions"},
		{"PATCH", "/console/api/topics/t/configs"},
		{"POST", "/console/api/topics/t/records"},
		{"POST", "/console/api/groups/g/reset-offsets"},
	}
	huge := `{"name":"` + strings.Repeat("x", console.MaxBodyBytes) + `"}`
	for _, m := range mutations {
		what := m.method + " " + m.path
		t.Run(what, func(t *testing.T) {
			e := *e
			e.t = t
			for _, body := range []string{`{`, `{"name": }`, `[1,2]`, `"x"`, `{"no_such_field": 1}`, `{} {}`, `{}x`, ``} {
				ae := e.fails(m.method, m.path, body, http.StatusBadRequest)
				if !strings.Contains(ae.Error, "JSON") && !strings.Contains(ae.Error, "json") {
					t.Errorf("body %q: error %q does not say the JSON is bad", body, ae.Error)
				}
			}
			// Too large, with a Content-Length and chunked.
			e.fails(m.method, m.path, huge, http.StatusRequestEntityTooLarge)
			r := e.raw(m.method, m.path, "application/json", io.MultiReader(strings.NewReader(huge)), -1)
			e.checkErr(what+" chunked", r, http.StatusRequestEntityTooLarge)
			// Not JSON.
			r = e.raw(m.method, m.path, "text/plain", strings.NewReader(`{}`), 2)
			e.checkErr(what+" text/plain", r, http.StatusUnsupportedMediaType)
			r = e.raw(m.method, m.path, "application/x-www-form-urlencoded", strings.NewReader(`name=x`), 6)
			e.checkErr(what+" form", r, http.StatusUnsupportedMediaType)
		})
	}

	t.Run("slow body", func(t *testing.T) {
		// Headers promise 100 bytes; 10 arrive, then nothing.
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /console/api/topics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":\"")
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a stalled body: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		e.checkErr("stalled body", response{status: resp.StatusCode, header: resp.Header, body: body}, http.StatusRequestTimeout)
		t.Logf("stalled body answered after %s", time.Since(start))
	})

	t.Run("cross-origin", func(t *testing.T) {
		req := e.request("POST", "/console/api/topics", `{"name":"evil"}`)
		req.Header.Set("Origin", "http://evil.example")
		r := e.send(req)
		e.checkErr("cross-origin create", r, http.StatusForbidden)
		req = e.request("DELETE", "/console/api/topics/t", "")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		e.checkErr("cross-site delete", e.send(req), http.StatusForbidden)
		// The console's own origin is fine.
		req = e.request("POST", "/console/api/topics", `{"name":"own"}`)
		req.Header.Set("Origin", e.srv.URL)
		if r := e.send(req); r.status != http.StatusCreated {
			t.Errorf("same-origin create: %d %s", r.status, r.body)
		}
		// Reads are not checked (they change nothing).
		req = e.request("GET", "/console/api/topics/t", "")
		req.Header.Set("Origin", "http://evil.example")
		if r := e.send(req); r.status != http.StatusOK {
			t.Errorf("cross-origin read: %d", r.status)
		}
	})

	t.Run("routes", func(t *testing.T) {
		for _, p := range []string{"/console/api/nope", "/console/api", "/console/api/", "/console/api/topics/t/nope", "/console/api/topics/t/messages/x", "/elsewhere", "/console/nope.js", "/console/js/nope.js", "/console/api/topics//messages"} {
			e.fails("GET", p, nil, http.StatusNotFound)
		}
		r := e.do("PUT", "/console/api/topics", "{}")
		e.checkErr("PUT /console/api/topics", r, http.StatusMethodNotAllowed)
		if allow := r.header.Get("Allow"); allow != "GET, POST" {
			t.Errorf("Allow %q, want GET, POST", allow)
		}
		e.fails("DELETE", "/console/api/cluster", nil, http.StatusMethodNotAllowed)
		e.fails("POST", "/console/", "{}", http.StatusMethodNotAllowed)
		e.fails("POST", "/", "{}", http.StatusMethodNotAllowed)
		// Escaped names: a group named "a/b" is one path segment.
		ae := e.fails("GET", "/console/api/groups/a%2Fb", nil, http.StatusNotFound)
		if !strings.Contains(ae.Error, `"a/b"`) {
			t.Errorf("error %q does not name group a/b", ae.Error)
		}
		e.fails("GET", "/console/api/topics/no%20such", nil, http.StatusNotFound)
	})
}

// TestUIServed checks the embedded UI is served with its types and
// headers, and / redirects to it.
func TestUIServed(t *testing.T) {
	e := newEnvFor(t, "127.0.0.1:1") // no cluster needed for files
	for _, c := range []struct{ path, ctype, contains string }{
		{"/console/", "text/html", "<title>Strata console</title>"},
		{"/console/index.html", "", ""}, // redirects to ./
		{"/console/js/app.js", "text/javascript", "hashchange"},
		{"/console/js/pages/topic.js", "text/javascript", "produce-submit"},
		{"/console/style.css", "text/css", ".card"},
	} {
		r := e.do("GET", c.path, nil)
		if c.ctype == "" {
			continue
		}
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), c.ctype) || !strings.Contains(string(r.body), c.contains) {
			t.Errorf("GET %s: %d %q, want 200 %s containing %q", c.path, r.status, r.header.Get("Content-Type"), c.ctype, c.contains)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", c.path, csp)
		}
		if r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q", c.path, r.header.Get("X-Frame-Options"))
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/", "/console"} {
		resp, err := client.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
			t.Errorf("GET %s: %d Location %q, want 302 to /console/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// request builds a request to the console; a non-empty body is JSON.
func (e *env) request(method, path, body string) *http.Request {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// raw sends body with a content type and length (-1: chunked).
func (e *env) raw(method, path, ctype string, body io.Reader, length int64) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", ctype)
	return e.send(req)
}

var _ = json.Marshal
