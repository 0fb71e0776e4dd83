#!/bin/bash
# Builds a CPython that Debian does not ship from Debian's source tarball of
# one it does, at image build time: the x86_64 stand-in's free-threaded one
# and the musllinux stand-in's musl one.
# Usage: cpython.sh PREFIX [configure options...]   (CC as configure takes it)
# As manylinux builds its CPythons: the interpreter itself without debug
# information (CFLAGS_NODIST, which extensions built later do not inherit:
# the free-threaded build took 95 s here instead of 111 s) and no static
# libpython (two copies of 79 MB): 65 MB installed instead of 253 MB. The
# interpreter is compiled with -O1 (also CFLAGS_NODIST, after configure's
# -O2, so it wins): it builds and tests wheels, where its own speed hardly
# shows, and is made on every fresh machine.
set -euo pipefail
prefix=$1
shift
src=$(mktemp -d)
tar -xf /tmp/sources/python3.*.orig.tar.xz -C "$src" --strip-components=1
cd "$src"
# Without its test modules, and not optimised by profile: the stand-ins'
# interpreters build wheels and run tests, and are made on every fresh machine.
log() { echo "cpython.sh: $*" >&2; }
run() { # log-name command...
    local name=$1
    shift
    if ! "$@" >"/tmp/cpython-$name.log" 2>&1; then
        log "$name failed: the end of its log"
        tail -40 "/tmp/cpython-$name.log" >&2
        exit 1
    fi
}
# Nor with the modules no wheel build reaches for, whose C is a quarter of
# make's time: the CJK codecs, _decimal (decimal falls back to _pydecimal),
# _elementtree (ElementTree's Python code stays) and the subinterpreter ones.
skip=()
for module in _codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw \
    _multibytecodec _decimal _elementtree _interpreters _interpchannels _interpqueues; do
    skip+=("py_cv_module_$module=n/a")
done
log "configure --prefix=$prefix $*"
run configure ./configure CFLAGS_NODIST="-g0 -O1" --prefix="$prefix" --with-ensurepip=no --disable-test-modules "${skip[@]}" "$@"
log "make -j$(nproc)"
run make make -j"$(nproc)"
run install make install
find "$prefix" -name 'libpython*.a' -delete
cd /
rm -rf "$src" /tmp/cpython-*.log
