// Package restproxy serves the Confluent REST Proxy API (v2, and the v3
// routes tools call most) over HTTP, talking to a Kafka cluster only through
// the Kafka protocol with franz-go's kgo and kadm. Existing REST clients
// (curl scripts, the Confluent REST Proxy's users) work unchanged.
//
// Routes (v2 under /, v3 under /v3/):
//
//	GET  /topics                              topic names
//	GET  /topics/{topic}                      topic metadata and config overrides
//	POST /topics/{topic}                      produce (binary or json embedded format)
//	GET  /topics/{topic}/partitions[/{p}]     partition metadata
//	POST /topics/{topic}/partitions/{p}       produce to one partition
//	GET  /brokers                             broker ids
//	POST /consumers/{group}                   create a consumer instance
//	...  /consumers/{group}/instances/{name}[/subscription|/assignments|/positions[/beginning|/end]|/records|/offsets]
//	GET  /v3/clusters[/{cluster}]             the one cluster behind the proxy
//	GET|POST /v3/clusters/{cluster}/topics    list, create
//	GET|DELETE /v3/clusters/{cluster}/topics/{topic}
//	GET  /v3/clusters/{cluster}/topics/{topic}/partitions[/{p}]
//	POST /v3/clusters/{cluster}/topics/{topic}/records   streaming produce
//
// Every error is a JSON object {"error_code": N, "message": "..."} with
// Confluent's codes (40401 topic not found, 40402 partition not found,
// 40403 consumer instance not found, 40601 format mismatch, 40902 instance
// exists, 40903 illegal state, 42204 invalid consumer config, 50002 Kafka
// error, 50003 retriable Kafka error) or the HTTP status as the code.
// Request bodies are bounded (Config.MaxBodyBytes, 413 beyond) and read
// under a deadline (Config.BodyReadTimeout, 408 when a client stalls);
// every Kafka call runs under Config.RequestTimeout.
//
// Differences from Confluent's proxy: no Avro, Protobuf or JSON Schema
// (there is no schema registry; those content types get 415); a records
// request returns as soon as any record is available instead of waiting
// out consumer.request.timeout.ms; a records request returns at least one
// record even when it alone exceeds max_bytes (so a large record cannot
// stall a consumer); the json format re-encodes produced JSON compactly
// but keeps number literals as written.
//
// Goroutines: New creates one kgo client for producing and admin requests
// (franz-go starts its own goroutines there). Each consumer instance owns
// a kgo client from its subscribe or assign until it is deleted, expires
// after Config.ConsumerInstanceTimeout without requests, or the proxy
// closes. Run expires idle instances and, when its context ends, closes
// every instance and the shared client; Close does the same without Run.
// A v3 produce request runs one goroutine that writes delivery reports
// while the handler reads records; the handler waits for it.
package restproxy
