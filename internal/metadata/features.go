package metadata

import "slices"

// Feature names (KIP-584), as Kafka spells them.
const (
	MetadataVersionFeature    = "metadata.version"
	KRaftVersionFeature       = "kraft.version"
	GroupVersionFeature       = "group.version"
	TransactionVersionFeature = "transaction.version"
	// ELRVersionFeature gates KIP-966 eligible leader replicas: at level 1
	// the controller keeps ELR and LastKnownELR in partition records and
	// lets the ISR become empty.
	ELRVersionFeature = "eligible.leader.replicas.version"
)

// Kafka's metadata.version feature levels that Strata names.
const (
	// MetadataVersionMin is 3.3-IV3, the oldest level Kafka 4.x accepts.
	MetadataVersionMin int16 = 7
	// MetadataVersionLatest is 4.4-IV2, Kafka 4.4's latest production level.
	MetadataVersionLatest int16 = 33
)

// supportedFeatures are the feature levels this build implements, by name.
// Each range is what the software does end to end, not what Kafka defines:
//   - metadata.version: Strata's metadata log has its own format, versioned
//     per record (see docs/format/metadata-records.md), so the level is a
//     label that clients and tools read; every level Kafka 4.4 accepts is
//     supported, and no level changes what Strata writes.
//   - kraft.version 0: the controller quorum has static voters
//     (--controller-voters); KIP-853 dynamic voters are not implemented.
//   - group.version 1: the KIP-848 consumer group protocol is always served;
//     level 0 (protocol off) is not implemented.
//   - transaction.version 2: the transaction coordinator always runs
//     KIP-890 part 2; levels 0 and 1 are not implemented.
//   - eligible.leader.replicas.version 0-1: KIP-966, switchable.
var supportedFeatures = []SupportedFeature{
	{Name: ELRVersionFeature, MinLevel: 0, MaxLevel: 1},
	{Name: GroupVersionFeature, MinLevel: 1, MaxLevel: 1},
	{Name: KRaftVersionFeature, MinLevel: 0, MaxLevel: 0},
	{Name: MetadataVersionFeature, MinLevel: MetadataVersionMin, MaxLevel: MetadataVersionLatest},
	{Name: TransactionVersionFeature, MinLevel: 2, MaxLevel: 2},
}

// SupportedFeatures returns the feature level ranges this build supports,
// sorted by name. The caller may modify the slice.
func SupportedFeatures() []SupportedFeature { return slices.Clone(supportedFeatures) }

// SupportedRange returns this build's range for feature name, and whether
// it knows the feature.
func SupportedRange(name string) (SupportedFeature, bool) {
	i := slices.IndexFunc(supportedFeatures, func(f SupportedFeature) bool { return f.Name == name })
	if i < 0 {
		return SupportedFeature{}, false
	}
	return supportedFeatures[i], true
}

// BootstrapFeatures returns the records that finalize the feature levels of
// a new cluster, as Kafka 4.4 formats one: the latest metadata.version,
// kraft.version 0 (static voters), group.version 1, transaction.version 2
// and eligible.leader.replicas.version 1 (on by default since Kafka 4.1).
func BootstrapFeatures() []Record {
	return []Record{
		&FeatureLevelRecord{Name: MetadataVersionFeature, Level: MetadataVersionLatest},
		&FeatureLevelRecord{Name: KRaftVersionFeature, Level: 0},
		&FeatureLevelRecord{Name: GroupVersionFeature, Level: 1},
		&FeatureLevelRecord{Name: TransactionVersionFeature, Level: 2},
		&FeatureLevelRecord{Name: ELRVersionFeature, Level: 1},
	}
}
