// Package console is Strata's web console: a JSON API under /console/api/
// and a small hand-written UI (plain HTML, CSS and JavaScript modules, no
// build step) embedded from ui/ with go:embed and served under /console/.
//
// The console is a Kafka client like any other: every page is answered by
// requests a franz-go client (kgo, kadm, kmsg) sends to the cluster named
// by Config.Bootstrap, so it works against Apache Kafka as well as Strata.
// It keeps no state of its own: live charts (throughput, lag) are series
// the browser builds by polling /console/api/offsets and the group routes.
//
// Routes (all JSON; errors are {"error": "...", "code": "KAFKA_CODE"?}):
//
//	GET    /console/api/cluster                       brokers, controller, quorum, versions, partition health
//	GET    /console/api/offsets                       each topic's summed high watermarks, for throughput charts
//	GET    /console/api/topics                        topics with partitions, replication, offsets, sizes
//	POST   /console/api/topics                        create {name, partitions, replication_factor, configs}
//	GET    /console/api/topics/{topic}                partitions (leader, replicas, ISR, offsets, size) and configs
//	DELETE /console/api/topics/{topic}                delete
//	POST   /console/api/topics/{topic}/partitions     add partitions {count} (the new total)
//	PATCH  /console/api/topics/{topic}/configs        {set: {k: v}, delete: [k]} (IncrementalAlterConfigs)
//	GET    /console/api/topics/{topic}/messages       browse by partition and offset or timestamp (bounded)
//	POST   /console/api/topics/{topic}/records        produce one record
//	GET    /console/api/groups                        groups with state, members and total lag
//	GET    /console/api/groups/{group}                members, assignments, per-partition lag
//	DELETE /console/api/groups/{group}                delete an empty group
//	POST   /console/api/groups/{group}/reset-offsets  preview (dry_run) or commit new offsets
//
// Bad input never hangs a handler: request bodies are limited to
// MaxBodyBytes (413 beyond) and must arrive within Config.BodyReadTimeout
// (408); malformed JSON and unknown fields are 400; unknown topics, groups
// and routes are 404; each request's cluster work is bounded by
// Config.RequestTimeout (504 after it), at most maxConcurrent requests
// talk to the cluster at once (503 for those that cannot start in time),
// and an answer the client does not read in time is dropped (a write
// deadline), so no client can hold a handler.
// Requests that change something must be JSON (415 otherwise) and, when the
// browser sends an Origin, come from the console's own host (403), which
// keeps other web pages from driving the console (CSRF).
//
// Goroutines: none of its own. A Console owns one kgo.Client (which runs
// franz-go's internal goroutines) until Close.
package console
