package node

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/metadata"
)

// apiVersionsFeatures asks addr for ApiVersions at version v and returns
// its supported and finalized features as "name=min-max" strings, and the
// finalized features epoch.
func apiVersionsFeatures(t *testing.T, addr string, v int16) (supported, finalized []string, epoch int64) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName, req.ClientSoftwareVersion = "strata-test", "1"
	resp := dialRaw(t, addr).send(req).(*kmsg.ApiVersionsResponse)
	for _, f := range resp.SupportedFeatures {
		supported = append(supported, fmt.Sprintf("%s=%d-%d", f.Name, f.MinVersion, f.MaxVersion))
	}
	for _, f := range resp.FinalizedFeatures {
		finalized = append(finalized, fmt.Sprintf("%s=%d-%d", f.Name, f.MinVersionLevel, f.MaxVersionLevel))
	}
	slices.Sort(supported)
	slices.Sort(finalized)
	return supported, finalized, resp.FinalizedFeaturesEpoch
}

// TestFinalizedFeatures: a new cluster finalizes Kafka 4.4's levels
// (FeatureLevelRecords written at bootstrap), ApiVersions reports them
// with the metadata offset as epoch, and UpdateFeatures through kadm
// changes them, validated as Kafka's controller does.
func TestFinalizedFeatures(t *testing.T) {
	tn := startNode(t)
	mv := fmt.Sprint(metadata.MetadataVersionLatest)
	supported, finalized, epoch := apiVersionsFeatures(t, tn.addr, 4)
	wantSupported := []string{
		"eligible.leader.replicas.version=0-1", "group.version=1-1", "kraft.version=0-0",
		"metadata.version=7-" + mv, "transaction.version=2-2",
	}
	if diff := cmp.Diff(wantSupported, supported); diff != "" {
		t.Errorf("ApiVersions v4 supported features (-want +got):\n%s", diff)
	}
	wantFinalized := []string{
		"eligible.leader.replicas.version=1-1", "group.version=1-1", "metadata.version=" + mv + "-" + mv, "transaction.version=2-2",
	}
	if diff := cmp.Diff(wantFinalized, finalized); diff != "" {
		t.Errorf("ApiVersions v4 finalized features (-want +got):\n%s", diff)
	}
	if img := tn.node.ctrl.Image(); epoch <= 0 || epoch > int64(img.Index()) {
		t.Errorf("FinalizedFeaturesEpoch = %d, want the metadata offset (1..%d)", epoch, img.Index())
	}
	// v3 clients cannot parse a range starting at 0 (KIP-1022).
	supported3, _, _ := apiVersionsFeatures(t, tn.addr, 3)
	if diff := cmp.Diff([]string{"group.version=1-1", "metadata.version=7-" + mv, "transaction.version=2-2"}, supported3); diff != "" {
		t.Errorf("ApiVersions v3 supported features (-want +got):\n%s", diff)
	}

	adm := tn.admin()
	ctx := ctxTimeout(t, 30*time.Second)
	elrOff := kadm.FeatureUpdate{Feature: metadata.ELRVersionFeature, MaxVersionLevel: 0, UpgradeType: 2}
	// Refusals: INVALID_UPDATE_VERSION, nothing changes.
	for _, u := range []kadm.FeatureUpdate{
		{Feature: "share.version", MaxVersionLevel: 1, UpgradeType: 1},
		{Feature: metadata.ELRVersionFeature, MaxVersionLevel: 0, UpgradeType: 1},
		{Feature: metadata.ELRVersionFeature, MaxVersionLevel: 2, UpgradeType: 1},
		{Feature: metadata.MetadataVersionFeature, MaxVersionLevel: metadata.MetadataVersionLatest - 1, UpgradeType: 2},
		{Feature: metadata.TransactionVersionFeature, MaxVersionLevel: 1, UpgradeType: 2},
	} {
		res, err := adm.UpdateFeatures(ctx, false, u)
		if err != nil || !errors.Is(res[u.Feature].Err, kerr.InvalidUpdateVersion) {
			t.Errorf("UpdateFeatures(%+v) = %v, %v, want INVALID_UPDATE_VERSION", u, res, err)
		}
	}
	res, err := adm.UpdateFeatures(ctx, true, elrOff)
	if err != nil || res.Error() != nil {
		t.Fatalf("UpdateFeatures(validate only) = %v, %v", res, err)
	}
	if _, f, _ := apiVersionsFeatures(t, tn.addr, 4); !slices.Equal(f, wantFinalized) {
		t.Errorf("finalized features after a validate-only update = %v, want unchanged", f)
	}
	res, err = adm.UpdateFeatures(ctx, false, elrOff)
	if err != nil || res.Error() != nil {
		t.Fatalf("UpdateFeatures(%s off) = %v, %v", metadata.ELRVersionFeature, res, err)
	}
	_, finalized, epoch2 := apiVersionsFeatures(t, tn.addr, 4)
	if slices.ContainsFunc(finalized, func(s string) bool { return strings.HasPrefix(s, metadata.ELRVersionFeature) }) {
		t.Errorf("finalized features after turning ELR off = %v, want no %s", finalized, metadata.ELRVersionFeature)
	}
	if epoch2 <= epoch {
		t.Errorf("FinalizedFeaturesEpoch after an update = %d, want more than %d", epoch2, epoch)
	}
	res, err = adm.UpdateFeatures(ctx, false, kadm.FeatureUpdate{Feature: metadata.ELRVersionFeature, MaxVersionLevel: 1, UpgradeType: 1})
	if err != nil || res.Error() != nil {
		t.Fatalf("UpdateFeatures(%s on) = %v, %v", metadata.ELRVersionFeature, res, err)
	}
	if _, f, _ := apiVersionsFeatures(t, tn.addr, 4); !slices.Equal(f, wantFinalized) {
		t.Errorf("finalized features after turning ELR back on = %v, want %v", f, wantFinalized)
	}

	// v0 and v1 answer per feature: the valid update applies, the other
	// reports its error.
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrUpdateFeaturesRequest()
		req.Version = v
		for _, u := range []struct {
			name  string
			level int16
		}{{metadata.ELRVersionFeature, 1}, {"no.such.feature", 1}} {
			ru := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
			ru.Feature, ru.MaxVersionLevel, ru.UpgradeType = u.name, u.level, 1
			req.FeatureUpdates = append(req.FeatureUpdates, ru)
		}
		resp := dialRaw(t, tn.addr).send(req).(*kmsg.UpdateFeaturesResponse)
		if resp.ErrorCode != 0 || len(resp.Results) != 2 || resp.Results[0].ErrorCode != 0 ||
			resp.Results[1].ErrorCode != kerr.InvalidUpdateVersion.Code {
			t.Errorf("UpdateFeatures v%d = %+v, want ELR ok and the unknown feature INVALID_UPDATE_VERSION", v, resp)
		}
	}
}
