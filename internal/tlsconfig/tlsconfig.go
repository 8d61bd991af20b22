// Package tlsconfig turns PEM key stores and trust stores, named as Kafka
// names them (ssl.keystore.location, ssl.truststore.location,
// ssl.client.auth...), into crypto/tls configurations for listeners and
// for clients, and reloads the files when they change so that
// certificates can be rotated without a restart. It also issues test
// certificates (pki.go) for `strata cert` and tests.
//
// A Store is safe for concurrent use. It starts no goroutine: files are
// checked during handshakes, at most once per ReloadInterval.
package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Config names the PEM material and the TLS policy.
type Config struct {
	// CertFile is a PEM file with the certificate chain, leaf first, and
	// the private key unless KeyFile is set (Kafka's ssl.keystore.location
	// with ssl.keystore.type=PEM). CertPEM and KeyPEM hold the same inline
	// (ssl.keystore.certificate.chain, ssl.keystore.key); files win.
	CertFile string
	KeyFile  string
	CertPEM  string
	KeyPEM   string
	// CAFile is a PEM bundle of trusted certificates
	// (ssl.truststore.location); CAPEM the same inline
	// (ssl.truststore.certificates). Without either a client trusts the
	// system roots and a listener cannot verify client certificates.
	CAFile string
	CAPEM  string
	// ClientAuth is ssl.client.auth: none, requested or required.
	ClientAuth string
	// Protocols is ssl.enabled.protocols: TLSv1.2 and/or TLSv1.3; empty
	// means both.
	Protocols []string
	// VerifyHostname is ssl.endpoint.identification.algorithm=https: a
	// client checks that the server certificate names the host it dialed.
	VerifyHostname bool
	// ReloadInterval bounds how often the files are checked for changes
	// (their size and modification time), during handshakes; 0 means 10s,
	// negative never.
	ReloadInterval time.Duration
	Logger         *slog.Logger
}

// Validate checks the settings that need no file.
func (c Config) Validate() error {
	var errs []error
	switch c.ClientAuth {
	case "", "none", "requested", "required":
	default:
		errs = append(errs, fmt.Errorf("ssl.client.auth %q: want none, requested or required", c.ClientAuth))
	}
	if _, _, err := c.versions(); err != nil {
		errs = append(errs, err)
	}
	if c.KeyFile != "" && c.CertFile == "" {
		errs = append(errs, errors.New("a key file needs a certificate file"))
	}
	return errors.Join(errs...)
}

// HasKeyStore reports whether a certificate is configured.
func (c Config) HasKeyStore() bool { return c.CertFile != "" || c.CertPEM != "" }

func (c Config) versions() (lo, hi uint16, err error) {
	if len(c.Protocols) == 0 {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	for _, p := range c.Protocols {
		var v uint16
		switch strings.TrimSpace(p) {
		case "TLSv1.2":
			v = tls.VersionTLS12
		case "TLSv1.3":
			v = tls.VersionTLS13
		default:
			return 0, 0, fmt.Errorf("ssl.enabled.protocols: %q is not TLSv1.2 or TLSv1.3", p)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return lo, hi, nil
}

// Store holds the current certificate and trust pool, reloading them when
// their files change.
type Store struct {
	cfg    Config // set in New, never changed
	lo, hi uint16 // TLS versions; set in New

	mu struct {
		sync.Mutex
		checked time.Time            // last look at the files
		stamps  map[string]fileStamp // of the files the current material came from
		cert    *tls.Certificate     // nil without a key store
		pool    *x509.CertPool       // nil without a trust store
		server  *tls.Config          // built from cert and pool; replaced on reload
	}
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// New loads the material once; a missing or malformed file is an error.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg}
	s.lo, s.hi, _ = cfg.versions()
	stamps, cert, pool, err := s.load()
	if err != nil {
		return nil, err
	}
	s.mu.stamps, s.mu.cert, s.mu.pool = stamps, cert, pool
	s.mu.checked = time.Now()
	s.mu.server = s.serverConfig(cert, pool)
	return s, nil
}

// load reads every configured file and inline PEM.
func (s *Store) load() (map[string]fileStamp, *tls.Certificate, *x509.CertPool, error) {
	stamps := map[string]fileStamp{}
	read := func(path, inline string) ([]byte, error) {
		if path == "" {
			return []byte(inline), nil
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		stamps[path] = fileStamp{size: st.Size(), mod: st.ModTime()}
		return b, nil
	}
	var cert *tls.Certificate
	if s.cfg.HasKeyStore() {
		chain, err := read(s.cfg.CertFile, s.cfg.CertPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("key store: %w", err)
		}
		key := chain
		if s.cfg.KeyFile != "" || (s.cfg.CertFile == "" && s.cfg.KeyPEM != "") {
			if key, err = read(s.cfg.KeyFile, s.cfg.KeyPEM); err != nil {
				return nil, nil, nil, fmt.Errorf("key store key: %w", err)
			}
		}
		c, err := tls.X509KeyPair(chain, key)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("key store %s: %w", describe(s.cfg.CertFile), err)
		}
		cert = &c
	}
	var pool *x509.CertPool
	if s.cfg.CAFile != "" || s.cfg.CAPEM != "" {
		b, err := read(s.cfg.CAFile, s.cfg.CAPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("trust store: %w", err)
		}
		pool = x509.NewCertPool()
		n := 0
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("trust store %s: %w", describe(s.cfg.CAFile), err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, nil, nil, fmt.Errorf("trust store %s: no PEM certificate", describe(s.cfg.CAFile))
		}
	}
	return stamps, cert, pool, nil
}

func describe(path string) string {
	if path == "" {
		return "(inline)"
	}
	return path
}

// refresh reloads the material if a file changed and the reload interval
// has passed, and returns the current material. A reload that fails keeps
// the old material (the files may be mid-rotation) and is logged.
func (s *Store) refresh() (*tls.Certificate, *x509.CertPool, *tls.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.cfg.ReloadInterval < 0 || len(s.mu.stamps) == 0 || now.Sub(s.mu.checked) < s.cfg.ReloadInterval {
		return s.mu.cert, s.mu.pool, s.mu.server
	}
	s.mu.checked = now
	changed := false
	for path, old := range s.mu.stamps {
		st, err := os.Stat(path)
		if err != nil || st.Size() != old.size || !st.ModTime().Equal(old.mod) {
			changed = true
			break
		}
	}
	if !changed {
		return s.mu.cert, s.mu.pool, s.mu.server
	}
	stamps, cert, pool, err := s.load()
	if err != nil {
		s.cfg.Logger.Warn("TLS files changed but do not load; keeping the previous ones", "err", err)
		return s.mu.cert, s.mu.pool, s.mu.server
	}
	s.mu.stamps, s.mu.cert, s.mu.pool = stamps, cert, pool
	s.mu.server = s.serverConfig(cert, pool)
	s.cfg.Logger.Info("TLS files reloaded", "cert", s.cfg.CertFile, "ca", s.cfg.CAFile)
	return cert, pool, s.mu.server
}

// Certificate returns the current key store certificate (nil without one),
// reloading it if due.
func (s *Store) Certificate() *tls.Certificate {
	c, _, _ := s.refresh()
	return c
}

func (s *Store) serverConfig(cert *tls.Certificate, pool *x509.CertPool) *tls.Config {
	c := &tls.Config{MinVersion: s.lo, MaxVersion: s.hi, ClientCAs: pool}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	switch s.cfg.ClientAuth {
	case "requested":
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// ServerConfig returns the configuration for a listener: each handshake
// gets the current certificate, trust pool and client authentication
// policy. A listener needs a key store.
func (s *Store) ServerConfig() (*tls.Config, error) {
	if !s.cfg.HasKeyStore() {
		return nil, errors.New("an SSL listener needs a key store (ssl.keystore.location or --tls-cert)")
	}
	if s.cfg.ClientAuth == "requested" || s.cfg.ClientAuth == "required" {
		if s.cfg.CAFile == "" && s.cfg.CAPEM == "" {
			return nil, fmt.Errorf("ssl.client.auth=%s needs a trust store (ssl.truststore.location or --tls-ca) to verify client certificates", s.cfg.ClientAuth)
		}
	}
	return &tls.Config{
		MinVersion: s.lo,
		MaxVersion: s.hi,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			_, _, c := s.refresh()
			return c, nil
		},
	}, nil
}

// MutualServerConfig is ServerConfig with client certificates required
// and verified whatever ClientAuth says: for the metadata quorum's port.
func (s *Store) MutualServerConfig() (*tls.Config, error) {
	if s.cfg.CAFile == "" && s.cfg.CAPEM == "" {
		return nil, errors.New("mutual TLS needs a trust store (ssl.truststore.location or --tls-ca)")
	}
	c, err := s.ServerConfig()
	if err != nil {
		return nil, err
	}
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		_, _, sc := s.refresh()
		sc = sc.Clone()
		sc.ClientAuth = tls.RequireAndVerifyClientCert
		return sc, nil
	}
	return c, nil
}

// ClientConfig returns the configuration for dialing serverName (a host,
// without port): the server's chain is verified against the current trust
// pool (the system roots without one) and, with VerifyHostname, must name
// serverName; the key store certificate, if any, is offered as the client
// certificate.
func (s *Store) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{
		ServerName: serverName,
		MinVersion: s.lo,
		MaxVersion: s.hi,
		// Verification is done below, against the pool current at the
		// handshake (it may have been reloaded) and with or without the
		// host name as configured.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, pool, _ := s.refresh()
			host := ""
			if s.cfg.VerifyHostname {
				// NB: not cs.ServerName, which is empty for an IP address.
				host = serverName
			}
			return verifyServer(cs, pool, host)
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c, _, _ := s.refresh(); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil // none: the server decides
		},
	}
}

// verifyServer checks the server's chain against pool and, when host is
// set, that the leaf names host.
// DialContext dials addr (host:port) over TCP and runs the TLS client
// handshake with ClientConfig(host), both bounded by ctx; its signature
// is franz-go's kgo.Dialer.
func (s *Store) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{Config: s.ClientConfig(host)}
	return d.DialContext(ctx, network, addr)
}

func verifyServer(cs tls.ConnectionState, pool *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	opts.DNSName = host
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}
