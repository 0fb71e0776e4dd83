#!/bin/bash
# Runs once while the musllinux stand-in is built on the x86_64 stand-in:
# musl set up as Alpine has it, zlib, libbz2 and CPython built against it,
# /opt/python holding only musl interpreters, and auditwheel run by one.
set -euxo pipefail
source /tmp/layout.sh
musl=/usr/lib/x86_64-linux-musl

# Alpine's libc names itself libc.musl-x86_64.so.1, and so do the wheels
# built there: auditwheel takes that name (and /lib/libc.musl-*.so.1) for
# musl. Debian's names itself nothing, so links record libc.so, which
# auditwheel would graft. The loader runs an untouched copy; links read one
# that names itself as Alpine's does (musl's loader takes any libc.* as itself).
cp "$musl/libc.so" "$musl/ld-musl-x86_64.so.1"
ln -sf "$musl/ld-musl-x86_64.so.1" /lib/ld-musl-x86_64.so.1
ln -sf "$musl/ld-musl-x86_64.so.1" /lib/libc.musl-x86_64.so.1
patchelf --set-soname libc.musl-x86_64.so.1 "$musl/libc.so"
# musl's loader searches only these folders: never glibc's.
echo "$musl" >/etc/ld-musl-x86_64.path

# The compiler the interpreter records, so that extensions built later are
# musl ones too; it names musl's multiarch, as configure asks.
cat >/usr/local/bin/x86_64-linux-musl-gcc <<'CC'
#!/bin/sh
[ "$*" = --print-multiarch ] && { echo x86_64-linux-musl; exit 0; }
exec musl-gcc "$@"
CC
chmod +x /usr/local/bin/x86_64-linux-musl-gcc
export CC=x86_64-linux-musl-gcc PKG_CONFIG_LIBDIR=$musl/pkgconfig PKG_CONFIG_PATH=

build=$(mktemp -d)
tar -xf /tmp/sources/zlib_*.orig.tar.gz -C "$build"
(cd "$build"/zlib-* && ./configure --prefix=/usr --libdir="$musl" --includedir=/usr/include/x86_64-linux-musl >/dev/null && make -j"$(nproc)" >/dev/null && make install >/dev/null)
tar -xf /tmp/sources/bzip2_*.orig.tar.gz -C "$build"
(cd "$build"/bzip2-* && make -f Makefile-libbz2_so CC="$CC" >/dev/null \
    && cp -a libbz2.so.1.0.8 "$musl/" && ln -sf libbz2.so.1.0.8 "$musl/libbz2.so.1.0" \
    && ln -sf libbz2.so.1.0.8 "$musl/libbz2.so" && cp bzlib.h /usr/include/x86_64-linux-musl/)
rm -rf "$build"

version=$(basename /tmp/sources/python3.*.orig.tar.xz)
version=${version#python}
version=${version%%_*}
# Not optimised by profile: PGO's two builds and training cost a fresh
# machine about two minutes of both cores, for a wheel build's Python a
# fifth faster in the few musllinux tests.
bash /tmp/cpython.sh "/opt/_internal/cpython-$version-musl"
python=/opt/_internal/cpython-$version-musl/bin/python$version

# Only musl interpreters: the glibc ones of the base image go.
# The glibc interpreters' environments (where /opt/python links to) go too.
for link in /opt/python/*; do rm -rf "$(readlink -f "$link")"; done
rm -rf /opt/python /opt/_internal/tools
mkdir -p /opt/python
layout "$python" "cp3${version#3.}-cp3${version#3.}"
venv "$python" /opt/_internal/tools /opt/wheelhouse/tools.txt
install -m 755 /tmp/apk /sbin/apk
# Alpine's tools: busybox's applets, first on PATH (the Dockerfile), so that
# what runs in the musllinux images' shell runs here too. bash stays, as in
# the musllinux images; the compiler, Python and patchelf are not applets.
mkdir -p /opt/busybox/bin
busybox --install -s /opt/busybox/bin
