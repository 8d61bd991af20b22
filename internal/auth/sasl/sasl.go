package sasl

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/strata-io/strata/internal/auth"
)

// Mechanism names, as clients send them in SaslHandshake.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	OAuthBearer = "OAUTHBEARER"
)

// ErrAuthenticationFailed wraps every failed authentication: bad
// credentials and malformed tokens alike. Kafka answers both with
// SASL_AUTHENTICATION_FAILED.
var ErrAuthenticationFailed = errors.New("authentication failed")

// failure is a failed authentication whose message the client may see.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return ErrAuthenticationFailed }

func failf(format string, args ...any) error { return &failure{msg: fmt.Sprintf(format, args...)} }

// Exchange is the server side of one authentication.
type Exchange interface {
	// Step consumes the client's next token and returns the server's
	// answer. done reports that the client is authenticated (Result is
	// then valid); an error wraps ErrAuthenticationFailed and ends the
	// exchange.
	Step(token []byte) (challenge []byte, done bool, err error)
	// Result is the outcome of a completed exchange.
	Result() Result
}

// Result is who an exchange authenticated.
type Result struct {
	Principal auth.Principal
	// Expiry is when the credential stops being valid (an OAUTHBEARER
	// token's exp); zero when it does not expire.
	Expiry time.Time
}

// Config configures an Authenticator.
type Config struct {
	// Mechanisms are the enabled mechanisms (sasl.enabled.mechanisms), in
	// the order SaslHandshake lists them.
	Mechanisms []string
	// PlainUsers are the PLAIN users and passwords (user_NAME="password"
	// in the PLAIN JAAS config).
	PlainUsers map[string]string
	// Scram looks up SCRAM credentials; required with a SCRAM mechanism.
	Scram ScramLookup
	// JWT validates OAUTHBEARER tokens; required with OAUTHBEARER.
	JWT *JWTValidator
	// Rand is the source of server nonces and secrets; nil: crypto/rand.
	Rand io.Reader
}

// Authenticator serves the enabled mechanisms. It is safe for concurrent
// use; set in NewAuthenticator, never changed.
type Authenticator struct {
	cfg Config
	// fakeKey derives stable fake SCRAM salts for unknown users, so a
	// client cannot tell them from known ones before the proof fails.
	fakeKey []byte
}

// NewAuthenticator checks cfg and returns an Authenticator.
func NewAuthenticator(cfg Config) (*Authenticator, error) {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if len(cfg.Mechanisms) == 0 {
		return nil, errors.New("no SASL mechanism enabled")
	}
	var errs []error
	for i, m := range cfg.Mechanisms {
		if slices.Contains(cfg.Mechanisms[:i], m) {
			errs = append(errs, fmt.Errorf("SASL mechanism %s listed twice", m))
		}
		switch m {
		case Plain:
		case ScramSHA256, ScramSHA512:
			if cfg.Scram == nil {
				errs = append(errs, fmt.Errorf("SASL mechanism %s needs a SCRAM credential store", m))
			}
		case OAuthBearer:
			if cfg.JWT == nil {
				errs = append(errs, fmt.Errorf("SASL mechanism %s needs a JWT validator (sasl.oauthbearer.jwks.endpoint.url)", m))
			}
		default:
			errs = append(errs, fmt.Errorf("SASL mechanism %q is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)", m))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	a := &Authenticator{cfg: cfg, fakeKey: make([]byte, 32)}
	if _, err := io.ReadFull(cfg.Rand, a.fakeKey); err != nil {
		return nil, fmt.Errorf("random key: %w", err)
	}
	return a, nil
}

// Mechanisms returns the enabled mechanisms in configured order. The
// caller must not modify the slice.
func (a *Authenticator) Mechanisms() []string { return a.cfg.Mechanisms }

// Enabled reports whether mechanism is enabled.
func (a *Authenticator) Enabled(mechanism string) bool {
	return slices.Contains(a.cfg.Mechanisms, mechanism)
}

// Start begins an authentication with mechanism; ok is false when the
// mechanism is not enabled.
func (a *Authenticator) Start(mechanism string) (ex Exchange, ok bool) {
	if !a.Enabled(mechanism) {
		return nil, false
	}
	switch mechanism {
	case Plain:
		return &plainExchange{users: a.cfg.PlainUsers}, true
	case ScramSHA256, ScramSHA512:
		return &scramExchange{a: a, mech: scramMechanisms[mechanism]}, true
	case OAuthBearer:
		return &oauthExchange{v: a.cfg.JWT}, true
	}
	return nil, false
}
