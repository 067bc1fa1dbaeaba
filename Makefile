# salon — see README.md. `make run` and `make test` are the two commands a
# new machine needs (with Go installed).

GO      ?= go
BIN     ?= bin/salon
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test vet bench deps clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/salon

# Start salon with embedded defaults on http://localhost:8080 (data in ./data).
# Media gathers loopback candidates too, so two windows on this machine
# connect even without a network.
run: build
	./$(BIN) serve --rtc-loopback $(ARGS)

# Install what the tests need (as root), vet, and run every test with the
# race detector; media tests run in a loopback-only network namespace.
test:
	./scripts/test.sh

deps:
	./scripts/deps.sh

vet:
	$(GO) vet ./...

# Benchmarks; results are written to docs/benchmarks.md.
bench:
	./scripts/bench.sh

clean:
	rm -rf bin
