"""Checksums computed by zlib through a C extension."""

from ._native import adler32, crc32, zlib_version

__all__ = ["adler32", "crc32", "zlib_version"]
