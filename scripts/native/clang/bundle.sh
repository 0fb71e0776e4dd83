#!/bin/bash
# Lays out /opt/clang from Debian's clang and lld: the two programs, the
# clang resource folder (its own headers), every shared library they load
# and the dynamic loader itself, with the programs pointed at that loader
# and all of them at their own folder of libraries. It then runs in any
# container of any arch on an x86_64 machine (the kernel runs it natively),
# and takes headers, crt files and libraries of the target from the image's
# own gcc (the clang.cfg written at build time).
set -euxo pipefail
llvm=$(ls -d /usr/lib/llvm-[0-9]* | sort -V | tail -1)
out=/opt/clang
mkdir -p "$out/bin" "$out/lib"
cp -L "$llvm/bin/clang" "$out/bin/clang"
ln -s clang "$out/bin/clang++"
cp -L "$llvm/bin/lld" "$out/bin/lld"
# ld.lld, which clang runs for -fuse-ld=lld, is a small program of ours
# that runs lld (ld-lld.c).
"$llvm/bin/clang" -O2 -Wall -Werror -o "$out/bin/ld.lld" /tmp/ld-lld.c
cp -rL "$llvm/lib/clang" "$out/lib/clang"
loader=$(patchelf --print-interpreter "$out/bin/clang")
for program in "$out/bin/clang" "$out/bin/lld" "$out/bin/ld.lld"; do
    ldd "$program" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
    cp -L "$lib" "$out/lib/"
done
cp -L "$loader" "$out/lib/"
for program in "$out/bin/clang" "$out/bin/lld" "$out/bin/ld.lld"; do
    patchelf --set-interpreter "$out/lib/${loader##*/}" --set-rpath "$out/lib" "$program"
done
for lib in "$out"/lib/*.so*; do
    [ "${lib##*/}" = "${loader##*/}" ] || patchelf --set-rpath "$out/lib" "$lib"
done
"$out/bin/clang" --version | head -1 | sed 's/.*clang version \([^ ]*\).*/\1/' >"$out/VERSION"
# It runs with nothing of the system's: no loader, no library path.
mkdir /tmp/empty
env -i LD_LIBRARY_PATH=/tmp/empty "$out/bin/clang" --version
env -i LD_LIBRARY_PATH=/tmp/empty "$out/bin/ld.lld" --version
