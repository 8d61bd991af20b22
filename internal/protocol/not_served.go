package protocol

import "github.com/twmb/franz-go/pkg/kmsg"

// NotServed gives, for every API key that Kafka defines and Strata does
// not serve, the reason. Every key up to kmsg.MaxKey is either in
// supported or here (a test checks), and the README's API table is
// generated from both.
var notServed = map[kmsg.Key]string{
	kmsg.LeaderAndISR:       "ZooKeeper-era inter-broker API, removed in Kafka 4.0",
	kmsg.StopReplica:        "ZooKeeper-era inter-broker API, removed in Kafka 4.0",
	kmsg.UpdateMetadata:     "ZooKeeper-era inter-broker API, removed in Kafka 4.0",
	kmsg.ControlledShutdown: "ZooKeeper-era inter-broker API, removed in Kafka 4.0 (brokers shut down through BrokerHeartbeat)",

	kmsg.CreateDelegationToken:   "delegation tokens are not built",
	kmsg.RenewDelegationToken:    "delegation tokens are not built",
	kmsg.ExpireDelegationToken:   "delegation tokens are not built",
	kmsg.DescribeDelegationToken: "delegation tokens are not built",

	kmsg.Vote:             "KRaft's own quorum RPC: Strata's metadata quorum is hashicorp/raft on the controller listener",
	kmsg.BeginQuorumEpoch: "KRaft's own quorum RPC: Strata's metadata quorum is hashicorp/raft on the controller listener",
	kmsg.EndQuorumEpoch:   "KRaft's own quorum RPC: Strata's metadata quorum is hashicorp/raft on the controller listener",
	kmsg.FetchSnapshot:    "KRaft's own quorum RPC: Strata's metadata quorum is hashicorp/raft on the controller listener",
	kmsg.AddRaftVoter:     "the voter set is fixed by --controller-voters (KIP-853 dynamic voters not built)",
	kmsg.RemoveRaftVoter:  "the voter set is fixed by --controller-voters (KIP-853 dynamic voters not built)",
	kmsg.UpdateRaftVoter:  "the voter set is fixed by --controller-voters (KIP-853 dynamic voters not built)",

	kmsg.Envelope:               "brokers forward a client's admin request itself to the active controller, not wrapped in an Envelope",
	kmsg.ControllerRegistration: "controllers are the raft voters named by --controller-voters; they do not register",
	kmsg.UnregisterController:   "controllers are the raft voters named by --controller-voters; they do not register",
	kmsg.ListConfigResources:    "not built yet (KIP-1142)",

	kmsg.GetTelemetrySubscriptions: "client metrics (KIP-714) are not collected; clients skip telemetry when it is not advertised",
	kmsg.PushTelemetry:             "client metrics (KIP-714) are not collected; clients skip telemetry when it is not advertised",

	kmsg.ShareGroupHeartbeat:        "share groups (KIP-932) are not built yet",
	kmsg.ShareGroupDescribe:         "share groups (KIP-932) are not built yet",
	kmsg.ShareFetch:                 "share groups (KIP-932) are not built yet",
	kmsg.ShareAcknowledge:           "share groups (KIP-932) are not built yet",
	kmsg.InitializeShareGroupState:  "share groups (KIP-932) are not built yet",
	kmsg.ReadShareGroupState:        "share groups (KIP-932) are not built yet",
	kmsg.WriteShareGroupState:       "share groups (KIP-932) are not built yet",
	kmsg.DeleteShareGroupState:      "share groups (KIP-932) are not built yet",
	kmsg.ReadShareGroupStateSummary: "share groups (KIP-932) are not built yet",
	kmsg.DescribeShareGroupOffsets:  "share groups (KIP-932) are not built yet",
	kmsg.AlterShareGroupOffsets:     "share groups (KIP-932) are not built yet",
	kmsg.DeleteShareGroupOffsets:    "share groups (KIP-932) are not built yet",

	kmsg.StreamsGroupHeartbeat:                 "streams groups (KIP-1071) are not built yet",
	kmsg.StreamsGroupDescribe:                  "streams groups (KIP-1071) are not built yet",
	kmsg.StreamsGroupTopologyDescriptionUpdate: "streams groups (KIP-1071) are not built yet",
}
