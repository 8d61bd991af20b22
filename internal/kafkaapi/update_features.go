package kafkaapi

// UpdateFeatures v0-v2 (KIP-584, KIP-778): finalizes feature levels,
// served by the active controller (forwarded from any other node).
//   v0: AllowDowngrade (a downgrade is a safe downgrade). v1: UpgradeType
//   (1 upgrade, 2 safe downgrade, 3 unsafe downgrade) and ValidateOnly.
//   v2 (KIP-1022): no per-feature results, only the top-level error; the
//   request is all or nothing.
// Validation follows Kafka's controller (controller.UpdateFeatures): a
// level outside the range this controller's software or any registered
// broker's supports, a feature unknown to them, a downgrade without a
// downgrade type and any metadata.version downgrade are refused with
// INVALID_UPDATE_VERSION. At v0-v1 the valid updates of a request are
// applied, as Kafka does, and the others report their error.
// With the authorizer on it needs ALTER on the cluster (authz.go).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) updateFeatures(rc *reqCtx, req *kmsg.UpdateFeaturesRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
		updates := make([]controller.FeatureUpdate, len(req.FeatureUpdates))
		for i, u := range req.FeatureUpdates {
			typ := u.UpgradeType
			if req.Version == 0 {
				typ = controller.FeatureUpgrade
				if u.AllowDowngrade {
					typ = controller.FeatureSafeDowngrade
				}
			}
			updates[i] = controller.FeatureUpdate{Name: u.Feature, Level: u.MaxVersionLevel, UpgradeType: typ}
		}
		atomic := req.Version >= 2
		results, err := h.ctrl.UpdateFeatures(rc.ctx, updates, req.ValidateOnly, atomic)
		if err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			msg := err.Error()
			resp.ErrorMessage = &msg
			if !atomic {
				for _, u := range req.FeatureUpdates {
					r := kmsg.NewUpdateFeaturesResponseResult()
					r.Feature, r.ErrorCode = u.Feature, resp.ErrorCode
					resp.Results = append(resp.Results, r)
				}
			}
			return resp
		}
		if atomic {
			// The top-level error is the first update's own refusal.
			for _, e := range results {
				if e != nil && !errors.Is(e, controller.ErrOtherFeatureUpdateInvalid) {
					resp.ErrorCode = errorCode(rc.log, e)
					msg := e.Error()
					resp.ErrorMessage = &msg
					break
				}
			}
			return resp
		}
		for i, u := range req.FeatureUpdates {
			r := kmsg.NewUpdateFeaturesResponseResult()
			r.Feature = u.Feature
			if e := results[i]; e != nil {
				r.ErrorCode = errorCode(rc.log, e)
				msg := e.Error()
				r.ErrorMessage = &msg
			}
			resp.Results = append(resp.Results, r)
		}
		return resp
	})
}

// updateFeaturesError answers a request that could not be forwarded.
func updateFeaturesError(req *kmsg.UpdateFeaturesRequest, code int16) *kmsg.UpdateFeaturesResponse {
	resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	resp.ErrorCode = code
	if req.Version < 2 {
		for _, u := range req.FeatureUpdates {
			r := kmsg.NewUpdateFeaturesResponseResult()
			r.Feature, r.ErrorCode = u.Feature, code
			resp.Results = append(resp.Results, r)
		}
	}
	return resp
}
