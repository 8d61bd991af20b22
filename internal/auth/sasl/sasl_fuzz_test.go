package sasl

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"
)

// Properties: no panic; every failure wraps ErrAuthenticationFailed; a
// successful parse gives fields that are substrings of the input (no
// invented data).

func FuzzScramClientFirst(f *testing.F) {
	f.Add("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
	f.Add("y,a=us=2Cer,n=us=2Cer,r=abc,ext=1")
	f.Add("p=tls-server-end-point,,n=u,r=x")
	f.Fuzz(func(t *testing.T, msg string) {
		first, err := parseScramClientFirst(msg)
		if err != nil {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("parseScramClientFirst(%q) error %v does not wrap ErrAuthenticationFailed", msg, err)
			}
			return
		}
		if first.user == "" || !validNonce(first.nonce) || first.gs2Header+first.bare != msg {
			t.Fatalf("parseScramClientFirst(%q) = %+v: inconsistent", msg, first)
		}
	})
}

func FuzzScramClientFinal(f *testing.F) {
	f.Add("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	f.Add("c=biws,r=x,ext=1,p=AAAA")
	f.Fuzz(func(t *testing.T, msg string) {
		final, err := parseScramClientFinal(msg)
		if err != nil {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("parseScramClientFinal(%q) error %v does not wrap ErrAuthenticationFailed", msg, err)
			}
			return
		}
		if len(final.withoutProof) >= len(msg) || msg[:len(final.withoutProof)] != final.withoutProof || len(final.proof) > len(msg) {
			t.Fatalf("parseScramClientFinal(%q) = %+v: inconsistent", msg, final)
		}
	})
}

// FuzzScramExchange feeds two arbitrary messages to a server exchange.
func FuzzScramExchange(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	cred, _ := NewScramCredential(ScramSHA256, "pw", []byte("salt"), ScramMinIterations)
	a, err := NewAuthenticator(Config{Mechanisms: []string{ScramSHA256}, Scram: func(string, string) (ScramCredential, bool) { return cred, true }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, first, final []byte) {
		ex, _ := a.Start(ScramSHA256)
		if _, _, err := ex.Step(first); err != nil {
			return
		}
		if _, done, err := ex.Step(final); done || !errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("client-final %q accepted without the server nonce: done %v, err %v", final, done, err)
		}
	})
}

func FuzzOAuthClientResponse(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer abc.def.ghi\x01\x01"))
	f.Add([]byte("n,a=alice,\x01host=x\x01auth=Bearer a\x01\x01"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := parseOAuthClientResponse(msg)
		if err != nil {
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("parseOAuthClientResponse(%q) error %v does not wrap ErrAuthenticationFailed", msg, err)
			}
			return
		}
		if r.token == "" || len(r.token) > len(msg) {
			t.Fatalf("parseOAuthClientResponse(%q) = %+v", msg, r)
		}
	})
}

// FuzzJWT validates arbitrary tokens against a fixed key set: none may
// pass, since none is signed by the key.
func FuzzJWT(f *testing.F) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ks, err := NewKeySet(jwksOf(map[string]crypto.PublicKey{"k": &rk.PublicKey}))
	if err != nil {
		f.Fatal(err)
	}
	v, _ := NewJWTValidator(JWTConfig{Keys: ks, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		_, err := v.Validate(token)
		if err == nil {
			t.Fatalf("Validate(%q) accepted a token not signed by the key", token)
		}
		if !errors.Is(err, ErrAuthenticationFailed) {
			t.Fatalf("Validate(%q) error %v does not wrap ErrAuthenticationFailed", token, err)
		}
	})
}

func FuzzParseKeySet(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ParseKeySet(doc) // must not panic
	})
}
