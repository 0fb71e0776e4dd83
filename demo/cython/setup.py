from Cython.Build import cythonize
from setuptools import setup

setup(packages=[], ext_modules=cythonize("cystats.pyx", language_level=3))
