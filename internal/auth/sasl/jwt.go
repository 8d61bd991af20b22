package sasl

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"
)

// JWTConfig configures OAUTHBEARER token validation, with Kafka's
// sasl.oauthbearer.* settings.
type JWTConfig struct {
	// Keys verify signatures (sasl.oauthbearer.jwks.endpoint.url).
	Keys *KeySet
	// ExpectedAudience: when set, the token's aud must name one of them
	// (sasl.oauthbearer.expected.audience).
	ExpectedAudience []string
	// ExpectedIssuer: when set, the token's iss must equal it
	// (sasl.oauthbearer.expected.issuer).
	ExpectedIssuer string
	// SubClaim names the claim holding the principal
	// (sasl.oauthbearer.sub.claim.name, default "sub").
	SubClaim string
	// ScopeClaim names the scope claim (sasl.oauthbearer.scope.claim.name,
	// default "scope"); when present it must be a string or a list of
	// strings.
	ScopeClaim string
	// ClockSkew is allowed on exp and nbf
	// (sasl.oauthbearer.clock.skew.seconds, default 30s).
	ClockSkew time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// JWTValidator checks OAUTHBEARER tokens as Kafka's
// OAuthBearerValidatorCallbackHandler does: a JWS in compact form signed
// with RS256/384/512, PS256/384/512 or ES256/384/512 by a key of the key
// set (chosen by kid), an exp claim that has not passed, nbf (when
// present) reached, the subject claim a non-empty string, and aud and iss
// as configured.
//
// Deliberate difference: a token with an aud claim is accepted when no
// expected audience is configured (jose4j, under Kafka, refuses it).
type JWTValidator struct {
	cfg JWTConfig // set in NewJWTValidator, never changed
}

// NewJWTValidator returns a validator; cfg.Keys is required.
func NewJWTValidator(cfg JWTConfig) (*JWTValidator, error) {
	if cfg.Keys == nil {
		return nil, errors.New("JWT validation needs a key set")
	}
	if cfg.SubClaim == "" {
		cfg.SubClaim = "sub"
	}
	if cfg.ScopeClaim == "" {
		cfg.ScopeClaim = "scope"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JWTValidator{cfg: cfg}, nil
}

// Claims are the validated claims the broker uses.
type Claims struct {
	Subject string
	Expiry  time.Time
	Scope   []string
}

// maxJWTBytes bounds a token: far above real ones, far below what a
// pre-authentication frame may carry anyway.
const maxJWTBytes = 64 << 10

type jwsHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Crit []string `json:"crit"`
}

// parsedJWT is a JWS split into its parts, not yet verified.
type parsedJWT struct {
	header       jwsHeader
	claims       map[string]json.RawMessage
	signingInput []byte
	signature    []byte
}

func invalidToken(reason string) error {
	return failf("Authentication failed: invalid OAUTHBEARER token: %s", reason)
}

// parseJWT splits and decodes a compact JWS without verifying it.
func parseJWT(token string) (*parsedJWT, error) {
	if len(token) > maxJWTBytes {
		return nil, invalidToken("too large")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalidToken("not a signed JWT (three dot-separated parts)")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalidToken("header is not base64url")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, invalidToken("payload is not base64url")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, invalidToken("signature is not base64url")
	}
	j := &parsedJWT{signingInput: []byte(parts[0] + "." + parts[1]), signature: sig}
	if err := json.Unmarshal(hb, &j.header); err != nil {
		return nil, invalidToken("header is not a JSON object")
	}
	if err := json.Unmarshal(pb, &j.claims); err != nil || j.claims == nil {
		return nil, invalidToken("payload is not a JSON object")
	}
	if len(j.header.Crit) > 0 {
		return nil, invalidToken("critical header parameters are not supported")
	}
	return j, nil
}

// jwsAlgorithms maps alg to its hash and key family.
var jwsAlgorithms = map[string]struct {
	hash crypto.Hash
	kty  string
	pss  bool
}{
	"RS256": {crypto.SHA256, "RSA", false}, "RS384": {crypto.SHA384, "RSA", false}, "RS512": {crypto.SHA512, "RSA", false},
	"PS256": {crypto.SHA256, "RSA", true}, "PS384": {crypto.SHA384, "RSA", true}, "PS512": {crypto.SHA512, "RSA", true},
	"ES256": {crypto.SHA256, "EC", false}, "ES384": {crypto.SHA384, "EC", false}, "ES512": {crypto.SHA512, "EC", false},
}

// verify checks the signature with a key of ks.
func (j *parsedJWT) verify(ks *KeySet) error {
	alg, ok := jwsAlgorithms[j.header.Alg]
	if !ok {
		return invalidToken(fmt.Sprintf("signature algorithm %q is not accepted", j.header.Alg))
	}
	key, err := ks.key(j.header.Kid, alg.kty)
	if err != nil {
		return invalidToken(err.Error())
	}
	h := alg.hash.New()
	h.Write(j.signingInput)
	digest := h.Sum(nil)
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if alg.pss {
			err = rsa.VerifyPSS(pub, alg.hash, digest, j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, alg.hash, digest, j.signature)
		}
		if err != nil {
			return invalidToken("bad signature")
		}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		want := map[string]int{"ES256": 256, "ES384": 384, "ES512": 521}[j.header.Alg]
		if pub.Curve.Params().BitSize != want || len(j.signature) != 2*size {
			return invalidToken("bad signature")
		}
		r := new(big.Int).SetBytes(j.signature[:size])
		s := new(big.Int).SetBytes(j.signature[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return invalidToken("bad signature")
		}
	default:
		return invalidToken("no usable key")
	}
	return nil
}

// numericDate reads a NumericDate claim (seconds since the epoch, maybe
// fractional); ok is false when the claim is absent.
func numericDate(claims map[string]json.RawMessage, name string) (t time.Time, ok bool, err error) {
	raw, ok := claims[name]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false, invalidToken(fmt.Sprintf("claim %s is not a date", name))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// stringOrList reads a claim that is a string or a list of strings.
func stringOrList(raw json.RawMessage) ([]string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, true
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l, true
	}
	return nil, false
}

// Validate verifies token and its claims.
func (v *JWTValidator) Validate(token string) (Claims, error) {
	j, err := parseJWT(token)
	if err != nil {
		return Claims{}, err
	}
	if err := j.verify(v.cfg.Keys); err != nil {
		return Claims{}, err
	}
	return v.checkClaims(j.claims)
}

func (v *JWTValidator) checkClaims(claims map[string]json.RawMessage) (Claims, error) {
	var c Claims
	now := v.cfg.Now()
	skew := v.cfg.ClockSkew
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return c, err
	}
	if !ok {
		return c, invalidToken("no exp claim")
	}
	if !now.Add(-skew).Before(exp) {
		return c, invalidToken("expired")
	}
	c.Expiry = exp
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return c, err
	}
	if ok && now.Add(skew).Before(nbf) {
		return c, invalidToken("not valid yet (nbf)")
	}
	raw, ok := claims[v.cfg.SubClaim]
	if !ok || json.Unmarshal(raw, &c.Subject) != nil || strings.TrimSpace(c.Subject) == "" {
		return c, invalidToken(fmt.Sprintf("no %s claim with the principal", v.cfg.SubClaim))
	}
	if len(v.cfg.ExpectedAudience) > 0 {
		raw, ok := claims["aud"]
		aud, isList := stringOrList(raw)
		if !ok || !isList || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(v.cfg.ExpectedAudience, a) }) {
			return c, invalidToken("audience is not an expected one")
		}
	}
	if v.cfg.ExpectedIssuer != "" {
		var iss string
		raw, ok := claims["iss"]
		if !ok || json.Unmarshal(raw, &iss) != nil || iss != v.cfg.ExpectedIssuer {
			return c, invalidToken("issuer is not the expected one")
		}
	}
	if raw, ok := claims[v.cfg.ScopeClaim]; ok {
		scope, ok := stringOrList(raw)
		if !ok {
			return c, invalidToken(fmt.Sprintf("claim %s is not a string or a list of strings", v.cfg.ScopeClaim))
		}
		if len(scope) == 1 {
			scope = strings.Fields(scope[0])
		}
		c.Scope = scope
	}
	return c, nil
}
