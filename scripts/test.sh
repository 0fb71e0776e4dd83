#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets the host up (packages,
# binfmt, dockerd), builds the stand-in images, starts the other engines the
# tests use (scripts/test-engines.sh), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it starts, in seconds since this script did.
say() { printf '\n==> [%d s] %s\n' "$SECONDS" "$*"; }

scripts/setup-host.sh

say "stand-in images (x86_64 and arm64 side by side: arm64 runs its package scripts under emulation) and the native clang"
cargo build --quiet -p xtask
mkdir -p target
(start=$SECONDS; cargo xtask standin --arch arm64 && echo "the arm64 stand-in: $((SECONDS - start)) s") >target/standin-arm64.log 2>&1 &
arm=$!
# Not left building when something else here fails.
trap 'kill "$arm" ${engines:-} 2>/dev/null || true' EXIT
# The other core's share while the arm64 stand-in builds: everything that
# does not need it.
cargo xtask standin --arch x86_64
# The other engines get copies of the x86_64 stand-in: set up beside the
# rest, into a log of their own.
say "the other engines, beside what follows: a second dockerd over ssh, podman (root and rootless)"
scripts/test-engines.sh --no-aarch64 >target/test-engines.log 2>&1 &
engines=$!
cargo xtask standin --qemu-register
# The native compiler of --native-compiler, made as the stand-ins are.
cargo xtask standin --native-clang

say "format and lints, and the tests built"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings
cargo test --workspace --no-run --quiet

say "the other engines"
wait "$engines" || { cat target/test-engines.log >&2; echo "error: setting up the other engines failed (log: target/test-engines.log)" >&2; exit 1; }
cat target/test-engines.log

# After the engines' packages: apt runs one at a time.
say "a YAML parser for the workflow test, tmux for the live display's"
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
command -v tmux >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }

say "the arm64 stand-in"
wait "$arm" || { tail -n 30 target/standin-arm64.log >&2; echo "error: the arm64 stand-in failed (log: target/standin-arm64.log)" >&2; exit 1; }
tail -n 2 target/standin-arm64.log
scripts/test-engines.sh

say "tests"
cargo test --workspace
say "every test passed"
