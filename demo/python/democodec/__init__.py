"""Checksums by zlib and compression by libbz2, through a C extension."""

from ._native import adler32, bz2_compress, crc32, zlib_version

__all__ = ["adler32", "bz2_compress", "crc32", "zlib_version"]
