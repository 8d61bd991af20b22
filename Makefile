GO ?= go

.PHONY: build test test-short bench fuzz vet

build:
	$(GO) build -o strata ./cmd/strata

# The full suite: unit, integration (in-process and child-process brokers),
# crash and compatibility tests.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

test-short:
	$(GO) test -count=1 -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/storage ./internal/record ./internal/node

# Each fuzz target for 30s; corpora live in the packages' testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 30s ./internal/protocol
	$(GO) test -run '^$$' -fuzz FuzzValidateBatch -fuzztime 30s ./internal/record
	$(GO) test -run '^$$' -fuzz FuzzDecompress -fuzztime 30s ./internal/record
