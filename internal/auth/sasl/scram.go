package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/strata-io/strata/internal/auth"
)

// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations and
// maxIterations).
const (
	ScramMinIterations = 4096
	ScramMaxIterations = 16384
)

// ScramCredential is the stored form of a SCRAM password (RFC 5802 §2.2):
// the server never keeps the password or the salted password.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// ScramLookup returns the credential of user for mechanism
// (ScramSHA256 or ScramSHA512).
type ScramLookup func(mechanism, user string) (ScramCredential, bool)

// scramMechanism is one SCRAM hash.
type scramMechanism struct {
	name string
	hash func() hash.Hash
	size int
}

var scramMechanisms = map[string]*scramMechanism{
	ScramSHA256: {name: ScramSHA256, hash: sha256.New, size: sha256.Size},
	ScramSHA512: {name: ScramSHA512, hash: sha512.New, size: sha512.Size},
}

// IsScram reports whether mechanism is a SCRAM mechanism this package
// serves.
func IsScram(mechanism string) bool { return scramMechanisms[mechanism] != nil }

func (m *scramMechanism) hmac(key, msg []byte) []byte {
	h := hmac.New(m.hash, key)
	h.Write(msg)
	return h.Sum(nil)
}

func (m *scramMechanism) sum(b []byte) []byte {
	h := m.hash()
	h.Write(b)
	return h.Sum(nil)
}

// ScramKeys derives StoredKey and ServerKey from a salted password
// (Hi(password, salt, i)), as AlterUserScramCredentials sends it.
func ScramKeys(mechanism string, saltedPassword []byte) (storedKey, serverKey []byte, err error) {
	m := scramMechanisms[mechanism]
	if m == nil {
		return nil, nil, fmt.Errorf("unknown SCRAM mechanism %q", mechanism)
	}
	clientKey := m.hmac(saltedPassword, []byte("Client Key"))
	return m.sum(clientKey), m.hmac(saltedPassword, []byte("Server Key")), nil
}

// SaltPassword computes Hi(password, salt, iterations) for mechanism:
// PBKDF2 with the mechanism's HMAC.
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	m := scramMechanisms[mechanism]
	if m == nil {
		return nil, fmt.Errorf("unknown SCRAM mechanism %q", mechanism)
	}
	return pbkdf2.Key(m.hash, password, salt, iterations, m.size)
}

// NewScramCredential derives the stored credential of password.
func NewScramCredential(mechanism, password string, salt []byte, iterations int) (ScramCredential, error) {
	salted, err := SaltPassword(mechanism, password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	stored, server, err := ScramKeys(mechanism, salted)
	if err != nil {
		return ScramCredential{}, err
	}
	return ScramCredential{Salt: salt, StoredKey: stored, ServerKey: server, Iterations: iterations}, nil
}

// scramClientFirst is a parsed client-first-message.
type scramClientFirst struct {
	gs2Header string // "n,," or "y,," or with an authzid
	user      string
	nonce     string
	bare      string // client-first-message-bare
}

// scramClientFinal is a parsed client-final-message.
type scramClientFinal struct {
	channelBinding []byte // decoded c=
	nonce          string
	proof          []byte
	withoutProof   string // client-final-message-without-proof
}

// parseScramClientFirst parses client-first-message (RFC 5802 §7).
// Channel binding (p=) and the reserved m= extension are refused;
// extensions are ignored except tokenauth (delegation tokens), refused.
func parseScramClientFirst(msg string) (scramClientFirst, error) {
	var f scramClientFirst
	// gs2-header: cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return f, failf("Authentication failed: invalid SCRAM client-first-message")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return f, failf("Authentication failed: SCRAM channel binding is not supported")
	default:
		return f, failf("Authentication failed: invalid SCRAM gs2 header")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return f, failf("Authentication failed: invalid SCRAM client-first-message")
	}
	if authzid != "" && !strings.HasPrefix(authzid, "a=") {
		return f, failf("Authentication failed: invalid SCRAM authzid")
	}
	f.gs2Header = flag + "," + authzid + ","
	f.bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return f, failf("Authentication failed: invalid SCRAM client-first-message")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return f, failf("Authentication failed: SCRAM mandatory extension is not supported")
	}
	user, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return f, failf("Authentication failed: SCRAM username missing")
	}
	var err error
	if f.user, err = decodeSaslName(user); err != nil || f.user == "" {
		return f, failf("Authentication failed: invalid SCRAM username")
	}
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(nonce) {
		return f, failf("Authentication failed: invalid SCRAM client nonce")
	}
	f.nonce = nonce
	for _, ext := range attrs[2:] {
		k, v, ok := strings.Cut(ext, "=")
		if !ok || k == "" {
			return f, failf("Authentication failed: invalid SCRAM extension")
		}
		if k == "tokenauth" && strings.EqualFold(v, "true") {
			return f, failf("Authentication failed: delegation tokens are not supported")
		}
	}
	if authzid != "" {
		az, err := decodeSaslName(authzid[2:])
		if err != nil || az != f.user {
			return f, failf("Authentication failed: SCRAM authorization id is not the same as the username")
		}
	}
	return f, nil
}

// parseScramClientFinal parses client-final-message (RFC 5802 §7):
// c=..., r=..., [extensions,] p=... with the proof last.
func parseScramClientFinal(msg string) (scramClientFinal, error) {
	var f scramClientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return f, failf("Authentication failed: SCRAM client proof missing")
	}
	f.withoutProof = msg[:i]
	proof, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil {
		return f, failf("Authentication failed: invalid SCRAM client proof")
	}
	f.proof = proof
	attrs := strings.Split(f.withoutProof, ",")
	if len(attrs) < 2 {
		return f, failf("Authentication failed: invalid SCRAM client-final-message")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return f, failf("Authentication failed: SCRAM channel binding missing")
	}
	if f.channelBinding, err = base64.StdEncoding.DecodeString(cb); err != nil {
		return f, failf("Authentication failed: invalid SCRAM channel binding")
	}
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !validNonce(nonce) {
		return f, failf("Authentication failed: invalid SCRAM nonce")
	}
	f.nonce = nonce
	return f, nil
}

// validNonce: printable ASCII except ',' (RFC 5802 §7), not empty.
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// decodeSaslName undoes saslname's escapes: "=2C" is ',' and "=3D" is
// '='; any other '=' is invalid.
func decodeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("invalid escape in saslname")
		}
		i += 2
	}
	return b.String(), nil
}

// scramExchange is the server side of SCRAM: client-first, server-first,
// client-final, server-final.
type scramExchange struct {
	a    *Authenticator
	mech *scramMechanism
	step int // 0: want client-first; 1: want client-final; 2: done

	first       scramClientFirst
	serverFirst string
	nonce       string // client nonce + server nonce
	cred        ScramCredential
	known       bool
	result      Result
}

func (e *scramExchange) invalid() error {
	return failf("Authentication failed during authentication due to invalid credentials with SASL mechanism %s", e.mech.name)
}

func (e *scramExchange) Step(token []byte) ([]byte, bool, error) {
	switch e.step {
	case 0:
		first, err := parseScramClientFirst(string(token))
		if err != nil {
			e.step = 2
			return nil, false, err
		}
		e.first = first
		e.cred, e.known = e.a.cfg.Scram(e.mech.name, first.user)
		if !e.known {
			e.cred = e.fakeCredential(first.user)
		}
		var raw [24]byte
		if _, err := io.ReadFull(e.a.cfg.Rand, raw[:]); err != nil {
			e.step = 2
			return nil, false, failf("Authentication failed: no server nonce")
		}
		e.nonce = first.nonce + base64.RawURLEncoding.EncodeToString(raw[:])
		e.serverFirst = "r=" + e.nonce + ",s=" + base64.StdEncoding.EncodeToString(e.cred.Salt) + ",i=" + strconv.Itoa(e.cred.Iterations)
		e.step = 1
		return []byte(e.serverFirst), false, nil
	case 1:
		e.step = 2
		final, err := parseScramClientFinal(string(token))
		if err != nil {
			return nil, false, err
		}
		if string(final.channelBinding) != e.first.gs2Header {
			return nil, false, failf("Authentication failed: SCRAM channel binding does not match the gs2 header")
		}
		// A client-final from another exchange (a replay) carries that
		// exchange's server nonce, never this one's.
		// NB: the nonce must end with this exchange's nonce rather than
		// equal it, as Kafka checks (ScramSaslServer: endsWith):
		// librdkafka sends its client nonce followed by the whole server
		// nonce, which already starts with the client nonce. The random
		// server part still has to match, and the proof covers what was
		// sent.
		if len(final.nonce) < len(e.nonce) ||
			subtle.ConstantTimeCompare([]byte(final.nonce[len(final.nonce)-len(e.nonce):]), []byte(e.nonce)) != 1 {
			return nil, false, failf("Authentication failed: SCRAM nonce does not match")
		}
		if len(final.proof) != e.mech.size {
			return nil, false, e.invalid()
		}
		authMessage := []byte(e.first.bare + "," + e.serverFirst + "," + final.withoutProof)
		clientSignature := e.mech.hmac(e.cred.StoredKey, authMessage)
		clientKey := make([]byte, len(final.proof))
		subtle.XORBytes(clientKey, final.proof, clientSignature)
		if subtle.ConstantTimeCompare(e.mech.sum(clientKey), e.cred.StoredKey) != 1 || !e.known {
			return nil, false, e.invalid()
		}
		serverSignature := e.mech.hmac(e.cred.ServerKey, authMessage)
		e.result = Result{Principal: auth.User(e.first.user)}
		return []byte("v=" + base64.StdEncoding.EncodeToString(serverSignature)), true, nil
	}
	return nil, false, failf("Authentication failed: unexpected SCRAM message")
}

// fakeCredential is what an unknown user gets: a salt that is stable per
// user name and keys that match no proof.
func (e *scramExchange) fakeCredential(user string) ScramCredential {
	salt := e.mech.hmac(e.a.fakeKey, []byte(e.mech.name+"\x00"+user))[:16]
	key := e.mech.hmac(e.a.fakeKey, []byte("key\x00"+user))
	return ScramCredential{Salt: salt, StoredKey: key, ServerKey: key, Iterations: ScramMinIterations}
}

func (e *scramExchange) Result() Result { return e.result }
