package restproxy_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/restproxy"
)

// Every route that takes a body answers malformed JSON with 400, a body
// over the limit with 413 and a client that stops sending with 408, each
// as a JSON error, and never hangs.
func TestEveryBodyRouteRefusesBadBodies(t *testing.T) {
	e := start(t, func(c *restproxy.Config) {
		c.MaxBodyBytes = 1024
		c.BodyReadTimeout = 300 * time.Millisecond
	})
	e.createTopic("t", 1, nil)
	inst := e.createInstance("g", `{"name":"i"}`)
	id := e.clusterID()
	routes := []struct{ method, path, ct string }{
		{"POST", "/topics/t", ctBinary},
		{"POST", "/topics/t/partitions/0", ctJSON},
		{"POST", "/consumers/g", ctV2},
		{"POST", inst + "/subscription", ctV2},
		{"POST", inst + "/assignments", ctV2},
		{"POST", inst + "/positions", ctV2},
		{"POST", inst + "/positions/beginning", ctV2},
		{"POST", inst + "/positions/end", ctV2},
		{"POST", inst + "/offsets", ctV2},
		{"GET", inst + "/offsets", ctV2},
		{"POST", "/v3/clusters/" + id + "/topics", "application/json"},
		{"POST", "/v3/clusters/" + id + "/topics/t/records", "application/json"},
	}
	huge := `{"records":[{"value":"` + strings.Repeat("A", 2000) + `"}]}`
	host := strings.TrimPrefix(e.url, "http://")
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e.t = t
			e.fail(400, 400, rt.method, rt.path, `{"records":[{"value":`, "Content-Type", rt.ct)
			e.fail(413, 413, rt.method, rt.path, huge, "Content-Type", rt.ct)

			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(60 * time.Second))
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 500\r\n\r\n{\"a\"", rt.method, rt.path, rt.ct)
			buf := make([]byte, 4096)
			var got []byte
			for !strings.Contains(string(got), "}") {
				n, err := conn.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			if !strings.HasPrefix(string(got), "HTTP/1.1 408 ") || !strings.Contains(string(got), `"error_code":408`) {
				t.Errorf("stalled body: got %q, want 408 with a JSON error", got)
			}
		})
	}
	e.t = t
}

// A request answered before its body is read (unsupported content type,
// unknown route or method) is answered even when the client stalls.
func TestEarlyAnswerToStalledBody(t *testing.T) {
	e := start(t)
	e.createTopic("t", 1, nil)
	host := strings.TrimPrefix(e.url, "http://")
	for _, req := range []string{
		"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{",
		"PUT /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
		"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
		"GET /topics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
		"DELETE /consumers/g/instances/none HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
	} {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprint(conn, req)
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		conn.Close()
		line, _, _ := strings.Cut(req, "\r\n")
		if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 ") {
			t.Errorf("%s with a stalled body: %q %v, want an answer", line, buf[:n], err)
		}
	}
}

// Path parameters that name nothing: 404 with Confluent's codes.
func TestEveryRouteRefusesUnknownNames(t *testing.T) {
	e := start(t)
	e.createTopic("t", 1, nil)
	id := e.clusterID()
	const none = "/consumers/g/instances/none"
	tests := []struct {
		method, path, body string
		status, code       int
	}{
		{"GET", "/topics/zz", "", 404, 40401},
		{"POST", "/topics/zz", `{"records":[{"value":"eA=="}]}`, 404, 40401},
		{"GET", "/topics/zz/partitions", "", 404, 40401},
		{"GET", "/topics/zz/partitions/0", "", 404, 40401},
		{"GET", "/topics/t/partitions/9", "", 404, 40402},
		{"POST", "/topics/t/partitions/9", `{"records":[{"value":"eA=="}]}`, 404, 40402},
		{"DELETE", none, "", 404, 40403},
		{"POST", none + "/subscription", `{"topics":["t"]}`, 404, 40403},
		{"GET", none + "/subscription", "", 404, 40403},
		{"DELETE", none + "/subscription", "", 404, 40403},
		{"POST", none + "/assignments", `{"partitions":[]}`, 404, 40403},
		{"GET", none + "/assignments", "", 404, 40403},
		{"POST", none + "/positions", `{"offsets":[]}`, 404, 40403},
		{"POST", none + "/positions/beginning", `{"partitions":[]}`, 404, 40403},
		{"POST", none + "/positions/end", `{"partitions":[]}`, 404, 40403},
		{"GET", none + "/records", "", 404, 40403},
		{"POST", none + "/offsets", "", 404, 40403},
		{"GET", none + "/offsets", `{"partitions":[]}`, 404, 40403},
		{"GET", "/v3/clusters/zz", "", 404, 404},
		{"GET", "/v3/clusters/zz/brokers", "", 404, 404},
		{"GET", "/v3/clusters/" + id + "/topics/zz", "", 404, 40401},
		{"DELETE", "/v3/clusters/" + id + "/topics/zz", "", 404, 40401},
		{"GET", "/v3/clusters/" + id + "/topics/zz/partitions", "", 404, 40401},
		{"GET", "/v3/clusters/" + id + "/topics/t/partitions/1", "", 404, 40402},
		{"POST", "/v3/clusters/" + id + "/topics/zz/records", `{}`, 404, 40401},
		{"GET", "/v3/nothing", "", 404, 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			e.t = t
			ct := ctV2
			if strings.HasPrefix(tt.path, "/v3/") {
				ct = "application/json"
			}
			e.fail(tt.status, tt.code, tt.method, tt.path, tt.body, "Content-Type", ct)
		})
	}
	e.t = t
}

type muxMounter struct{ *http.ServeMux }

func (m muxMounter) Mount(pattern string, h http.Handler) { m.Handle(pattern, h) }

// Mounted on a shared mux beside other handlers, the proxy serves its
// prefixes and leaves the rest alone.
func TestMountOnSharedMux(t *testing.T) {
	e := start(t)
	e.createTopic("t", 1, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("metrics")) })
	e.proxy.MountOn(muxMounter{mux})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e.url = srv.URL
	var topics []string
	e.ok(200, &topics, "GET", "/topics", "")
	if len(topics) != 1 || topics[0] != "t" {
		t.Errorf("GET /topics through the shared mux: %v, want [t]", topics)
	}
	e.ok(200, nil, "GET", "/topics/t", "")
	e.ok(200, nil, "GET", "/brokers", "")
	e.ok(200, nil, "GET", "/v3/clusters", "")
	e.fail(404, 40403, "GET", "/consumers/g/instances/x/records", "")
	if r := e.do("GET", "/metrics", ""); r.status != 200 || string(r.body) != "metrics" {
		t.Errorf("GET /metrics: %d %q, want the other handler's answer", r.status, r.body)
	}
}
