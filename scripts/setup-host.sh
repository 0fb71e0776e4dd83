#!/usr/bin/env bash
# Makes this machine able to build wheels: installs what is missing (Debian
# packages), makes binfmt_misc and the handlers of the emulated arches available, and starts
# dockerd when no daemon answers. Safe to run again: it skips what is done.
# When Docker cannot be made available, it fails and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

say "host packages"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v tar >/dev/null || missing+=(tar)
# --native-compiler fetches manylinux's static clang (an .xz) with these.
command -v curl >/dev/null || missing+=(curl)
command -v xz >/dev/null || missing+=(xz-utils)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "all present" >&2
fi

say "emulation of the other arches (aarch64, ppc64le, s390x, armv7l, riscv64; i686 runs natively)"
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/register" ] || as_root mount -t binfmt_misc binfmt_misc "$binfmt" \
    || die "binfmt_misc cannot be mounted at $binfmt: emulated builds need it"
for qemu in aarch64 ppc64le s390x arm riscv64; do
    [ -e "$binfmt/qemu-$qemu" ] || as_root update-binfmts --enable "qemu-$qemu" \
        || die "the qemu-$qemu binfmt handler cannot be registered (update-binfmts failed)"
    grep -q '^enabled' "$binfmt/qemu-$qemu" || as_root sh -c "echo 1 > $binfmt/qemu-$qemu"
    echo "qemu-$qemu: $(sed -n '1p;3p' "$binfmt/qemu-$qemu" | tr '\n' ' ')" >&2
done

say "docker daemon"
if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    mkdir -p target
    echo "no daemon answers: starting dockerd (log: target/dockerd.log)" >&2
    as_root sh -c 'nohup dockerd >target/dockerd.log 2>&1 &'
    for _ in $(seq 60); do
        docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
        sleep 1
    done
fi
docker version --format 'server {{.Server.Version}}' >&2 \
    || die "Docker cannot be made available: dockerd did not answer within 60 s (see target/dockerd.log)"

