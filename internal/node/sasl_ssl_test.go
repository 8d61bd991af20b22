package node

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strata-io/strata/internal/config"
)

// TestSASLSSLListenerWithSCRAM: a node whose only listener is SASL_SSL
// (TLS, then SASL) serves a SCRAM-SHA-512 user created at runtime, over
// TLS; the same user with a wrong password, or without TLS, gets nowhere.
func TestSASLSSLListenerWithSCRAM(t *testing.T) {
	p := newTestPKI(t)
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.ListenersSpec = "SASL_SSL://127.0.0.1:0"
	cfg.TLS.CertFile, cfg.TLS.CAFile, cfg.TLS.ClientAuth = p.broker, p.ca, "none"
	cfg.OffsetsTopicPartitions = 1
	withSASL(newJWTIssuer(t), nil)(&cfg)
	tn := startNodeWith(t, cfg)
	tlsOpts := p.tlsOpts(t, "")

	adm := kadm.NewClient(kgoClient(t, tn.addr, append(tlsOpts, adminSASL())...))
	createScramUser(t, adm, "carol", "carol-secret")
	if _, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 1, nil, "secure"); err != nil {
		t.Fatal(err)
	}
	mech := scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism()
	pr := kgoClient(t, tn.addr, append(tlsOpts, kgo.SASL(mech), kgo.DefaultProduceTopic("secure"))...)
	var want []string
	for i := range 5 {
		v := fmt.Sprintf("v%d", i)
		want = append(want, v)
		if err := pr.ProduceSync(ctxTimeout(t, 20*time.Second), kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce over SASL_SSL with SCRAM-SHA-512: %v", err)
		}
	}
	c := kgoClient(t, tn.addr, append(tlsOpts, kgo.SASL(mech), kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	var got []string
	ctx := ctxTimeout(t, 20*time.Second)
	for len(got) < len(want) && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil {
				t.Fatalf("fetch over SASL_SSL: %v", err)
			}
		})
		for _, r := range fs.Records() {
			got = append(got, string(r.Value))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("consumed %v over SASL_SSL, want %v", got, want)
	}

	// A wrong password fails authentication.
	bad := kgoClient(t, tn.addr, append(tlsOpts, kgo.SASL(scram.Auth{User: "carol", Pass: "nope"}.AsSha512Mechanism()), kgo.RequestRetries(0))...)
	if _, err := bad.Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password over SASL_SSL: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	// Without TLS the listener does not even speak Kafka.
	plainText := kgoClient(t, tn.addr, kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()), kgo.RequestRetries(0),
		kgo.DialTimeout(2*time.Second))
	if _, err := plainText.Request(ctxTimeout(t, 5*time.Second), kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("a client without TLS was served by the SASL_SSL listener")
	}
}
