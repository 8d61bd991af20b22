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
// As Kafka's Sensor with a Rate of a SampledStat: quota.window.num samples
// (11) of quota.window.size.seconds (1s) each. A sample starts when the
// first value after the previous sample's window lands; samples older than
// the whole window are reset. The rate is the sum of the samples over the
// time since the oldest one started, but over at least (samples-1) windows.
// When a recorded value makes the rate exceed the quota, the throttle time
// is (rate-quota)/quota times that window (Kafka's QuotaUtils.throttleTime);
// request_percentage and connection_creation_rate bound it by one window
// (boundedThrottleTime), byte rates do not.
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
