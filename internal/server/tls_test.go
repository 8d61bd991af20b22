package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/tlsconfig"
)

// testPKI writes a CA, a server key store and a client key store (subject
// CN=alice,O=Acme) into a temporary directory.
func testPKI(t *testing.T) (caFile, serverFile, clientFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlsconfig.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := ca.WriteCA(caFile, filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name  string
		subj  pkix.Name
		hosts []string
	}{
		{"server.pem", pkix.Name{CommonName: "broker"}, []string{"127.0.0.1"}},
		{"client.pem", pkix.Name{CommonName: "alice", Organization: []string{"Acme"}}, nil},
	} {
		leaf, err := ca.Issue(f.subj, f.hosts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.WriteKeyStore(filepath.Join(dir, f.name)); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, filepath.Join(dir, "server.pem"), filepath.Join(dir, "client.pem")
}

// whoHandler answers Metadata with "listener protocol principal" as the
// cluster id.
type whoHandler struct{}

func (whoHandler) Handle(_ context.Context, c *Conn, _ protocol.RequestHeader, req kmsg.Request, body []byte) Response {
	if err := req.ReadFrom(body); err != nil {
		return Response{Close: true}
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.ClusterID = kmsg.StringPtr(c.Listener + " " + c.SecurityProtocol + " " + c.Principal().String())
	return Response{Msg: resp}
}

func tlsServerConfig(t *testing.T, caFile, serverFile, clientAuth string) Config {
	t.Helper()
	st, err := tlsconfig.New(tlsconfig.Config{CertFile: serverFile, CAFile: caFile, ClientAuth: clientAuth})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := st.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listener, cfg.SecurityProtocol, cfg.TLS = "SSL", SSL, tc
	cfg.HandshakeTimeout = 200 * time.Millisecond
	return cfg
}

func TestTLSListenerSetsPrincipalFromCertificate(t *testing.T) {
	caFile, serverFile, clientFile := testPKI(t)
	cfg := tlsServerConfig(t, caFile, serverFile, "requested")
	cfg.TLSPrincipal = func(dn string) (string, error) {
		if dn != "CN=alice,O=Acme" {
			return "", errors.New("unexpected subject " + dn)
		}
		return "alice", nil
	}
	addr := startServer(t, whoHandler{}, cfg)
	tests := []struct {
		name     string
		keyStore string
		want     string
	}{
		{"with a client certificate", clientFile, "SSL SSL User:alice"},
		{"without one", "", "SSL SSL User:ANONYMOUS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := tlsconfig.New(tlsconfig.Config{CertFile: tt.keyStore, CAFile: caFile, VerifyHostname: true})
			if err != nil {
				t.Fatal(err)
			}
			c, err := tls.Dial("tcp", addr, st.ClientConfig("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			writeMetadata(t, c, 1, "x")
			if _, resp := readResponse(t, c); *resp.ClusterID != tt.want {
				t.Errorf("connection identity = %q, want %q", *resp.ClusterID, tt.want)
			}
		})
	}
}

func TestTLSPrincipalMappingFailureClosesConnection(t *testing.T) {
	caFile, serverFile, clientFile := testPKI(t)
	cfg := tlsServerConfig(t, caFile, serverFile, "required")
	cfg.TLSPrincipal = func(string) (string, error) { return "", errors.New("no rule") }
	addr := startServer(t, whoHandler{}, cfg)
	st, _ := tlsconfig.New(tlsconfig.Config{CertFile: clientFile, CAFile: caFile})
	c, err := tls.Dial("tcp", addr, st.ClientConfig("127.0.0.1"))
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		writeMetadata(t, c, 1, "x")
		if _, err = c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection whose certificate maps to no principal was served")
		}
	}
}

// TestStalledOrBadTLSHandshakeIsClosed: a client that connects and sends
// nothing, or sends a few bytes of a hello and stops, is cut off at the
// handshake timeout; one that speaks plaintext Kafka to a TLS listener is
// closed at once.
func TestStalledOrBadTLSHandshakeIsClosed(t *testing.T) {
	caFile, serverFile, _ := testPKI(t)
	addr := startServer(t, whoHandler{}, tlsServerConfig(t, caFile, serverFile, "none"))
	tests := []struct {
		name string
		send []byte
	}{
		{"silent", nil},
		{"partial client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}},
		{"plaintext kafka", kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 1)},
		{"garbage", bytes.Repeat([]byte{0xff}, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(tt.send)
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadAll(c)
			if err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("reading until the server closes: %v (after %v)", err, time.Since(start))
			}
		})
	}
}

func TestTLSRequiredClientAuthRefusesClientWithoutCertificate(t *testing.T) {
	caFile, serverFile, _ := testPKI(t)
	addr := startServer(t, whoHandler{}, tlsServerConfig(t, caFile, serverFile, "required"))
	st, _ := tlsconfig.New(tlsconfig.Config{CAFile: caFile})
	c, err := tls.Dial("tcp", addr, st.ClientConfig("127.0.0.1"))
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		writeMetadata(t, c, 1, "x")
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("a client without a certificate was served with ssl.client.auth=required")
	}
}

// TestTLSConnectionCopiesFileSections: sendfile cannot encrypt, so a TLS
// connection takes the buffered path for file sections.
func TestTLSConnectionCopiesFileSections(t *testing.T) {
	caFile, serverFile, _ := testPKI(t)
	f, data := segmentFile(t, 1<<20)
	s, addr := startTestServer(t, &bodyHandler{plan: func(string) *Body {
		return &Body{Pieces: []Piece{{Bytes: []byte("head")}, {File: f, Pos: 0, Size: int64(len(data))}}}
	}}, tlsServerConfig(t, caFile, serverFile, "none"))
	st, _ := tlsconfig.New(tlsconfig.Config{CAFile: caFile})
	c, err := tls.Dial("tcp", addr, st.ClientConfig("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for corr := int32(1); corr <= 2; corr++ {
		writeRaw(t, c, corr, "c", nil)
		gotCorr, got := readFrame(t, c)
		if gotCorr != corr || string(got[:4]) != "head" || !bytes.Equal(got[4:], data) {
			t.Fatalf("response %d: correlation id %d, %d bytes; want the file after head", corr, gotCorr, len(got))
		}
	}
	if st := s.Stats(); st.SendfileBytes != 0 || st.CopiedFileBytes != 2*int64(len(data)) {
		t.Fatalf("Stats() = %+v, want every section copied", st)
	}
}
