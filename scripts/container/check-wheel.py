"""Normalises, then checks a repaired wheel inside the container that built it.

usage: python -I check-wheel.py WHEEL INTERPRETER PLAT FOLDER

First the wheel is rewritten so that its bytes depend on its contents alone
(see normalize). Then its tags must fit the interpreter that built it (its
/opt/python folder is named <python tag>-<abi tag>) and the platform asked
for, and every top-level module and every extension module (by its dotted
name) must import in that interpreter, unpacked into FOLDER (made here;
not a temporary folder: importing tempfile costs every check about 10 ms).
Standard library only: the interpreter may have nothing else.
"""

import importlib
import os
import stat
import sys
import time
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


def normalize(wheel):
    """Rewrites the zip so that two builds of the same sources give the same
    bytes; the files inside are not changed, so RECORD stays valid.

    What varies otherwise (seen by building the demo twice): auditwheel
    repair writes every entry with the time of the repair and in the order
    its directory walk returns, and the modes of the files it grafts come
    from the file system; the build backend (setuptools with wheel's
    bdist_wheel) already honours SOURCE_DATE_EPOCH for entry times. Here:
    entries sorted by name with the .dist-info folder last and RECORD last
    of all (the order installers expect), every time set to
    SOURCE_DATE_EPOCH (when set), modes reduced to 644 or 755, one
    compression level.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = time.gmtime(max(int(epoch), 315532800))[:6] if epoch else None

    def order(info):
        name = info.filename
        in_dist_info = name.split("/", 1)[0].endswith(".dist-info")
        return (in_dist_info, name.endswith(".dist-info/RECORD"), name)

    with zipfile.ZipFile(wheel) as zf:
        entries = [(info, zf.read(info)) for info in sorted(zf.infolist(), key=order)]
    partial = wheel + ".partial"
    with zipfile.ZipFile(partial, "w") as out:
        for info, data in entries:
            new = zipfile.ZipInfo(info.filename, date_time=stamp or info.date_time)
            mode = (info.external_attr >> 16) & 0o777
            if info.is_dir():
                new.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
            else:
                new.external_attr = (stat.S_IFREG | (0o755 if mode & 0o111 else 0o644)) << 16
            new.create_system = 3
            new.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(new, data, compresslevel=6)
    os.replace(partial, wheel)


def main():
    wheel, interp, plat, target = sys.argv[1:5]
    normalize(wheel)
    print("interpreter %s" % sys.version.split()[0])
    python_tag, abi_tag = interp.split("-", 1)
    name = os.path.basename(wheel)
    parts = name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        fail("%s is not a valid wheel file name" % name)
    w_python, w_abi, w_plat = parts[-3:]
    pure = plat == "any"
    if pure and (w_abi, w_plat) != ("none", "any"):
        fail("%s is not a pure-Python wheel" % name)
    if pure and not any(t.startswith("py") or t == python_tag for t in w_python.split(".")):
        fail("%s has python tag %s, which %s cannot install" % (name, w_python, python_tag))
    if not pure and python_tag not in w_python.split(".") and w_abi != "abi3":
        fail("%s has python tag %s, but it was built by %s" % (name, w_python, python_tag))
    if w_abi not in (abi_tag, "abi3", "none"):
        fail("%s has ABI tag %s, but %s needs %s" % (name, w_abi, interp, abi_tag))
    plats = {canonical(p) for p in w_plat.split(".")}
    if canonical(plat) not in plats:
        fail("%s has platform tags %s, not %s" % (name, w_plat, plat))
    if any(p.startswith("linux_") for p in w_plat.split(".")):
        fail("%s still has a linux_* tag: it was not repaired" % name)
    print("tags ok: %s-%s-%s" % (w_python, w_abi, w_plat))

    os.makedirs(target)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
        names = zf.namelist()
    # Every top-level module, then every extension module by its dotted
    # name: a package that falls back to pure Python when its extension
    # fails to load would hide a broken extension behind a good import.
    modules = set()
    extensions = set()
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
        if entry.endswith(".so"):
            parts = entry.split("/")
            dotted = ".".join(parts[:-1] + [parts[-1].split(".", 1)[0]])
            if all(p.isidentifier() for p in dotted.split(".")):
                extensions.add(dotted)
    if not modules:
        fail("%s holds no importable module" % name)
    for root, _, files in os.walk(target):
        for f in files:
            if f.endswith(".so") or ".so." in f:
                os.chmod(os.path.join(root, f), 0o755)
    sys.path.insert(0, target)
    wanted = sorted(modules) + sorted(extensions - modules)
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

main()
