#!/usr/bin/env bash
# Installs what building and testing Outpost needs, each at a pinned version, and skips every
# step that is already satisfied (a second run takes a second or two). Only package registries
# are used: crates.io (cargo install), Debian (apt-get) and npm, besides rustup for the
# toolchain's own target and components.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# The CLI must equal the wasm-bindgen crate in Cargo.lock exactly, or the glue breaks.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

say() { printf 'setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
# rust-src: the release app rebuilds the standard library for its size profile (`make app`).
for component in rustfmt clippy rust-src; do
  if ! rustup component list --installed | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

# The standard library's own dependencies, for that rebuild: Trunk runs cargo offline.
std_manifest="$(rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.toml"
if ! RUSTC_BOOTSTRAP=1 cargo fetch --offline --locked --manifest-path "$std_manifest" >/dev/null 2>&1; then
  say "fetching the standard library's dependencies"
  RUSTC_BOOTSTRAP=1 cargo fetch --locked --manifest-path "$std_manifest"
fi

if [ "$(trunk --version 2>/dev/null || true)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (about 10 minutes on 2 cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if [ -z "$WASM_BINDGEN_VERSION" ]; then
  say "no wasm-bindgen in Cargo.lock"; exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ] \
  || ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: that version's lockfile names a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
actual=$(wasm-bindgen --version)
if [ "$actual" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "wasm-bindgen CLI is '$actual' but Cargo.lock has $WASM_BINDGEN_VERSION"; exit 1
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  say "installing Debian chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The other two engines of the end-to-end suite: Firefox ESR (driven over WebDriver BiDi by npm
# puppeteer-core) and WebKitGTK's WebKitWebDriver with its MiniBrowser (npm selenium-webdriver),
# which needs a display: xvfb-run.
engines=()
[ -x /usr/bin/firefox-esr ] || engines+=(firefox-esr)
{ [ -x /usr/bin/WebKitWebDriver ] && [ -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ]; } ||
  engines+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || engines+=(xvfb)
if [ ${#engines[@]} -gt 0 ]; then
  say "installing Debian ${engines[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${engines[@]}" >/dev/null
fi

# PostgreSQL's server programs for the tests' throwaway clusters (tools/with-postgres.sh) and
# nginx for `make run-cluster`; the packages' own clusters and services are not used.
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm projects: wasm-opt (binaryen) for the build; Playwright, axe, puppeteer-core and
# selenium-webdriver for the tests (PUPPETEER_SKIP_DOWNLOAD: puppeteer-core downloads no
# browser, and none is wanted). `npm ci`
# only when the lockfile changed since the last install.
for dir in tools tests/e2e; do
  stamp="$dir/node_modules/.outpost-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    say "npm ci in $dir"
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
done

say "ready (trunk $TRUNK_VERSION, wasm-bindgen $WASM_BINDGEN_VERSION, $(tools/node_modules/.bin/wasm-opt --version), $(/usr/bin/chromium --version 2>/dev/null))"
