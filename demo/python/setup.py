"""The demo package: a C extension over sources outside this folder, linked
to zlib and libbz2, with the project's README as its description (like Lets-Plot's
setup.py, which reads ../python-extension and ../README.md)."""

import os

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
native = os.path.join(here, "..", "native")

with open(os.path.join(here, "..", "..", "README.md"), encoding="utf-8") as f:
    long_description = f.read()

setup(
    name="demo-codec",
    version="0.1.0",
    description="Checksums by zlib and compression by libbz2: the embedded demo of cargo xtask wheels",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    packages=["democodec"],
    ext_modules=[
        Extension(
            "democodec._native",
            sources=[
                "democodec/_native.c",
                os.path.relpath(os.path.join(native, "zcrc.c"), here),
            ],
            include_dirs=[os.path.relpath(native, here)],
            libraries=["z", "bz2"],
        )
    ],
    python_requires=">=3.7",
)
