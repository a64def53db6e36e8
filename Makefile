# Outpost: `make run` serves the app, `make test` runs every check. Both install what is
# missing first (tools/setup.sh; pinned versions, a no-op when all is present).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CHROMEDRIVER := /usr/bin/chromedriver

WASM := --target wasm32-unknown-unknown

.PHONY: setup app server run run-cluster test lint test-native test-wasm test-e2e test-model test-model-faults chaos bench

setup:
	@tools/setup.sh

## The browser app, release build with the size profile, into dist/. The standard library is
## rebuilt with it, with `panic = "immediate-abort"`: a panic traps at once, with no message
## and none of the formatting a message needs (10.9 KB less brotli in the first load). These
## are unstable cargo and rustc features, enabled on the stable toolchain for this one
## build (RUSTC_BOOTSTRAP). `make app APP_BUILD_ENV=` (or `trunk build --release`) builds the
## app with panic messages, to find where one is; switching between the two rebuilds every
## crate of the app (the flags differ), about 2 minutes. With RUSTC_BOOTSTRAP, proc-macro2
## turns on its nightly span support: `view!` text must stay quoted, as it is, to read the same.
APP_BUILD_ENV ?= RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
  CARGO_UNSTABLE_PANIC_IMMEDIATE_ABORT=true CARGO_PROFILE_WASM_RELEASE_PANIC=immediate-abort
app: setup
	$(APP_BUILD_ENV) trunk build --release

## The server, release profile.
server:
	cargo build --release -p outpost-server

## Serve the app and the API on http://127.0.0.1:8080 (OUTPOST_ADDR/DB/DIST override).
run: app server
	exec target/release/outpost-server

## Every check, in order; the first failure stops it.
test: setup lint test-native test-wasm test-e2e

lint:
	cargo fmt --all -- --check
	cargo clippy -p outpost-core -p outpost-server -p outpost-bench --all-targets -- -D warnings
	cargo clippy -p outpost $(WASM) --all-targets --features testing -- -D warnings

## Native tests, the server's suite twice: on SQLite, then on PostgreSQL (a throwaway cluster
## for the whole run, one database per test; instances.rs runs on it in both passes).
test-native:
	tools/with-postgres.sh sh -c 'cargo test -p outpost-core -p outpost-server -p outpost-bench \
	  && OUTPOST_TEST_STORE=postgres cargo test -p outpost-server'

## Browser tests (wasm-bindgen-test) in headless Chromium against a real server.
test-wasm:
	cargo build -p outpost-server
	tools/with-server.sh cargo test -p outpost $(WASM) --features testing

## End-to-end tests; each test file starts its own server on a free port. Chromium first: Node
## finds every tests/e2e/*.test.mjs, chaos.test.mjs included (2 seeds by default). Then the
## portable files on Firefox ESR and on WebKitGTK (under xvfb-run); see README "Engines".
E2E_PORTABLE = shell.test.mjs sync.test.mjs pwa.test.mjs data_safety.test.mjs photos.test.mjs
test-e2e: app
	cargo build -p outpost-server
	cd tests/e2e && npm test
	cd tests/e2e && OUTPOST_E2E_ENGINE=firefox npm test -- $(E2E_PORTABLE)
	cd tests/e2e && OUTPOST_E2E_ENGINE=webkit xvfb-run -a npm test -- $(E2E_PORTABLE)

## The real-browser chaos test at length: 20 seeds (`make test` runs it with 2). A failure
## prints its seed; `OUTPOST_CHAOS_SEEDS=<seed> make chaos` replays it (with
## `APP_BUILD_ENV=` a panic's message and place are in the page's console).
OUTPOST_CHAOS_COUNT ?= 20
chaos: app
	cargo build -p outpost-server
	cd tests/e2e && OUTPOST_CHAOS_COUNT=$(OUTPOST_CHAOS_COUNT) node --test --test-reporter=spec chaos.test.mjs

## The sync core's randomized model test at full length (100,000 schedules).
test-model:
	OUTPOST_SCHEDULES=100000 cargo test --release -p outpost-core --test model -- --nocapture

## Each known defect of the core switched back on, one at a time: the model must find every
## one within its default schedule count (prints the schedules each took).
test-model-faults:
	cargo test --release -p outpost-core --test model_faults -- --nocapture

## Two instances on a throwaway PostgreSQL behind nginx, on http://127.0.0.1:8080
## (OUTPOST_CLUSTER_ADDR overrides); Ctrl-C stops all of it and the database goes with it.
run-cluster: setup app
	cargo build --release -p outpost-server
	tools/with-postgres.sh tools/run-cluster.sh

## Benchmarks (not part of `make test`): release builds, then P1-P9 of docs/BENCHMARKS.md.
## Prints `name value unit` lines and a table; writes target/bench/results.json.
bench: setup app
	cargo build --release -p outpost-server -p outpost-bench
	OUTPOST_PG_FSYNC=on tools/with-postgres.sh tools/bench/run.sh
