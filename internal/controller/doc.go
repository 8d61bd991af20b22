// Package controller is the active controller: it turns admin requests
// (create/delete topics, create partitions, alter configs, broker
// registration and unregistration, producer id blocks, the cluster id) into
// metadata records, proposes them to the metadata quorum and returns once
// they are applied.
//
// It owns decisions, not state: the current metadata Image lives in a
// metadata.Loader that the raft node applies committed entries to, and the
// controller validates each request against the Loader's latest image. When
// an operation returns, the Loader has published the new image, so every
// subscriber (the broker's partition reconciler...) has already seen it.
//
// # Goroutines
//
// Run is the controller's one event loop. Operations called from any
// goroutine send a closure to the loop and wait for its reply, so
// validation and proposal are serialized: no two operations interleave
// between reading the image and proposing. Run returns when its context
// ends. Operations called while Run is not running wait for it until their
// own context ends.
//
// The loop also owns the broker liveness state of the active controller:
// the last heartbeat of each broker (in memory only: a controller that
// becomes active starts every broker's clock at that moment), the metadata
// offset each broker must reach to be unfenced, and the offset a broker in
// controlled shutdown must reach before it may exit. Two tickers drive the
// loop besides operations: the liveness check (fences brokers silent for
// BrokerSessionTimeout) and, with AutoLeaderRebalance, the preferred leader
// check every LeaderImbalanceCheckInterval. Both act only on the active
// controller.
//
// # Partition state changes
//
// Every change of a partition's leader or ISR is a PartitionRecord with
// the full new state. A leader change bumps LeaderEpoch; any change bumps
// PartitionEpoch. When a broker is fenced, starts a controlled shutdown or
// re-registers, it is removed from every ISR that has other members
// (KIP-841: a sole member stays so the partition can come back cleanly),
// and each partition it led gets the first replica, in replica order, that
// is in the ISR and eligible (registered, unfenced, not shutting down); with
// none the leader is -1, unless unclean.leader.election.enable holds for the
// topic, when the first eligible replica leads with ISR = [it].
//
// # The local broker
//
// The broker in the same process as the controller (Config.NodeID)
// registers unfenced: it reads this controller's own metadata Loader, so it
// is caught up by construction. While this node is the active controller,
// its own broker is not fenced for missing heartbeats either: the loop
// running is proof that the process lives. Heartbeats from it are still
// served like any other (controlled shutdown, WantFence). Every other
// broker follows Kafka's KRaft rules.
//
// Errors are this package's sentinels (ErrTopicExists, ErrInvalidTopic...),
// wrapped with detail; the Kafka API layer maps them to error codes.
package controller
