"""Imports an unpacked wheel in the interpreter that built it.

usage: python -I check-wheel.py FOLDER, then the wheel's name on stdin

repair-wheel.py starts this while the wheel builds, and sends the name of
the repaired wheel once it is unpacked in FOLDER (and its tags checked);
nothing happens when stdin ends without one. Every top-level module and
every extension module (by its dotted name) must import. Standard library
only, and nothing costly to import: the interpreter may have nothing else.
"""

import importlib
import os
import sys
import sysconfig
import warnings


def fail(message):
    print("check failed: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    target = sys.argv[1]
    name = sys.stdin.readline().strip()
    if not name:
        return
    print("interpreter %s" % sys.version.split()[0])
    # Every top-level module, then every extension module by its dotted
    # name: a package that falls back to pure Python when its extension
    # fails to load would hide a broken extension behind a good import.
    modules = set()
    extensions = set()
    for root, _, files in os.walk(target):
        rel = os.path.relpath(root, target)
        parts = [] if rel == "." else rel.split(os.sep)
        for f in files:
            top = parts[0] if parts else f
            if top.endswith((".dist-info", ".data", ".libs")) or top.startswith("."):
                continue
            if parts:
                modules.add(top)
            elif f.endswith(".py"):
                modules.add(f[:-3])
            elif f.endswith(".so"):
                modules.add(f.split(".", 1)[0])
            if f.endswith(".so"):
                dotted = ".".join(parts + [f.split(".", 1)[0]])
                if all(p.isidentifier() for p in dotted.split(".")):
                    extensions.add(dotted)
    if not modules:
        fail("%s holds no importable module" % name)
    sys.path.insert(0, target)
    wanted = sorted(modules) + sorted(extensions - modules)
    # A free-threaded interpreter runs with the GIL off (unless PYTHON_GIL
    # says otherwise); an extension that does not declare Py_mod_gil turns
    # it back on when imported, and CPython warns. The first that does is named.
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil_was = free_threaded and sys._is_gil_enabled()
    if free_threaded:
        print("gil: %s at the start" % ("enabled" if gil_was else "disabled"))
        warnings.filterwarnings("ignore", message=".*global interpreter lock.*", category=RuntimeWarning)
    for module in wanted:
        what = "extension" if module in extensions else "import"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and e.name.split(".")[0] not in modules:
                print("%s %s: skipped, it needs %s, which is not installed here" % (what, module, e.name))
                continue
            fail("%s %s: %s" % (what, module, e))
        except Exception as e:
            fail("%s %s: %s: %s" % (what, module, type(e).__name__, e))
        print("%s %s: ok" % (what, module))
        if free_threaded and not gil_was and sys._is_gil_enabled():
            gil_was = True
            print("gil: enabled again by importing %s, which does not declare Py_mod_gil" % module)
    if free_threaded and not gil_was:
        print("gil: still disabled after every import")


main()
