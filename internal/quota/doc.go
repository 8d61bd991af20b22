// Package quota owns Kafka's client quotas (KIP-13, KIP-55, KIP-124,
// KIP-257, KIP-546, KIP-599, KIP-612): which quota keys exist for which
// entities and how their values are validated (keys.go), which quota
// applies to a request (the 8-level user/client-id precedence, resolve.go)
// and the per-broker rate measurement that turns usage into a throttle time
// (rate.go, manager.go).
//
// It leaves storage to internal/metadata (ClientQuotaRecord, the image),
// AlterClientQuotas to internal/controller, reading requests and setting
// throttle_time_ms to internal/kafkaapi, and muting a throttled
// connection, or delaying the close of a throttled new connection, to
// internal/server.
//
// # Measurement
//
// request_percentage and connection_creation_rate are measured as Kafka's
// Sensor with a Rate of a SampledStat (rate.go), as of Kafka 3.8 (KIP-less
// fix apache/kafka#15889): quota.window.num samples (11) of
// quota.window.size.seconds (1s) each, plus one. A sample starts with the
// first value after the previous sample's span; a sample is dropped once
// its last value is a whole window old, and the rate is the sum of the
// samples over the time since the oldest kept one started, but over at
// least (samples-1) spans. When a value takes the rate over the quota the
// throttle time is (rate-quota)/quota times that window (Kafka's
// QuotaUtils.throttleTime), bounded by one span for these two quotas.
//
// producer_byte_rate, consumer_byte_rate and controller_mutation_rate are
// measured with Kafka's TokenBucket (bucket.go, KIP-599): credits refill at
// the quota per second up to quota × samples × span, each value spends its
// size, and a client below zero credits is throttled -credits/quota.
// Deliberate difference: Kafka uses the token bucket only for
// controller_mutation_rate and the sampled Rate for the byte rates. With
// the Rate a client that always has data (a pipelining producer, a
// consumer behind) is let through in bursts: its first burst fills one
// sample, and every time that sample leaves the window the rate falls far
// below the quota and a new burst of about quota × window goes through, so
// over 30 s such a producer measured 5.7 MB/s against 5 MB/s, depending on
// how many bursts fell inside. The bucket allows the same first burst,
// then holds the client at the quota in every span.
//
// # Cost
//
// Manager keeps the quotas of the current metadata image in an immutable
// table behind an atomic pointer. A kind of quota nobody configured costs a
// pointer load and a bool test per request; nothing else runs.
//
// # Goroutines
//
// None. Idle sensors (no value for an hour, as Kafka's
// quota sensor expiry) are swept when new sensors are created.
package quota
