package config

// SASL settings. Until the listeners work binds SASL per listener
// (listener.security.protocol.map), SASL is switched on for the one
// client listener by enabling mechanisms: sasl.enabled.mechanisms in the
// config file (or --sasl-mechanisms) makes it SASL_PLAINTEXT. Kafka's
// default (GSSAPI) is not applied: no mechanisms means PLAINTEXT.
//
// Credentials:
//   - PLAIN users and the broker's own inter-broker credentials come from
//     listener.name.<listener>.<mechanism>.sasl.jaas.config (any listener
//     name for now), as in Kafka; --sasl-jaas-config (file key
//     sasl-jaas-config) is Strata's fallback for every mechanism without
//     a listener-prefixed entry;
//   - SCRAM credentials live in the metadata log (strata user create);
//   - OAUTHBEARER tokens are JWTs checked against
//     sasl.oauthbearer.jwks.endpoint.url, which must be listed in
//     org.apache.kafka.sasl.oauthbearer.allowed.urls (a config-file key
//     here, a JVM system property in Kafka; empty by default as in Kafka
//     4.0).

import (
	"fmt"
	"strings"
	"time"

	"github.com/strata-io/strata/internal/auth/sasl"
)

// SASL is the listener's SASL configuration.
type SASL struct {
	// Mechanisms is sasl.enabled.mechanisms (comma-separated); empty: the
	// listener is PLAINTEXT.
	Mechanisms string
	// InterBrokerMechanism is sasl.mechanism.inter.broker.protocol: how
	// this node authenticates to other nodes; empty: the first enabled
	// mechanism that has credentials in the JAAS config.
	InterBrokerMechanism string
	// JAASConfig is the fallback JAAS entry (--sasl-jaas-config).
	JAASConfig string
	// ListenerJAAS holds listener.name.*.<mechanism>.sasl.jaas.config by
	// upper-case mechanism.
	ListenerJAAS map[string]string
	// OAuthAllowedURLs is org.apache.kafka.sasl.oauthbearer.allowed.urls.
	OAuthAllowedURLs string
}

// oauthAllowedURLsKey is Kafka's system property for the JWKS allow-list,
// accepted as a config-file key.
const oauthAllowedURLsKey = "org.apache.kafka.sasl.oauthbearer.allowed.urls"

// applySASLProps reads the SASL properties of a config file that the
// registry does not define (listener-prefixed JAAS entries, the URL
// allow-list) and returns the keys it consumed.
func applySASLProps(s *Static, props map[string]string) []string {
	var used []string
	for k, v := range props {
		if k == oauthAllowedURLsKey {
			s.SASL.OAuthAllowedURLs = v
			used = append(used, k)
			continue
		}
		rest, ok := strings.CutPrefix(k, "listener.name.")
		if !ok {
			continue
		}
		parts := strings.Split(rest, ".")
		// <listener>.<mechanism>.sasl.jaas.config
		if len(parts) == 5 && parts[2] == "sasl" && parts[3] == "jaas" && parts[4] == "config" {
			if s.SASL.ListenerJAAS == nil {
				s.SASL.ListenerJAAS = map[string]string{}
			}
			s.SASL.ListenerJAAS[strings.ToUpper(parts[1])] = v
			used = append(used, k)
		}
	}
	return used
}

// SASLMechanisms returns the enabled mechanisms, empty when the listener
// is PLAINTEXT.
func (s *Static) SASLMechanisms() []string {
	var out []string
	for _, m := range strings.Split(s.SASL.Mechanisms, ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// SASLJAAS returns the parsed JAAS entry for mechanism: the
// listener-prefixed one, else the fallback; ok is false when neither is
// set.
func (s *Static) SASLJAAS(mechanism string) (sasl.JAAS, bool, error) {
	text, ok := s.SASL.ListenerJAAS[mechanism]
	if !ok {
		text, ok = s.SASL.JAASConfig, s.SASL.JAASConfig != ""
	}
	if !ok {
		return sasl.JAAS{}, false, nil
	}
	j, err := sasl.ParseJAAS(text)
	if err != nil {
		return j, true, fmt.Errorf("%s JAAS config: %w", mechanism, err)
	}
	return j, true, nil
}

// SASLOAuthAllowedURLs returns the JWKS URL allow-list.
func (s *Static) SASLOAuthAllowedURLs() []string { return ParseList(s.SASL.OAuthAllowedURLs) }

// brokerProp returns a Kafka broker property: the config file's value,
// else the registry default.
func (s *Static) brokerProp(name string) string {
	if v, ok := s.KafkaProps[name]; ok {
		return v
	}
	if e, ok := Lookup(ScopeBroker, name); ok {
		return e.Default
	}
	return ""
}

func (s *Static) brokerMillis(name string) time.Duration {
	n, err := ParseInt64(s.brokerProp(name))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// SASLMaxReauth is connections.max.reauth.ms (0: sessions do not expire).
func (s *Static) SASLMaxReauth() time.Duration { return s.brokerMillis("connections.max.reauth.ms") }

// SASLFailedAuthDelay is connection.failed.authentication.delay.ms.
func (s *Static) SASLFailedAuthDelay() time.Duration {
	return s.brokerMillis("connection.failed.authentication.delay.ms")
}

// SASLMaxReceiveBytes is sasl.server.max.receive.size.
func (s *Static) SASLMaxReceiveBytes() int32 {
	n, err := ParseInt64(s.brokerProp("sasl.server.max.receive.size"))
	if err != nil || n <= 0 || n > 1<<30 {
		return 524288
	}
	return int32(n)
}

// OAuthBearer returns the sasl.oauthbearer.* settings the validator uses.
func (s *Static) OAuthBearer() (jwksURL string, audience []string, issuer, subClaim, scopeClaim string, skew, refresh time.Duration) {
	skewSec, _ := ParseInt64(s.brokerProp("sasl.oauthbearer.clock.skew.seconds"))
	return s.brokerProp("sasl.oauthbearer.jwks.endpoint.url"), ParseList(s.brokerProp("sasl.oauthbearer.expected.audience")),
		s.brokerProp("sasl.oauthbearer.expected.issuer"), s.brokerProp("sasl.oauthbearer.sub.claim.name"),
		s.brokerProp("sasl.oauthbearer.scope.claim.name"), time.Duration(skewSec) * time.Second,
		s.brokerMillis("sasl.oauthbearer.jwks.endpoint.refresh.ms")
}

// validateSASL checks the SASL settings together.
func (s *Static) validateSASL() []error {
	var errs []error
	mechs := s.SASLMechanisms()
	for _, m := range mechs {
		switch m {
		case sasl.Plain:
			j, ok, err := s.SASLJAAS(m)
			switch {
			case err != nil:
				errs = append(errs, err)
			case !ok || len(j.Users()) == 0:
				errs = append(errs, fmt.Errorf("sasl.enabled.mechanisms: PLAIN needs users: listener.name.<listener>.plain.sasl.jaas.config with user_NAME=\"password\" entries"))
			}
		case sasl.ScramSHA256, sasl.ScramSHA512:
		case sasl.OAuthBearer:
			if url, _, _, _, _, _, _ := s.OAuthBearer(); url == "" {
				errs = append(errs, fmt.Errorf("sasl.enabled.mechanisms: OAUTHBEARER needs sasl.oauthbearer.jwks.endpoint.url"))
			}
		default:
			errs = append(errs, fmt.Errorf("sasl.enabled.mechanisms: %q is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)", m))
		}
	}
	if ib := s.SASL.InterBrokerMechanism; ib != "" && len(mechs) > 0 {
		if _, ok, _ := s.SASLJAAS(strings.ToUpper(ib)); !ok {
			errs = append(errs, fmt.Errorf("sasl.mechanism.inter.broker.protocol %s: no JAAS config with this broker's username and password", ib))
		}
	}
	return errs
}
