"""Type stubs of the compiled ``_minhash_kernels.pyx``."""

import numpy as np

def tokens(
    data: np.ndarray,
    offs: np.ndarray,
    classes: np.ndarray,
    fold: np.ndarray,
    expansions: np.ndarray,
    char: int,
    seed: int | np.uint64,
    out: np.ndarray,
    lengths: np.ndarray,
) -> int: ...
def roll(hashes: np.ndarray, tok_off: np.ndarray, off: np.ndarray, n: int, out: np.ndarray) -> None: ...
def minhash(shingles: np.ndarray, off: np.ndarray, a: np.ndarray, b: np.ndarray, sig: np.ndarray) -> None: ...
def superminhash(
    shingles: np.ndarray,
    off: np.ndarray,
    seed: int | np.uint64,
    sig: np.ndarray,
    perm: np.ndarray,
    touched: np.ndarray,
    hist: np.ndarray,
) -> None: ...
def union_all(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None: ...
def flatten(parent: np.ndarray) -> None: ...
def intersections(
    values: np.ndarray, off: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None: ...
def normalize(
    data: np.ndarray,
    offs: np.ndarray,
    classes: np.ndarray,
    fold: np.ndarray,
    expansions: np.ndarray,
    collapse: int,
    out: np.ndarray,
    out_offs: np.ndarray,
) -> int: ...
