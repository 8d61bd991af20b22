package kafkaapi

// SaslHandshake v0-1 and SaslAuthenticate v0-2 that reach the handler:
// on a listener without SASL, or on an authenticated connection outside a
// re-authentication. The exchange itself is the connection layer's
// (internal/server/sasl.go). As Kafka's KafkaApis, both are answered with
// ILLEGAL_SASL_STATE and the connection stays open.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) saslHandshake(rc *reqCtx, req *kmsg.SASLHandshakeRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return done(resp)
}

func (h *Handler) saslAuthenticate(rc *reqCtx, req *kmsg.SASLAuthenticateRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	msg := "SaslAuthenticate request received after successful authentication"
	resp.ErrorMessage = &msg
	return done(resp)
}
