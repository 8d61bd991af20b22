package kafkaapi

// ApiVersions v0-v4.
//   v1: throttle time. v2: no change. v3 (KIP-511): flexible; the client
//   sends its software name and version. v4: no change (KIP-896 floor).
// A request at a version above ours is answered at v0 with
// UNSUPPORTED_VERSION and our ranges (KIP-511), so the client can downgrade.
// Finalized features (KIP-584) are not reported: Strata has none yet.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) apiVersions(rc *reqCtx, req *kmsg.ApiVersionsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = protocol.Advertised()
	return done(resp)
}

func apiVersionsFallback() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = protocol.Advertised()
	return resp
}
