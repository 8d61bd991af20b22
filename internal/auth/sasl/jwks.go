package sasl

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// maxJWKSBytes bounds a key set document.
const maxJWKSBytes = 1 << 20

// jwk is one parsed key.
type jwk struct {
	kid string
	kty string // "RSA" or "EC"
	key crypto.PublicKey
}

// KeySet is a JSON Web Key Set (RFC 7517) read from a file or an
// allow-listed URL: never from anything a client sends.
type KeySet struct {
	source string // set in LoadKeySet, never changed
	keys   atomic.Pointer[[]jwk]
	client *http.Client
}

// ErrURLNotAllowed means the key set URL is not in the allow-list
// (Kafka's org.apache.kafka.sasl.oauthbearer.allowed.urls).
var ErrURLNotAllowed = errors.New("JWKS URL is not in the allowed URLs")

// LoadKeySet reads the key set at source, a file:// or http(s):// URL
// that must be listed in allowed (as in Kafka 4.0, where the allow-list
// is empty by default).
func LoadKeySet(ctx context.Context, source string, allowed []string) (*KeySet, error) {
	if !slices.Contains(allowed, source) && !slices.Contains(allowed, "*") {
		return nil, fmt.Errorf("%w: %s", ErrURLNotAllowed, source)
	}
	u, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL %q: %w", source, err)
	}
	switch u.Scheme {
	case "file", "http", "https":
	default:
		return nil, fmt.Errorf("JWKS URL %q: want file://, http:// or https://", source)
	}
	ks := &KeySet{source: source, client: &http.Client{Timeout: 10 * time.Second}}
	if err := ks.Refresh(ctx); err != nil {
		return nil, err
	}
	return ks, nil
}

// NewKeySet returns a fixed key set from a JWKS document (tests, and keys
// given inline).
func NewKeySet(doc []byte) (*KeySet, error) {
	keys, err := ParseKeySet(doc)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{}
	ks.keys.Store(&keys)
	return ks, nil
}

// Refresh reads the key set again; on failure the previous keys stay.
func (ks *KeySet) Refresh(ctx context.Context) error {
	if ks.source == "" {
		return nil
	}
	doc, err := ks.fetch(ctx)
	if err != nil {
		return fmt.Errorf("read JWKS %s: %w", ks.source, err)
	}
	keys, err := ParseKeySet(doc)
	if err != nil {
		return fmt.Errorf("JWKS %s: %w", ks.source, err)
	}
	ks.keys.Store(&keys)
	return nil
}

func (ks *KeySet) fetch(ctx context.Context) ([]byte, error) {
	u, err := url.Parse(ks.source)
	if err != nil {
		return nil, err
	}
	var r io.ReadCloser
	if u.Scheme == "file" {
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, err
		}
		r = f
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.source, nil)
		if err != nil {
			return nil, err
		}
		resp, err := ks.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("HTTP status %s", resp.Status)
		}
		r = resp.Body
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	return b, nil
}

// RefreshLoop re-reads the key set every interval
// (sasl.oauthbearer.jwks.endpoint.refresh.ms) until ctx is done.
func (ks *KeySet) RefreshLoop(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	if ks.source == "" || interval <= 0 {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := ks.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("JWKS refresh failed; keeping the previous keys", "err", err)
			}
		}
	}
}

// key returns the key for kid of family kty; without a kid, the one key
// of that family.
func (ks *KeySet) key(kid, kty string) (crypto.PublicKey, error) {
	keys := ks.keys.Load()
	if keys == nil {
		return nil, errors.New("no keys loaded")
	}
	var found []jwk
	for _, k := range *keys {
		if k.kty == kty && (kid == "" || k.kid == kid) {
			found = append(found, k)
		}
	}
	switch {
	case len(found) == 0 && kid != "":
		return nil, fmt.Errorf("no key with kid %q", kid)
	case len(found) == 0:
		return nil, errors.New("no key for the signature algorithm")
	case len(found) > 1:
		return nil, errors.New("several keys match and the token has no kid")
	}
	return found[0].key, nil
}

// ParseKeySet parses a JWKS document. Keys that are not RSA or EC
// signature keys are skipped; a malformed RSA or EC key is an error.
func ParseKeySet(doc []byte) ([]jwk, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	var out []jwk
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
			e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
			if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("key %d (%s): bad RSA n or e", i, k.Kid)
			}
			pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
			if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
				return nil, fmt.Errorf("key %d (%s): RSA key below 2048 bits or bad exponent", i, k.Kid)
			}
			out = append(out, jwk{kid: k.Kid, kty: "RSA", key: pub})
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				return nil, fmt.Errorf("key %d (%s): unsupported curve %q", i, k.Kid, k.Crv)
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("key %d (%s): bad EC point", i, k.Kid)
			}
			pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
			if _, err := pub.ECDH(); err != nil {
				return nil, fmt.Errorf("key %d (%s): EC point not on the curve", i, k.Kid)
			}
			out = append(out, jwk{kid: k.Kid, kty: "EC", key: pub})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no RSA or EC signature key")
	}
	return out, nil
}
