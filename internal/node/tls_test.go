package node

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/tlsconfig"
)

// testPKI is a CA with a broker key store (for 127.0.0.1 and localhost)
// and a client key store (CN=alice,OU=eng,O=Acme), written as PEM into a
// temporary directory.
type testPKI struct {
	dir, ca, broker, client string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlsconfig.NewCA("strata test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{dir: dir, ca: filepath.Join(dir, "ca.pem"), broker: filepath.Join(dir, "broker.pem"), client: filepath.Join(dir, "client.pem")}
	if err := ca.WriteCA(p.ca, filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path  string
		subj  pkix.Name
		hosts []string
	}{
		{p.broker, pkix.Name{CommonName: "broker"}, []string{"127.0.0.1", "localhost"}},
		{p.client, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme"}}, nil},
	} {
		leaf, err := ca.Issue(f.subj, f.hosts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.WriteKeyStore(f.path); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// tlsOpts are franz-go options to reach an SSL listener, presenting
// keyStore as client certificate unless it is "".
func (p testPKI) tlsOpts(t *testing.T, keyStore string) []kgo.Opt {
	t.Helper()
	st, err := tlsconfig.New(tlsconfig.Config{CAFile: p.ca, CertFile: keyStore, VerifyHostname: true})
	if err != nil {
		t.Fatal(err)
	}
	return []kgo.Opt{kgo.Dialer(st.DialContext)}
}

// logRecorder keeps the messages and attributes of log records.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	attrs []slog.Attr
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	for _, a := range r.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorderView{r: r, attrs: append(append([]slog.Attr{}, r.attrs...), as...)}
}
func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// recorderView shares a logRecorder's lines with extra attributes.
type recorderView struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (v *recorderView) Enabled(context.Context, slog.Level) bool { return true }
func (v *recorderView) Handle(ctx context.Context, rec slog.Record) error {
	tmp := &logRecorder{attrs: v.attrs}
	tmp.Handle(ctx, rec)
	v.r.mu.Lock()
	v.r.lines = append(v.r.lines, tmp.lines...)
	v.r.mu.Unlock()
	return nil
}
func (v *recorderView) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorderView{r: v.r, attrs: append(append([]slog.Attr{}, v.attrs...), as...)}
}
func (v *recorderView) WithGroup(string) slog.Handler { return v }

func (r *logRecorder) find(substrs ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		all := true
		for _, s := range substrs {
			all = all && strings.Contains(l, s)
		}
		if all {
			return true
		}
	}
	return false
}

// startSSLNode starts a node with a PLAINTEXT and an SSL listener.
func startSSLNode(t *testing.T, p testPKI, clientAuth string, log slog.Handler) *testNode {
	t.Helper()
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.ListenersSpec = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0"
	cfg.TLS.CertFile, cfg.TLS.CAFile, cfg.TLS.ClientAuth = p.broker, p.ca, clientAuth
	cfg.TLS.PrincipalRules = `RULE:^CN=([^,]*),OU=eng,.*$/$1/L,DEFAULT`
	cfg.OffsetsTopicPartitions = 1
	if log == nil {
		return startNodeWith(t, cfg)
	}
	// NB: startNodeLogging does not wait for the listeners to be bound.
	tn := startNodeLogging(t, cfg, slog.New(log))
	tn.waitReady()
	return tn
}

func portOf(a net.Addr) int32 { return int32(a.(*net.TCPAddr).Port) }

// TestSSLListenerServesClientsWithAndWithoutCertificates: a node with a
// PLAINTEXT and an SSL listener (ssl.client.auth=requested) serves franz-go
// over SSL with and without a client certificate, maps the certificate's
// subject to the principal, and describes itself to each client by the
// endpoint of the listener it connected on.
func TestSSLListenerServesClientsWithAndWithoutCertificates(t *testing.T) {
	p := newTestPKI(t)
	rec := &logRecorder{}
	tn := startSSLNode(t, p, "requested", rec)
	sslAddr := tn.node.ListenerAddr("SSL").String()
	plainAddr := tn.node.ListenerAddr("PLAINTEXT").String()
	tn.createTopic("secure", 2, nil)

	withCert := kgoClient(t, sslAddr, append(p.tlsOpts(t, p.client), kgo.DefaultProduceTopic("secure"))...)
	var want []string
	for i := range 50 {
		v := fmt.Sprintf("record-%02d", i)
		want = append(want, v)
		if err := withCert.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Key: []byte(v), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce over SSL with a client certificate: %v", err)
		}
	}
	if !rec.find("TLS client certificate authenticated", "principal=User:alice", "subject=CN=alice,OU=eng,O=Acme") {
		t.Errorf("no log line saying the SSL connection is User:alice (the mapped certificate subject)")
	}

	// A consumer group over SSL without a client certificate reads it all.
	noCert := kgoClient(t, sslAddr, append(p.tlsOpts(t, ""), kgo.ConsumeTopics("secure"), kgo.ConsumerGroup("g"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	var got []string
	ctx := ctxTimeout(t, 30*time.Second)
	for len(got) < len(want) && ctx.Err() == nil {
		noCert.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != len(want) {
		t.Fatalf("consumed %d records over SSL without a client certificate, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, v := range got {
		seen[v] = true
	}
	for _, v := range want {
		if !seen[v] {
			t.Errorf("record %q not consumed", v)
		}
	}

	// Each listener's clients are told that listener's endpoints.
	for _, tt := range []struct {
		listener, addr string
		opts           []kgo.Opt
	}{
		{"SSL", sslAddr, p.tlsOpts(t, "")},
		{"PLAINTEXT", plainAddr, nil},
	} {
		cl := kgoClient(t, tt.addr, tt.opts...)
		wantPort := portOf(tn.node.ListenerAddr(tt.listener))
		resp, err := cl.SeedBrokers()[0].Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrMetadataRequest())
		if err != nil {
			t.Fatalf("Metadata over %s: %v", tt.listener, err)
		}
		if bs := resp.(*kmsg.MetadataResponse).Brokers; len(bs) != 1 || bs[0].Host != "127.0.0.1" || bs[0].Port != wantPort {
			t.Errorf("Metadata over %s: brokers %+v, want node 1 at 127.0.0.1:%d", tt.listener, bs, wantPort)
		}
		dc, err := cl.SeedBrokers()[0].Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrDescribeClusterRequest())
		if err != nil {
			t.Fatalf("DescribeCluster over %s: %v", tt.listener, err)
		}
		if bs := dc.(*kmsg.DescribeClusterResponse).Brokers; len(bs) != 1 || bs[0].Port != wantPort {
			t.Errorf("DescribeCluster over %s: brokers %+v, want port %d", tt.listener, bs, wantPort)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"} // v0-3, v4+
		fr, err := cl.SeedBrokers()[0].Request(ctxTimeout(t, 10*time.Second), fc)
		if err != nil {
			t.Fatalf("FindCoordinator over %s: %v", tt.listener, err)
		}
		if r := fr.(*kmsg.FindCoordinatorResponse); len(r.Coordinators) != 1 || r.Coordinators[0].ErrorCode != 0 || r.Coordinators[0].Port != wantPort {
			t.Errorf("FindCoordinator over %s: %+v, want group g's coordinator at port %d", tt.listener, r.Coordinators, wantPort)
		}
	}
}

// TestSSLClientAuthRequiredRefusesClientWithoutCertificate: with
// ssl.client.auth=required a client without a certificate gets nothing,
// one with a certificate is served.
func TestSSLClientAuthRequiredRefusesClientWithoutCertificate(t *testing.T) {
	p := newTestPKI(t)
	tn := startSSLNode(t, p, "required", nil)
	sslAddr := tn.node.ListenerAddr("SSL").String()
	noCert := kgoClient(t, sslAddr, append(p.tlsOpts(t, ""), kgo.RequestRetries(0))...)
	if _, err := noCert.SeedBrokers()[0].Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("Metadata over SSL without a client certificate succeeded with ssl.client.auth=required")
	}
	withCert := kgoClient(t, sslAddr, p.tlsOpts(t, p.client)...)
	if _, err := withCert.SeedBrokers()[0].Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("Metadata over SSL with a client certificate: %v", err)
	}
	// A plaintext client on the SSL port is closed, not served.
	if _, err := rawRequest(sslAddr, kmsg.NewPtrMetadataRequest(), 5*time.Second); err == nil {
		t.Fatal("a plaintext request to the SSL listener was answered")
	}
}

// TestSSLOnlyClusterReplicatesAndFailsOver: three processes with only SSL
// listeners (so replication, forwarding and the controller channel go over
// TLS) and the metadata quorum over mutual TLS replicate acks=all writes; after the leader is SIGKILLed everything
// acknowledged is read back.
func TestSSLOnlyClusterReplicatesAndFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	p := newTestPKI(t)
	tc := startClusterWith(t, 3, func(_ int, addr string) []string {
		return []string{"--listeners", "SSL://" + addr, "--tls-cert", p.broker, "--tls-ca", p.ca, "--tls-client-auth", "required",
			"--controller-listener-names", "CONTROLLER", "--listener-security-protocol-map", "CONTROLLER:SSL",
			"--offsets-topic-partitions", "1", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms"}
	})
	opts := p.tlsOpts(t, p.client)
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0], opts...))
	waitFor(t, "creating the replicated topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "ssl-failover")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	leaderOver := func(addr string) (int32, []int32) {
		cl := kgoClient(t, addr, opts...)
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("ssl-failover")
		req.Topics = append(req.Topics, rt)
		resp, err := cl.SeedBrokers()[0].Request(ctxTimeout(t, 5*time.Second), req)
		if err != nil {
			return -1, nil
		}
		m := resp.(*kmsg.MetadataResponse)
		if len(m.Topics) != 1 || len(m.Topics[0].Partitions) != 1 {
			return -1, nil
		}
		for _, b := range m.Brokers {
			if want := tc.addrs[b.NodeID-1]; net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))) != want {
				t.Errorf("Metadata over SSL: broker %d at %s:%d, want its SSL listener %s", b.NodeID, b.Host, b.Port, want)
			}
		}
		pp := m.Topics[0].Partitions[0]
		return pp.Leader, pp.ISR
	}
	waitFor(t, "a leader with a full ISR (replication over SSL)", 30*time.Second, func() bool {
		l, isr := leaderOver(tc.addrs[0])
		return l > 0 && len(isr) == 3
	})
	load := startHistoryLoad(t, tc.addrs, "ssl-failover", opts...)
	load.waitAcked(t, "2,000 acknowledged records", 2000)
	leader, _ := leaderOver(tc.addrs[0])
	tc.nodes[leader-1].kill()
	other := tc.addrs[leader%3]
	waitFor(t, "a new leader after the SIGKILL", 30*time.Second, func() bool {
		l, _ := leaderOver(other)
		return l > 0 && l != leader
	})
	load.waitAcked(t, "acknowledgements under the new leader", 2000)
	final := load.stopAndCheck(t, other, "ssl-failover", opts...)
	if len(final[0]) < 4000 {
		t.Fatalf("read back %d records, want at least the 4,000 acknowledged", len(final[0]))
	}
	t.Logf("leader %d killed; %d records acknowledged, %d read back over SSL", leader, load.acked.Load(), len(final[0]))
}

// TestRealClientsOverSSL: kcat (librdkafka), confluent-kafka-python and
// kafka-python produce and consume over an SSL listener, with a client
// certificate and without one. Skips clients that are not installed.
func TestRealClientsOverSSL(t *testing.T) {
	p := newTestPKI(t)
	tn := startSSLNode(t, p, "requested", nil)
	sslAddr := tn.node.ListenerAddr("SSL").String()
	t.Run("kcat", func(t *testing.T) {
		kcat, err := exec.LookPath("kcat")
		if err != nil {
			t.Skip("kcat not installed")
		}
		tn.createTopic("kcat-ssl", 1, nil)
		var input strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&input, "k%d:v%d\n", i, i)
		}
		prod := exec.Command(kcat, "-P", "-b", sslAddr, "-t", "kcat-ssl", "-K:", "-X", "acks=all",
			"-X", "security.protocol=ssl", "-X", "ssl.ca.location="+p.ca,
			"-X", "ssl.certificate.location="+p.client, "-X", "ssl.key.location="+p.client)
		prod.Stdin = strings.NewReader(input.String())
		if out, err := prod.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P over SSL: %v\n%s", err, out)
		}
		cons := exec.Command(kcat, "-C", "-b", sslAddr, "-t", "kcat-ssl", "-o", "beginning", "-e", "-q", "-f", "%k:%s\n",
			"-X", "security.protocol=ssl", "-X", "ssl.ca.location="+p.ca)
		got, err := cons.Output()
		if err != nil {
			t.Fatalf("kcat -C over SSL without a client certificate: %v", err)
		}
		if string(got) != input.String() {
			t.Fatalf("kcat read back %d bytes, want the %d produced, identical", len(got), input.Len())
		}
	})
	t.Run("python", func(t *testing.T) {
		py, err := exec.LookPath("/usr/bin/python3")
		if err != nil {
			t.Skip("no /usr/bin/python3")
		}
		if err := exec.Command(py, "-c", "import confluent_kafka, kafka").Run(); err != nil {
			t.Skip("confluent_kafka or kafka-python not installed")
		}
		tn.createTopic("python-ssl", 1, nil)
		out, err := exec.Command(py, "../../test/compat/tls_clients.py", "--bootstrap", sslAddr, "--ca", p.ca, "--cert", p.client, "python-ssl").CombinedOutput()
		t.Logf("%s", out)
		if err != nil || strings.Count(string(out), "PASS:") != 4 {
			t.Fatalf("tls_clients.py: %v", err)
		}
	})
}
