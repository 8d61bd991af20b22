package protocol

import "github.com/twmb/franz-go/pkg/kmsg"

// VersionRange is an inclusive range of API versions.
type VersionRange struct{ Min, Max int16 }

// Contains reports whether v is in the range.
func (r VersionRange) Contains(v int16) bool { return v >= r.Min && v <= r.Max }

// Supported lists every API the broker implements and the versions it
// advertises in ApiVersions. Floors follow Kafka 4.0 (KIP-896); ceilings are
// the newest versions whose semantics are implemented.
//
// NB: JoinGroup is served from v0: librdkafka before 2.11 disables consumer
// groups when the advertised minimum is above v0 (KAFKA-18659).
// NB: Produce is advertised from v0 although v0-v2 are refused on the wire
// with UNSUPPORTED_VERSION: librdkafka before 2.11 disables compression when
// the advertised Produce minimum is above v0 (KAFKA-18659). Kafka 4.0 does
// the same. Advertised returns the advertised ranges; Accepted the ones served.
var supported = map[kmsg.Key]VersionRange{
	kmsg.Produce:                    {3, 12},
	kmsg.Fetch:                      {4, 17},
	kmsg.ListOffsets:                {1, 9},
	kmsg.Metadata:                   {0, 12},
	kmsg.ApiVersions:                {0, 4},
	kmsg.CreateTopics:               {2, 7},
	kmsg.DeleteTopics:               {1, 6},
	kmsg.DeleteRecords:              {0, 2},
	kmsg.DescribeProducers:          {0, 0},
	kmsg.CreatePartitions:           {0, 3},
	kmsg.DescribeConfigs:            {1, 4},
	kmsg.DescribeCluster:            {0, 2},
	kmsg.ElectLeaders:               {0, 2},
	kmsg.AlterPartitionAssignments:  {0, 1},
	kmsg.ListPartitionReassignments: {0, 0},
	kmsg.IncrementalAlterConfigs:    {0, 1},
	kmsg.AlterConfigs:               {0, 2},
	kmsg.DescribeQuorum:             {0, 2},
	kmsg.UnregisterBroker:           {0, 0},
	kmsg.DescribeClientQuotas:       {0, 1},
	kmsg.AlterClientQuotas:          {0, 1},
	kmsg.DescribeLogDirs:            {1, 4},
	kmsg.DescribeTopicPartitions:    {0, 0},
	kmsg.UpdateFeatures:             {0, 2},
	// ACLs (KIP-11, KIP-290); floors as Kafka 4.0 (KIP-896).
	kmsg.DescribeACLs:   {1, 3},
	kmsg.CreateACLs:     {2, 3},
	kmsg.DeleteACLs:     {2, 3},
	kmsg.InitProducerID: {0, 5},
	// Transactions (KIP-98). EndTxn v5 and TxnOffsetCommit v5 belong to
	// transaction version 2 (KIP-890 part 2), finalized in ApiVersions.
	kmsg.AddPartitionsToTxn:   {0, 5},
	kmsg.AddOffsetsToTxn:      {0, 4},
	kmsg.EndTxn:               {0, 5},
	kmsg.DescribeTransactions: {0, 0},
	kmsg.ListTransactions:     {0, 2},
	// From transaction coordinators to partition leaders. NB: v2's
	// transaction version is not checked (see write_txn_markers.go).
	kmsg.WriteTxnMarkers:      {1, 2},
	kmsg.TxnOffsetCommit:      {0, 5},
	kmsg.OffsetForLeaderEpoch: {2, 4},
	kmsg.FindCoordinator:      {0, 6},
	kmsg.JoinGroup:            {0, 9},
	kmsg.SyncGroup:            {0, 5},
	kmsg.Heartbeat:            {0, 4},
	kmsg.LeaveGroup:           {0, 5},
	kmsg.OffsetCommit:         {2, 9},
	kmsg.OffsetFetch:          {1, 9},
	kmsg.DescribeGroups:       {0, 5},
	kmsg.ListGroups:           {0, 5},
	kmsg.DeleteGroups:         {0, 2},
	kmsg.OffsetDelete:         {0, 0},
	// KIP-848. NB: franz-go uses the consumer protocol only when v1 is
	// advertised.
	kmsg.ConsumerGroupHeartbeat: {0, 1},
	kmsg.ConsumerGroupDescribe:  {0, 1},
	// Broker-to-controller APIs (KIP-631, KIP-730), served by the active
	// controller on the Kafka listener.
	kmsg.BrokerRegistration:  {0, 4},
	kmsg.AllocateProducerIDs: {0, 0},
	kmsg.BrokerHeartbeat:     {0, 2},
	kmsg.AlterPartition:      {2, 3},
	// JBOD (KIP-113, KIP-858): moves between a broker's log directories;
	// brokers tell the controller where their offline replicas were.
	kmsg.AlterReplicaLogDirs:  {1, 2},
	kmsg.AssignReplicasToDirs: {0, 0},
	// SASL (KIP-43, KIP-152, KIP-368); the exchange runs in the connection
	// layer (internal/server/sasl.go). SCRAM credentials (KIP-554).
	kmsg.SASLHandshake:                {0, 1},
	kmsg.SASLAuthenticate:             {0, 2},
	kmsg.DescribeUserSCRAMCredentials: {0, 0},
	kmsg.AlterUserSCRAMCredentials:    {0, 0},
}

// advertisedMin overrides the advertised floor where a client quirk needs it.
var advertisedMin = map[kmsg.Key]int16{
	kmsg.Produce: 0,
}

// Accepted returns the versions of key the broker serves, and whether it
// implements key at all.
func Accepted(key int16) (VersionRange, bool) {
	r, ok := supported[kmsg.Key(key)]
	return r, ok
}

// Advertised returns the ApiVersions entries, sorted by key.
func Advertised() []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(supported))
	for k := kmsg.Key(0); k <= kmsg.Key(kmsg.MaxKey); k++ {
		r, ok := supported[k]
		if !ok {
			continue
		}
		min := r.Min
		if m, ok := advertisedMin[k]; ok {
			min = m
		}
		out = append(out, kmsg.ApiVersionsResponseApiKey{ApiKey: int16(k), MinVersion: min, MaxVersion: r.Max})
	}
	return out
}
