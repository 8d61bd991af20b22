package server

// SASL on a listener (Config.RequireSASL: Kafka's SASL_PLAINTEXT), as
// Kafka's SaslServerAuthenticator runs it. Until a connection has
// authenticated:
//
//   - frames are capped at SASLConfig.MaxReceiveBytes
//     (sasl.server.max.receive.size, 512 KiB), checked before the frame is
//     allocated (the CVE-2022-34917 class);
//   - before SaslHandshake only ApiVersions and SaslHandshake are served;
//     any other request closes the connection without an answer (Kafka's
//     IllegalSaslStateException "Unexpected Kafka request of type ... during
//     SASL handshake");
//   - after a SaslHandshake v1 only SaslAuthenticate is served. Another
//     ApiVersions or SaslHandshake is answered with ILLEGAL_SASL_STATE and
//     the connection closed, as Kafka answers any request there; other
//     APIs close the connection without an answer (Kafka sends that API's
//     error response; Strata does not build error responses for every
//     API);
//   - after a SaslHandshake v0 the client sends raw SASL tokens, each a
//     4-byte size and the bytes, and gets raw tokens back (kafka-python
//     2.0 authenticates this way); a failure there closes the connection.
//
// A SaslHandshake naming a mechanism that is not enabled gets
// UNSUPPORTED_SASL_MECHANISM with the enabled list; a failed
// SaslAuthenticate gets SASL_AUTHENTICATION_FAILED with the reason. Both
// are answered after SASLConfig.FailedAuthDelay
// (connection.failed.authentication.delay.ms, 100 ms) on a connection
// that never authenticated, then the connection is closed.
//
// Re-authentication (KIP-368): the session of an authenticated connection
// lasts SASLConfig.MaxReauth (connections.max.reauth.ms; 0: forever), or
// until the credential expires (an OAUTHBEARER token's exp) if sooner;
// SaslAuthenticate v1+ tells the client its session_lifetime_ms. A
// SaslHandshake on a connection with a session lifetime starts a
// re-authentication (at most one a second) with the same mechanism and
// principal; any other request after the session expired closes the
// connection. SaslHandshake and SaslAuthenticate that are not part of an
// exchange reach the Handler, which answers ILLEGAL_SASL_STATE as Kafka's
// KafkaApis does.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/auth/sasl"
	"github.com/strata-io/strata/internal/protocol"
)

// SASLConfig configures SASL on a listener whose Config.RequireSASL is
// set.
type SASLConfig struct {
	// Authenticator serves the enabled mechanisms; required.
	Authenticator *sasl.Authenticator
	// MaxReceiveBytes caps frames before authentication
	// (sasl.server.max.receive.size); <= 0 means 524288.
	MaxReceiveBytes int32
	// MaxReauth is connections.max.reauth.ms; 0 disables session expiry
	// (except for credentials that expire).
	MaxReauth time.Duration
	// FailedAuthDelay is connection.failed.authentication.delay.ms.
	FailedAuthDelay time.Duration
	// Now is the clock for session expiry; nil: time.Now.
	Now func() time.Time
}

// DefaultSASLMaxReceiveBytes is Kafka's sasl.server.max.receive.size.
const DefaultSASLMaxReceiveBytes = 524288

// minReauthInterval: Kafka ignores a re-authentication started within a
// second of the previous one (the handshake then reaches KafkaApis).
const minReauthInterval = time.Second

type saslPhase int

const (
	saslWantHandshake    saslPhase = iota // ApiVersions or SaslHandshake
	saslWantAuthenticate                  // after SaslHandshake v1
	saslWantRawToken                      // after SaslHandshake v0
	saslAuthenticated
)

// saslConn is a connection's SASL state; owned by its reader goroutine.
type saslConn struct {
	phase     saslPhase
	mechanism string // of the current or last exchange
	ex        sasl.Exchange
	// badMechanism: a re-authentication asked for another mechanism; its
	// SaslAuthenticate fails, as Kafka's REAUTH_BAD_MECHANISM state does.
	badMechanism bool
	reauth       bool // the exchange in progress is a re-authentication
	successes    int
	principal    auth.Principal
	expiry       time.Time // session end; zero: none
	reauthStart  time.Time
}

// saslFrameLimit is the largest frame the connection may send now.
func (s *Server) saslFrameLimit(sc *saslConn) int32 {
	if sc.successes > 0 {
		// Re-authenticating connections keep their normal limit: requests
		// pipelined before the handshake may still arrive.
		return s.cfg.MaxRequestBytes
	}
	return min(s.cfg.MaxRequestBytes, s.cfg.SASL.MaxReceiveBytes)
}

// readRawTokenSize reads the size of a raw SASL token (after SaslHandshake
// v0): no header, so no minimum.
func readRawTokenSize(r io.Reader, scratch *[4]byte, max int32) (int32, error) {
	if _, err := io.ReadFull(r, scratch[:]); err != nil {
		return 0, err
	}
	n := int32(binary.BigEndian.Uint32(scratch[:]))
	if n < 0 || n > max {
		return 0, fmt.Errorf("%w: SASL token of %d bytes, limit %d", protocol.ErrFrameTooLarge, n, max)
	}
	return n, nil
}

// saslOutcome is what the SASL layer made of a frame.
type saslOutcome struct {
	pass          bool // not a SASL frame: serve it normally
	resp          Response
	correlationID int32
	close         bool // close after resp (or at once when it is empty)
}

// saslIntercept handles frame on a SASL connection. It runs on the reader
// goroutine and may wait out the failed-authentication delay.
func (s *Server) saslIntercept(ctx context.Context, cs *connState, sc *saslConn, frame []byte) saslOutcome {
	c := cs.c
	now := s.cfg.SASL.Now()
	if sc.phase == saslWantRawToken {
		challenge, done, err := sc.ex.Step(frame)
		if err != nil {
			c.Logger.Info("closing connection: SASL authentication failed", "mechanism", sc.mechanism, "err", err)
			s.failedAuthDelay(ctx, sc)
			return saslOutcome{close: true}
		}
		out := saslOutcome{resp: Response{raw: challenge, isRaw: true}}
		if done {
			if _, err := s.saslComplete(c, sc, now); err != nil {
				c.Logger.Info("closing connection: SASL authentication failed", "mechanism", sc.mechanism, "err", err)
				s.lm.saslFailed()
				return saslOutcome{close: true}
			}
		}
		return out
	}
	if len(frame) < 8 {
		return saslOutcome{close: true}
	}
	key := kmsg.Key(binary.BigEndian.Uint16(frame[0:]))
	correlationID := int32(binary.BigEndian.Uint32(frame[4:]))
	switch sc.phase {
	case saslWantHandshake:
		switch key {
		case kmsg.ApiVersions:
			return saslOutcome{pass: true}
		case kmsg.SASLHandshake:
			return s.saslHandshake(ctx, c, sc, frame, now)
		}
		c.Logger.Info("closing connection: request before SASL authentication", "api", key.Name())
		return saslOutcome{close: true}
	case saslWantAuthenticate:
		switch key {
		case kmsg.SASLAuthenticate:
			return s.saslAuthenticate(ctx, c, sc, frame, now)
		case kmsg.ApiVersions:
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = clampVersion(frame, kmsg.ApiVersions)
			resp.ErrorCode = kerr.IllegalSaslState.Code
			return saslOutcome{resp: Response{Msg: resp}, correlationID: correlationID, close: true}
		case kmsg.SASLHandshake:
			resp := kmsg.NewPtrSASLHandshakeResponse()
			resp.Version = clampVersion(frame, kmsg.SASLHandshake)
			resp.ErrorCode = kerr.IllegalSaslState.Code
			return saslOutcome{resp: Response{Msg: resp}, correlationID: correlationID, close: true}
		}
		c.Logger.Info("closing connection: request during SASL authentication", "api", key.Name())
		return saslOutcome{close: true}
	}
	// Authenticated.
	canReauth := !sc.expiry.IsZero() && now.Sub(sc.reauthStart) >= minReauthInterval
	if key == kmsg.SASLHandshake && canReauth {
		return s.saslHandshake(ctx, c, sc, frame, now)
	}
	if !sc.expiry.IsZero() && !now.Before(sc.expiry) {
		c.Logger.Info("closing connection: SASL session expired", "principal", sc.principal.String(), "api", key.Name())
		return saslOutcome{close: true}
	}
	return saslOutcome{pass: true}
}

// clampVersion is frame's API version when served, else the lowest.
func clampVersion(frame []byte, key kmsg.Key) int16 {
	v := int16(binary.BigEndian.Uint16(frame[2:]))
	if vr, ok := protocol.Accepted(int16(key)); ok && !vr.Contains(v) {
		return vr.Min
	}
	return v
}

// parseSASLRequest decodes a SASL request frame at a served version.
func parseSASLRequest(frame []byte) (protocol.RequestHeader, kmsg.Request, error) {
	hdr, req, body, err := protocol.ParseRequest(frame)
	if err != nil {
		return hdr, nil, err
	}
	if vr, ok := protocol.Accepted(hdr.APIKey); !ok || !vr.Contains(hdr.APIVersion) {
		return hdr, nil, fmt.Errorf("unsupported version %d", hdr.APIVersion)
	}
	if err := req.ReadFrom(body); err != nil {
		return hdr, nil, err
	}
	return hdr, req, nil
}

func (s *Server) saslHandshake(ctx context.Context, c *Conn, sc *saslConn, frame []byte, now time.Time) saslOutcome {
	hdr, req, err := parseSASLRequest(frame)
	if err != nil {
		c.Logger.Info("closing connection: bad SaslHandshake", "err", err)
		return saslOutcome{close: true}
	}
	r := req.(*kmsg.SASLHandshakeRequest)
	a := s.cfg.SASL.Authenticator
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = a.Mechanisms()
	ex, ok := a.Start(r.Mechanism)
	if !ok {
		c.Logger.Info("closing connection: unsupported SASL mechanism", "mechanism", r.Mechanism)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		s.failedAuthDelay(ctx, sc)
		return saslOutcome{resp: Response{Msg: resp}, correlationID: hdr.CorrelationID, close: true}
	}
	reauth := sc.phase == saslAuthenticated
	if reauth {
		sc.reauth = true
		sc.reauthStart = now
		sc.badMechanism = r.Mechanism != sc.mechanism
	}
	sc.mechanism, sc.ex = r.Mechanism, ex
	if hdr.APIVersion == 0 {
		sc.phase = saslWantRawToken
	} else {
		sc.phase = saslWantAuthenticate
	}
	return saslOutcome{resp: Response{Msg: resp}, correlationID: hdr.CorrelationID}
}

func (s *Server) saslAuthenticate(ctx context.Context, c *Conn, sc *saslConn, frame []byte, now time.Time) saslOutcome {
	hdr, req, err := parseSASLRequest(frame)
	if err != nil {
		c.Logger.Info("closing connection: bad SaslAuthenticate", "err", err)
		return saslOutcome{close: true}
	}
	r := req.(*kmsg.SASLAuthenticateRequest)
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	fail := func(err error) saslOutcome {
		c.Logger.Info("closing connection: SASL authentication failed", "mechanism", sc.mechanism, "err", err)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		s.failedAuthDelay(ctx, sc)
		return saslOutcome{resp: Response{Msg: resp}, correlationID: hdr.CorrelationID, close: true}
	}
	if sc.badMechanism {
		return fail(fmt.Errorf("SASL mechanism changed from %s during re-authentication", sc.mechanism))
	}
	challenge, done, err := sc.ex.Step(r.SASLAuthBytes)
	if err != nil {
		return fail(err)
	}
	resp.SASLAuthBytes = challenge
	if done {
		lifetime, err := s.saslComplete(c, sc, now)
		if err != nil {
			return fail(err)
		}
		resp.SessionLifetimeMillis = lifetime.Milliseconds()
	}
	return saslOutcome{resp: Response{Msg: resp}, correlationID: hdr.CorrelationID}
}

// errPrincipalChanged: KIP-368 forbids changing principals when
// re-authenticating.
var errPrincipalChanged = errors.New("Cannot change principals during re-authentication")

// saslComplete records a successful exchange and returns the session
// lifetime (0: none), computed as Kafka's
// calcCompletionTimesAndReturnSessionLifetimeMs.
func (s *Server) saslComplete(c *Conn, sc *saslConn, now time.Time) (time.Duration, error) {
	res := sc.ex.Result()
	if sc.reauth && res.Principal != sc.principal {
		return 0, fmt.Errorf("%w from %s to %s", errPrincipalChanged, sc.principal, res.Principal)
	}
	var lifetime time.Duration
	maxReauth := s.cfg.SASL.MaxReauth
	switch {
	case !res.Expiry.IsZero() && maxReauth > 0:
		lifetime = max(0, min(res.Expiry.Sub(now), maxReauth))
	case !res.Expiry.IsZero():
		lifetime = max(0, res.Expiry.Sub(now))
	case maxReauth > 0:
		lifetime = maxReauth
	}
	sc.expiry = time.Time{}
	if !res.Expiry.IsZero() || maxReauth > 0 {
		sc.expiry = now.Add(lifetime)
	}
	sc.phase, sc.ex, sc.reauth = saslAuthenticated, nil, false
	sc.successes++
	sc.principal = res.Principal
	c.SetPrincipal(res.Principal)
	c.Logger.Debug("SASL authenticated", "principal", res.Principal.String(), "mechanism", sc.mechanism, "session_lifetime", lifetime)
	return lifetime, nil
}

// failedAuthDelay waits connection.failed.authentication.delay.ms before
// a failure is answered, on connections that never authenticated.
func (s *Server) failedAuthDelay(ctx context.Context, sc *saslConn) {
	s.lm.saslFailed()
	d := s.cfg.SASL.FailedAuthDelay
	if sc.successes > 0 || d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
