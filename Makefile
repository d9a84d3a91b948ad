# Eddy's two commands: `make run` (install, build, start standalone) and `make test`
# (install, start Postgres, run every test). See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Where cargo builds. `make build`/`make run` use cargo's default (./target) unless
# CARGO_TARGET_DIR is set; `make test` (and so CI) defaults to a cache outside the
# clone so later runs are incremental.
TEST_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(HOME)/.cache/eddy-target)
BUILD_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

HTTP ?= 127.0.0.1:8081
DATA_DIR ?= ./eddy-data

.PHONY: run build test deps web-ui postgres fmt bench bench-runtime bench-checkpoints

## Install what is missing (apt packages, wasm target, pinned wasm-bindgen-cli).
deps:
	./scripts/install-deps.sh

## Build the dashboard (wasm) into web-ui/dist.
web-ui: deps
	CARGO_TARGET_DIR="$(BUILD_TARGET_DIR)" ./scripts/build-web-ui.sh

## Build the release binary with the dashboard embedded: $(BUILD_TARGET_DIR)/release/eddy.
build: web-ui
	CARGO_TARGET_DIR="$(BUILD_TARGET_DIR)" cargo build --release --bin eddy
	@echo "built $(BUILD_TARGET_DIR)/release/eddy"

## Start `eddy standalone` on http://$(HTTP) with SQLite under $(DATA_DIR) and the example job.
run: build
	"$(BUILD_TARGET_DIR)/release/eddy" standalone --http "$(HTTP)" --data-dir "$(DATA_DIR)" --example-job

## Start the local Postgres the tests use (if down).
postgres: deps
	./scripts/postgres-up.sh >/dev/null

## Run every test: unit, store (SQLite + Postgres), real processes, real Chromium.
test: deps postgres
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" ./scripts/build-web-ui.sh
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" cargo build --workspace
	EDDY_TEST_POSTGRES_URL="$$(./scripts/postgres-up.sh)" CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" \
		cargo test --workspace --no-fail-fast
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" cargo test --manifest-path web-ui/Cargo.toml

## Eddy against Apache Flink (issue 9) on the same SQL and input: throughput and peak
## RSS (blackhole sink), outputs compared (csv sink), latency, standalone vs 2 workers.
## BENCH_EVENTS=N changes the input size; BENCH_ARGS passes more flags to bench.py.
BENCH_EVENTS ?= 2000000
FLINK_BENCH_DIR ?= $(abspath $(CURDIR)/../shared/bench)
bench: deps
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" ./scripts/build-web-ui.sh
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" cargo build --release --bin eddy
	"$(FLINK_BENCH_DIR)/setup_flink.sh"
	FLINK_BENCH_DIR="$(FLINK_BENCH_DIR)" python3 scripts/bench/bench.py \
		--eddy "$(TEST_TARGET_DIR)/release/eddy" --events $(BENCH_EVENTS) --cluster --latency $(BENCH_ARGS)

## The runtime benchmark (issue 4): events/s of passthrough, filter, keyed tumbling count.
bench-runtime: deps
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" cargo bench --bench runtime

## Checkpoint cost and recovery time on a real cluster (issue 7), release binary.
bench-checkpoints: deps postgres
	CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" cargo build --release --bin eddy
	EDDY_BIN="$(TEST_TARGET_DIR)/release/eddy" EDDY_TEST_POSTGRES_URL="$$(./scripts/postgres-up.sh)" \
		CARGO_TARGET_DIR="$(TEST_TARGET_DIR)" cargo bench --workspace --profile dev --bench checkpoints

fmt:
	cargo fmt --all
	cd web-ui && cargo fmt
