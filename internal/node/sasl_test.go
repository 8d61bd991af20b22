package node

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strata-io/strata/internal/config"
)

const testPlainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// jwtIssuer signs OAUTHBEARER tokens with a key whose JWKS file the node
// trusts.
type jwtIssuer struct {
	key  *rsa.PrivateKey
	url  string // file:// URL of the JWKS
	kid  string
	iss  string
	aud  string
	skew time.Duration
}

func newJWTIssuer(t *testing.T) *jwtIssuer { return newJWTIssuerTB(t) }

func newJWTIssuerTB(t testing.TB) *jwtIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return &jwtIssuer{key: key, url: "file://" + path, kid: "test-key", iss: "https://idp.test", aud: "strata"}
}

func (j *jwtIssuer) token(t *testing.T, sub string, exp time.Time) string {
	return j.tokenTB(t, sub, exp)
}

func (j *jwtIssuer) tokenTB(t testing.TB, sub string, exp time.Time) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": j.kid, "typ": "JWT"})
	p, _ := json.Marshal(map[string]any{"sub": sub, "iss": j.iss, "aud": j.aud, "iat": time.Now().Unix(), "exp": exp.Unix()})
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := crypto.SHA256.New()
	sum.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, j.key, crypto.SHA256, sum.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// withSASL makes the node's listener SASL_PLAINTEXT with every mechanism.
func withSASL(j *jwtIssuer, props map[string]string) nodeOption {
	return func(s *config.Static) {
		s.SASL.Mechanisms = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
		s.SASL.InterBrokerMechanism = "PLAIN"
		s.SASL.ListenerJAAS = map[string]string{"PLAIN": testPlainJAAS}
		s.SASL.OAuthAllowedURLs = j.url
		if s.KafkaProps == nil {
			s.KafkaProps = map[string]string{}
		}
		s.KafkaProps["sasl.oauthbearer.jwks.endpoint.url"] = j.url
		s.KafkaProps["sasl.oauthbearer.expected.issuer"] = j.iss
		s.KafkaProps["sasl.oauthbearer.expected.audience"] = j.aud
		for k, v := range props {
			s.KafkaProps[k] = v
		}
	}
}

func adminSASL() kgo.Opt {
	return kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())
}

// createScramUser stores user's credentials for both SCRAM mechanisms.
func createScramUser(t *testing.T, adm *kadm.Client, user, pass string) {
	t.Helper()
	resps, err := adm.AlterUserSCRAMs(ctxTimeout(t, 10*time.Second), nil, []kadm.UpsertSCRAM{
		{User: user, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: pass},
		{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: pass},
	})
	if err != nil || resps[user].Err != nil {
		t.Fatalf("AlterUserSCRAMs(%s) = %v, %v", user, err, resps[user].Err)
	}
}

// produceConsume writes three records to topic and reads them back, both
// authenticated with mech.
func produceConsume(t *testing.T, addr, topic string, mech kgosasl.Mechanism) {
	t.Helper()
	p := kgoClient(t, addr, kgo.SASL(mech), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	var want []string
	for i := range 3 {
		v := fmt.Sprintf("%s-%d", mech.Name(), i)
		want = append(want, v)
		if err := p.ProduceSync(ctxTimeout(t, 20*time.Second), kgo.StringRecord(v)).FirstErr(); err != nil {
			t.Fatalf("produce over %s: %v", mech.Name(), err)
		}
	}
	c := kgoClient(t, addr, kgo.SASL(mech), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	ctx := ctxTimeout(t, 20*time.Second)
	for len(got) < 3 {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume over %s: got %v before timeout", mech.Name(), got)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch over %s: %v", mech.Name(), err) })
		for _, r := range fs.Records() {
			got = append(got, string(r.Value))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("consumed over %s %v, want %v", mech.Name(), got, want)
	}
}

func TestSASLMechanismsProduceConsume(t *testing.T) {
	j := newJWTIssuer(t)
	tn := startNode(t, withSASL(j, nil))
	adm := kadm.NewClient(tn.client(adminSASL()))
	createScramUser(t, adm, "carol", "carol-secret")
	described, err := adm.DescribeUserSCRAMs(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("DescribeUserSCRAMs: %v", err)
	}
	if d := described["carol"]; len(d.CredInfos) != 2 || d.CredInfos[0].Mechanism != kadm.ScramSha256 || d.CredInfos[0].Iterations != 4096 ||
		d.CredInfos[1].Mechanism != kadm.ScramSha512 || d.CredInfos[1].Iterations != 8192 {
		t.Fatalf("DescribeUserSCRAMs carol = %+v, want SCRAM-SHA-256/4096 and SCRAM-SHA-512/8192", d)
	}
	for _, tt := range []struct {
		name string
		mech kgosasl.Mechanism
	}{
		{"plain", plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()},
		{"scram-sha-256", scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha256Mechanism()},
		{"scram-sha-512", scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism()},
		{"oauthbearer", oauth.Auth{Token: j.token(t, "dave", time.Now().Add(time.Hour))}.AsMechanism()},
	} {
		t.Run(tt.name, func(t *testing.T) { produceConsume(t, tn.addr, "sasl-"+tt.name, tt.mech) })
	}
}

// authError returns the error a client with mech gets for a metadata
// request.
func authError(t *testing.T, addr string, mech kgosasl.Mechanism) error {
	t.Helper()
	cl := kgoClient(t, addr, kgo.SASL(mech), kgo.RequestRetries(0))
	_, err := cl.Request(ctxTimeout(t, 10*time.Second), kmsg.NewPtrMetadataRequest())
	return err
}

func TestSASLAuthenticationFailures(t *testing.T) {
	j := newJWTIssuer(t)
	tn := startNode(t, withSASL(j, nil))
	createScramUser(t, kadm.NewClient(tn.client(adminSASL())), "carol", "carol-secret")
	other := *j
	other.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	for _, tt := range []struct {
		name string
		mech kgosasl.Mechanism
	}{
		{"wrong PLAIN password", plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism()},
		{"unknown PLAIN user", plain.Auth{User: "mallory", Pass: "alice-secret"}.AsMechanism()},
		{"wrong SCRAM-SHA-256 password", scram.Auth{User: "carol", Pass: "wrong"}.AsSha256Mechanism()},
		{"wrong SCRAM-SHA-512 password", scram.Auth{User: "carol", Pass: "wrong"}.AsSha512Mechanism()},
		{"unknown SCRAM user", scram.Auth{User: "mallory", Pass: "x"}.AsSha512Mechanism()},
		{"expired JWT", oauth.Auth{Token: j.token(t, "dave", time.Now().Add(-time.Hour))}.AsMechanism()},
		{"JWT signed by another key", oauth.Auth{Token: other.token(t, "dave", time.Now().Add(time.Hour))}.AsMechanism()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := authError(t, tn.addr, tt.mech)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("metadata with %s: error %v, want SASL_AUTHENTICATION_FAILED", tt.name, err)
			}
			if waited := time.Since(start); waited < 100*time.Millisecond {
				t.Errorf("failure answered after %v, want at least connection.failed.authentication.delay.ms (100ms)", waited)
			}
		})
	}
}

// rawSASL is a raw connection for the SASL state machine.
func saslHandshake(t *testing.T, r *rawConn, version int16, mech string) *kmsg.SASLHandshakeResponse {
	t.Helper()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Version, req.Mechanism = version, mech
	return r.send(req).(*kmsg.SASLHandshakeResponse)
}

func TestSASLConnectionStateMachine(t *testing.T) {
	j := newJWTIssuer(t)
	tn := startNode(t, withSASL(j, nil))

	t.Run("request before authenticating closes the connection", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		r.writeFrame(kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 1))
		r.expectClosed()
	})
	t.Run("ApiVersions is served before authenticating, Metadata still closes", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		av.ClientSoftwareName, av.ClientSoftwareVersion = "raw", "1"
		if resp := r.send(av).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("ApiVersions before auth: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
		}
		r.writeFrame(kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 9))
		r.expectClosed()
	})
	t.Run("a frame over sasl.server.max.receive.size closes before it is read", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], 524289)
		r.writeFrame(size[:])
		r.expectClosed()
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		resp := saslHandshake(t, r, 1, "GSSAPI")
		if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(resp.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER" {
			t.Fatalf("SaslHandshake GSSAPI = error %d, mechanisms %v; want UNSUPPORTED_SASL_MECHANISM with the enabled list", resp.ErrorCode, resp.SupportedMechanisms)
		}
		r.expectClosed()
	})
	t.Run("after the handshake only SaslAuthenticate", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		if resp := saslHandshake(t, r, 1, "PLAIN"); resp.ErrorCode != 0 {
			t.Fatalf("SaslHandshake PLAIN: error %d", resp.ErrorCode)
		}
		av := kmsg.NewPtrApiVersionsRequest()
		if resp := r.send(av).(*kmsg.ApiVersionsResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("ApiVersions during authentication: error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
		}
		r.expectClosed()
	})
	t.Run("malformed PLAIN token", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		saslHandshake(t, r, 1, "PLAIN")
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 2
		req.SASLAuthBytes = []byte("no-separators")
		resp := r.send(req).(*kmsg.SASLAuthenticateResponse)
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil {
			t.Fatalf("SaslAuthenticate(malformed) = error %d, want SASL_AUTHENTICATION_FAILED with a message", resp.ErrorCode)
		}
		r.expectClosed()
	})
	t.Run("SaslHandshake v0 with raw PLAIN tokens", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		if resp := saslHandshake(t, r, 0, "PLAIN"); resp.ErrorCode != 0 {
			t.Fatalf("SaslHandshake v0: error %d", resp.ErrorCode)
		}
		tok := []byte("\x00alice\x00alice-secret")
		r.writeFrame(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		r.writeFrame(tok)
		b, err := r.readFrame()
		if err != nil || len(b) != 0 {
			t.Fatalf("raw PLAIN answer = %q, %v; want an empty token", b, err)
		}
		resp := r.send(kmsg.NewPtrMetadataRequest()).(*kmsg.MetadataResponse)
		if len(resp.Brokers) != 1 {
			t.Fatalf("Metadata after raw PLAIN: %d brokers", len(resp.Brokers))
		}
		// An authenticated connection without a session lifetime cannot
		// re-authenticate: Kafka's KafkaApis answer.
		if resp := saslHandshake(t, r, 1, "PLAIN"); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("SaslHandshake after authentication: error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
		}
	})
	t.Run("raw v0 token with a wrong password closes", func(t *testing.T) {
		r := dialRaw(t, tn.addr)
		saslHandshake(t, r, 0, "PLAIN")
		tok := []byte("\x00alice\x00nope")
		r.writeFrame(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
		r.expectClosed()
	})
}

func TestSASLOnPlaintextListenerIsIllegalState(t *testing.T) {
	tn := startNode(t)
	r := dialRaw(t, tn.addr)
	if resp := saslHandshake(t, r, 1, "PLAIN"); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("SaslHandshake on PLAINTEXT: error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
	}
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version = 1
	if resp := r.send(req).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("SaslAuthenticate on PLAINTEXT: error %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
	}
}

func TestSASLUserCreatedByCLILogsInWithoutRestart(t *testing.T) {
	j := newJWTIssuer(t)
	tn := startNode(t, withSASL(j, nil))
	auth := []string{"--bootstrap", tn.addr, "--sasl-mechanism", "PLAIN", "--sasl-username", "admin", "--sasl-password", "admin-secret"}
	if err := authError(t, tn.addr, scram.Auth{User: "erin", Pass: "erin-pw"}.AsSha512Mechanism()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("login before user create: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	out, err := runCLI(t, append([]string{"user", "create", "erin", "--password", "erin-pw", "--mechanism", "SCRAM-SHA-512"}, auth...)...)
	if err != nil || out != "created user \"erin\"\n" {
		t.Fatalf("strata user create = %q, %v", out, err)
	}
	produceConsume(t, tn.addr, "cli-user", scram.Auth{User: "erin", Pass: "erin-pw"}.AsSha512Mechanism())
	out, err = runCLI(t, append([]string{"user", "list"}, auth...)...)
	if err != nil || !strings.Contains(out, "erin  SCRAM-SHA-512  4096") {
		t.Fatalf("strata user list = %q, %v", out, err)
	}
	out, err = runCLI(t, append([]string{"user", "delete", "erin"}, auth...)...)
	if err != nil || out != "deleted user \"erin\"\n" {
		t.Fatalf("strata user delete = %q, %v", out, err)
	}
	if err := authError(t, tn.addr, scram.Auth{User: "erin", Pass: "erin-pw"}.AsSha512Mechanism()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("login after user delete: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}

// TestAlterUserScramCredentialsErrors checks the controller's per-user
// validation through the wire (kadm refuses some of these client-side).
func TestAlterUserScramCredentialsErrors(t *testing.T) {
	j := newJWTIssuer(t)
	tn := startNode(t, withSASL(j, nil))
	cl := tn.client(adminSASL())
	up := func(user string, mech int8, iter int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = user, mech, iter, []byte("salt"), bytes.Repeat([]byte{7}, 32)
		return u
	}
	del := func(user string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = user, mech
		return d
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		up("ok", 1, 4096), up("few", 1, 1000), up("many", 2, 20000), up("badmech", 3, 4096), up("twice", 1, 4096),
	}
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{del("missing", 2), del("twice", 1)}
	resp, err := req.RequestWith(ctxTimeout(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("AlterUserScramCredentials: %v", err)
	}
	got := map[string]int16{}
	for _, r := range resp.Results {
		got[r.User] = r.ErrorCode
	}
	want := map[string]int16{"ok": 0, "few": kerr.UnacceptableCredential.Code, "many": kerr.UnacceptableCredential.Code,
		"badmech": kerr.UnsupportedSaslMechanism.Code, "twice": kerr.DuplicateResource.Code, "missing": kerr.ResourceNotFound.Code}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("AlterUserScramCredentials results %v, want %v", got, want)
	}
	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, u := range []string{"ok", "missing", "ok"} {
		du := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		du.Name = u
		dreq.Users = append(dreq.Users, du)
	}
	dresp, err := dreq.RequestWith(ctxTimeout(t, 10*time.Second), cl)
	if err != nil || len(dresp.Results) != 2 || dresp.Results[0].ErrorCode != kerr.DuplicateResource.Code || dresp.Results[1].ErrorCode != kerr.ResourceNotFound.Code {
		t.Fatalf("DescribeUserScramCredentials(ok, missing, ok) = %+v, %v; want DUPLICATE_RESOURCE for ok, RESOURCE_NOT_FOUND for missing", dresp, err)
	}
}

func TestSASLReauthentication(t *testing.T) {
	j := newJWTIssuer(t)
	tn := startNode(t, withSASL(j, map[string]string{"connections.max.reauth.ms": "1500"}))
	r := dialRaw(t, tn.addr)
	saslHandshake(t, r, 1, "PLAIN")
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version = 1
	req.SASLAuthBytes = []byte("\x00alice\x00alice-secret")
	resp := r.send(req).(*kmsg.SASLAuthenticateResponse)
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis <= 0 || resp.SessionLifetimeMillis > 1500 {
		t.Fatalf("SaslAuthenticate v1 = error %d, session lifetime %dms; want 0 < lifetime <= 1500", resp.ErrorCode, resp.SessionLifetimeMillis)
	}
	// Re-authenticating as another principal fails.
	time.Sleep(1100 * time.Millisecond) // re-authentication at most once a second
	saslHandshake(t, r, 1, "PLAIN")
	req.SASLAuthBytes = []byte("\x00admin\x00admin-secret")
	if resp := r.send(req).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as another principal: error %d, want SASL_AUTHENTICATION_FAILED", resp.ErrorCode)
	}
	r.expectClosed()

	// A session past its lifetime is closed on its next request.
	r2 := dialRaw(t, tn.addr)
	saslHandshake(t, r2, 1, "PLAIN")
	req.SASLAuthBytes = []byte("\x00alice\x00alice-secret")
	r2.send(req)
	time.Sleep(1600 * time.Millisecond)
	r2.writeFrame(kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 50))
	r2.expectClosed()

	// franz-go re-authenticates before its session ends (KIP-368) and
	// keeps working across several lifetimes.
	p := kgoClient(t, tn.addr, adminSASL(), kgo.DefaultProduceTopic("reauth"), kgo.AllowAutoTopicCreation())
	deadline := time.Now().Add(4 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), kgo.StringRecord(fmt.Sprint(n))).FirstErr(); err != nil {
			t.Fatalf("produce %d across re-authentications: %v", n, err)
		}
		n++
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSASLClusterScramUsersWorkOnEveryNode: three `strata serve`
// processes whose one listener is SASL_PLAINTEXT, talking to each other
// with PLAIN (sasl.mechanism.inter.broker.protocol); a SCRAM user created
// through one node logs in on every node, and an RF=3 topic replicates.
func TestSASLClusterScramUsersWorkOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3",
		"--sasl-mechanisms", "PLAIN,SCRAM-SHA-512", "--sasl-mechanism-inter-broker", "PLAIN", "--sasl-jaas-config", testPlainJAAS)
	adm := kadm.NewClient(kgoClient(t, tc.addrs[1], adminSASL()))
	waitFor(t, "creating a SCRAM user through node 2", 30*time.Second, func() bool {
		resps, err := adm.AlterUserSCRAMs(ctxTimeout(t, 10*time.Second), nil, []kadm.UpsertSCRAM{
			{User: "grace", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "grace-pw"}})
		return err == nil && resps["grace"].Err == nil
	})
	waitFor(t, "an RF=3 topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, nil, "sasl-replicated")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	// AlterUserScramCredentials answers once the live brokers applied it,
	// so every node knows grace at once.
	for i, addr := range tc.addrs {
		cl := kgoClient(t, addr, kgo.SASL(scram.Auth{User: "grace", Pass: "grace-pw"}.AsSha512Mechanism()))
		req := kmsg.NewPtrMetadataRequest()
		if _, err := cl.Broker(i+1).Request(ctxTimeout(t, 10*time.Second), req); err != nil {
			t.Fatalf("node %d: SCRAM login of a user created through node 2: %v", i+1, err)
		}
		if err := authError(t, addr, scram.Auth{User: "grace", Pass: "wrong"}.AsSha512Mechanism()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("node %d: wrong password: %v, want SASL_AUTHENTICATION_FAILED", i+1, err)
		}
	}
	mech := scram.Auth{User: "grace", Pass: "grace-pw"}.AsSha512Mechanism()
	p := kgoClient(t, tc.addrs[0], kgo.SASL(mech), kgo.DefaultProduceTopic("sasl-replicated"), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := range 5 {
		if err := p.ProduceSync(ctxTimeout(t, 30*time.Second), kgo.StringRecord(fmt.Sprint("r", i))).FirstErr(); err != nil {
			t.Fatalf("acks=all produce %d: %v", i, err)
		}
	}
	waitFor(t, "the ISR to hold all three replicas", 30*time.Second, func() bool {
		var isr []int32
		md, err := adm.Metadata(ctxTimeout(t, 10*time.Second), "sasl-replicated")
		if err == nil {
			isr = md.Topics["sasl-replicated"].Partitions[0].ISR
		}
		return len(isr) == 3
	})
	for _, c := range tc.nodes {
		c.terminate()
	}
}

// TestSASLPythonClients runs confluent-kafka-python (librdkafka) and
// kafka-python (SaslHandshake v0, raw tokens) with PLAIN and
// SCRAM-SHA-512 (test/compat/sasl_python.py).
func TestSASLPythonClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python clients")
	}
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if out, err := exec.Command(py, "-c", "import confluent_kafka, kafka").CombinedOutput(); err != nil {
		t.Skipf("kafka-python or confluent-kafka-python not installed: %s", strings.TrimSpace(string(out)))
	}
	tn := startNode(t, withSASL(newJWTIssuer(t), nil))
	createScramUser(t, kadm.NewClient(tn.client(adminSASL())), "heidi", "heidi-pw")
	tn.createTopicSASL(t, "sasl-python")
	ctx := ctxTimeout(t, 3*time.Minute)
	out, err := exec.CommandContext(ctx, py, "../../test/compat/sasl_python.py", "--bootstrap", tn.addr, "--topic", "sasl-python",
		"--plain", "alice:alice-secret", "--scram", "heidi:heidi-pw").CombinedOutput()
	t.Logf("sasl_python.py:\n%s", out)
	if err != nil {
		t.Fatalf("sasl_python.py: %v", err)
	}
	if n := strings.Count(string(out), "PASS:"); n != 12 || strings.Contains(string(out), "FAIL:") {
		t.Fatalf("sasl_python.py passed %d checks, want 12 and no failure", n)
	}
}

// TestSASLKcat produces and consumes with kcat (librdkafka) over
// SASL_PLAINTEXT with SCRAM-SHA-512 and PLAIN, and sees a wrong password
// refused.
func TestSASLKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (.ci/run installs it)")
	}
	tn := startNode(t, withSASL(newJWTIssuer(t), nil))
	createScramUser(t, kadm.NewClient(tn.client(adminSASL())), "ivan", "ivan-pw")
	tn.createTopicSASL(t, "sasl-kcat")
	for _, tt := range []struct{ mech, user, pass string }{
		{"SCRAM-SHA-512", "ivan", "ivan-pw"},
		{"PLAIN", "alice", "alice-secret"},
	} {
		t.Run(tt.mech, func(t *testing.T) {
			args := []string{"-b", tn.addr, "-X", "security.protocol=sasl_plaintext", "-X", "sasl.mechanisms=" + tt.mech,
				"-X", "sasl.username=" + tt.user, "-X", "sasl.password=" + tt.pass}
			prod := exec.Command(kcat, append(args, "-P", "-t", "sasl-kcat", "-X", "acks=all")...)
			prod.Stdin = strings.NewReader(tt.mech + "-a\n" + tt.mech + "-b\n")
			if out, err := prod.CombinedOutput(); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, out)
			}
			out, err := exec.Command(kcat, append(args, "-C", "-t", "sasl-kcat", "-o", "beginning", "-e", "-q")...).Output()
			if err != nil || !strings.Contains(string(out), tt.mech+"-a\n"+tt.mech+"-b\n") {
				t.Fatalf("kcat -C = %q, %v; want the two records", out, err)
			}
			bad := append(args[:len(args)-1:len(args)-1], "sasl.password=wrong", "-L", "-m", "5")
			out, err = exec.Command(kcat, bad...).CombinedOutput()
			if err == nil || !strings.Contains(strings.ToLower(string(out)), "authentication") {
				t.Fatalf("kcat -L with a wrong password = %v\n%s; want an authentication failure", err, out)
			}
		})
	}
}

// createTopicSASL creates a one-partition topic as the PLAIN admin.
func (tn *testNode) createTopicSASL(t *testing.T, name string) {
	t.Helper()
	resp, err := kadm.NewClient(tn.client(adminSASL())).CreateTopic(ctxTimeout(t, 10*time.Second), 1, 1, nil, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("CreateTopic %s: %v / %v", name, err, resp.Err)
	}
}

// TestCLIWrongPasswordFailsAtOnce: a CLI command with a wrong SASL
// password reports the refused login at once (franz-go alone would retry
// the produce until interrupted).
func TestCLIWrongPasswordFailsAtOnce(t *testing.T) {
	tn := startNode(t, withSASL(newJWTIssuer(t), nil))
	cmd := exec.Command(strataBinary(t), "produce", "anything", "--bootstrap", tn.addr,
		"--sasl-mechanism", "PLAIN", "--sasl-username", "admin", "--sasl-password", "wrong", "--timeout", "60s")
	cmd.Stdin = strings.NewReader("v\n")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "SASL_AUTHENTICATION_FAILED") {
			t.Fatalf("strata produce with a wrong password: %v, stderr %q; want a SASL_AUTHENTICATION_FAILED failure", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("strata produce with a wrong password still running after 30s (its --timeout is 60s)")
	}
}
