package node

// SASL wiring: the listener's authenticator (users from the JAAS config,
// SCRAM credentials from the metadata image, OAUTHBEARER keys from the
// allow-listed JWKS) and the SASL option of this node's own clients to
// other nodes (interBrokerSASL), used when the inter-broker listener is
// SASL_PLAINTEXT or SASL_SSL (interBrokerClientOpts).

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/strata-io/strata/internal/auth/sasl"
	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

// scramMechanismNumber maps a SASL mechanism name to its metadata number.
func scramMechanismNumber(name string) int8 {
	switch name {
	case sasl.ScramSHA256:
		return metadata.ScramSHA256
	case sasl.ScramSHA512:
		return metadata.ScramSHA512
	}
	return 0
}

// saslServerConfig builds the SASL settings of the SASL listeners (a zero
// config when no mechanism is enabled). keys, when set, is the
// OAUTHBEARER key set to refresh (KeySet.RefreshLoop) while serving.
func (n *Node) saslServerConfig(ctx context.Context, image func() *metadata.Image) (cfg server.SASLConfig, keys *sasl.KeySet, err error) {
	st := n.cfg.Static
	mechs := st.SASLMechanisms()
	if len(mechs) == 0 {
		return cfg, nil, nil
	}
	acfg := sasl.Config{Mechanisms: mechs}
	for _, m := range mechs {
		switch m {
		case sasl.Plain:
			j, _, err := st.SASLJAAS(m)
			if err != nil {
				return cfg, nil, err
			}
			acfg.PlainUsers = j.Users()
		case sasl.ScramSHA256, sasl.ScramSHA512:
			acfg.Scram = func(mechanism, user string) (sasl.ScramCredential, bool) {
				c, ok := image().ScramCredential(scramMechanismNumber(mechanism), user)
				if !ok {
					return sasl.ScramCredential{}, false
				}
				return sasl.ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: int(c.Iterations)}, true
			}
		case sasl.OAuthBearer:
			url, aud, iss, sub, scope, skew, _ := st.OAuthBearer()
			keys, err = sasl.LoadKeySet(ctx, url, st.SASLOAuthAllowedURLs())
			if err != nil {
				return cfg, nil, fmt.Errorf("sasl.oauthbearer.jwks.endpoint.url: %w", err)
			}
			acfg.JWT, err = sasl.NewJWTValidator(sasl.JWTConfig{Keys: keys, ExpectedAudience: aud, ExpectedIssuer: iss,
				SubClaim: sub, ScopeClaim: scope, ClockSkew: skew, Now: n.cfg.Now})
			if err != nil {
				return cfg, nil, err
			}
		}
	}
	a, err := sasl.NewAuthenticator(acfg)
	if err != nil {
		return cfg, nil, err
	}
	return server.SASLConfig{
		Authenticator:   a,
		MaxReceiveBytes: st.SASLMaxReceiveBytes(),
		MaxReauth:       st.SASLMaxReauth(),
		FailedAuthDelay: st.SASLFailedAuthDelay(),
		Now:             n.cfg.Now,
	}, keys, nil
}

// interBrokerSASL returns the kgo option that authenticates this node's
// clients to other nodes (forwarding, controller RPCs, replication) with
// sasl.mechanism.inter.broker.protocol and the username and password of
// that mechanism's JAAS entry; nil when no mechanism is enabled. Without
// an explicit mechanism the first enabled one with credentials is used.
// OAUTHBEARER needs a token provider Strata does not have, so it cannot be
// the inter-broker mechanism.
func interBrokerSASL(st config.Static) (kgo.Opt, error) {
	mechs := st.SASLMechanisms()
	if len(mechs) == 0 {
		return nil, nil
	}
	candidates := mechs
	if ib := strings.ToUpper(st.SASL.InterBrokerMechanism); ib != "" {
		candidates = []string{ib}
	}
	for _, m := range candidates {
		j, ok, err := st.SASLJAAS(m)
		if err != nil {
			return nil, err
		}
		user, pass := j.Options["username"], j.Options["password"]
		if !ok || user == "" {
			continue
		}
		switch m {
		case sasl.Plain:
			return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()), nil
		case sasl.ScramSHA256:
			return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()), nil
		case sasl.ScramSHA512:
			return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()), nil
		default:
			return nil, fmt.Errorf("sasl.mechanism.inter.broker.protocol %s is not supported between nodes (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", m)
		}
	}
	return nil, errors.New("SASL is enabled but no JAAS config gives this node a username and password for inter-broker connections")
}
