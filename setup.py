"""The compiled extensions (everything else is in pyproject.toml).

The Cython modules build with ``-O3`` for the baseline of the architecture, so that one build runs on
every machine of a cluster; the one loop that needs wide SIMD (MinHash, ``_minhash_loop.h``) carries
its own AVX-512 and AVX2 versions, picked when the module loads. ``GENCOMMONS_NATIVE=1`` builds
everything for the installing machine's CPU instead (``-march=native``; measured no faster here).
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

flags = ["-O3"] + (["-march=native"] if os.environ.get("GENCOMMONS_NATIVE") == "1" else [])

KERNELS = ["data/dedup/_minhash_kernels", "data/dedup/_substring_kernels", "data/steps/_gopher_kernels"]
HEADERS = {"data/dedup/_minhash_kernels": ["src/gencommons/data/dedup/_minhash_loop.h"]}
extensions = [
    Extension(
        "gencommons." + k.replace("/", "."),
        [f"src/gencommons/{k}.pyx"],
        depends=HEADERS.get(k, []),
        extra_compile_args=flags,
    )
    for k in KERNELS
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}, quiet=True))
