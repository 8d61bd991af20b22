package tlsconfig

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki writes a CA, a server key store for 127.0.0.1 and a client key store
// into dir.
func pki(t *testing.T, dir string) (ca *CA, caFile, serverFile, clientFile string) {
	t.Helper()
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := ca.WriteCA(caFile, filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name, cn string
		hosts    []string
	}{{"server.pem", "broker", []string{"127.0.0.1", "localhost"}}, {"client.pem", "alice", nil}} {
		leaf, err := ca.Issue(pkix.Name{CommonName: f.cn, Organization: []string{"Acme"}}, f.hosts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.WriteKeyStore(filepath.Join(dir, f.name)); err != nil {
			t.Fatal(err)
		}
	}
	return ca, caFile, filepath.Join(dir, "server.pem"), filepath.Join(dir, "client.pem")
}

// handshake runs one TLS handshake over a pipe and returns the client's
// view of the server's leaf and the server's view of the client's.
func handshake(t *testing.T, server, client *tls.Config) (serverCN, clientCN string, err error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srvErr := make(chan error, 1)
	var peer string
	go func() {
		s := tls.Server(a, server)
		err := s.Handshake()
		if err == nil && len(s.ConnectionState().PeerCertificates) > 0 {
			peer = s.ConnectionState().PeerCertificates[0].Subject.CommonName
		}
		if err != nil {
			a.Close()
		}
		srvErr <- err
	}()
	c := tls.Client(b, client)
	err = c.Handshake()
	if err == nil {
		// TLS 1.3: the server's verdict on the client certificate arrives
		// after the client's handshake; a read surfaces it.
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, rerr := c.Read(make([]byte, 1)); rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) && rerr != io.EOF {
			err = rerr
		}
		serverCN = c.ConnectionState().PeerCertificates[0].Subject.CommonName
	} else {
		b.Close()
	}
	if serr := <-srvErr; err == nil {
		err = serr
	}
	return serverCN, peer, err
}

func TestServerAndClientConfigs(t *testing.T) {
	dir := t.TempDir()
	_, caFile, serverFile, clientFile := pki(t, dir)
	newStore := func(cfg Config) *Store {
		s, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", cfg, err)
		}
		return s
	}
	withCert := newStore(Config{CertFile: clientFile, CAFile: caFile, VerifyHostname: true})
	noCert := newStore(Config{CAFile: caFile, VerifyHostname: true})
	tests := []struct {
		name       string
		clientAuth string
		client     *Store
		host       string
		wantErr    bool
		wantPeer   string
	}{
		{"no client auth", "none", noCert, "127.0.0.1", false, ""},
		{"requested without cert", "requested", noCert, "127.0.0.1", false, ""},
		{"requested with cert", "requested", withCert, "127.0.0.1", false, "alice"},
		{"required with cert", "required", withCert, "127.0.0.1", false, "alice"},
		{"required without cert", "required", noCert, "127.0.0.1", true, ""},
		{"wrong host name", "none", noCert, "10.1.2.3", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := newStore(Config{CertFile: serverFile, CAFile: caFile, ClientAuth: tt.clientAuth}).ServerConfig()
			if err != nil {
				t.Fatal(err)
			}
			scn, peer, err := handshake(t, srv, tt.client.ClientConfig(tt.host))
			if (err != nil) != tt.wantErr {
				t.Fatalf("handshake error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (scn != "broker" || peer != tt.wantPeer) {
				t.Errorf("handshake: server CN %q, client CN seen %q; want broker, %q", scn, peer, tt.wantPeer)
			}
		})
	}
}

func TestUntrustedServerIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, _, serverFile, _ := pki(t, dir)
	other := t.TempDir()
	_, otherCA, _, _ := pki(t, other)
	srvStore, _ := New(Config{CertFile: serverFile})
	srv, _ := srvStore.ServerConfig()
	cl, _ := New(Config{CAFile: otherCA})
	if _, _, err := handshake(t, srv, cl.ClientConfig("127.0.0.1")); err == nil {
		t.Fatal("handshake with a server of another CA succeeded")
	}
}

func TestCertificateReloadsWhenFileChanges(t *testing.T) {
	dir := t.TempDir()
	ca, caFile, serverFile, _ := pki(t, dir)
	s, err := New(Config{CertFile: serverFile, CAFile: caFile, ReloadInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := s.ServerConfig()
	cl, _ := New(Config{CAFile: caFile})
	if scn, _, err := handshake(t, srv, cl.ClientConfig("127.0.0.1")); err != nil || scn != "broker" {
		t.Fatalf("first handshake: %q, %v", scn, err)
	}
	leaf, err := ca.Issue(pkix.Name{CommonName: "broker-rotated"}, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(serverFile)
	if err := leaf.WriteKeyStore(serverFile); err != nil {
		t.Fatal(err)
	}
	// Make the change visible even on a file system with coarse mtimes.
	future := time.Now().Add(time.Minute)
	os.Chtimes(serverFile, future, future)
	time.Sleep(5 * time.Millisecond)
	if scn, _, err := handshake(t, srv, cl.ClientConfig("127.0.0.1")); err != nil || scn != "broker-rotated" {
		t.Fatalf("handshake after rotation: server CN %q, %v; want broker-rotated", scn, err)
	}
	// A broken file keeps the last good certificate.
	os.WriteFile(serverFile, []byte("garbage"), 0o600)
	future = future.Add(time.Minute)
	os.Chtimes(serverFile, future, future)
	time.Sleep(5 * time.Millisecond)
	if scn, _, err := handshake(t, srv, cl.ClientConfig("127.0.0.1")); err != nil || scn != "broker-rotated" {
		t.Fatalf("handshake after a bad rotation: server CN %q, %v; want broker-rotated", scn, err)
	}
}

func TestBadMaterialIsAnError(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not pem"), 0o600)
	for _, cfg := range []Config{
		{CertFile: junk},
		{CAFile: junk},
		{CertFile: filepath.Join(dir, "missing.pem")},
		{ClientAuth: "sometimes"},
		{Protocols: []string{"TLSv1.1"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	s, _ := New(Config{ClientAuth: "required"})
	if _, err := s.ServerConfig(); err == nil {
		t.Errorf("ServerConfig without a key store succeeded")
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, k := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := ca.WriteCA(c, k); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCA(c, k); !errors.Is(err, ErrExists) {
		t.Errorf("second WriteCA error = %v, want ErrExists", err)
	}
	back, err := LoadCA(c, k)
	if err != nil || !back.Cert.Equal(ca.Cert) {
		t.Errorf("LoadCA = %v, %v; want the written CA", back, err)
	}
}
