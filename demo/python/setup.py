"""The demo package: a C extension over sources outside this folder, linked
to zlib, with the project's README as its description (like Lets-Plot's
setup.py, which reads ../python-extension and ../README.md)."""

import os

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
native = os.path.join(here, "..", "native")

with open(os.path.join(here, "..", "..", "README.md"), encoding="utf-8") as f:
    long_description = f.read()

setup(
    name="demo-zlib",
    version="0.1.0",
    description="A checksum module over zlib: the embedded demo of cargo xtask wheels",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    packages=["demo_zlib"],
    ext_modules=[
        Extension(
            "demo_zlib._native",
            sources=[
                "demo_zlib/_native.c",
                os.path.relpath(os.path.join(native, "zcrc.c"), here),
            ],
            include_dirs=[os.path.relpath(native, here)],
            libraries=["z"],
        )
    ],
    python_requires=">=3.7",
)
