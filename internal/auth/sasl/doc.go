// Package sasl is the server side of Kafka's SASL mechanisms: PLAIN
// (RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) and
// OAUTHBEARER (RFC 7628) with JWT validation against a JSON Web Key Set.
// It turns the client's tokens into a principal; the connection state
// machine around it (SaslHandshake, SaslAuthenticate, re-authentication,
// the pre-authentication frame limit) is in internal/server, and where
// credentials come from is the caller's choice: PLAIN users from the
// broker's JAAS config, SCRAM credentials from the metadata log (a
// ScramLookup), JWKS keys from a file or an allow-listed URL.
//
// # Main types
//
//   - Authenticator: the enabled mechanisms; Start begins an Exchange.
//   - Exchange: one authentication, stepped token by token.
//   - ScramCredential, NewScramCredential, ScramKeys: the stored form of a
//     SCRAM password (salt, iterations, StoredKey, ServerKey; never the
//     password).
//   - JWTValidator and KeySet: OAUTHBEARER token checks as Kafka's
//     OAuthBearerValidatorCallbackHandler makes them.
//
// # Goroutines
//
// A KeySet loaded from a URL is refreshed by RefreshLoop, which the owner
// runs and stops with its context. Everything else runs on the caller's
// goroutine; an Exchange is used by one goroutine at a time.
//
// Errors returned by Exchange.Step are safe to show the client: they
// never include passwords, tokens or whether a user exists.
package sasl
