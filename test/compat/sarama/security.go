package main

// go run . security --ssl HOST:PORT --sasl-ssl HOST:PORT --ca CA.pem
//     --cert CLIENT.pem --topic T --group-prefix P --scram USER:PW
//     --plain USER:PW --noacl USER:PW --noacl-topic T2 --noacl-group G2
//
// TLS, SASL and ACLs with IBM/sarama (issue 12): the same checks as
// ../security_python.py (see there), run by internal/node's
// TestSecuritySarama. Produce and read back exact records in a consumer
// group over SSL, SASL_SSL with SCRAM-SHA-512 (sarama's SCRAMClient from
// xdg-go/scram, as sarama's own example does) and with PLAIN; wrong
// passwords fail to authenticate; the --noacl user is refused, then granted
// (it prints "GRANT describe" / "GRANT group-describe" / "GRANT all" and
// waits for a line on stdin).

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// scramClient is sarama.SCRAMClient over xdg-go/scram: Begin starts a
// conversation, whose Step and Done it promotes.
type scramClient struct {
	*scram.ClientConversation
	hash scram.HashGeneratorFcn
}

func (c *scramClient) Begin(user, pass, authzID string) error {
	cl, err := c.hash.NewClient(user, pass, authzID)
	if err != nil {
		return err
	}
	c.ClientConversation = cl.NewConversation()
	return nil
}

type secArgs struct {
	ssl, saslSSL, ca, cert, topic, groupPrefix, scram, plain, noacl, noaclTopic, noaclGroup string
}

// secConfig is a client config for the SSL listener (mech "": the client
// certificate is the identity) or the SASL_SSL one.
func secConfig(a secArgs, mech, cred string) (*sarama.Config, []string, error) {
	cfg := baseConfig()
	cfg.Metadata.Retry.Max = 2
	pem, err := os.ReadFile(a.ca)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("no certificate in %s", a.ca)
	}
	cfg.Net.TLS.Enable = true
	cfg.Net.TLS.Config = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if mech == "" {
		pair, err := tls.LoadX509KeyPair(a.cert, a.cert)
		if err != nil {
			return nil, nil, err
		}
		cfg.Net.TLS.Config.Certificates = []tls.Certificate{pair}
		return cfg, []string{a.ssl}, nil
	}
	user, pass, _ := strings.Cut(cred, ":")
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.Version = sarama.SASLHandshakeV1
	cfg.Net.SASL.Mechanism = sarama.SASLMechanism(mech)
	cfg.Net.SASL.User, cfg.Net.SASL.Password = user, pass
	if mech == sarama.SASLTypeSCRAMSHA512 {
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	}
	return cfg, []string{a.saslSSL}, nil
}

func secProduce(cfg *sarama.Config, brokers []string, topic string, values []string, idempotent bool) error {
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 0
	if idempotent {
		cfg.Producer.Idempotent = true
		cfg.Producer.Retry.Max = 1
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			return err
		}
	}
	return nil
}

// groupHandler collects the values with prefix until it has n.
type groupHandler struct {
	prefix string
	n      int
	mu     sync.Mutex
	got    []string
	done   chan struct{}
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		v := string(m.Value)
		if !strings.HasPrefix(v, h.prefix) {
			continue
		}
		h.mu.Lock()
		h.got = append(h.got, v)
		if len(h.got) == h.n {
			close(h.done)
		}
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

// secGroupConsume reads topic from the start in group until it has n
// values with prefix; the first error of Consume ends it.
func secGroupConsume(cfg *sarama.Config, brokers []string, topic, group, prefix string, n int, timeout time.Duration) ([]string, error) {
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Rebalance.Retry.Max = 1
	cg, err := sarama.NewConsumerGroup(brokers, group, cfg)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	h := &groupHandler{prefix: prefix, n: n, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	select {
	case <-h.done:
		cancel()
		<-errc
	case err = <-errc:
	case <-ctx.Done():
		err = fmt.Errorf("read %d of %d records within %v", len(h.got), n, timeout)
		<-errc
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got), err
}

func waitGrant(in *bufio.Reader, step string) {
	fmt.Println("GRANT " + step)
	if _, err := in.ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "stdin closed before the grant")
		os.Exit(1)
	}
}

// refusedWith reports whether err is (or wraps) want.
func refusedWith(name string, err, want error) {
	switch {
	case err == nil:
		report(false, name, "succeeded")
	case errors.Is(err, want):
		report(true, name, "")
	default:
		report(false, name, fmt.Sprintf("%v, want %v", err, want))
	}
}

func runSecurity(args []string) {
	fs := flag.NewFlagSet("security", flag.ExitOnError)
	var a secArgs
	for _, f := range []struct {
		name string
		p    *string
	}{{"ssl", &a.ssl}, {"sasl-ssl", &a.saslSSL}, {"ca", &a.ca}, {"cert", &a.cert}, {"topic", &a.topic},
		{"group-prefix", &a.groupPrefix}, {"scram", &a.scram}, {"plain", &a.plain}, {"noacl", &a.noacl},
		{"noacl-topic", &a.noaclTopic}, {"noacl-group", &a.noaclGroup}} {
		fs.StringVar(f.p, f.name, "", "")
	}
	fs.Parse(args)
	fmt.Println("client: sarama (IBM/sarama v1.61.1)")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	run := hex.EncodeToString(b)
	in := bufio.NewReader(os.Stdin)

	for i, m := range []struct{ name, mech, cred string }{
		{"SSL produce and consume", "", ""},
		{"SASL_SSL SCRAM-SHA-512 produce and consume", sarama.SASLTypeSCRAMSHA512, a.scram},
		{"SASL_SSL PLAIN produce and consume", sarama.SASLTypePlaintext, a.plain},
	} {
		prefix := fmt.Sprintf("sarama-%s-%d-", run, i)
		var want []string
		for j := range 5 {
			want = append(want, fmt.Sprint(prefix, j))
		}
		cfg, brokers, err := secConfig(a, m.mech, m.cred)
		if err == nil {
			err = secProduce(cfg, brokers, a.topic, want, false)
		}
		var got []string
		if err == nil {
			cfg, brokers, _ = secConfig(a, m.mech, m.cred)
			got, err = secGroupConsume(cfg, brokers, a.topic, fmt.Sprintf("%ssarama-%d-%s", a.groupPrefix, i, run), prefix, len(want), 30*time.Second)
		}
		if err != nil {
			report(false, m.name, err.Error())
			continue
		}
		report(slices.Equal(got, want), m.name, diff(got, want))
	}
	for _, m := range []struct{ mech, cred string }{{sarama.SASLTypeSCRAMSHA512, a.scram}, {sarama.SASLTypePlaintext, a.plain}} {
		name := m.mech + " wrong password fails authentication"
		user, _, _ := strings.Cut(m.cred, ":")
		cfg, brokers, err := secConfig(a, m.mech, user+":wrong-password")
		if err != nil {
			report(false, name, err.Error())
			continue
		}
		cl, err := sarama.NewClient(brokers, cfg)
		if err == nil {
			cl.Close()
		}
		refusedWith(name, err, sarama.ErrSASLAuthenticationFailed)
	}

	bob := func() (*sarama.Config, []string) {
		cfg, brokers, _ := secConfig(a, sarama.SASLTypeSCRAMSHA512, a.noacl)
		return cfg, brokers
	}
	cfg, brokers := bob()
	refusedWith("no ACLs: produce gets TOPIC_AUTHORIZATION_FAILED", secProduce(cfg, brokers, a.noaclTopic, []string{"never"}, false), sarama.ErrTopicAuthorizationFailed)
	waitGrant(in, "describe")
	cfg, brokers = bob()
	refusedWith("DESCRIBE only: produce gets TOPIC_AUTHORIZATION_FAILED", secProduce(cfg, brokers, a.noaclTopic, []string{"never"}, false), sarama.ErrTopicAuthorizationFailed)
	cfg, brokers = bob()
	_, err := secGroupConsume(cfg, brokers, a.noaclTopic, a.noaclGroup, "", 1, 20*time.Second)
	refusedWith("DESCRIBE only: group join gets GROUP_AUTHORIZATION_FAILED", err, sarama.ErrGroupAuthorizationFailed)
	cfg, brokers = bob()
	refusedWith("DESCRIBE only: idempotent producer gets CLUSTER_AUTHORIZATION_FAILED", secProduce(cfg, brokers, a.noaclTopic, []string{"never"}, true), sarama.ErrClusterAuthorizationFailed)
	waitGrant(in, "group-describe")
	cfg, brokers = bob()
	_, err = secGroupConsume(cfg, brokers, a.noaclTopic, a.noaclGroup, "", 1, 20*time.Second)
	refusedWith("DESCRIBE on the group: JoinGroup gets GROUP_AUTHORIZATION_FAILED", err, sarama.ErrGroupAuthorizationFailed)
	waitGrant(in, "all")

	prefix := fmt.Sprintf("sarama-%s-bob-", run)
	var want []string
	for i, m := range []struct {
		name       string
		idempotent bool
	}{{"after the grant: produce succeeds", false}, {"after the grant: idempotent produce succeeds", true}} {
		v := fmt.Sprint(prefix, i)
		cfg, brokers = bob()
		if err := secProduce(cfg, brokers, a.noaclTopic, []string{v}, m.idempotent); err != nil {
			report(false, m.name, err.Error())
			continue
		}
		want = append(want, v)
		report(true, m.name, "")
	}
	name := "after the grant: group consume reads the exact records"
	cfg, brokers = bob()
	got, err := secGroupConsume(cfg, brokers, a.noaclTopic, a.noaclGroup, prefix, len(want), 30*time.Second)
	if err != nil {
		report(false, name, err.Error())
	} else {
		report(len(want) > 0 && slices.Equal(got, want), name, diff(got, want))
	}
	if failed {
		os.Exit(1)
	}
}
