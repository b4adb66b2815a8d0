"""The compiled extensions (everything else is in pyproject.toml).

Cython modules are built with ``-O3 -march=native`` (the machine that installs is the one that runs;
the MinHash loop vectorizes to its widest SIMD). Set ``GENCOMMONS_PORTABLE=1`` to build for any x86-64
or ARM CPU instead, as for a wheel meant for other machines.
"""

import os
import platform

from Cython.Build import cythonize
from setuptools import Extension, setup

flags = ["-O3"]
if os.environ.get("GENCOMMONS_PORTABLE") != "1" and platform.machine() in (
    "x86_64",
    "AMD64",
    "aarch64",
    "arm64",
):
    flags.append("-march=native" if platform.machine() in ("x86_64", "AMD64") else "-mcpu=native")

KERNELS = ["data/dedup/_minhash_kernels", "data/dedup/_substring_kernels", "data/steps/_gopher_kernels"]
extensions = [
    Extension("gencommons." + k.replace("/", "."), [f"src/gencommons/{k}.pyx"], extra_compile_args=flags)
    for k in KERNELS
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}, quiet=True))
