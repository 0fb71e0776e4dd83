"""Checks a repaired wheel inside the container that built it.

usage: python -I check-wheel.py WHEEL INTERPRETER PLAT

The wheel's tags must fit the interpreter that built it (its /opt/python folder
is named <python tag>-<abi tag>) and the platform asked for, and every
top-level module in it must import in that interpreter. Standard library only:
the interpreter may have nothing else.
"""

import os
import sys
import tempfile
import zipfile

# PEP 600 names of the legacy manylinux tags.
LEGACY = {
    "manylinux1": "manylinux_2_5",
    "manylinux2010": "manylinux_2_12",
    "manylinux2014": "manylinux_2_17",
}


def canonical(plat):
    for old, new in LEGACY.items():
        if plat.startswith(old + "_"):
            return new + plat[len(old):]
    return plat


def fail(message):
    print("check failed: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    wheel, interp, plat = sys.argv[1:4]
    python_tag, abi_tag = interp.split("-", 1)
    name = os.path.basename(wheel)
    parts = name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        fail("%s is not a valid wheel file name" % name)
    w_python, w_abi, w_plat = parts[-3:]
    if python_tag not in w_python.split(".") and w_abi != "abi3":
        fail("%s has python tag %s, but it was built by %s" % (name, w_python, python_tag))
    if w_abi not in (abi_tag, "abi3", "none"):
        fail("%s has ABI tag %s, but %s needs %s" % (name, w_abi, interp, abi_tag))
    plats = {canonical(p) for p in w_plat.split(".")}
    if canonical(plat) not in plats:
        fail("%s has platform tags %s, not %s" % (name, w_plat, plat))
    if any(p.startswith("linux_") for p in w_plat.split(".")):
        fail("%s still has a linux_* tag: it was not repaired" % name)
    print("tags ok: %s-%s-%s" % (w_python, w_abi, w_plat))

    with tempfile.TemporaryDirectory() as target:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(target)
            names = zf.namelist()
        modules = set()
        for entry in names:
            top = entry.split("/", 1)[0]
            if top.endswith((".dist-info", ".data", ".libs")) or top.startswith("."):
                continue
            if "/" in entry:
                modules.add(top)
            elif top.endswith(".py"):
                modules.add(top[:-3])
            elif top.endswith(".so"):
                modules.add(top.split(".", 1)[0])
        if not modules:
            fail("%s holds no importable module" % name)
        for root, _, files in os.walk(target):
            for f in files:
                if f.endswith(".so") or ".so." in f:
                    os.chmod(os.path.join(root, f), 0o755)
        sys.path.insert(0, target)
        for module in sorted(modules):
            try:
                __import__(module)
            except ModuleNotFoundError as e:
                if e.name and e.name.split(".")[0] not in modules:
                    print("import %s: skipped, it needs %s, which is not installed here" % (module, e.name))
                    continue
                fail("import %s: %s" % (module, e))
            except Exception as e:
                fail("import %s: %s: %s" % (module, type(e).__name__, e))
            print("import %s: ok" % module)


main()
