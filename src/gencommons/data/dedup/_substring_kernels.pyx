# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled loops of ``substring.py``: word scan, byte units, suffix compaction, PLCP, marks, cover.

Each function is the C translation of the Python reference of the same name in ``substring.py``
(``_scan_words`` ...), which the tests run against it. Why Cython and not numba: see
``_minhash_kernels.pyx``. The suffix array is int32 or int64 (pydivsufsort picks by size) and the unit
stream uint8 (bytes) or uint32 (word ids): fused types compile each combination.
"""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused unit_t:
    uint8_t
    uint32_t

cdef uint32_t WORD_SEP = 0


def _scan_words(const uint8_t[::1] data, const int64_t[::1] offsets, uint32_t[::1] ids, int64_t[::1] starts):
    """Split documents into whitespace-separated words (``str.split``); see ``substring._scan_words``."""
    cdef Py_ssize_t n_docs = offsets.shape[0] - 1
    counts_arr = np.zeros(n_docs, dtype=np.int64)
    cdef int64_t[::1] counts = counts_arr
    cdef bint fill = ids.shape[0] > 0, fill_starts = starts.shape[0] > 0
    cdef Py_ssize_t cap = ids.shape[0], cap_starts = starts.shape[0]
    cdef Py_ssize_t o = 0, d, begin, end, p, w, c
    cdef bint in_word, full = False
    cdef uint64_t h = 0, v
    cdef uint8_t b, c1, c2
    with nogil:
        for d in range(n_docs):
            begin = offsets[d]
            end = offsets[d + 1]
            p = begin
            in_word = False
            h = 0
            c = 0
            while p <= end:
                w = 1  # length of the whitespace character at p, 0 if none; the end counts as one
                if p < end:
                    b = data[p]
                    w = 0
                    if b < 0x80:
                        if b == 32 or 9 <= b <= 13 or 28 <= b <= 31:
                            w = 1
                    elif b == 0xC2:
                        if p + 1 < end and (data[p + 1] == 0x85 or data[p + 1] == 0xA0):
                            w = 2
                    elif 0xE1 <= b <= 0xE3 and p + 2 < end:
                        c1 = data[p + 1]
                        c2 = data[p + 2]
                        if (
                            (b == 0xE1 and c1 == 0x9A and c2 == 0x80)
                            or (b == 0xE2 and c1 == 0x80 and (c2 <= 0x8A or c2 == 0xA8 or c2 == 0xA9 or c2 == 0xAF))
                            or (b == 0xE2 and c1 == 0x81 and c2 == 0x9F)
                            or (b == 0xE3 and c1 == 0x80 and c2 == 0x80)
                        ):
                            w = 3
                if w > 0:
                    if in_word:
                        if fill:  # murmur3's 64-bit finaliser, folded to 32 bits; 0 is the separator
                            if o >= cap:
                                full = True
                                break
                            h ^= h >> 33
                            h *= 0xFF51AFD7ED558CCDULL
                            h ^= h >> 33
                            h *= 0xC4CEB9FE1A85EC53ULL
                            h ^= h >> 33
                            v = (h ^ (h >> 32)) & 0xFFFFFFFFULL
                            ids[o] = <uint32_t>v if v != 0 else 1
                            o += 1
                        c += 1
                        in_word = False
                    p += w
                else:
                    if not in_word:
                        in_word = True
                        h = 14695981039346656037ULL  # FNV-1a 64
                        if fill_starts:
                            if o >= cap_starts:
                                full = True
                                break
                            starts[o] = p - begin
                    h = (h ^ data[p]) * 1099511628211ULL
                    p += 1
            if full:
                break
            if fill:
                if o >= cap or (fill_starts and o >= cap_starts):
                    full = True
                    break
                ids[o] = WORD_SEP
                if fill_starts:
                    starts[o] = end - begin
                o += 1
            counts[d] = c
    if full:
        raise ValueError(f"ids ({cap}) or starts ({cap_starts}) is too small for the words of the documents")
    return counts_arr


def _byte_units(const uint8_t[::1] data, const int64_t[::1] offsets, uint8_t[::1] out):
    """Copy each document's bytes to ``out``, a separator after each."""
    cdef Py_ssize_t o = 0, d, p
    if out.shape[0] < (offsets[offsets.shape[0] - 1] - offsets[0]) + offsets.shape[0] - 1:
        raise ValueError("out is too small")
    with nogil:
        for d in range(offsets.shape[0] - 1):
            for p in range(offsets[d], offsets[d + 1]):
                out[o] = data[p]
                o += 1
            out[o] = 0xFF
            o += 1


def _compact(index_t[::1] sa, Py_ssize_t width):
    """In place: keep the suffixes starting at multiples of ``width`` (in order), as unit positions."""
    cdef Py_ssize_t m = 0, r
    with nogil:
        for r in range(sa.shape[0]):
            if sa[r] % width == 0:
                sa[m] = sa[r] // width
                m += 1
    return m


def _plcp(const unit_t[::1] text, const index_t[::1] sa, Py_ssize_t n, int64_t sep, index_t[::1] out):
    """Φ algorithm: out[i] = units shared by suffix i and its predecessor in ``sa``, up to a separator."""
    cdef Py_ssize_t r, i, j, h = 0
    if n > text.shape[0] or n > sa.shape[0] or n > out.shape[0]:
        raise ValueError("n exceeds an array")
    if n == 0:
        return
    with nogil:
        out[sa[0]] = -1
        for r in range(1, n):
            out[sa[r]] = sa[r - 1]
        for i in range(n):
            j = out[i]
            if text[i] == sep or j < 0:
                out[i] = 0
                h = 0
                continue
            # PLCP[i] >= PLCP[i-1] - 1 inside a document, so h carries over: O(n) comparisons in all
            while i + h < n and j + h < n and text[i + h] == text[j + h] and text[i + h] != sep:
                h += 1
            out[i] = h
            if h > 0:
                h -= 1


def _mark(const index_t[::1] sa, index_t[::1] plcp, Py_ssize_t n, Py_ssize_t k, Py_ssize_t min_count, int keep_first):
    """Mark (plcp[pos] = -1) each window start shared by >= min_count suffixes; returns how many."""
    cdef Py_ssize_t marked = 0, a = 0, r, q, first
    if n > sa.shape[0] or n > plcp.shape[0]:
        raise ValueError("n exceeds an array")
    with nogil:
        for r in range(1, n + 1):
            if r < n and plcp[sa[r]] >= k:
                continue
            if r - a >= min_count:  # ranks a..r-1 share their first k units
                first = n
                if keep_first:
                    for q in range(a, r):
                        if sa[q] < first:
                            first = sa[q]
                for q in range(a, r):
                    if sa[q] != first:
                        plcp[sa[q]] = -1
                        marked += 1
            a = r
    return marked


def _cover(
    const unit_t[::1] text,
    const index_t[::1] plcp,
    Py_ssize_t n,
    int64_t sep,
    Py_ssize_t k,
    int64_t[::1] doc,
    int64_t[::1] lo,
    int64_t[::1] hi,
):
    """Merge the marked windows [i, i+k) into ranges (document number, start, end in the document);
    fills the arrays as far as they are long and returns the number of ranges."""
    cdef Py_ssize_t m = 0, d = 0, doc_start = 0, i, cap = doc.shape[0]
    cdef Py_ssize_t cur_lo = -1, cur_hi = -1, cur_doc = 0, cur_start = 0
    if lo.shape[0] < cap or hi.shape[0] < cap:
        raise ValueError("doc, lo and hi differ in length")
    if n > text.shape[0] or n > plcp.shape[0]:
        raise ValueError("n exceeds an array")
    with nogil:
        for i in range(n):
            if text[i] == sep:
                d += 1
                doc_start = i + 1
            elif plcp[i] == -1:
                if cur_lo >= 0 and i <= cur_hi:  # overlaps or touches the open range
                    if i + k > cur_hi:
                        cur_hi = i + k
                    continue
                if cur_lo >= 0:
                    if m < cap:
                        doc[m] = cur_doc
                        lo[m] = cur_lo - cur_start
                        hi[m] = cur_hi - cur_start
                    m += 1
                cur_lo = i
                cur_hi = i + k
                cur_doc = d
                cur_start = doc_start
        if cur_lo >= 0:
            if m < cap:
                doc[m] = cur_doc
                lo[m] = cur_lo - cur_start
                hi[m] = cur_hi - cur_start
            m += 1
    return m
