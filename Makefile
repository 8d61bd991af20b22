GO ?= go

.PHONY: build build-failpoints test test-short test-failpoints bench fuzz fuzz-ci vet liveness image chaos

# Version and commit stamped into `strata --version`; a plain `go build`
# falls back to the toolchain's VCS stamp (internal/version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/strata-io/strata/internal/version.version=$(VERSION) -X github.com/strata-io/strata/internal/version.commit=$(COMMIT)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o strata ./cmd/strata

# The container image (deploy/Dockerfile) as an OCI image layout in ./image,
# built without a container engine: a static binary in a FROM scratch image.
image:
	$(GO) run ./cmd/strata-image -o image -version '$(VERSION)' -commit '$(COMMIT)'

# The broker with failpoints compiled in (internal/failpoint), for fault
# tests: STRATA_FAILPOINTS="ack-before-isr=return;..." switches them on.
# Never ship it.
build-failpoints:
	$(GO) build -tags failpoints -ldflags '$(LDFLAGS)' -o strata-failpoints ./cmd/strata

# The full suite: unit, integration (in-process and child-process brokers),
# crash and compatibility tests.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -tags robustness -count=1 -timeout 20m ./test/robustness

test-short:
	$(GO) test -count=1 -short ./...

# The tests that switch failpoints on (build tag failpoints): each broken
# behaviour and fault point changes what the broker does, and strata verify
# reports each broken behaviour's anomaly (internal/node TestVerifyCatches*).
test-failpoints:
	$(GO) vet -tags failpoints ./...
	$(GO) test -count=1 -tags failpoints ./internal/failpoint
	$(GO) test -count=1 -timeout 30m -tags failpoints -run Failpoint ./internal/partition ./internal/storage ./internal/raft ./internal/txn ./internal/node

# Every liveness scenario (how long acks=all writes and reads stop when a
# broker leaves: SIGTERM, SIGKILL, rolling restart, two of three down), with
# idempotent and non-idempotent producers; `make test` runs a subset.
liveness:
	STRATATEST_LIVENESS_FULL=1 $(GO) test -count=1 -run 'Liveness' -v -timeout 30m ./internal/node

# The fault suite (test/robustness): every scenario with 5 seeds under load,
# nodes as processes in network namespaces (needs root; see its package
# doc). `make test` runs each scenario once with a shorter load. One seed:
# STRATATEST_CHAOS_SEED=N go test -tags robustness -count=1 -run 'TestChaos/NAME/' ./test/robustness
chaos:
	STRATATEST_CHAOS_SEEDS=5 $(GO) test -tags robustness -count=1 -timeout 120m -v ./test/robustness

# Go benchmarks of the log, the record codec and the request path (produce
# and fetch end to end in process); each reports MB/s and records/s.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/storage ./internal/record ./internal/kafkaapi ./internal/node

# Every fuzz target (found by scripts/fuzz.sh with go test -list) for 30s;
# corpora live in the packages' testdata/fuzz.
fuzz:
	GO=$(GO) scripts/fuzz.sh 30s

# Every fuzz target for a few seconds: what .ci/run runs after the tests.
fuzz-ci:
	GO=$(GO) scripts/fuzz.sh 3s
