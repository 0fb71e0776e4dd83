#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets the host up (packages,
# binfmt, dockerd), builds the stand-in images, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

scripts/setup-host.sh

say "stand-in images"
cargo build --quiet -p xtask
cargo xtask standin --arch x86_64
cargo xtask standin --arch arm64
cargo xtask standin --qemu-register

say "format and lints"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings

say "tests"
cargo test --workspace
