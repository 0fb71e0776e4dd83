"""Repairs, normalises and unpacks the wheel of one build.

usage: python -I -u repair-wheel.py INTERPRETER PLAT REPAIRED FOLDER PYTHON
       then one line on stdin: repair WHEEL, or accept WHEEL

build-wheel.sh starts this before the build, with auditwheel's own
interpreter where it can, so that the interpreter's start and its imports of
auditwheel and zipfile (about 0.1 s natively, seconds under emulation) take
place while the wheel builds; it starts check-wheel.py in the build's
interpreter PYTHON at once, for the same reason. It then waits for its line:
nothing happens when stdin ends without one (the build failed). `repair`
runs auditwheel in this process (or, where auditwheel cannot be imported
here, as a command); `accept` takes a pure-Python wheel as it is. Either way
the wheel lands in REPAIRED, is rewritten so that its bytes depend on its
contents alone (see normalize), its tags must fit the interpreter that built
it (its /opt/python folder is named <python tag>-<abi tag>) and the platform
asked for, and it is unpacked into FOLDER, where check-wheel.py imports it.
Standard library only, and no newer Python than the oldest interpreter of an
image needs: without auditwheel's interpreter this runs with the build's.

Exit status: 0 done, 1 the wheel failed its check, 2 the repair failed.
"""

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import members  # noqa: E402  (beside this script)


def import_auditwheel():
    """auditwheel's entry point, or None where it cannot be imported here.

    In the cross environment (XTASK_REPAIR_CROSS: "MACHINE SITE-PACKAGES")
    this runs in the native CPython: auditwheel and its packages come from
    the image's installation, and `os.uname()` (so `platform.machine()`,
    which auditwheel reads for its policies) says the target's machine."""
    cross = os.environ.get("XTASK_REPAIR_CROSS", "").split(" ", 1)
    if len(cross) == 2:
        machine, site = cross
        sys.path.append(site)
        uname = os.uname
        os.uname = lambda: os.uname_result(tuple(uname())[:4] + (machine,))
    try:
        from auditwheel.main import main
    except Exception as e:
        if len(cross) == 2:
            print("auditwheel cannot be imported in the native CPython (%s): the image's runs emulated" % e, file=sys.stderr)
        return None
    # What `repair` imports on its first use, so that the imports happen
    # now; the names are auditwheel's own and may change.
    for module in ("auditwheel.main_repair", "auditwheel.repair", "auditwheel.wheel_abi"):
        try:
            __import__(module)
        except Exception:
            pass
    return main

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


def repair(auditwheel_main, wheel, plat, repaired):
    """auditwheel repair, in this process when it can be imported here; or
    the project's own repair-wheel-command (XTASK_REPAIR_COMMAND, run by
    bash with {wheel} and {dest_dir} filled in; empty: no repair)."""
    command = os.environ.get("XTASK_REPAIR_COMMAND")
    if command is not None:
        if not command.strip():
            shutil.copy(wheel, repaired)
            return 0
        command = command.replace("{wheel}", shlex.quote(wheel)).replace("{dest_dir}", shlex.quote(repaired))
        print("==> repair-wheel-command: %s" % command, file=sys.stderr)
        return subprocess.call(["bash", "-c", command])
    args = ["repair", "--plat", plat, "--wheel-dir", repaired, wheel]
    if auditwheel_main is None:
        try:
            return subprocess.call(["auditwheel"] + args)
        except OSError as e:
            print("auditwheel: %s" % e, file=sys.stderr)
            return 1
    sys.argv = ["auditwheel"] + args
    try:
        status = auditwheel_main()
    except SystemExit as e:
        status = e.code
    if status is None or status == 0:
        return 0
    if not isinstance(status, int):
        print(status, file=sys.stderr)
        return 1
    return status


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


def check_tags(name, interp, plat):
    python_tag, abi_tag = interp.split("-", 1)
    parts = name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        fail("%s is not a valid wheel file name" % name)
    w_python, w_abi, w_plat = parts[-3:]
    pure = plat == "any"
    # The project's own repair decides the platform tags (none: the wheel
    # keeps its linux_* tag); the interpreter's tags are checked all the same.
    own = os.environ.get("XTASK_REPAIR_COMMAND")
    if pure and (w_abi, w_plat) != ("none", "any"):
        fail("%s is not a pure-Python wheel" % name)
    if pure and not any(t.startswith("py") or t == python_tag for t in w_python.split(".")):
        fail("%s has python tag %s, which %s cannot install" % (name, w_python, python_tag))
    if not pure and python_tag not in w_python.split(".") and w_abi != "abi3":
        fail("%s has python tag %s, but it was built by %s" % (name, w_python, python_tag))
    if w_abi not in (abi_tag, "abi3", "none"):
        fail("%s has ABI tag %s, but %s needs %s" % (name, w_abi, interp, abi_tag))
    plats = {canonical(p) for p in w_plat.split(".")}
    arch = "x86_64" if plat.endswith("_x86_64") else plat.rsplit("_", 1)[-1]
    if own is not None and not pure:
        if not all(p.endswith("_" + arch) for p in w_plat.split(".")):
            fail("%s has platform tags %s, not for %s" % (name, w_plat, arch))
    elif canonical(plat) not in plats:
        fail("%s has platform tags %s, not %s" % (name, w_plat, plat))
    if own is None and any(p.startswith("linux_") for p in w_plat.split(".")):
        fail("%s still has a linux_* tag: it was not repaired" % name)
    print("tags ok: %s-%s-%s" % (w_python, w_abi, w_plat))


def main():
    interp, plat, repaired, target, python = sys.argv[1:6]
    here = os.path.dirname(os.path.abspath(__file__))
    # It waits for the wheel's name, and ends quietly if none comes. Out of
    # the sources, so that only the unpacked wheel can be imported. Started
    # first, so that it starts while auditwheel is imported.
    checker = subprocess.Popen(
        [python, "-I", os.path.join(here, "check-wheel.py"), target],
        stdin=subprocess.PIPE,
        bufsize=0,
        cwd="/",
    )
    try:
        name = prepare(import_auditwheel(), interp, plat, repaired, target)
        try:
            checker.stdin.write(name.encode() + b"\n")
        except BrokenPipeError:
            pass  # it has ended already, and its status says how
    finally:
        checker.stdin.close()
        status = checker.wait()
    if status != 0:
        sys.exit(1)


def prepare(auditwheel_main, interp, plat, repaired, target):
    """Repairs (or takes) the wheel, rewrites it, checks its tags and unpacks
    it into target; returns its name."""
    request = sys.stdin.readline().rstrip("\n")
    if not request:
        sys.exit(0)
    how, wheel = request.split(" ", 1)
    if how == "repair":
        if repair(auditwheel_main, wheel, plat, repaired) != 0:
            sys.exit(2)
        check_plat = plat
    else:
        shutil.copy(wheel, repaired)
        check_plat = "any"
    found = [n for n in os.listdir(repaired) if n.endswith(".whl")]
    if len(found) != 1:
        fail("expected one repaired wheel, found %d" % len(found))
    name = found[0]
    wheel = os.path.join(repaired, name)
    print("==> check %s" % name)
    normalize(wheel)
    check_tags(name, interp, check_plat)
    os.makedirs(target)
    with zipfile.ZipFile(wheel) as zf:
        unsafe = members.problem(zf, os.path.getsize(wheel))
        if unsafe:
            fail("%s is unsafe to unpack: %s" % (name, unsafe))
        zf.extractall(target)
    for root, _, files in os.walk(target):
        for f in files:
            if f.endswith(".so") or ".so." in f:
                os.chmod(os.path.join(root, f), 0o755)
    return name


main()
