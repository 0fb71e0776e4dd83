"""Where bytecode goes, a word when a child is killed, and one extension's
C and C++ sources compiled in parallel.

build-wheel.sh installs this file as the sitecustomize of the interpreters
it runs (in their standard library folder, inside the build container only,
keeping the interpreter's own as _xtask_original_sitecustomize), because an
isolated build's backend runs in a fresh virtual environment with PYTHONPATH
cleared, where only the standard library folder is shared.

Bytecode: under emulation XTASK_PYCACHE names a folder kept between runs
(a volume), so that the standard library and the build tools are not
compiled again at each start. Only the bytecode of the interpreter's own
installation and of uv's kept cache (content it unpacked, each wheel in a
folder of its own, found by following the environments' links) goes
there, under the file's real path; every other file's bytecode goes where
Python puts it, beside the file: a build's own `.pyc` (setuptools' build_py
with `compile`, py_compile, compileall) reaches its wheel, and nothing of
the project's is kept. PYTHONPYCACHEPREFIX would send everything to the
prefix, from the first import on; a prefix the user sets still does.

Kills: a child that subprocess sees killed by SIGKILL is named on stderr
(see patch_subprocess).

Parallel compile: setuptools compiles an extension's sources one after the
other; its `build_ext --parallel` only builds several extensions at once.
With XTASK_COMPILE_JOBS above 1, the base compiler class gets a `compile`
that runs `_compile` for that many sources at a time, as pybind11's
ParallelCompile does. Compilers that define their own `compile` are left
alone, and an interpreter that never imports a compiler is not touched at
all.

Cross environment: under emulation build-wheel.sh may run the build's
frontend and backend with a native CPython of the target's version. In the
isolated build environment (a virtual environment of that interpreter),
XTASK_CROSS ("MACHINE SYSCONFIGDATA") makes it say the target, as a
cross-build environment does: sysconfig reads the target interpreter's data
(its compiler, flags, headers, extension suffix and SOABI; `include` and
`platinclude` are its headers' folder) and names the target's platform,
`os.uname()` (and so `platform.machine()`) says its machine,
`sys.implementation._multiarch` its triplet, and `sys.maxsize`,
`struct.calcsize` of a native pointer, long or size_t, and `sys.byteorder`
its sizes and byte order. The frontend
itself, and uv (build-wheel.sh takes the variable away from it), see the
machine as it is, so that the build's tools are installed for it.
"""

import os
import sys

try:
    import _xtask_original_sitecustomize  # noqa: F401  the interpreter's own
except ImportError:
    pass


def keep_the_installations_bytecode(kept_dir):
    """Makes `cache_from_source` send the bytecode of the interpreter's
    installation and of uv's kept cache to `kept_dir`."""
    external = sys.modules.get("_frozen_importlib_external")
    if external is None:
        import importlib._bootstrap_external as external
    beside = external.cache_from_source
    uv = os.environ.get("XTASK_UV_CACHE")
    uv = os.path.join(os.path.realpath(uv), "") if uv else None
    installations = tuple(
        os.path.join(os.path.realpath(p), "") for p in {sys.base_prefix, sys.prefix}
    )

    def kept(real):
        if uv and real.startswith(uv):
            return True
        # The builds' work, test and temporary folders, and the root folder.
        if real.startswith("/xtask/"):
            return False
        return any(real.startswith(i) for i in installations if i != "/")

    def cache_from_source(path, debug_override=None, *, optimization=None):
        cached = beside(path, debug_override, optimization=optimization)
        if sys.pycache_prefix:
            return cached
        real = os.path.realpath(path)
        if not kept(real):
            return cached
        # Where PYTHONPYCACHEPREFIX=kept_dir would put it.
        return os.path.join(kept_dir, os.path.dirname(real).lstrip("/"), os.path.basename(cached))

    external.cache_from_source = cache_from_source
    util = sys.modules.get("importlib.util")
    if util is not None:
        util.cache_from_source = cache_from_source


if not sys.flags.ignore_environment and not sys.pycache_prefix and os.environ.get("XTASK_PYCACHE"):
    keep_the_installations_bytecode(os.environ["XTASK_PYCACHE"])


def say_the_target(machine, data):
    """Makes this interpreter configured for the target whose sysconfig
    data is the file `data` (`_sysconfigdata_{abiflags}_linux_{multiarch}`)
    and whose `uname -m` is `machine`. The variables go to the children too
    (a backend's own subprocesses), which are of this environment."""
    folder, name = os.path.split(data)
    name = name[: -len(".py")]
    sys.path.append(folder)
    os.environ["_PYTHON_SYSCONFIGDATA_NAME"] = name
    os.environ["_PYTHON_HOST_PLATFORM"] = "linux-" + machine
    sys.implementation._multiarch = name.partition("_linux_")[2]
    # What a setup.py reads of the interpreter's build: its pointer size
    # and byte order.
    data = __import__(name).build_time_vars
    if data.get("SIZEOF_VOID_P") == 4:
        sys.maxsize = 2**31 - 1
    sys.byteorder = "big" if data.get("DOUBLE_IS_BIG_ENDIAN_IEEE754") else "little"
    say_the_target_sizes(data)
    uname = os.uname

    def target_uname():
        u = uname()
        return os.uname_result((u.sysname, u.nodename, u.release, u.version, machine))

    os.uname = target_uname
    # The target's headers, where sysconfig's paths point at this
    # interpreter's folder (which has none): its INCLUDEPY, in the image.
    include = data.get("INCLUDEPY")
    if include:
        import sysconfig

        get_paths = sysconfig.get_paths

        def target_paths(*args, **kwargs):
            paths = get_paths(*args, **kwargs)
            if kwargs.get("expand", args[2] if len(args) > 2 else True):
                paths["include"] = include
                paths["platinclude"] = data.get("CONFINCLUDEPY") or include
            return paths

        sysconfig.get_paths = target_paths


def say_the_target_sizes(data):
    """Makes `struct.calcsize` of one native pointer, long or size_t
    (`"P"`, `"@l"`, ...) the target's, where it differs from this machine's
    (a 32-bit target): what a setup.py asks to tell a 32-bit interpreter
    (`struct.calcsize("P") == 4`, as setuptools' and packaging's own checks
    do), and what CMake's FindPython compares with the compiler's pointer
    size when it looks for an interpreter itself (given one in
    `Python_EXECUTABLE`, as scikit-build-core gives it, it does not ask).
    Every other format, and struct's packing, stay the machine's: they
    describe this process's memory."""
    import struct

    sizes = {}
    for codes, var in (("P", "SIZEOF_VOID_P"), ("lL", "SIZEOF_LONG"), ("nN", "SIZEOF_SIZE_T")):
        for code in codes:
            size = data.get(var)
            if size and size != struct.calcsize(code):
                sizes[code] = sizes["@" + code] = size
    if not sizes:
        return
    calcsize = struct.calcsize

    def target_calcsize(format):
        key = format.decode("ascii", "replace") if isinstance(format, bytes) else format
        return sizes.get(key) or calcsize(format)

    struct.calcsize = target_calcsize


CROSS = os.environ.get("XTASK_CROSS", "").split(" ", 1)
if len(CROSS) == 2 and sys.prefix != sys.base_prefix:
    say_the_target(*CROSS)

JOBS = int(os.environ.get("XTASK_COMPILE_JOBS", "1") or "1")


def parallel_compile(self, sources, output_dir=None, macros=None, include_dirs=None,
                     debug=0, extra_preargs=None, extra_postargs=None, depends=None):
    from multiprocessing.pool import ThreadPool

    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)

    def one(obj):
        try:
            src, ext = build[obj]
        except KeyError:
            return
        self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

    with ThreadPool(JOBS) as pool:
        pool.map(one, objects)
    return objects


def patch_compiler(module):
    cls = getattr(module, "CCompiler", None)
    if cls is not None and not getattr(cls, "_xtask_parallel", False):
        cls.compile = parallel_compile
        cls._xtask_parallel = True


def patch_subprocess(module):
    """Says when a child was killed by SIGKILL (as the kernel kills for
    memory): build-wheel.sh reads it in the build's output to tell whether
    the kernel's kill, counted for the whole container, was this build's.
    Every wait of subprocess (run, call, communicate) goes through wait."""
    wait = module.Popen.wait

    def reporting_wait(self, timeout=None):
        code = wait(self, timeout)
        if code == -9 and not getattr(self, "_xtask_told", False):
            self._xtask_told = True
            sys.stderr.write("xtask: %r was killed (SIGKILL)\n" % (self.args,))
        return code

    module.Popen.wait = reporting_wait


class Patcher:
    """Patches a module once it has run (`patches`: whether a module name
    is one to patch, and the patch).
    A meta path finder needs only `find_spec`: importlib.abc is not
    imported, as it costs every interpreter start about 30 ms (it imports
    importlib.resources).
    """

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, name, path, target=None):
        patch = next((p for matches, p in self.patches if matches(name)), None)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module

                def exec_module(module, run=run):
                    run(module)
                    patch(module)

                spec.loader.exec_module = exec_module
                return spec
        return None


PATCHES = [(lambda name: name == "subprocess", patch_subprocess)]
if JOBS > 1:
    # distutils.ccompiler, setuptools._distutils.ccompiler
    PATCHES.append((lambda name: name.endswith(".ccompiler"), patch_compiler))
if "subprocess" in sys.modules:
    patch_subprocess(sys.modules["subprocess"])
    PATCHES.pop(0)
sys.meta_path.insert(0, Patcher(PATCHES))
