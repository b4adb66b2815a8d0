"""Seeded uint64 draws for MinHash's hash functions (permutations, band-key multipliers).

SHAKE-128 (FIPS 202) of a label and the seed, cut into little-endian uint64s: the same numbers on every
platform and with every version of every library, as the token hashes are. numpy's ``Generator``
streams make no such promise (NEP 19: a stream may change between numpy versions), and a run resumed
after an upgrade would then mix signatures of two hash families. Standard library only, which also
spares each process numpy.random's import (~2.4 MB resident), and lets the benchmark's pyarrow-free
path (``bench/_minhash_peer_driver.py``) draw the same numbers.
"""

from __future__ import annotations

import hashlib

import numpy as np


def uint64s(label: str, seed: int, n: int) -> np.ndarray:
    """``n`` uint64 values drawn from ``(label, seed)``; any int seed (taken mod 2**64)."""
    raw = hashlib.shake_128(label.encode() + (seed % 2**64).to_bytes(8, "little")).digest(8 * n)
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def permutations(seed: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of the multiply-shift permutations ``(a·x + b mod 2^64) >> 32``, ``a`` odd."""
    return uint64s("minhash.a", seed, num_perm) | np.uint64(1), uint64s("minhash.b", seed, num_perm)


def band_multipliers(seed: int, rows: int) -> np.ndarray:
    """One odd multiplier per row of a band, for its bucket key."""
    return uint64s("minhash.band", seed, rows) | np.uint64(1)
