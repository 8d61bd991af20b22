package node

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/auth"
	"github.com/strata-io/strata/internal/kafkaapi"
	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/server"
)

// principalHook is a test-only stand-in for authentication: it sets each
// request's connection principal from the request's client id, with
// Config.testPrincipalFor, which only tests of this package can set. The
// connection layer (TLS, SASL) sets real principals.
type principalHook struct {
	*kafkaapi.Handler
	principalFor func(clientID string) auth.Principal
}

var _ server.FrameReuser = principalHook{}

func (p principalHook) Handle(ctx context.Context, c *server.Conn, hdr protocol.RequestHeader, req kmsg.Request, body []byte) server.Response {
	c.SetPrincipal(p.principalFor(hdr.ClientID))
	return p.Handler.Handle(ctx, c, hdr, req, body)
}
