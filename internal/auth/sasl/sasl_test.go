package sasl

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strata-io/strata/internal/auth"
)

// run drives a franz-go client mechanism against a server exchange.
func run(t *testing.T, a *Authenticator, m kgosasl.Mechanism) (Result, error) {
	t.Helper()
	ex, ok := a.Start(m.Name())
	if !ok {
		t.Fatalf("Start(%s) not enabled", m.Name())
	}
	sess, tok, err := m.Authenticate(context.Background(), "host:9092")
	if err != nil {
		t.Fatalf("client Authenticate: %v", err)
	}
	for i := 0; i < 5; i++ {
		challenge, done, err := ex.Step(tok)
		if err != nil {
			return Result{}, err
		}
		clientDone, next, err := sess.Challenge(challenge)
		if err != nil {
			t.Fatalf("client rejected the server's answer %q: %v", challenge, err)
		}
		if done {
			if !clientDone {
				t.Fatalf("server done, client not")
			}
			return ex.Result(), nil
		}
		tok = next
	}
	t.Fatalf("exchange did not finish")
	return Result{}, nil
}

func scramStore(t *testing.T, users map[string]string) ScramLookup {
	creds := map[string]ScramCredential{}
	for _, mech := range []string{ScramSHA256, ScramSHA512} {
		for u, p := range users {
			c, err := NewScramCredential(mech, p, []byte("salt-"+u), ScramMinIterations)
			if err != nil {
				t.Fatal(err)
			}
			creds[mech+"/"+u] = c
		}
	}
	return func(mech, user string) (ScramCredential, bool) {
		c, ok := creds[mech+"/"+user]
		return c, ok
	}
}

func newAuth(t *testing.T, cfg Config) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(cfg)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

func TestPlain(t *testing.T) {
	a := newAuth(t, Config{Mechanisms: []string{Plain}, PlainUsers: map[string]string{"alice": "alice-secret"}})
	tests := []struct {
		name    string
		give    plain.Auth
		want    auth.Principal
		wantErr bool
	}{
		{"right password", plain.Auth{User: "alice", Pass: "alice-secret"}, auth.User("alice"), false},
		{"authzid equal to user", plain.Auth{Zid: "alice", User: "alice", Pass: "alice-secret"}, auth.User("alice"), false},
		{"wrong password", plain.Auth{User: "alice", Pass: "nope"}, auth.Principal{}, true},
		{"password prefix", plain.Auth{User: "alice", Pass: "alice-secre"}, auth.Principal{}, true},
		{"unknown user", plain.Auth{User: "bob", Pass: "alice-secret"}, auth.Principal{}, true},
		{"other authzid", plain.Auth{Zid: "admin", User: "alice", Pass: "alice-secret"}, auth.Principal{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, a, tt.give.AsMechanism())
			if (err != nil) != tt.wantErr || res.Principal != tt.want {
				t.Fatalf("PLAIN %+v = %v, %v; want %v, error %v", tt.give, res.Principal, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("error %v does not wrap ErrAuthenticationFailed", err)
			}
		})
	}
	for _, tok := range []string{"", "\x00", "a\x00b", "\x00alice\x00", "\x00\x00x", "a\x00b\x00c\x00d"} {
		ex, _ := a.Start(Plain)
		if _, _, err := ex.Step([]byte(tok)); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("PLAIN Step(%q) error = %v, want ErrAuthenticationFailed", tok, err)
		}
	}
}

func TestScram(t *testing.T) {
	a := newAuth(t, Config{Mechanisms: []string{ScramSHA256, ScramSHA512}, Scram: scramStore(t, map[string]string{"alice": "pw-a", "b,=ob": "pw-b"})})
	for _, mech := range []string{ScramSHA256, ScramSHA512} {
		mk := func(u, p string) kgosasl.Mechanism {
			if mech == ScramSHA256 {
				return scram.Auth{User: u, Pass: p}.AsSha256Mechanism()
			}
			return scram.Auth{User: u, Pass: p}.AsSha512Mechanism()
		}
		t.Run(mech, func(t *testing.T) {
			res, err := run(t, a, mk("alice", "pw-a"))
			if err != nil || res.Principal != auth.User("alice") {
				t.Fatalf("SCRAM alice = %v, %v; want User:alice", res.Principal, err)
			}
			res, err = run(t, a, mk("b,=ob", "pw-b"))
			if err != nil || res.Principal != auth.User("b,=ob") {
				t.Fatalf("SCRAM escaped user = %v, %v; want User:b,=ob", res.Principal, err)
			}
			if _, err := run(t, a, mk("alice", "wrong")); !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("SCRAM wrong password error = %v, want ErrAuthenticationFailed", err)
			}
			if _, err := run(t, a, mk("nobody", "pw-a")); !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("SCRAM unknown user error = %v, want ErrAuthenticationFailed", err)
			}
		})
	}
}

// TestScramReplayRefused replays a whole successful client conversation
// against a new exchange: its client-final names the old server nonce.
func TestScramReplayRefused(t *testing.T) {
	a := newAuth(t, Config{Mechanisms: []string{ScramSHA256}, Scram: scramStore(t, map[string]string{"alice": "pw"})})
	sess, first, _ := scram.Auth{User: "alice", Pass: "pw"}.AsSha256Mechanism().Authenticate(context.Background(), "h")
	ex, _ := a.Start(ScramSHA256)
	serverFirst, _, err := ex.Step(first)
	if err != nil {
		t.Fatal(err)
	}
	_, final, err := sess.Challenge(serverFirst)
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := ex.Step(final); err != nil || !done {
		t.Fatalf("first exchange: done %v, err %v", done, err)
	}
	ex2, _ := a.Start(ScramSHA256)
	if _, _, err := ex2.Step(first); err != nil {
		t.Fatalf("replayed client-first: %v", err)
	}
	if _, done, err := ex2.Step(final); done || !errors.Is(err, ErrAuthenticationFailed) {
		t.Fatalf("replayed client-final: done %v, err %v; want ErrAuthenticationFailed", done, err)
	}
	// The same exchange refuses anything after completion.
	if _, _, err := ex.Step(final); err == nil {
		t.Fatalf("step after completion accepted")
	}
}

func TestScramMalformed(t *testing.T) {
	a := newAuth(t, Config{Mechanisms: []string{ScramSHA512}, Scram: scramStore(t, map[string]string{"alice": "pw"})})
	for _, first := range []string{"", "n", "n,,", "p=tls-unique,,n=alice,r=abc", "x,,n=alice,r=abc", "n,,m=ext,n=alice,r=abc",
		"n,,n=alice", "n,,n=,r=abc", "n,,n=al=ice,r=abc", "n,,n=alice,r=a,b", "n,a=bob,n=alice,r=abc", "n,,n=alice,r=abc,tokenauth=true", "n,,n=alice,r=ab\x01c"} {
		ex, _ := a.Start(ScramSHA512)
		if _, _, err := ex.Step([]byte(first)); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("client-first %q: error %v, want ErrAuthenticationFailed", first, err)
		}
	}
	for _, final := range []string{"", "c=biws", "c=biws,r=x,p=", "c=!!,r=x,p=AAAA", "r=x,c=biws,p=AAAA", "c=biws,r=abcWRONG,p=AAAA", "c=eSws,r=abc,p=AAAA"} {
		ex, _ := a.Start(ScramSHA512)
		if _, _, err := ex.Step([]byte("n,,n=alice,r=abc")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ex.Step([]byte(final)); !errors.Is(err, ErrAuthenticationFailed) {
			t.Errorf("client-final %q: error %v, want ErrAuthenticationFailed", final, err)
		}
	}
}

// RFC 7677 §3's test vector: user "user", password "pencil".
func TestScramSHA256RFCVector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := NewScramCredential(ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, Config{Mechanisms: []string{ScramSHA256}, Scram: func(string, string) (ScramCredential, bool) { return cred, true },
		Rand: strings.NewReader(strings.Repeat("\x00", 200))})
	ex, _ := a.Start(ScramSHA256)
	ex.(*scramExchange).a = a
	// Pin the server nonce to the RFC's by stepping the internals.
	ex.(*scramExchange).first, _ = parseScramClientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
	e := ex.(*scramExchange)
	e.cred, e.known = cred, true
	e.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	e.serverFirst = "r=" + e.nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	e.step = 1
	final, done, err := ex.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil || !done {
		t.Fatalf("RFC 7677 client-final: done %v, err %v", done, err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final = %q, want %q", final, want)
	}
}

// signer makes test JWTs.
type signer struct {
	alg string
	kid string
	key crypto.Signer
}

func (s signer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": s.alg, "kid": s.kid, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	digest := crypto.SHA256.New()
	digest.Write([]byte(input))
	var sig []byte
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		sig, _ = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest.Sum(nil))
	case *ecdsa.PrivateKey:
		r, ss, _ := ecdsa.Sign(rand.Reader, k, digest.Sum(nil))
		sig = append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func jwksOf(keys map[string]crypto.PublicKey) []byte {
	var out []map[string]string
	for kid, k := range keys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			out = append(out, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		case *ecdsa.PublicKey:
			out = append(out, map[string]string{"kty": "EC", "kid": kid, "crv": "P-256",
				"x": base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, 32))), "y": base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 32)))})
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": out})
	return b
}

func TestOAuthBearer(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ks, err := NewKeySet(jwksOf(map[string]crypto.PublicKey{"r1": &rk.PublicKey, "e1": &ek.PublicKey}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v, _ := NewJWTValidator(JWTConfig{Keys: ks, ExpectedAudience: []string{"kafka"}, ExpectedIssuer: "https://idp", ClockSkew: 30 * time.Second, Now: func() time.Time { return now }})
	a := newAuth(t, Config{Mechanisms: []string{OAuthBearer}, JWT: v})
	rs := signer{"RS256", "r1", rk}
	es := signer{"ES256", "e1", ek}
	good := func() map[string]any {
		return map[string]any{"sub": "alice", "exp": now.Unix() + 600, "iat": now.Unix(), "aud": []string{"kafka", "x"}, "iss": "https://idp", "scope": "a b"}
	}
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"RS256", rs.sign(t, good()), false},
		{"ES256", es.sign(t, good()), false},
		{"aud as a string", rs.sign(t, with("aud", "kafka")), false},
		{"expired", rs.sign(t, with("exp", now.Unix()-31)), true},
		{"expired within skew", rs.sign(t, with("exp", now.Unix()-10)), false},
		{"no exp", rs.sign(t, with("exp", nil)), true},
		{"nbf in the future", rs.sign(t, with("nbf", now.Unix()+60)), true},
		{"no sub", rs.sign(t, with("sub", nil)), true},
		{"empty sub", rs.sign(t, with("sub", "")), true},
		{"wrong audience", rs.sign(t, with("aud", "other")), true},
		{"wrong issuer", rs.sign(t, with("iss", "https://evil")), true},
		{"unknown kid", signer{"RS256", "zz", rk}.sign(t, good()), true},
		{"signed by another key", signer{"RS256", "r1", other}.sign(t, good()), true},
		{"alg none", func() string {
			s := rs.sign(t, good())
			p := strings.Split(s, ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + p[1] + "."
		}(), true},
		{"HS256 with the public key", func() string {
			s := rs.sign(t, good())
			p := strings.Split(s, ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"r1"}`)) + "." + p[1] + "." + p[2]
		}(), true},
		{"tampered payload", func() string {
			s := rs.sign(t, good())
			p := strings.Split(s, ".")
			b, _ := json.Marshal(with("sub", "admin"))
			return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
		}(), true},
		{"not a JWT", "abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, a, oauth.Auth{Token: tt.token}.AsMechanism())
			if tt.wantErr {
				if !errors.Is(err, ErrAuthenticationFailed) {
					t.Fatalf("OAUTHBEARER error = %v, want ErrAuthenticationFailed", err)
				}
				return
			}
			if err != nil || res.Principal != auth.User("alice") || !res.Expiry.Equal(time.Unix(now.Unix()+600, 0)) && tt.name != "expired within skew" {
				t.Fatalf("OAUTHBEARER = %+v, %v; want User:alice expiring at exp", res, err)
			}
		})
	}
	// Authzid must be the token's subject.
	if _, err := run(t, a, oauth.Auth{Zid: "bob", Token: rs.sign(t, good())}.AsMechanism()); !errors.Is(err, ErrAuthenticationFailed) {
		t.Fatalf("OAUTHBEARER with another authzid: %v, want ErrAuthenticationFailed", err)
	}
}

func TestKeySetURLAllowList(t *testing.T) {
	if _, err := LoadKeySet(context.Background(), "https://idp.example/jwks", nil); !errors.Is(err, ErrURLNotAllowed) {
		t.Fatalf("LoadKeySet(not allowed) error = %v, want ErrURLNotAllowed", err)
	}
}

func TestParseJAAS(t *testing.T) {
	j, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="al\"ice";`)
	if err != nil {
		t.Fatal(err)
	}
	if j.Options["username"] != "admin" || j.Options["password"] != "admin-secret" || j.Users()["alice"] != `al"ice` || len(j.Users()) != 2 {
		t.Fatalf("ParseJAAS = %+v", j)
	}
	for _, bad := range []string{"", "x required", `x sometimes a="b";`, `x required a=;`, `x required a="b;`} {
		if _, err := ParseJAAS(bad); err == nil {
			t.Errorf("ParseJAAS(%q) accepted", bad)
		}
	}
}
