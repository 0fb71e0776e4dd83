#!/bin/bash
# Builds, repairs and checks one wheel inside a manylinux container.
# usage: build-wheel.sh INTERPRETER PLAT SOURCES PACKAGE ISOLATION
#   INTERPRETER  folder under /opt/python (cp312-cp312, pp310-pypy310_pp73, ...)
#   PLAT         platform tag for auditwheel (manylinux2014_x86_64, ...)
#   SOURCES      folder holding the copied inputs (never the user's tree)
#   PACKAGE      the package folder, relative to SOURCES
#   ISOLATION    1 for an isolated build, 0 for --no-isolation
#   PURE         what a pure-Python wheel gets: fail, accept (ship it
#                unrepaired) or skip (exit 3, nothing in /xtask/out)
# Besides its arguments it reads the XTASK_* variables, each named and
# described once in xtask/src/wheels/contract.rs (a unit test holds this
# script to exactly those names); lists come one item a line. Every argument
# and value is data: nothing here is eval'd but the project's own commands
# and settings (before-all, before-build, the environment's bash words,
# before-test, the test command). CIBUILDWHEEL=1 is set, as cibuildwheel sets
# it: packages make their optional extension mandatory by it. With a test
# command, the wheel is installed into a fresh virtual environment with the
# test requirements, the test sources are copied into an empty folder, and
# the command runs there with bash. The repaired, checked (and tested) wheel
# is left alone in /xtask/out/INTERPRETER; the host copies it out.
set -euo pipefail
# A 32-bit arch on a 64-bit kernel of another (i686 on x86_64) builds under
# its personality, as manylinux's entrypoint runs it, so that `uname -m` and
# what reads it (sysconfig's platform, configure scripts) say the image's
# arch.
if [ -n "${XTASK_PERSONALITY:-}" ] && [ -z "${in_personality:-}" ]; then
    in_personality=1 exec "$XTASK_PERSONALITY" bash "$0" "$@"
fi
interp=$1 plat=$2 sources=$3 package=$4 isolation=$5 pure=$6

python=/opt/python/$interp/bin/python
work=/xtask/work/$interp
out=/xtask/out/$interp
step() { printf '==> %s\n' "$*"; }
# How many processes the kernel has killed for memory in this container
# (cgroup v2, else v1), and the container's limit.
oom_kills() {
    local f
    for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
        [ -r "$f" ] && { awk '$1 == "oom_kill" { print $2; found = 1 } END { if (!found) print 0 }' "$f"; return; }
    done
    echo 0
}
memory_limit() {
    cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo unknown
}
oom_before=$(oom_kills)
# This build's own output, kept beside it: the kernel counts its kills for
# the whole container, where other builds run too; the output tells
# whether one of this build's processes was the one killed.
own=/xtask/output-$interp
: >"$own"
exec > >(tee -a "$own") 2>&1
# On the way out, the last lines (a failure's reason among them) are
# through tee before the script ends, for the host reads them as it ends;
# and the repair, when it is still waiting (a build that fails or is
# skipped), is not waited for.
teeing=$! repairer=
finish() {
    [ -z "$repairer" ] || kill "$repairer" 2>/dev/null || true
    exec >&- 2>&-
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        kill -0 "$teeing" 2>/dev/null || return 0
        sleep 0.1
    done
}
trap finish EXIT
# How a process killed by the kernel shows in the output of what ran it:
# the shell's and make's words, gcc's driver's, and the line
# site/sitecustomize.py adds where Python's subprocess saw it.
KILLED='Killed|was killed \(SIGKILL\)|signal 9|exit status 137|Error 137'
# A failure after the kernel killed a process of this build for memory is
# said as that; one after it killed another build's says so beside its own.
fail() {
    if [ "$(oom_kills)" -gt "$oom_before" ]; then
        sleep 0.2 # tee has the last lines
        if grep -qE "$KILLED" "$own"; then
            printf 'error: out of memory: the kernel killed a process of this build (the container may use %s bytes); raise the limit (--container-arg=--memory=4g) or build less at once (--jobs 1, --build-jobs 1)\n' "$(memory_limit)" >&2
            exit 1
        fi
        printf 'error: %s%s (meanwhile the kernel killed a process of another build of this container for memory)\n' "$*" "${native_hint:-}" >&2
        exit 1
    fi
    printf 'error: %s%s\n' "$*" "${native_hint:-}" >&2
    exit 1
}

[ -x "$python" ] || fail "no interpreter at $python"
export CIBUILDWHEEL=${CIBUILDWHEEL:-1}

# cibuildwheel's environment (and test-environment, $2): lines NAME=word,
# each word evaluated by bash in order (an unset variable is empty, as there).
evaluate_env() {
    local assignment name
    [ -n "$1" ] || return 0
    while IFS= read -r assignment; do
        name=${assignment%%=*}
        set +u
        eval "export $name=${assignment#*=}" || { set -u; fail "$2: \`$assignment\` could not be evaluated"; }
        set -u
    done <<<"$1"
}
evaluate_env "${XTASK_ENVIRONMENT:-}" environment

# Installs site/sitecustomize.py as the sitecustomize of interpreter $1
# (see that file: kept bytecode, kills named, a parallel compile).
# The standard library's folder is found on disk (PREFIX/bin/python3.12
# keeps it in PREFIX/lib/python3.12): a start of the interpreter costs
# about a second under emulation. Renamed into place: a build of another
# interpreter with the same standard library may be starting it.
install_site() {
    local real stdlib
    real=$(readlink -f "$1")
    stdlib=${real%/bin/*}/lib/${real##*/}
    if [ ! -f "$stdlib/os.py" ]; then
        stdlib=$("$1" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
    fi
    grep -qs XTASK_COMPILE_JOBS "$stdlib/sitecustomize.py" && return 0
    if [ -f "$stdlib/sitecustomize.py" ]; then
        mv "$stdlib/sitecustomize.py" "$stdlib/_xtask_original_sitecustomize.py" 2>/dev/null || true
    fi
    { cp /xtask/bin/site/sitecustomize.py "$stdlib/sitecustomize.py.$interp" \
        && mv "$stdlib/sitecustomize.py.$interp" "$stdlib/sitecustomize.py"; } \
        || step "no sitecustomize: $stdlib is not writable (no bytecode kept, no parallel compile)"
}

# The interpreter before-all finds first on PATH, as cibuildwheel puts one
# there: cp39's, which cibuildwheel runs, where the image has it, else the
# oldest CPython with the GIL (the same for every build of the container).
before_all_python() {
    [ -x /opt/python/cp39-cp39/bin/python ] && { echo /opt/python/cp39-cp39/bin; return; }
    local dir
    for dir in /opt/python/cp3*; do
        case ${dir##*/} in *t) continue ;; esac
        [ -x "$dir/bin/python" ] && echo "${dir##*-cp3} $dir/bin"
    done | sort -n | head -n 1 | cut -d' ' -f2
}

# Once per container, before any build: the first build to get here runs
# it, the others wait (mkdir is atomic), and a failure fails each build.
if [ -n "${XTASK_BEFORE_ALL:-}" ]; then
    until mkdir /xtask/before-all.lock 2>/dev/null; do sleep 0.2; done
    if [ ! -e /xtask/before-all.done ]; then
        command=$XTASK_BEFORE_ALL
        bin=$(before_all_python)
        [ -z "$bin" ] || install_site "$bin/python"
        step "before-all: $command${bin:+ (with $bin first on PATH)}"
        if (cd "$sources" && PATH="${bin:+$bin:}$PATH" bash -c "$command"); then
            touch /xtask/before-all.done
        else
            rmdir /xtask/before-all.lock
            fail "the before-all command failed (its output is above)"
        fi
    fi
    rmdir /xtask/before-all.lock
fi
rm -rf "$work" "$out"
mkdir -p "$work/raw" "$work/repaired" "$out"

# Each interpreter builds in its own copy: builds cannot see each other's
# build/ or *.egg-info, and nothing is written where the inputs were copied.
step "copy sources for $interp"
cp -a "$sources" "$work/src"
cd "$work/src/$package"

# From here on, the build's own interpreter is first on PATH (python, pip),
# as cibuildwheel has it for before-build, the build, the repair and the
# audit.
export PATH="/opt/python/$interp/bin:$PATH"
install_site "$python"

if [ -n "${XTASK_BEFORE_BUILD:-}" ]; then
    step "before-build: $XTASK_BEFORE_BUILD"
    bash -c "$XTASK_BEFORE_BUILD" \
        || fail "the before-build command failed (its output is above)"
fi

# Under emulation a native uv (XTASK_UV, of the engine machine's own arch,
# which its kernel runs without the emulator) makes the isolated build and
# test environments: pip would resolve, unpack and compile emulated; on a
# native target it does where the build-frontend is build[uv]. The
# host told it pip's settings (XTASK_UV_CONFIG, a uv.toml), or why pip
# makes them (XTASK_UV_REFUSED); only a pip configuration file, which uv
# would not read, is looked for here.
uv_env=() uv_kept=() uv_build=1
if [ -n "${XTASK_UV:-}" ]; then
    why=${XTASK_UV_REFUSED:-}
    [ -n "$why" ] || [ -x "$XTASK_UV" ] || why="$XTASK_UV is not in the container"
    for f in /etc/pip.conf /etc/xdg/pip/pip.conf "${HOME:-/root}/.pip/pip.conf" "${HOME:-/root}/.config/pip/pip.conf" ${PIP_CONFIG_FILE:-}; do
        [ -n "$why" ] || [ ! -f "$f" ] || why="pip's configuration file $f is not read by uv"
    done
    if [ -z "$why" ]; then
        config=/xtask/uv-$interp.toml
        printf '%s' "${XTASK_UV_CONFIG:-}" >"$config"
        uv_env=(env "PATH=${XTASK_UV%/*}:$PATH" "UV_CONFIG_FILE=$config" UV_CACHE_DIR=/xtask/uv-cache
            UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1)
        # Where uv's cache is kept (XTASK_UV_CACHE, in the bytecode volume),
        # the environments' files are links to it: they keep their times,
        # so the bytecode kept of them stays valid.
        [ -z "${XTASK_UV_CACHE:-}" ] || uv_kept=("UV_CACHE_DIR=$XTASK_UV_CACHE" UV_LINK_MODE=symlink)
        step "environments: made by the native uv $("$XTASK_UV" --version | cut -d' ' -f2)"
        # build's --installer came with build 1.0.
        for meta in /opt/python/"$interp"/lib/*/site-packages/build-*.dist-info; do
            [ -d "$meta" ] || continue
            version=${meta##*/build-}
            if [ "${version%%.*}" -lt 1 ] 2>/dev/null; then
                uv_build=0
                step "the isolated build environment: made by pip, not the native uv: the image's build ${version%.dist-info} has no --installer (build 1.0 brought it)"
            fi
        done
    else
        step "environments: made by pip, not the native uv: $why"
    fi
fi

# The cross environment: under emulation a native CPython of this
# interpreter's version (XTASK_NATIVE_PYTHON, of the engine machine's arch,
# laid out by scripts/native/python.sh) runs the frontend and the backend,
# told the target's sysconfig data and machine (site/sitecustomize.py):
# the compiler stays the image's (or --native-compiler's), and the wheel is
# what the emulated interpreter would build. uv, run by the frontend, sees
# the machine as it is (its wrapper takes XTASK_CROSS away), so that the
# build's tools are installed for it. Its sitecustomize is installed on the
# host (its folder is mounted read-only). Where it cannot be used, the build's
# own interpreter runs them, emulated, and this says why.
# Under emulation every interpreter start costs about a second: the 'build'
# module is looked for on disk instead of imported.
has_build=0
compgen -G "/opt/python/$interp/lib/*/site-packages/build/__init__.py" >/dev/null && has_build=1
cross=() build_python=$python frontend_path=
if [ -n "${XTASK_NATIVE_PYTHON:-}" ]; then
    why=
    [ "$isolation" = 1 ] || why="--no-isolation builds with the target interpreter's own packages"
    [ -n "$why" ] || [ "${#uv_env[@]}" != 0 ] || why="the native uv makes no environments here"
    [ -n "$why" ] || [ "$uv_build" = 1 ] || why="the image's build has no --installer"
    case ${XTASK_FRONTEND:-build} in build|"build[uv]") ;; *) [ -n "$why" ] || why="the build frontend is ${XTASK_FRONTEND}" ;; esac
    [ -n "$why" ] || [ "$has_build" = 1 ] || why="the image's interpreter has no 'build' module (pip builds)"
    abi=${interp#*-} abiflags=
    [[ $abi =~ ^cp[0-9]+(.*)$ ]] && abiflags=${BASH_REMATCH[1]}
    real=$(readlink -f "$python")
    data=("${real%/bin/*}/lib/${real##*/}/_sysconfigdata_${abiflags}_linux_"*.py)
    if [ -z "$why" ] && { [ "${#data[@]}" != 1 ] || [ ! -f "${data[0]}" ]; }; then
        why="the target interpreter's sysconfig data is not one file at ${real%/bin/*}/lib/${real##*/}/_sysconfigdata_${abiflags}_linux_*.py"
    fi
    if [ -z "$why" ]; then
        machine=$(uname -m)
        mkdir -p "/xtask/cross/$interp" /xtask/cross/bin
        cp "${data[0]}" "/xtask/cross/$interp/"
        printf '#!/bin/sh\nunset XTASK_CROSS\nexec %s "$@"\n' "$XTASK_UV" >"/xtask/cross/bin/uv.$interp"
        chmod +x "/xtask/cross/bin/uv.$interp"
        mv "/xtask/cross/bin/uv.$interp" /xtask/cross/bin/uv
        build_python=$XTASK_NATIVE_PYTHON
        frontend_path=${XTASK_NATIVE_PYTHON%/bin/*}/frontend
        # Its library folder on the loader's path from the start: the
        # compiled modules of the build's wheels (Cython's) load libraries
        # (libpthread.so.0) that the interpreter itself does not, which the
        # target's loader cache cannot give; the target's programs pass
        # over them (another machine).
        cross=("XTASK_CROSS=$machine /xtask/cross/$interp/${data[0]##*/}" "PATH=/xtask/cross/bin:$PATH"
            "LD_LIBRARY_PATH=${XTASK_NATIVE_PYTHON%/bin/*}/.lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
        step "build frontend and backend: the native $("$XTASK_NATIVE_PYTHON" -c 'import platform; print(platform.python_implementation(), platform.python_version(), "(" + platform.machine() + ")")'), configured for $machine (cross environment)"
    else
        step "build frontend and backend: the emulated interpreter, not the native one: $why"
    fi
fi

step "build wheel with $build_python"
verbosity=${XTASK_VERBOSITY:-0}
if [[ ${XTASK_FRONTEND:-build} = build || ${XTASK_FRONTEND:-} = "build[uv]" ]] \
    && [ "$has_build" = 1 ]; then
    # build makes its isolated environment in a new folder each time
    # (mkdtemp, prefix build-env-); here it is always $TMPDIR/build-env,
    # whose bytecode a later run can then use.
    args=(-c 'import os, runpy, tempfile
mkdtemp = tempfile.mkdtemp
def fixed(suffix=None, prefix=None, dir=None):
    if prefix != "build-env-":
        return mkdtemp(suffix, prefix, dir)
    path = os.path.join(tempfile.gettempdir(), "build-env")
    os.mkdir(path)
    return path
tempfile.mkdtemp = fixed
runpy.run_module("build", run_name="__main__", alter_sys=True)' --wheel --outdir "$work/raw")
    [ "$isolation" = 1 ] || args+=(--no-isolation)
    [ "$isolation" = 0 ] || [ "${#uv_env[@]}" = 0 ] || [ "$uv_build" = 0 ] || args+=(--installer uv)
    [ "$verbosity" -le 1 ] || args+=("-$(printf 'v%.0s' $(seq 2 "$verbosity"))")
else
    [ "${XTASK_FRONTEND:-build}" = pip ] || step "the interpreter has no 'build' module: using pip wheel"
    args=(-m pip wheel --no-deps --wheel-dir "$work/raw")
    [ "$isolation" = 1 ] || args+=(--no-build-isolation)
    [ "$verbosity" -le 0 ] || args+=("-$(printf 'v%.0s' $(seq 1 "$verbosity"))")
fi
[ "$verbosity" -ge 0 ] || args+=("-$(printf 'q%.0s' $(seq 1 $((-verbosity))))")
while IFS= read -r setting; do
    [ -z "$setting" ] || args+=("-C$setting")
done <<<"${XTASK_CONFIG_SETTINGS:-}"
while IFS= read -r arg; do
    [ -z "$arg" ] || args+=("$arg")
done <<<"${XTASK_FRONTEND_ARGS:-}"
# This build's share of the cores: make, cmake and cargo read their own
# variables (set by the host); setuptools gets a parallel compile from
# site/sitecustomize.py, installed in the build's interpreter above.
# --native-compiler: a native x86_64 clang and lld (XTASK_NATIVE_CLANG, the
# host's relocatable bundle) compile for this image's arch, with the
# headers, crt files, libgcc and libstdc++ of the image's own gcc, named in
# the drivers' configuration files; setuptools derives its link command
# from CC, CMake and Meson read CC and CXX.
if [ -n "${XTASK_NATIVE_CLANG:-}" ]; then
    native_hint=" (this build used the native clang of --native-compiler: a package it cannot build, such as one with Fortran or OpenMP, builds without --native-compiler)"
    gcc=$(command -v gcc) || fail "--native-compiler: the image has no gcc, whose headers and libraries the native clang builds against"
    triple=$(gcc -dumpmachine) || fail "--native-compiler: \`gcc -dumpmachine\` failed"
    # The linker options the image's gcc passes by itself (Debian's adds
    # --as-needed, which decides what the extension NEEDs).
    # The *link spec with the specs it names (%(link_os) on ppc64le) put
    # in their places.
    link_spec=$(gcc -dumpspecs | awk '
        function expand(name, depth,   text, out, at, len) {
            text = spec[name]; out = ""
            while (depth < 10 && match(text, /%\([A-Za-z0-9_]+\)/)) {
                # RSTART and RLENGTH are global: kept before recursing.
                at = RSTART; len = RLENGTH
                out = out substr(text, 1, at - 1) expand(substr(text, at + 2, len - 3), depth + 1)
                text = substr(text, at + len)
            }
            return out text
        }
        /^\*[^:]+:$/ { name = substr($0, 2, length($0) - 2); getline; spec[name] = $0 }
        END { print expand("link", 0) }')
    link=
    for option in --as-needed --build-id --hash-style=gnu; do
        case $link_spec in *"$option"*) link+="-Wl,$option"$'\n' ;; esac
    done
    # gcc's defaults where clang's differ in what the code computes:
    # floating-point contraction (gcc fuses a*b+c into an fma across
    # statements, clang only within one), and, from gcc 15 on, C23 as the
    # default C dialect (clang's is C17). The gcc version is the newest
    # folder of its libraries (asking gcc costs a start under emulation).
    gcc_major=0
    for d in "${gcc%/bin/gcc}/lib/gcc/$triple"/*/; do
        d=${d%/}; d=${d##*/}; d=${d%%.*}
        [[ $d =~ ^[0-9]+$ ]] && [ "$d" -gt "$gcc_major" ] && gcc_major=$d
    done
    c_std=
    [ "$gcc_major" -lt 15 ] || c_std=$'-std=gnu23\n'
    # The drivers' configuration files in the clang folder (read-only, shared
    # by every container) are links to these, one pair per container
    # (native::CLANG_CONFIGS). Renamed into place: other builds of this
    # container may be compiling.
    for driver in clang clang++; do
        dialect=; [ "$driver" = clang++ ] || dialect=$c_std
        printf -- '--target=%s\n--gcc-toolchain=%s\n--gcc-triple=%s\n-fuse-ld=lld\n-ffp-contract=fast\n%s%s' \
            "${XTASK_CLANG_TARGET:-$triple}" "${gcc%/bin/gcc}" "$triple" "$link" "$dialect" >"/xtask/$driver.cfg.$interp"
        mv "/xtask/$driver.cfg.$interp" "/xtask/$driver.cfg"
    done
    # What the project set itself (its environment, --env) stays: the
    # native clang takes only the compilers and the linker it leaves unset.
    kept=()
    [ -z "${CC:-}" ] || kept+=("CC=$CC")
    [ -z "${CXX:-}" ] || kept+=("CXX=$CXX")
    export CC=${CC:-$XTASK_NATIVE_CLANG/bin/clang} CXX=${CXX:-$XTASK_NATIVE_CLANG/bin/clang++}
    # Cargo links with it too (rustc itself stays emulated): its variable
    # for the image's Rust target, such as armv7-unknown-linux-gnueabihf.
    rust_target=$XTASK_RUST_TARGET
    case $plat in musllinux*) rust_target=${rust_target/-gnu/-musl} ;; esac
    rust_target=${rust_target^^}
    linker=CARGO_TARGET_${rust_target//-/_}_LINKER
    if [ -n "${!linker:-}" ]; then
        kept+=("$linker=${!linker}")
    else
        export "$linker=$XTASK_NATIVE_CLANG/bin/clang"
    fi
    [ "${#kept[@]}" = 0 ] || step "compiler: the project sets ${kept[*]}: kept (--native-compiler sets only what is unset)"
    # The Debian bundle names its version in a file; manylinux's static
    # build says it when asked (it runs natively: no cost).
    version=$(cat "$XTASK_NATIVE_CLANG/VERSION" 2>/dev/null) \
        || version=$("$XTASK_NATIVE_CLANG/bin/clang" --version | sed -n '1s/.*clang version \([^ ]*\).*/\1/p')
    step "compiler: the native clang $version for ${XTASK_CLANG_TARGET:-$triple} (--native-compiler)"
fi
# --ccache: the compilers go through ccache, by its masquerade folder where
# the image has one (gcc, g++ and their triplet names), else by CC and CXX.
if [ "${XTASK_CCACHE:-}" = 1 ]; then
    command -v ccache >/dev/null \
        || fail "--ccache: this image has no ccache; use an image that has it (x64-image and arm-image take packages), or build without --ccache"
    masquerade=
    for d in /usr/lib/ccache /usr/lib64/ccache; do [ -d "$d" ] && masquerade=$d && break; done
    if [ -n "$masquerade" ] && [ -z "${XTASK_NATIVE_CLANG:-}" ]; then
        export PATH="$masquerade:$PATH"
    else
        export CC="ccache ${CC:-gcc}" CXX="ccache ${CXX:-g++}"
    fi
fi
# The repair starts now, while the wheel builds: repair-wheel.py's start and
# its imports of auditwheel and zipfile cost about 0.1 s natively and seconds
# under emulation. It runs in auditwheel's own interpreter, where auditwheel's
# script names one on its first line, and then runs auditwheel in its
# process; else in the build's, running the auditwheel command. It waits on
# its stdin for one line.
repair_python=$python
if aw=$(command -v auditwheel) && IFS= read -r shebang 2>/dev/null <"$aw"; then
    case $shebang in
        '#!'/*/python*|'#!'/*/pypy*)
            [ -f "${shebang:2}" ] && [ -x "${shebang:2}" ] && repair_python=${shebang:2} ;;
    esac
fi
# In the cross environment the native CPython runs auditwheel too: it is
# pure Python that reads ELF files and the image's libraries, imported from
# the image's own installation and told the target's machine (the import
# check and the tests stay the target interpreter's).
repair_cross=()
if [ "${#cross[@]}" != 0 ]; then
    sites=()
    [ "$repair_python" = "$python" ] || sites=("${repair_python%/bin/*}"/lib/python3*/site-packages)
    if [ "${#sites[@]}" = 1 ] && [ -f "${sites[0]}/auditwheel/__init__.py" ]; then
        repair_cross=("XTASK_REPAIR_CROSS=$machine ${sites[0]}")
        repair_python=$XTASK_NATIVE_PYTHON
        step "repair: the image's auditwheel, run by the native CPython (cross environment)"
    else
        step "repair: the image's auditwheel, emulated: its script names no interpreter with one site-packages folder holding auditwheel"
    fi
fi
coproc REPAIR { exec env ${repair_cross[@]+"${repair_cross[@]}"} "$repair_python" -I -u /xtask/bin/repair-wheel.py "$interp" "$plat" "$work/repaired" "$work/check" "$python" >&2; }
repairer=$REPAIR_PID to_repairer=${REPAIR[1]}

# The isolated environment is made in a folder of this interpreter's, at
# the same path each run: its bytecode (kept by XTASK_PYCACHE under
# emulation) is then of use to the next run, and never grows.
export TMPDIR=/xtask/tmp/$interp
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
# The native interpreter finds the frontend in its bundle's own folder.
[ -z "$frontend_path" ] || args[1]="import sys; sys.path.insert(0, '$frontend_path')"$'\n'"${args[1]}"
${uv_env[@]+"${uv_env[@]}"} ${uv_kept[@]+"${uv_kept[@]}"} ${cross[@]+"${cross[@]}"} "$build_python" "${args[@]}" . || fail "the wheel build failed (see the output above)"

shopt -s nullglob
built=("$work"/raw/*.whl)
[ "${#built[@]}" = 1 ] || fail "expected one wheel from the build, found ${#built[@]}"
wheel=${built[0]}
name=${wheel##*/}
case "$name:$pure" in
    *-none-any.whl:skip)
        printf 'pure: %s is a pure-Python wheel; skipped (--pure-wheel skip)\n' "$name"
        exit 3 ;;
    *-none-any.whl:accept)
        # auditwheel refuses a wheel with no platform to repair.
        step "$name is a pure-Python wheel: shipped as it is (--pure-wheel accept)"
        how=accept ;;
    *-none-any.whl:*)
        fail "$interp built a pure-Python wheel, $name: the package has no extension module for this interpreter; ship that wheel with --pure-wheel accept, or leave $interp out with --pure-wheel skip (config: pure-wheel)" ;;
    *)
        step "repair $name for $plat"
        how=repair ;;
esac
# It repairs (or takes) the wheel, rewrites it, checks its tags, and has
# check-wheel.py import it in this interpreter.
if kill -0 "$repairer" 2>/dev/null; then
    printf '%s %s\n' "$how" "$wheel" >&"$to_repairer"
fi
exec {to_repairer}>&-
status=0
wait "$repairer" || status=$?
repairer=
case $status in
    0) ;;
    2) if [ -n "${XTASK_REPAIR_COMMAND+set}" ]; then
           fail "the project's repair-wheel-command failed (see its output above)"
       fi
       fail "auditwheel could not repair the wheel for $plat (see its message above)" ;;
    *) fail "the repaired wheel failed its check" ;;
esac
repaired=("$work"/repaired/*.whl)
repaired_name=${repaired[0]##*/}
cd /

if [ -n "${XTASK_TEST_COMMAND:-}" ]; then
    # Outside the sources, so that only the installed wheel can be imported.
    tests=/xtask/test/$interp
    rm -rf "$tests"
    mkdir -p "$tests/cwd"
    step "test: a virtual environment with $repaired_name"
    # With pip inside, as cibuildwheel makes it (virtualenv's embedded pip),
    # unless the frontend is a uv one: the interpreter's own pip wheel (its
    # ensurepip's, or Debian's python-wheels), installed by the native uv
    # under emulation (ensurepip takes minutes there), else by venv.
    if [ "${#uv_env[@]}" != 0 ]; then
        "${uv_env[@]}" ${uv_kept[@]+"${uv_kept[@]}"} "$XTASK_UV" venv --quiet --python "$python" "$tests/venv" \
            || fail "could not make a virtual environment for the tests (see uv's message above)"
        if [ "${XTASK_FRONTEND:-build}" != "build[uv]" ]; then
            real=$(readlink -f "$python")
            embedded=$(compgen -G "${real%/bin/*}/lib/${real##*/}/ensurepip/_bundled/pip-*.whl" \
                || compgen -G "/usr/share/python-wheels/pip-*.whl" || echo pip)
            "${uv_env[@]}" ${uv_kept[@]+"${uv_kept[@]}"} "$XTASK_UV" pip install --quiet --python "$tests/venv/bin/python" "${embedded%%$'\n'*}" \
                || fail "could not install pip into the tests' virtual environment (see uv's message above)"
        fi
    elif [ "${XTASK_FRONTEND:-build}" = "build[uv]" ]; then
        "$python" -m venv --without-pip "$tests/venv" || fail "could not make a virtual environment for the tests"
    else
        "$python" -m venv "$tests/venv" || fail "could not make a virtual environment for the tests"
    fi
    # The test steps run in the environment, with test-environment.
    export PATH="$tests/venv/bin:$PATH" VIRTUAL_ENV="$tests/venv"
    evaluate_env "${XTASK_TEST_ENVIRONMENT:-}" test-environment
    if [ -n "${XTASK_BEFORE_TEST:-}" ]; then
        step "before-test: $XTASK_BEFORE_TEST"
        (cd "$work/src/$package" && bash -c "$XTASK_BEFORE_TEST") \
            || fail "the before-test command failed (its output is above)"
    fi
    mapfile -t requires <<<"${XTASK_TEST_REQUIRES:-}"
    install=("${repaired[0]}${XTASK_TEST_EXTRAS:+[$XTASK_TEST_EXTRAS]}")
    for r in "${requires[@]}"; do [ -z "$r" ] || install+=("$r"); done
    if [ "${#uv_env[@]}" != 0 ]; then
        "${uv_env[@]}" ${uv_kept[@]+"${uv_kept[@]}"} "$XTASK_UV" pip install --quiet --python "$tests/venv/bin/python" "${install[@]}" \
            || fail "installing the wheel and the test requirements failed (see uv's message above)"
        # The requirements' files are links into uv's kept cache; the
        # project's own are copies, so that a test writing into its
        # installed package changes nothing a later run installs.
        if [ "${#uv_kept[@]}" != 0 ]; then
            dist=${repaired_name%%-*}
            "${uv_env[@]}" "$XTASK_UV" pip install --quiet --python "$tests/venv/bin/python" --no-deps --reinstall-package "$dist" "${repaired[0]}" \
                || fail "installing the wheel into the tests' environment failed (see uv's message above)"
        fi
    elif [ -x "$tests/venv/bin/pip" ]; then
        "$tests/venv/bin/python" -m pip install --quiet "${install[@]}" \
            || fail "installing the wheel and the test requirements failed (see pip's message above)"
    else
        "$python" -m pip --python "$tests/venv/bin/python" install --quiet "${install[@]}" \
            || fail "installing the wheel and the test requirements failed (see pip's message above)"
    fi
    mapfile -t sources_to_copy <<<"${XTASK_TEST_SOURCES:-}"
    for s in "${sources_to_copy[@]}"; do
        [ -z "$s" ] || cp -a "$work/src/$s" "$tests/cwd/" || fail "test-sources: $s is not in the copied sources"
    done
    step "test: $XTASK_TEST_COMMAND"
    (cd "$tests/cwd" && bash -c "$XTASK_TEST_COMMAND") \
        || fail "the tests failed (their output is above)"
    step "tests passed"
fi

mv "${repaired[0]}" "$out/"
step "done: $repaired_name"
