package sasl

import (
	"bytes"
	"strings"

	"github.com/strata-io/strata/internal/auth"
)

// oauthExchange is OAUTHBEARER (RFC 7628): one client message carrying a
// bearer token, validated as a JWT, and an empty answer.
type oauthExchange struct {
	v      *JWTValidator
	done   bool
	result Result
}

// oauthClientResponse is a parsed client initial response.
type oauthClientResponse struct {
	authzid string
	token   string
}

// parseOAuthClientResponse parses gs2-header kvsep *(key=value kvsep)
// kvsep, where kvsep is 0x01 (RFC 7628 §3.1). The auth pair must be
// "Bearer <token>"; other pairs (Kafka's SASL extensions) are ignored.
func parseOAuthClientResponse(msg []byte) (oauthClientResponse, error) {
	var r oauthClientResponse
	bad := failf("Authentication failed: invalid OAUTHBEARER client response")
	flag, rest, ok := bytes.Cut(msg, []byte{','})
	if !ok || (string(flag) != "n" && string(flag) != "y") {
		return r, bad
	}
	authzid, rest, ok := bytes.Cut(rest, []byte{','})
	if !ok {
		return r, bad
	}
	if len(authzid) > 0 {
		name, ok := bytes.CutPrefix(authzid, []byte("a="))
		if !ok {
			return r, bad
		}
		s, err := decodeSaslName(string(name))
		if err != nil {
			return r, bad
		}
		r.authzid = s
	}
	if len(rest) < 3 || rest[0] != 1 || !bytes.HasSuffix(rest, []byte{1, 1}) {
		return r, bad
	}
	pairs := rest[1 : len(rest)-2]
	found := false
	for _, kv := range bytes.Split(pairs, []byte{1}) {
		k, v, ok := bytes.Cut(kv, []byte{'='})
		if !ok || len(k) == 0 {
			return r, bad
		}
		if string(k) != "auth" {
			continue
		}
		if found {
			return r, bad
		}
		found = true
		scheme, token, ok := strings.Cut(string(v), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return r, bad
		}
		token = strings.TrimLeft(token, " ")
		if token == "" {
			return r, bad
		}
		r.token = token
	}
	if !found {
		return r, bad
	}
	return r, nil
}

func (e *oauthExchange) Step(token []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, failf("Authentication failed: unexpected OAUTHBEARER message after authentication")
	}
	e.done = true // one message, whatever its outcome
	resp, err := parseOAuthClientResponse(token)
	if err != nil {
		return nil, false, err
	}
	claims, err := e.v.Validate(resp.token)
	if err != nil {
		return nil, false, err
	}
	if resp.authzid != "" && resp.authzid != claims.Subject {
		return nil, false, failf("Authentication failed: authorization id %q is not the token's principal", resp.authzid)
	}
	e.result = Result{Principal: auth.User(claims.Subject), Expiry: claims.Expiry}
	return []byte{}, true, nil
}

func (e *oauthExchange) Result() Result { return e.result }
