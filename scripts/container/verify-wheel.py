"""Verifies wheels inside a container of their architecture.

usage: python -I verify-wheel.py WHEEL...

For each wheel: its members safe to unpack (members.py), every file's hash
and size against RECORD, the tags of the
file name against the Tag lines of its WHEEL metadata, and auditwheel's
verdict against the platform tags the name claims (each claimed manylinux
or musllinux tag must be of the C library auditwheel finds the wheel's
shared objects need, glibc or musl, and claim at least the version it
says they need; a pure-Python wheel, tagged `any`, has none). Prints
`ok NAME` or `FAIL NAME: what differs`, one line per wheel; exits 1 if any
failed. Standard library only.
"""

import base64
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import members  # noqa: E402  (beside this script)

LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def libc(tag):
    """(family, major, minor, arch) of a manylinux or musllinux platform
    tag, or None."""
    m = re.fullmatch(r"(manylinux|musllinux)_(\d+)_(\d+)_(.+)", tag)
    if m:
        return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    for old, version in LEGACY.items():
        if tag.startswith(old + "_"):
            return ("manylinux",) + version + (tag[len(old) + 1 :],)
    return None


def record_problem(zf):
    names = zf.namelist()
    records = [n for n in names if n.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        return "expected one .dist-info/RECORD, found %d" % len(records)
    listed = {}
    for row in csv.reader(io.StringIO(zf.read(records[0]).decode("utf-8"))):
        if row:
            listed[row[0]] = row[1:]
    for name in names:
        if name.endswith("/"):
            continue
        if name not in listed:
            return "%s is not in RECORD" % name
        if name == records[0]:
            continue
        digest, size = listed[name][0], listed[name][1]
        data = zf.read(name)
        algo, _, expected = digest.partition("=")
        actual = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode()
        if actual != expected:
            return "%s does not match its RECORD hash" % name
        if size and int(size) != len(data):
            return "%s does not match its RECORD size" % name
    for name in listed:
        if name not in names:
            return "RECORD lists %s, which the wheel does not hold" % name
    return None


def tag_problem(zf, filename):
    parts = filename[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        return "%s is not a wheel file name" % filename
    pys, abis, plats = (p.split(".") for p in parts[-3:])
    named = {(p, a, pl) for p in pys for a in abis for pl in plats}
    wheel_files = [n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")]
    if len(wheel_files) != 1:
        return "expected one .dist-info/WHEEL"
    meta = zf.read(wheel_files[0]).decode("utf-8")
    declared = {tuple(l.split(":", 1)[1].strip().split("-")) for l in meta.splitlines() if l.startswith("Tag:")}
    if named != declared:
        extra = sorted("-".join(t) for t in named - declared)
        missing = sorted("-".join(t) for t in declared - named)
        return "the file name's tags differ from WHEEL's (named only: %s; declared only: %s)" % (
            ", ".join(extra) or "none",
            ", ".join(missing) or "none",
        )
    return None


def auditwheel_problem(path, plats):
    out = subprocess.run(["auditwheel", "show", path], capture_output=True, text=True)
    names = {"manylinux": "glibc", "musllinux": "musl"}
    # auditwheel judges a wheel by the libc its name claims, and passes over
    # (with a warning) the shared objects of the other.
    for so, lib in re.findall(r"ignoring: (\S+) with (\w+) libc", out.stderr):
        for plat in plats:
            claimed = libc(plat)
            if claimed and names[claimed[0]] != lib:
                return "%s claims %s, but auditwheel finds %s needs %s" % (plat, names[claimed[0]], so, lib)
    m = re.search(r'consistent with the following platform tag: "([^"]+)"', out.stdout.replace("\n", " "))
    if out.returncode != 0 or not m:
        return "auditwheel show failed: %s" % (out.stderr.strip() or out.stdout.strip())
    need = libc(m.group(1))
    if need is None:
        return "auditwheel finds it fits no manylinux or musllinux policy (%s)" % m.group(1)
    for plat in plats:
        claimed = libc(plat)
        if claimed is None:
            return "%s is not a manylinux or musllinux tag" % plat
        if claimed[3] != need[3]:
            return "%s is for %s, but the wheel is for %s" % (plat, claimed[3], need[3])
        if claimed[0] != need[0]:
            return "%s claims %s, but auditwheel finds its shared objects need %s (%s)" % (
                plat, names[claimed[0]], names[need[0]], m.group(1))
        if claimed[1:3] < need[1:3]:
            return "%s claims %s %d.%d, but auditwheel finds it needs %s" % (
                plat, names[claimed[0]], claimed[1], claimed[2], m.group(1))
    return None


def main():
    failed = False
    for path in sys.argv[1:]:
        name = os.path.basename(path)
        try:
            with zipfile.ZipFile(path) as zf:
                # Nothing is read from a wheel that is unsafe to unpack.
                problem = (
                    members.problem(zf, os.path.getsize(path))
                    or record_problem(zf)
                    or tag_problem(zf, name)
                )
        except Exception as e:  # a damaged zip fails in many ways (BadZipFile, zlib.error, ...)
            problem = "it is not a readable wheel (%s: %s)" % (type(e).__name__, e)
        plats = name[: -len(".whl")].split("-")[-1].split(".")
        # A pure-Python wheel has no platform for auditwheel to judge.
        if not problem and plats != ["any"]:
            problem = auditwheel_problem(path, plats)
        if problem:
            failed = True
            print("FAIL %s: %s" % (name, problem))
        else:
            print("ok %s" % name)
    sys.exit(1 if failed else 0)


main()
