# The stand-ins' interpreter folders, sourced by setup.sh and
# musllinux/setup.sh.
wheelhouse=(--no-index --find-links /opt/wheelhouse)
triplet=$(gcc -dumpmachine)

# A manylinux-style folder: a virtual environment of the interpreter, the
# build tools in it, and include/<name>/ holding a self-contained copy of
# its headers (Debian splits pyconfig.h by architecture).
# A native uv (in /tmp/native) makes the environments and installs into
# them: under emulation pip, ensurepip and their imports would each run
# emulated, and natively pip takes ten times uv's time.
uv=/tmp/native/uv
export UV_CACHE_DIR=/tmp/uv-cache UV_LINK_MODE=copy UV_NO_CONFIG=1
venv() { # python dir requirements
    if [ -x "$uv" ]; then
        "$uv" venv --quiet --python "$1" "$2"
        "$uv" pip install --quiet --python "$2/bin/python" "${wheelhouse[@]}" -r "$3"
    else
        "$1" -m venv "$2"
        "$2/bin/pip" install "${wheelhouse[@]}" -r "$3"
    fi
}

# The environment lives in /opt/_internal and /opt/python holds a link to
# it, as in manylinux's images: listing /opt/python (copied out of a created
# container) then reads links, not every environment.
layout() {
    local python=$1 dir=/opt/_internal/$2
    venv "$python" "$dir" /opt/wheelhouse/build.txt
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
    ln -s "$dir" "/opt/python/$2"
}

