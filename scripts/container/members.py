"""What makes a wheel unsafe to unpack: a wheel is untrusted input.

problem(zf, size) names the first member that would write outside the folder
it is unpacked into (an absolute path, a `..`), is a symbolic link, collides
with another once normalised (Unicode form, `./` and `//`), or declares
far more bytes than the whole file holds (a zip bomb); and a RECORD that
lists a path outside the wheel. None when there is none. Nothing is read
but the zip's directory and RECORD. Standard library only.
"""

import csv
import io
import posixpath
import stat
import unicodedata

# A member may expand this many times the wheel's own size (compressed
# text and zeros do), and always to this many bytes.
RATIO = 200
FLOOR = 64 << 20


def outside(name):
    """Why `name` leads outside the folder, or None."""
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "climbs out of the wheel with .."
    return None


def problem(zf, size):
    seen = {}
    for info in zf.infolist():
        name = info.filename
        why = outside(name)
        if why:
            return "member %s %s" % (name, why)
        if stat.S_ISLNK(info.external_attr >> 16):
            return "member %s is a symbolic link" % name
        key = unicodedata.normalize("NFC", posixpath.normpath(name.rstrip("/")))
        if key in seen:
            return "member %s collides with %s once names are normalised" % (name, seen[key])
        seen[key] = name
        if info.file_size > max(RATIO * size, FLOOR):
            return "member %s declares %d bytes, far beyond the %d of the whole file (a zip bomb?)" % (
                name,
                info.file_size,
                size,
            )
    records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    for record in records[:1]:
        for row in csv.reader(io.StringIO(zf.read(record).decode("utf-8"))):
            if row and outside(row[0]):
                return "RECORD lists %s, outside the wheel" % row[0]
    return None
