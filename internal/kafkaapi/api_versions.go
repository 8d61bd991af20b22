package kafkaapi

// ApiVersions v0-v4.
//   v1: throttle time. v2: no change. v3 (KIP-511): flexible; the client
//   sends its software name and version. v4: no change (KIP-896 floor).
// A request at a version above ours is answered at v0 with
// UNSUPPORTED_VERSION and our ranges (KIP-511), so the client can downgrade.
// Features (KIP-584), v3+: SupportedFeatures are this build's ranges
// (metadata.SupportedFeatures); at v3 a feature whose range starts at 0 is
// left out, as Kafka does (KIP-1022: older clients cannot parse it).
// FinalizedFeatures are the levels finalized in the metadata image
// (FeatureLevelRecords; a level of 0 is not listed), and
// FinalizedFeaturesEpoch is the image's metadata offset (its raft index),
// -1 before any metadata. Admin clients' describeFeatures reads this
// response; there is no separate DescribeFeatures API.

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) apiVersions(rc *reqCtx, req *kmsg.ApiVersionsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = protocol.Advertised()
	if req.Version >= 3 {
		for _, f := range metadata.SupportedFeatures() {
			if req.Version < 4 && f.MinLevel == 0 {
				continue
			}
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = f.Name, f.MinLevel, f.MaxLevel
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		}
		img := h.ctrl.Image()
		finalized := img.FinalizedFeatures()
		for _, name := range slices.Sorted(maps.Keys(finalized)) {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, finalized[name], finalized[name]
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
		resp.FinalizedFeaturesEpoch = -1
		if img.Index() > 0 {
			resp.FinalizedFeaturesEpoch = int64(img.Index())
		}
	}
	return done(resp)
}

func apiVersionsFallback() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = protocol.Advertised()
	return resp
}
