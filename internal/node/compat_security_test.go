package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strata-io/strata/internal/config"
)

// The real-client security suite (issue 12, done-when item 2): each client
// produces and consumes exact records over SSL (client certificate mapped
// to User:alice), over SASL_SSL with SCRAM-SHA-512 (User:carol) and with
// PLAIN (User:paul); a wrong password fails authentication. User:bob, who
// has no ACLs, is refused a produce (TOPIC_AUTHORIZATION_FAILED, from
// Metadata). Granted only DESCRIBE on his topic, his produce is refused by
// the Produce request (TOPIC_AUTHORIZATION_FAILED), his group join
// (GROUP_AUTHORIZATION_FAILED) and his idempotent producer's InitProducerId
// (CLUSTER_AUTHORIZATION_FAILED: neither IDEMPOTENT_WRITE on the cluster
// nor WRITE on a topic, KIP-679). Granted DESCRIBE on his group too, he
// finds its coordinator, and JoinGroup (which needs READ) refuses him with
// GROUP_AUTHORIZATION_FAILED. Then `strata acl create` grants bob WRITE
// and READ on his topic and READ on his group, and the same calls succeed
// against the same, never restarted, node.
//
// NB: the DESCRIBE step is there because most clients (franz-go, kafkajs,
// sarama) look up a subscribed topic before they find the group's
// coordinator, so with no ACLs at all a group consumer only ever reports
// TOPIC_AUTHORIZATION_FAILED; Kafka answers the same way.
//
// Every script under test/compat takes the same flags (secCompat.args) and
// prints one PASS:, FAIL: or SKIP: line per check. At each grant step it
// prints "GRANT describe", "GRANT group-describe" or "GRANT all" and waits for a line on its
// standard input, which the test writes once the ACLs exist.

const (
	secTopic       = "compat-secure" // alice, carol and paul may read and write
	secGroupPrefix = "compat-"       // groups alice, carol and paul may join
	secBobTopic    = "bob-topic"     // bob may do nothing until granted
	secBobGroup    = "bob-group"
	plainJAASUsers = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_paul="paul-secret";`
)

// secCompat is a node with an SSL and a SASL_SSL listener and the ACL
// authorizer on.
type secCompat struct {
	tn      *testNode
	pki     testPKI
	ssl     string // SSL listener: principal from the client certificate
	saslSSL string // SASL_SSL listener: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	admin   *kadm.Client
}

func startSecurityCompatNode(t *testing.T) *secCompat {
	t.Helper()
	p := newTestPKI(t)
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.ListenersSpec = "SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
	cfg.TLS.CertFile, cfg.TLS.CAFile, cfg.TLS.ClientAuth = p.broker, p.ca, "requested"
	cfg.TLS.PrincipalRules = `RULE:^CN=([^,]*),OU=eng,.*$/$1/L,DEFAULT`
	cfg.SASL.Mechanisms = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
	cfg.SASL.ListenerJAAS = map[string]string{"PLAIN": plainJAASUsers}
	cfg.Authorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	cfg.SuperUsers = "User:admin;User:CN=broker"
	cfg.AutoCreateTopics = false
	cfg.OffsetsTopicPartitions = 1
	tn := startNodeWith(t, cfg)
	s := &secCompat{tn: tn, pki: p, ssl: tn.node.ListenerAddr("SSL").String(), saslSSL: tn.node.ListenerAddr("SASL_SSL").String()}
	s.admin = kadm.NewClient(kgoClient(t, s.saslSSL, append(p.tlsOpts(t, ""), adminSASL())...))
	createScramUser(t, s.admin, "carol", "carol-secret")
	createScramUser(t, s.admin, "bob", "bob-secret")
	ctx := ctxTimeout(t, 30*time.Second)
	for _, topic := range []string{secTopic, secBobTopic} {
		if r, err := s.admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil || r.Err != nil {
			t.Fatalf("CreateTopic %s: %v / %v", topic, err, r.Err)
		}
	}
	for _, user := range []string{"alice", "carol", "paul"} {
		for _, err := range []error{
			s.acl(t, "--allow-principal", "User:"+user, "--operation", "Read", "--operation", "Write", "--topic", secTopic),
			s.acl(t, "--allow-principal", "User:"+user, "--operation", "Read", "--group", secGroupPrefix, "--resource-pattern-type", "prefixed"),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// acl runs `strata acl create ARGS` as the PLAIN super user over SASL_SSL.
func (s *secCompat) acl(t *testing.T, args ...string) error {
	full := append(append([]string{"acl", "create"}, args...), "--bootstrap", s.saslSSL, "--tls-ca", s.pki.ca,
		"--sasl-mechanism", "PLAIN", "--sasl-username", "admin", "--sasl-password", "admin-secret")
	if out, err := runCLI(t, full...); err != nil {
		return fmt.Errorf("strata acl create %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// grantBob gives bob DESCRIBE on his topic (step "describe"), DESCRIBE on
// his group (step "group-describe": FindCoordinator, not JoinGroup), or what his
// produce, idempotent produce and group consume need (step "all"): WRITE
// and READ on his topic (WRITE on a topic also allows an idempotent
// producer, KIP-679) and READ on his group. It may run on a goroutine
// other than the test's.
func (s *secCompat) grantBob(t *testing.T, step string) error {
	switch step {
	case "describe":
		return s.acl(t, "--allow-principal", "User:bob", "--operation", "Describe", "--topic", secBobTopic)
	case "group-describe":
		return s.acl(t, "--allow-principal", "User:bob", "--operation", "Describe", "--group", secBobGroup)
	}
	if err := s.acl(t, "--allow-principal", "User:bob", "--operation", "Write", "--operation", "Read", "--topic", secBobTopic); err != nil {
		return err
	}
	return s.acl(t, "--allow-principal", "User:bob", "--operation", "Read", "--group", secBobGroup)
}

// args are the flags every security script takes.
func (s *secCompat) args() []string {
	return []string{"--ssl", s.ssl, "--sasl-ssl", s.saslSSL, "--ca", s.pki.ca, "--cert", s.pki.client,
		"--topic", secTopic, "--group-prefix", secGroupPrefix,
		"--scram", "carol:carol-secret", "--plain", "paul:paul-secret", "--noacl", "bob:bob-secret",
		"--noacl-topic", secBobTopic, "--noacl-group", secBobGroup}
}

// secChecks are the names of the checks every script reports, in order;
// each client prints them after its own name.
var secChecks = []string{
	"SSL produce and consume",
	"SASL_SSL SCRAM-SHA-512 produce and consume",
	"SASL_SSL PLAIN produce and consume",
	"SCRAM-SHA-512 wrong password fails authentication",
	"PLAIN wrong password fails authentication",
	"no ACLs: produce gets TOPIC_AUTHORIZATION_FAILED",
	// GRANT describe
	"DESCRIBE only: produce gets TOPIC_AUTHORIZATION_FAILED",
	"DESCRIBE only: group join gets GROUP_AUTHORIZATION_FAILED",
	"DESCRIBE only: idempotent producer gets CLUSTER_AUTHORIZATION_FAILED",
	// GRANT group-describe
	"DESCRIBE on the group: JoinGroup gets GROUP_AUTHORIZATION_FAILED",
	// GRANT all
	"after the grant: produce succeeds",
	"after the grant: idempotent produce succeeds",
	"after the grant: group consume reads the exact records",
}

// runSecurityScript runs a client's script, grants bob his ACLs when it
// asks, and checks that it reported every check in secChecks as PASS,
// except those in skips: what the client cannot do, which it may report as
// SKIP: with the reason (a client that learns to do it passes).
func (s *secCompat) runSecurityScript(t *testing.T, client string, cmd *exec.Cmd, skips ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Dir, c.Env = cmd.Dir, cmd.Env
	c.WaitDelay = 5 * time.Second
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	c.Stdout, c.Stderr = pw, pw
	if err := c.Start(); err != nil {
		t.Fatalf("start %s: %v", client, err)
	}
	var (
		out     strings.Builder
		granted []string
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if step, ok := strings.CutPrefix(line, "GRANT "); ok && (step == "describe" || step == "group-describe" || step == "all") {
				granted = append(granted, step)
				if err := s.grantBob(t, step); err != nil {
					t.Errorf("%s: %v", client, err)
				}
				io.WriteString(stdin, "granted\n")
			}
		}
		io.Copy(io.Discard, pr)
	}()
	runErr := c.Wait()
	pw.Close()
	wg.Wait()
	t.Logf("%s:\n%s", client, out.String())
	if runErr != nil && !strings.Contains(out.String(), "FAIL:") {
		t.Fatalf("%s: %v (and no FAIL line)", client, runErr)
	}
	if strings.Join(granted, ",") != "describe,group-describe,all" {
		t.Errorf("%s asked for grants %v, want [describe group-describe all]", client, granted)
	}
	text := out.String()
	for _, check := range secChecks {
		name := client + " " + check
		verdicts := "PASS"
		for _, sk := range skips {
			if sk == check {
				verdicts = "(?:PASS|SKIP)"
			}
		}
		if !regexp.MustCompile(`(?m)^` + verdicts + `: ` + regexp.QuoteMeta(name) + `($|:)`).MatchString(text) {
			t.Errorf("%s: no %s: %q line", client, verdicts, name)
		}
	}
	if strings.Contains(text, "FAIL:") {
		t.Errorf("%s reported a failure", client)
	}
}

// compatDir is test/compat from this package's directory.
func compatDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../../test/compat")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestSecurityFranzGo runs the security checks with franz-go (kgo), the
// client the rest of this package uses, as a user of it would.
func TestSecurityFranzGo(t *testing.T) {
	s := startSecurityCompatNode(t)
	anon := s.pki.tlsOpts(t, "")
	modes := []struct {
		check string
		opts  []kgo.Opt
	}{
		{secChecks[0], s.pki.tlsOpts(t, s.pki.client)},
		{secChecks[1], append(anon[:len(anon):len(anon)], kgo.SASL(scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism()))},
		{secChecks[2], append(anon[:len(anon):len(anon)], kgo.SASL(plain.Auth{User: "paul", Pass: "paul-secret"}.AsMechanism()))},
	}
	for i, m := range modes {
		addr := s.saslSSL
		if i == 0 {
			addr = s.ssl
		}
		t.Run(m.check, func(t *testing.T) {
			want := franzProduce(t, addr, secTopic, fmt.Sprintf("franz-%d", i), m.opts...)
			got := franzGroupConsume(t, addr, secTopic, fmt.Sprintf("%sfranz-%d", secGroupPrefix, i), fmt.Sprintf("franz-%d-", i), len(want), m.opts...)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("consumed %v, want %v", got, want)
			}
		})
	}
	for _, tt := range []struct {
		check string
		mech  kgosasl.Mechanism
	}{
		{secChecks[3], scram.Auth{User: "carol", Pass: "wrong"}.AsSha512Mechanism()},
		{secChecks[4], plain.Auth{User: "paul", Pass: "wrong"}.AsMechanism()},
	} {
		t.Run(tt.check, func(t *testing.T) {
			cl := kgoClient(t, s.saslSSL, append(anon[:len(anon):len(anon)], kgo.SASL(tt.mech), kgo.RequestRetries(0))...)
			if _, err := cl.Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("metadata with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
	}

	bob := append(anon[:len(anon):len(anon)], kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()))
	plainProducer := kgoClient(t, s.saslSSL, append(bob, kgo.DisableIdempotentWrite(), kgo.RecordRetries(0))...)
	t.Run(secChecks[5], func(t *testing.T) {
		if err := produceOnce(t, plainProducer, secBobTopic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
	})
	if err := s.grantBob(t, "describe"); err != nil {
		t.Fatal(err)
	}
	t.Run(secChecks[6], func(t *testing.T) {
		if err := produceOnce(t, plainProducer, secBobTopic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
	})
	t.Run(secChecks[7], func(t *testing.T) { franzGroupRefused(t, s.saslSSL, bob) })
	t.Run(secChecks[8], func(t *testing.T) {
		idemProducer := kgoClient(t, s.saslSSL, bob...)
		err := idemProducer.ProduceSync(ctxTimeout(t, 20*time.Second), &kgo.Record{Topic: secBobTopic, Value: []byte("never")}).FirstErr()
		if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
			t.Fatalf("idempotent produce: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
		}
	})
	if err := s.grantBob(t, "group-describe"); err != nil {
		t.Fatal(err)
	}
	t.Run(secChecks[9], func(t *testing.T) { franzGroupRefused(t, s.saslSSL, bob) })
	if err := s.grantBob(t, "all"); err != nil {
		t.Fatal(err)
	}
	var want []string
	t.Run(secChecks[10], func(t *testing.T) {
		if err := plainProducer.ProduceSync(ctxTimeout(t, 20*time.Second), &kgo.Record{Topic: secBobTopic, Value: []byte("franz-bob-0")}).FirstErr(); err != nil {
			t.Fatalf("produce after the grant: %v", err)
		}
		want = append(want, "franz-bob-0")
	})
	t.Run(secChecks[11], func(t *testing.T) {
		// NB: kgo keeps a non-retriable InitProducerId error for the
		// client's life (as librdkafka makes it fatal), so the same
		// call is made by a new client; the node was not restarted.
		idemProducer := kgoClient(t, s.saslSSL, bob...)
		if err := idemProducer.ProduceSync(ctxTimeout(t, 20*time.Second), &kgo.Record{Topic: secBobTopic, Value: []byte("franz-bob-1")}).FirstErr(); err != nil {
			t.Fatalf("idempotent produce after the grant: %v", err)
		}
		want = append(want, "franz-bob-1")
	})
	t.Run(secChecks[12], func(t *testing.T) {
		got := franzGroupConsume(t, s.saslSSL, secBobTopic, secBobGroup, "franz-bob-", len(want), bob...)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("consumed %v, want %v", got, want)
		}
	})
}

// franzGroupRefused runs bob's group consumer until it reports
// GROUP_AUTHORIZATION_FAILED.
func franzGroupRefused(t *testing.T, addr string, bob []kgo.Opt) {
	t.Helper()
	c := kgoClient(t, addr, append(bob, kgo.ConsumerGroup(secBobGroup), kgo.ConsumeTopics(secBobTopic))...)
	ctx := ctxTimeout(t, 20*time.Second)
	var seen []error
	for ctx.Err() == nil {
		for _, fe := range c.PollFetches(ctx).Errors() {
			if errors.Is(fe.Err, kerr.GroupAuthorizationFailed) {
				return
			}
			if ctx.Err() == nil {
				seen = append(seen, fe.Err)
			}
		}
	}
	t.Fatalf("group consumer saw %v, want GROUP_AUTHORIZATION_FAILED", seen)
}

// franzProduce writes five records prefix-0..4 to topic and returns their
// values.
func franzProduce(t *testing.T, addr, topic, prefix string, opts ...kgo.Opt) []string {
	t.Helper()
	p := kgoClient(t, addr, append(opts, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	var want []string
	for i := range 5 {
		v := fmt.Sprintf("%s-%d", prefix, i)
		if err := p.ProduceSync(ctxTimeout(t, 20*time.Second), kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
		want = append(want, v)
	}
	return want
}

// franzGroupConsume reads topic from the start in group until it has n
// values starting with prefix, and returns those.
func franzGroupConsume(t *testing.T, addr, topic, group, prefix string, n int, opts ...kgo.Opt) []string {
	t.Helper()
	c := kgoClient(t, addr, append(opts, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	ctx := ctxTimeout(t, 30*time.Second)
	var got []string
	for len(got) < n {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s consumed %v before the deadline, want %d records", group, got, n)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("group %s consume: %v", group, err) })
		for _, r := range fs.Records() {
			if strings.HasPrefix(string(r.Value), prefix) {
				got = append(got, string(r.Value))
			}
		}
	}
	return got
}

// pythonWith returns /usr/bin/python3 when it imports module, or skips.
func pythonWith(t *testing.T, module string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a Python client")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if out, err := exec.Command(py, "-c", "import "+module).CombinedOutput(); err != nil {
		t.Skipf("%s not installed: %s", module, strings.TrimSpace(string(out)))
	}
	return py
}

// TestSecurityConfluentKafkaPython runs test/compat/security_python.py
// with confluent-kafka-python (librdkafka).
func TestSecurityConfluentKafkaPython(t *testing.T) {
	py := pythonWith(t, "confluent_kafka")
	s := startSecurityCompatNode(t)
	cmd := exec.Command(py, append([]string{filepath.Join(compatDir(t), "security_python.py"), "--client", "confluent-kafka"}, s.args()...)...)
	s.runSecurityScript(t, "confluent-kafka", cmd)
}

// TestSecurityKafkaPython runs test/compat/security_python.py with
// kafka-python. kafka-python 2.0 has no idempotent producer, and raises
// KafkaTimeoutError for a produce to a topic it may not describe (it drops
// the TOPIC_AUTHORIZATION_FAILED of a one-topic Metadata answer, which the
// script checks it got): the script says so (SKIP) and checks the rest; a
// later kafka-python must pass those checks too.
func TestSecurityKafkaPython(t *testing.T) {
	py := pythonWith(t, "kafka")
	var skips []string
	if out, _ := exec.Command(py, "-c", "import kafka; print(kafka.__version__)").Output(); strings.HasPrefix(string(out), "2.0.") {
		skips = append(skips, secChecks[5])
	}
	if exec.Command(py, "-c", "import sys, kafka; sys.exit('enable_idempotence' not in kafka.KafkaProducer.DEFAULT_CONFIG)").Run() != nil {
		skips = append(skips, secChecks[8], secChecks[11])
	}
	s := startSecurityCompatNode(t)
	cmd := exec.Command(py, append([]string{filepath.Join(compatDir(t), "security_python.py"), "--client", "kafka-python"}, s.args()...)...)
	s.runSecurityScript(t, "kafka-python", cmd, skips...)
}

// TestSecurityKcat runs test/compat/security_kcat.sh with kcat
// (librdkafka).
func TestSecurityKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (.ci/run installs it)")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	s := startSecurityCompatNode(t)
	cmd := exec.Command(bash, append([]string{filepath.Join(compatDir(t), "security_kcat.sh")}, s.args()...)...)
	cmd.Env = append(os.Environ(), "KCAT="+kcat)
	s.runSecurityScript(t, "kcat", cmd)
}

// TestSecurityKafkajs runs test/compat/node/security_kafkajs.js with
// kafkajs (installed by `npm install` in test/compat/node, which .ci/run
// does when npm is present).
func TestSecurityKafkajs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Node.js client")
	}
	nodeJS, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir := filepath.Join(compatDir(t), "node")
	if !fileExists(filepath.Join(dir, "node_modules", "kafkajs", "package.json")) {
		t.Skipf("kafkajs not installed: run npm install in %s", dir)
	}
	s := startSecurityCompatNode(t)
	cmd := exec.Command(nodeJS, append([]string{"security_kafkajs.js"}, s.args()...)...)
	cmd.Dir = dir
	// kafkajs 2.2 reports a refused FindCoordinator as "Failed to find
	// group coordinator"; the script checks its debug log for the code.
	s.runSecurityScript(t, "kafkajs", cmd, secChecks[7])
}

// TestSecuritySarama builds test/compat/sarama (its own Go module) and runs
// its security checks with IBM/sarama. Skipped when the module's
// dependencies cannot be downloaded.
func TestSecuritySarama(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sarama client")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	dir := filepath.Join(compatDir(t), "sarama")
	if out, err := exec.Command(goTool, "-C", dir, "mod", "download").CombinedOutput(); err != nil {
		t.Skipf("sarama's module dependencies are not available: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "sarama-compat")
	if out, err := exec.Command(goTool, "-C", dir, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build test/compat/sarama: %v\n%s", err, out)
	}
	s := startSecurityCompatNode(t)
	s.runSecurityScript(t, "sarama", exec.Command(bin, append([]string{"security"}, s.args()...)...))
}
