#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets the host up (packages,
# binfmt, dockerd), builds the stand-in images, starts the other engines the
# tests use (scripts/test-engines.sh), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it starts, in seconds since this script did.
say() { printf '\n==> [%d s] %s\n' "$SECONDS" "$*"; }

scripts/setup-host.sh

say "stand-in images (two at a time: the emulated ones run their package scripts under QEMU) and the native clang"
cargo build --quiet -p xtask
mkdir -p target
# One arch's stand-in, into a log of its own, saying its time.
standin() {
    local start=$SECONDS
    cargo xtask standin --arch "$1" >"target/standin-$1.log" 2>&1 || return 1
    echo "the $1 stand-in: $((SECONDS - start)) s" >>"target/standin-$1.log"
}
# The other core's share: four emulated stand-ins, one after another (this
# side builds the x86_64 ones, with their CPythons, then ppc64le and i686):
# the emulated side still ends last, by about a minute in a fresh run
# (each step's time is in its log).
# The aarch64 one first: the second daemon gets a copy of it beside the rest
# (target/standin-aarch64.done says it is there).
rm -f target/standin-aarch64.done
(standin aarch64 && touch target/standin-aarch64.done && standin s390x && standin armv7l && standin riscv64) >target/standins.log 2>&1 &
emulated=$!
# Not left building when something else here fails.
trap 'kill "$emulated" ${engines:-} 2>/dev/null || true' EXIT
start=$SECONDS
cargo xtask standin --arch x86_64
echo "the x86_64 stand-in: $((SECONDS - start)) s"
# The other engines get copies of the x86_64 stand-in: set up beside the
# rest, into a log of their own.
say "the other engines, beside what follows: a second dockerd over ssh, podman (root and rootless), then the aarch64 stand-in on the second dockerd and a third dockerd"
# Then the aarch64 stand-in onto the second daemon, once it is built, and
# the third daemon with the stand-ins built by then (its stream copies the
# rest when it starts).
aarch64_built() {
    until [ -e target/standin-aarch64.done ]; do
        kill -0 "$emulated" 2>/dev/null || { echo "error: the aarch64 stand-in was not built (log: target/standin-aarch64.log)" >&2; return 1; }
        sleep 2
    done
}
(scripts/test-engines.sh --no-aarch64 && aarch64_built && scripts/test-engines.sh --aarch64-only && scripts/test-engines.sh --third) >target/test-engines.log 2>&1 &
engines=$!
cargo xtask standin --qemu-register
# The native compiler of --native-compiler, made as the stand-ins are.
cargo xtask standin --native-clang
# The musllinux stand-in: a musl CPython built on the x86_64 one.
start=$SECONDS
cargo xtask standin --arch x86_64 --musllinux >target/standin-musllinux.log 2>&1 || { tail -n 30 target/standin-musllinux.log >&2; echo "error: the musllinux stand-in failed (log: target/standin-musllinux.log)" >&2; exit 1; }
echo "the musllinux stand-in: $((SECONDS - start)) s"
for arch in ppc64le i686; do
    standin "$arch" || { tail -n 30 "target/standin-$arch.log" >&2; echo "error: the $arch stand-in failed (log: target/standin-$arch.log)" >&2; exit 1; }
    tail -n 1 "target/standin-$arch.log"
done

say "format and lints, and the tests built"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings
cargo test --workspace --no-run --quiet

say "the other engines"
wait "$engines" || { cat target/test-engines.log >&2; echo "error: setting up the other engines failed (log: target/test-engines.log)" >&2; exit 1; }
cat target/test-engines.log

# After the engines' packages: apt runs one at a time.
say "a YAML parser, zizmor and check-jsonschema for the workflow tests, tmux for the live display's"
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
# The GitHub Actions security audit and the workflow schemas, from PyPI.
# Pinned: a new release may audit more, and the tests' verdicts should move only with this line.
zizmor --version 2>/dev/null | grep -qx 'zizmor 1.33.1' || python3 -m pip install --quiet 'zizmor==1.33.1'
check-jsonschema --version 2>/dev/null | grep -q ' 0.39.0$' || python3 -m pip install --quiet 'check-jsonschema==0.39.0'

command -v tmux >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }

say "the aarch64, s390x, armv7l and riscv64 stand-ins"
wait "$emulated" || {
    for arch in aarch64 s390x armv7l riscv64; do tail -n 30 "target/standin-$arch.log" >&2; done
    echo "error: a stand-in failed (logs: target/standin-ARCH.log)" >&2
    exit 1
}
for arch in aarch64 s390x armv7l riscv64; do tail -n 1 "target/standin-$arch.log"; done

# Two streams of test binaries at once, each on a daemon of its own (a
# test's "nothing of ours is left" sees only its engine), one test at a time
# in each: most tests build one wheel, on one core. The third daemon's
# stream starts once its stand-ins are copied. The main daemon's stream
# takes the second daemon's tests (trust's and engines', which stops that
# daemon) and the one that stops the main daemon (faults); every other test
# binary, and any new one, runs there too unless listed here.
third=(e2e arches libcs)
say "tests, in two streams: ${third[*]} on a third dockerd, the rest here (logs: target/tests-*.log)"
main_args=(--bins)
third_args=()
for file in xtask/tests/*.rs; do
    name=$(basename "$file" .rs)
    if [[ " ${third[*]} " == *" $name "* ]]; then
        third_args+=(--test "$name")
    else
        main_args+=(--test "$name")
    fi
done
# One line when a stream ends, then its log.
stream() { # name command...
    local name=$1 start=$SECONDS status=0
    shift
    "$@" >"target/tests-$name.log" 2>&1 || status=$?
    echo "==> [$SECONDS s] the $name stream's tests ended after $((SECONDS - start)) s (exit $status)"
    return "$status"
}
rm -f target/test-waits.log target/test-times.log
stream main cargo test --workspace --no-fail-fast "${main_args[@]}" &
main=$!
stream third sh -c 'scripts/test-engines.sh --third && DOCKER_CONTEXT=xtask-third exec cargo test --workspace --no-fail-fast "$@"' third "${third_args[@]}" &
third_stream=$!
trap 'kill "$main" "$third_stream" ${emulated:-} ${engines:-} 2>/dev/null || true' EXIT
failed=0
wait "$main" || failed=1
wait "$third_stream" || failed=1
cat target/tests-main.log target/tests-third.log
# What the streams waited for each other (xtask/tests/support/mod.rs).
[ ! -s target/test-waits.log ] || { say "waits for the binfmt table"; cat target/test-waits.log; }
# The tests that hold their stream longest (xtask/tests/support/mod.rs).
[ ! -s target/test-times.log ] || { say "the 15 longest tests"; sort -rn target/test-times.log | sed -n 1,15p; }
[ "$failed" = 0 ] || { echo "error: a test failed (above; logs: target/tests-main.log, target/tests-third.log)" >&2; exit 1; }
say "every test passed"
