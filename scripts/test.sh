#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets the host up (packages,
# binfmt, dockerd), builds the stand-in images, starts the other engines the
# tests use (scripts/test-engines.sh), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

scripts/setup-host.sh

say "stand-in images"
cargo build --quiet -p xtask
cargo xtask standin --arch x86_64
cargo xtask standin --arch arm64
cargo xtask standin --qemu-register

say "the other engines: a second dockerd over ssh, podman (root and rootless)"
scripts/test-engines.sh

say "a YAML parser for the workflow test"
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml

say "format and lints"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings

say "tests"
cargo test --workspace
