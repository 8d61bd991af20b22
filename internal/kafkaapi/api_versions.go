package kafkaapi

// ApiVersions v0-v4.
//   v1: throttle time. v2: no change. v3 (KIP-511): flexible; the client
//   sends its software name and version. v4: no change (KIP-896 floor).
// A request at a version above ours is answered at v0 with
// UNSUPPORTED_VERSION and our ranges (KIP-511), so the client can downgrade.
// Features (KIP-584), v3+: transaction.version, supported 0-2 and
// finalized at txn.FinalizedTransactionVersion (2: KIP-890 part 2). NB:
// Strata has no feature-level records in its metadata log, so the
// finalized level is static, with a constant FinalizedFeaturesEpoch:
// every broker of a cluster runs the same binary, which implements the
// level end to end. No other feature is reported.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

func (h *Handler) apiVersions(rc *reqCtx, req *kmsg.ApiVersionsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = protocol.Advertised()
	if req.Version >= 3 {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = transactionVersionFeature, 0, txn.FinalizedTransactionVersion
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = transactionVersionFeature, txn.FinalizedTransactionVersion, txn.FinalizedTransactionVersion
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = finalizedFeaturesEpoch
	}
	return done(resp)
}

// transactionVersionFeature is the feature of transaction versions.
const transactionVersionFeature = "transaction.version"

// finalizedFeaturesEpoch is the epoch of the static finalized features (a
// real metadata log would give the offset of the last feature record).
const finalizedFeaturesEpoch int64 = 1

func apiVersionsFallback() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = protocol.Advertised()
	return resp
}
