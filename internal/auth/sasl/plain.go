package sasl

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/strata-io/strata/internal/auth"
)

// plainExchange is PLAIN (RFC 4616): one client message,
// authzid NUL authcid NUL password, and an empty answer.
type plainExchange struct {
	users  map[string]string
	result Result
	done   bool
}

// errPlainInvalid is Kafka's message for a wrong PLAIN user or password.
var errPlainInvalid = failf("Authentication failed: Invalid username or password")

func (e *plainExchange) Step(token []byte) ([]byte, bool, error) {
	if e.done {
		return nil, false, failf("Authentication failed: unexpected PLAIN token after authentication")
	}
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		return nil, false, failf("Authentication failed: PLAIN token is not authzid NUL username NUL password")
	}
	authzid, user, password := string(parts[0]), string(parts[1]), parts[2]
	if user == "" {
		return nil, false, failf("Authentication failed: username not specified")
	}
	if len(password) == 0 {
		return nil, false, failf("Authentication failed: password not specified")
	}
	if authzid != "" && authzid != user {
		return nil, false, failf("Authentication failed: Client requested an authorization id that is different from username")
	}
	want, known := e.users[user]
	// Compare digests: constant time whatever the lengths, and the same
	// work for unknown users.
	got := sha256.Sum256(password)
	exp := sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(got[:], exp[:]) != 1 || !known {
		return nil, false, errPlainInvalid
	}
	e.done = true
	e.result = Result{Principal: auth.User(user)}
	return []byte{}, true, nil
}

func (e *plainExchange) Result() Result { return e.result }
