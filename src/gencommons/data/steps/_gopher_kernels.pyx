# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled loop of ``gopher.py``: the duplicated-n-gram walk (C translation of ``gopher._walk``,
which the tests run against it). Why Cython and not numba: see ``dedup/_minhash_kernels.pyx``."""

import numpy as np

from libc.stdint cimport int64_t, uint8_t


def walk(const int64_t[::1] pos, const int64_t[::1] group, int64_t n, Py_ssize_t n_groups):
    """Which positions the walk counts: see ``gopher._walk``."""
    cdef Py_ssize_t i, m = pos.shape[0]
    cdef int64_t allowed = -1, p, g
    if group.shape[0] != m:
        raise ValueError("pos and group differ in length")
    seen_arr = np.zeros(n_groups, dtype=np.uint8)
    counted_arr = np.zeros(m, dtype=np.bool_)
    cdef uint8_t[::1] seen = seen_arr
    cdef uint8_t[::1] counted = counted_arr.view(np.uint8)
    for i in range(m):
        if not 0 <= group[i] < n_groups:
            raise IndexError(f"group {group[i]} is outside 0..{n_groups - 1}")
    with nogil:
        for i in range(m):
            p = pos[i]
            if p < allowed:
                continue
            g = group[i]
            if seen[g]:
                counted[i] = 1
                allowed = p + n
            else:
                seen[g] = 1
    return counted_arr
