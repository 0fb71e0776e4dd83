#!/bin/bash
# usage: python.sh DIR, run in an x86_64 image by bash on its stdin
# Lays out the image's interpreter /opt/python/DIR as a native CPython for
# emulated containers, in /opt/xtask-python/DIR, and writes it on stdout as a
# tar of xtask-python/DIR (unpacked in /opt of the container): the
# interpreter, its standard library (no tests, no GUI), every shared library
# it and its extension modules load with the dynamic loader itself (in
# .lib/, the programs pointed at that loader and all of them at .lib), and
# the build frontend (build, pyproject_hooks, packaging) in frontend/. The
# kernel runs it without the emulator inside a container of any arch.
set -euo pipefail
exec 3>&1 1>&2
dir=$1
python=/opt/python/$dir/bin/python
[ -x "$python" ] || { echo "no interpreter at $python" >&2; exit 1; }
read -r real stdlib platstdlib purelib < <("$python" -c 'import os, sys, sysconfig
p = sysconfig.get_paths()
print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)), p["stdlib"], p["platstdlib"], p["purelib"])')
out=/opt/xtask-python/$dir
name=${stdlib##*/}
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib/$name" "$out/.lib" "$out/frontend"
cp -L "$real" "$out/bin/$name"
ln -s "$name" "$out/bin/python"
# Links followed: Debian's sitecustomize.py is one to /etc.
# Left out: the tests, the GUI, the documentation's topics, pip's bundled
# wheel and the static libraries of config-*/ (what building CPython itself
# and embedding it need, not building a wheel), the test modules.
tar -C "$stdlib" -ch --exclude=./test --exclude=./idlelib --exclude=./tkinter \
    --exclude=./turtledemo --exclude=./site-packages --exclude=./dist-packages \
    --exclude=./pydoc_data --exclude=./ensurepip --exclude='./config-*' \
    --exclude='./lib-dynload/_test*' --exclude='./lib-dynload/xxlimited*' \
    --exclude=__pycache__ . | tar -C "$out/lib/$name" -x
if [ "$platstdlib" != "$stdlib" ] && [ -d "$platstdlib/lib-dynload" ]; then
    cp -rL "$platstdlib/lib-dynload" "$out/lib/$name/"
fi
for package in build pyproject_hooks packaging; do
    [ -d "$purelib/$package" ] || { echo "$python has no '$package' module, which the build frontend needs" >&2; exit 1; }
    cp -rL "$purelib/$package" "$purelib/$package"-*.dist-info "$out/frontend/"
done
find "$out" -name __pycache__ -prune -exec rm -rf {} +
elves=("$out/bin/$name")
while IFS= read -r -d '' so; do elves+=("$so"); done < <(find "$out/lib" -name '*.so' -print0)
loader=$(patchelf --print-interpreter "$out/bin/$name")
for elf in "${elves[@]}"; do
    ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
    cp -L "$lib" "$out/.lib/"
done
cp -L "$loader" "$out/.lib/"
# The runtime the build tools of PyPI's manylinux wheels load (cmake and
# ninja are C++ programs): with this loader at its usual path and this
# folder on LD_LIBRARY_PATH (build-wheel.sh), the cross environment runs
# them natively too.
for lib in libstdc++.so.6 libgcc_s.so.1 libdl.so.2 librt.so.1 libpthread.so.0 libutil.so.1 libresolv.so.2; do
    [ -e "$out/.lib/$lib" ] && continue
    path=$(ldconfig -p | awk -v name="$lib" '$1 == name && /x86-64|AArch64/ { print $NF; exit }')
    [ -n "$path" ] || { echo "the image has no $lib (ldconfig -p), which PyPI's build tools load" >&2; exit 1; }
    cp -L "$path" "$out/.lib/"
done
patchelf --set-interpreter "$out/.lib/${loader##*/}" "$out/bin/$name"
for elf in "${elves[@]}" "$out"/.lib/*.so*; do
    [ "${elf##*/}" = "${loader##*/}" ] || patchelf --set-rpath "$out/.lib" "$elf"
done
# It runs with nothing of the image's: no loader, no library path.
mkdir -p /tmp/empty
env -i LD_LIBRARY_PATH=/tmp/empty "$out/bin/python" -B -c 'import hashlib, json, sysconfig, venv, zipfile, zlib'
env -i "$out/bin/python" -B -c "import sys; sys.path.insert(0, '$out/frontend'); import build, build.env, pyproject_hooks, packaging.tags"
tar -C /opt -c "xtask-python/$dir" >&3
