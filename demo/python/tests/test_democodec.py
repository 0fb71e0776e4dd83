"""The demo's tests, run against the installed wheel (never the sources)."""

import bz2
import os
import zlib

import democodec

DATA = bytes(range(256)) * 1000 + b"manylinux"


def test_runs_from_the_installed_wheel():
    # The copied sources live under /xtask/work; the wheel is installed elsewhere.
    assert "site-packages" in democodec.__file__, democodec.__file__
    assert "/xtask/work/" not in democodec.__file__, democodec.__file__


def test_crc32_and_adler32_match_zlib():
    assert democodec.crc32(DATA) == zlib.crc32(DATA)
    assert democodec.adler32(DATA) == zlib.adler32(DATA)


def test_bz2_round_trip():
    assert bz2.decompress(democodec.bz2_compress(DATA)) == DATA


def test_libbz2_is_the_one_grafted_into_the_wheel():
    # auditwheel copied libbz2 into demo_codec.libs; the extension must load
    # that copy (the system's may be mapped too: Python's own bz2 module uses it).
    democodec.bz2_compress(b"x")
    with open("/proc/self/maps") as maps:
        mapped = {line.split()[-1] for line in maps if "libbz2" in line}
    assert mapped, "libbz2 is not loaded"
    assert any("demo_codec.libs" + os.sep in path for path in mapped), mapped
