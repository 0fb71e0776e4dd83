#!/bin/bash
# The baseline of `cargo xtask bench`: what the replaced scripts did inside each
# container, one container per interpreter: build in the bind-mounted package
# folder, repair, delete the unrepaired wheels, chown the folder back.
# usage: baseline-build.sh INTERPRETER PLAT PACKAGE UID GID
set -euo pipefail
interp=$1 plat=$2 package=$3 uid=$4 gid=$5
cd "/tmp/pkg/$package"
trap 'chown -R "$uid:$gid" /tmp/pkg' EXIT
"/opt/python/$interp/bin/python" -m build -w -o dist/
for wheel in dist/*-linux_*.whl; do
    auditwheel repair "$wheel" --plat "$plat" -w dist/
done
rm -f dist/*-linux_*.whl
