# ringex build targets. `make test` is what CI runs.
GO          ?= go
PKGS        ?= ./...
STATICCHECK_VERSION := v0.6.1
FLATC       ?= flatc

.PHONY: build test cross bench fuzz lint generate idle-cpu cluster cluster-bench sustained-bench snapshot-bench latency-bench chaos

# -buildvcs=auto: `ringex version` names the commit it was built from even
# where GOFLAGS says -buildvcs=false (this dev machine and CI do), and a
# tree outside git still builds.
build:
	$(GO) build -buildvcs=auto -o bin/ringex ./cmd/ringex

# Race builds keep rings on the Go heap and make every publish a
# sequentially consistent store; the last line runs the disruptor the way
# production builds it (off-heap rings, release-store publishes, ~2 s).
# The slowest package, node, takes 3.5–8 minutes under -race on the 2-core
# dev VM (195–294 s on 12-05; 453 s in a `make test` beside seven other
# jobs and 477 s alone beside them on 12-07 — 3 s short of the 8-minute
# timeout it had; one clean-clone run beside eight failed by it): a hang
# fails with every goroutine's stack after 12, past go test's default 10. cross first: 9–11 s with a warm build
# cache (12-07; minutes with an empty one: see cross).
test: cross
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m $(PKGS)
	$(GO) test -count=1 -timeout 4m ./disruptor

# Vets (tests included) for the systems developers and client
# users work on, which the node is not deployed on: GOOS-specific code
# (vfs, the node's lock, the terminal check) needs a file for each, and
# only building there shows one missing. vet compiles every package and
# its tests for the system (a build would add only the links of the
# commands): with an empty build cache (a fresh CI machine) each system
# took 2m05 on the loaded dev VM (12-07, load 13), the standard library
# built for it. The node refuses to start on
# Windows and warns on macOS and FreeBSD (vfs.Unsafe, vfs.Weaker).
CROSS ?= darwin/arm64 freebsd/amd64 windows/amd64
cross:
	@set -e; for t in $(CROSS); do \
		echo "== $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet $(PKGS); \
	done

# Benchmarks are never part of `make test`; figures are recorded in README.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Every fuzz target (each decoder of outside bytes and on-disk format has
# one), FUZZTIME each, one after another; found by name, so a new target
# is included without editing this. A failure stops with the input saved
# under the package's testdata/fuzz. Minimizing a newly interesting input
# is bounded by FUZZMINIMIZE: go test's default (60 s) let the targets
# that fsync per input (FuzzStableStore: ~500 inputs/s) spend a whole
# 45 s run minimizing one input — 965 inputs tried instead of 55 155 —
# and then fail with "context deadline exceeded" when the run's deadline
# came in the middle of it (a Go 1.26 fuzzing race, go.dev/issue/75804).
FUZZTIME ?= 60s
FUZZMINIMIZE ?= 5s
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE); \
		done; \
	done

# Regenerates proto/wire from proto/ringex.fbs. Generated with flatc 2.0.8
# (Debian package flatbuffers-compiler); the Go runtime is pinned to
# github.com/google/flatbuffers v2.0.8+incompatible to match.
generate:
	FLATC=$(FLATC) sh proto/generate.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# CPU used by an idle, started pipeline (target < 5% of one core).
idle-cpu:
	RINGEX_IDLE_CPU=1 $(GO) test -run 'TestIdle' -count=1 -v ./disruptor ./node

# Three nodes on loopback (prints their addresses; Ctrl-C stops them).
cluster: build
	sh deploy/cluster.sh bin/ringex data/cluster

# Randomized faults on a three-node cluster under load (kill -9, leader
# isolation, majority loss, clean restarts), checking after each step that
# no acknowledged order is lost or duplicated, no report returned twice,
# and the members converge. CHAOS_SEED replays a run (its log prints the
# seed). Not in `make test`: it runs for CHAOS_FOR.
CHAOS_FOR ?= 90s
CHAOS_SEED ?= 0
chaos:
	$(GO) test -count=1 -timeout 30m -run 'TestChaos$$' -v ./test/cluster/ -args -chaos.duration=$(CHAOS_FOR) -chaos.seed=$(CHAOS_SEED)

# Cluster against single-node throughput and CPU per order (about 2 minutes).
cluster-bench: build
	sh deploy/cluster-bench.sh bin/ringex data/cluster-bench

# One node with 1 M resting orders, two snapshots during a 10 s run at
# --rate 100000: how long trading waits for a snapshot (about a minute).
snapshot-bench: build
	sh deploy/snapshot-bench.sh bin/ringex data/snapshot-bench

# The operations issue's targets: a fresh default node per run, three
# runs at --rate 100000 and one at --rate 0 (about a minute and a half).
latency-bench: build
	sh deploy/latency-bench.sh bin/ringex data/latency-bench

# One node under four back-to-back 10 s runs at --rate 0 (about a minute).
sustained-bench: build
	sh deploy/sustained-bench.sh bin/ringex data/sustained-bench
