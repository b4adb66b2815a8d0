# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled loops of ``minhash.py``: tokenize + hash, roll shingles, MinHash, union-find, set
intersections (``verify``); and the
text normalization of ``exact.py`` (case folding and whitespace, with the same Unicode tables).

Each function is the C translation of the Python reference kernel of the same name in ``minhash.py``
(``_tokens_kernel_py`` ...), which the tests run against it on random input. Cython, not numba: a
numba process pays ~0.6 CPU-s and ~170 MB of RSS to import numba and load even cached kernels (LLVM),
more than the whole signature stage of a 30k-document corpus; this extension loads in a millisecond
and adds nothing. All arithmetic is on ``uint64_t`` and wraps mod 2^64, as in the reference kernels.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "_minhash_loop.h" nogil:
    void gc_minhash_rows(
        const uint64_t *shingles, const int64_t *off, int64_t n_docs, const uint64_t *a, const uint64_t *b,
        int64_t m, uint64_t *sig,
    )

cdef uint64_t FNV_PRIME = 0x100000001B3ULL
cdef uint64_t FNV_OFFSET = 0xCBF29CE484222325ULL
cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL


cdef inline uint64_t finish(uint64_t h) noexcept nogil:
    """murmur3's 64-bit finalizer."""
    h ^= h >> 33
    h *= 0xFF51AFD7ED558CCDULL
    h ^= h >> 33
    h *= 0xC4CEB9FE1A85EC53ULL
    h ^= h >> 33
    return h


cdef inline Py_ssize_t decode(
    const uint8_t[::1] data, Py_ssize_t i, Py_ssize_t stop, int64_t *cp
) noexcept nogil:
    """The code point starting at ``data[i]`` into ``cp``; returns its length in bytes. A sequence
    truncated by ``stop`` (never in valid UTF-8) is decoded from what is there."""
    cdef uint8_t b = data[i]
    cdef Py_ssize_t k, j
    if b < 0x80:
        cp[0] = b
        return 1
    k = 2 if b < 0xE0 else (3 if b < 0xF0 else 4)
    if i + k > stop:
        k = stop - i
    cp[0] = b & (0x1F if b < 0xE0 else (0x0F if b < 0xF0 else 0x07))
    for j in range(1, k):
        cp[0] = (cp[0] << 6) | (data[i + j] & 0x3F)
    return k


cdef inline uint64_t mix(
    uint64_t h, int64_t cp, const int32_t *fold, Py_ssize_t n_fold, const uint32_t *expansions
) noexcept nogil:
    """FNV-1a step over the case-folded code point(s) of ``cp`` (``fold``: see ``_unicode.fold_tables``)."""
    cdef int32_t f
    cdef Py_ssize_t j
    cdef uint32_t x
    if cp < n_fold:
        f = fold[cp]
        if f < 0:
            for j in range(3):
                x = expansions[(-f - 1) * 3 + j]
                if x == 0:
                    break
                h = (h ^ x) * FNV_PRIME
            return h
        cp = f
    return (h ^ <uint64_t>cp) * FNV_PRIME


def tokens(
    const uint8_t[::1] data,
    const int64_t[::1] offs,
    const uint8_t[::1] classes,
    const int32_t[::1] fold,
    const uint32_t[:, ::1] expansions,
    int char,
    uint64_t seed,
    uint64_t[::1] out,
    int64_t[::1] lengths,
):
    """Decode UTF-8, find the tokens of each document and hash each (its case-folded code points, if
    ``fold`` is not empty); returns the number of tokens."""
    cdef uint64_t start_h = FNV_OFFSET ^ (seed * GOLDEN)
    cdef uint64_t space_h = finish((start_h ^ 0x20ULL) * FNV_PRIME)
    cdef uint64_t h = start_h
    cdef Py_ssize_t n = 0, first, d, i, stop, j, k, end = data.shape[0]
    cdef Py_ssize_t n_classes = classes.shape[0], n_docs = offs.shape[0] - 1, cap = out.shape[0]
    cdef Py_ssize_t n_fold = fold.shape[0]
    cdef const int32_t *fold_p = &fold[0] if n_fold else NULL
    cdef const uint32_t *exp_p = &expansions[0, 0] if expansions.shape[0] else NULL
    cdef int64_t cp
    cdef uint8_t cls
    cdef bint in_word, space, full = False
    if lengths.shape[0] < n_docs:
        raise ValueError("lengths is shorter than the number of documents")
    if expansions.shape[0] and expansions.shape[1] != 3:
        raise ValueError("expansions must have 3 columns")
    if n_fold and exp_p == NULL:
        raise ValueError("a fold table needs its expansions")
    with nogil:
        for d in range(n_docs):
            i = offs[d]
            stop = offs[d + 1]
            if stop > end:
                stop = end
            first = n
            h = start_h
            in_word = False
            space = False
            while i < stop:
                k = decode(data, i, stop, &cp)
                cls = classes[cp] if cp < n_classes else 0
                if char:
                    if cls & 2:
                        space = n > first  # a whitespace run counts as one space, none at either end
                    else:
                        if n + 2 > cap:
                            full = True
                            break
                        if space:
                            out[n] = space_h
                            n += 1
                            space = False
                        out[n] = finish(mix(start_h, cp, fold_p, n_fold, exp_p))
                        n += 1
                elif cls & 1:
                    if not in_word:
                        h = start_h
                        in_word = True
                    h = mix(h, cp, fold_p, n_fold, exp_p)
                elif in_word:
                    if n >= cap:
                        full = True
                        break
                    out[n] = finish(h)
                    n += 1
                    in_word = False
                i += k
            if full or (in_word and n >= cap):
                full = True
                break
            if in_word:
                out[n] = finish(h)
                n += 1
            lengths[d] = n - first
    if full:
        raise ValueError(f"out ({cap} hashes) is too small for the tokens of documents 0..{d}")
    return n


def roll(
    const uint64_t[::1] hashes,
    const int64_t[::1] tok_off,
    const int64_t[::1] off,
    Py_ssize_t n,
    uint64_t[::1] out,
):
    """n-gram hashes: a polynomial over each window of n token hashes, mixed by the murmur3 finalizer
    (see ``_roll_kernel_py``)."""
    cdef Py_ssize_t d, i, j, start, k, w
    cdef uint64_t h
    with nogil:
        for d in range(tok_off.shape[0] - 1):
            start = tok_off[d]
            k = tok_off[d + 1] - start
            if k == 0:
                continue
            w = n if n < k else k
            for i in range(off[d + 1] - off[d]):
                h = 0
                for j in range(w):
                    h = h * GOLDEN + hashes[start + i + j]
                out[off[d] + i] = finish(h)


def minhash(
    const uint64_t[::1] shingles,
    const int64_t[::1] off,
    const uint64_t[::1] a,
    const uint64_t[::1] b,
    uint64_t[:, ::1] sig,
):
    """sig[d, j] = min over the shingles x of document d of (a[j]·x + b[j] mod 2^64) >> 32."""
    cdef Py_ssize_t m = a.shape[0], n_docs = off.shape[0] - 1
    if sig.shape[1] != m or b.shape[0] != m or sig.shape[0] < n_docs:
        raise ValueError("sig, a and b do not agree")
    if m == 0 or n_docs <= 0:
        return
    if off[n_docs] > shingles.shape[0] or off[0] < 0:
        raise ValueError("off points outside shingles")
    with nogil:  # the loop is C (_minhash_loop.h): compiled for AVX-512, AVX2 and baseline x86-64
        gc_minhash_rows(&shingles[0] if shingles.shape[0] else NULL, &off[0], n_docs, &a[0], &b[0], m, &sig[0, 0])


def superminhash(
    const uint64_t[::1] shingles,
    const int64_t[::1] off,
    uint64_t seed,
    uint64_t[:, ::1] sig,
    int32_t[::1] perm,
    int32_t[::1] touched,
    int64_t[::1] hist,
):
    """SuperMinHash (Ertl 2017; see ``_superminhash_kernel_py``): sig[d, j] = min over the shingles x
    of document d of ``(position of j in x's permutation) << 32 | 32 random bits``, each shingle's
    permutation drawn by Fisher–Yates from a splitmix64 stream seeded by x, stopped once no later
    position can lower a value. ``perm``, ``touched``, ``hist``: scratch of num_perm entries."""
    cdef Py_ssize_t m = sig.shape[1], n_docs = off.shape[0] - 1, d, c
    cdef int64_t i, j, k, a, j2, u
    cdef int32_t t
    cdef uint64_t s, z, v, mix = seed * 0xD1B54A32D192ED03ULL
    cdef uint64_t *row
    if perm.shape[0] != m or touched.shape[0] != m or hist.shape[0] != m or sig.shape[0] < n_docs:
        raise ValueError("sig and the scratch arrays do not agree")
    if m == 0 or n_docs <= 0:
        return
    if off[n_docs] > shingles.shape[0] or off[0] < 0:
        raise ValueError("off points outside shingles")
    with nogil:
        for c in range(m):
            perm[c] = <int32_t>c  # the identity between shingles: a walk undoes what it wrote
        for d in range(n_docs):
            row = &sig[d, 0]
            for c in range(m):
                row[c] = 0xFFFFFFFFFFFFFFFFULL
                hist[c] = 0
            hist[m - 1] = m  # values per position (the last counts the empty ones)
            a = m - 1  # the largest position of any value: later positions cannot lower one
            for i in range(off[d], off[d + 1]):
                s = shingles[i] ^ mix
                j = 0
                while j <= a:
                    s += GOLDEN  # splitmix64
                    z = s
                    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
                    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
                    z = z ^ (z >> 31)
                    k = j + <int64_t>(((z & 0xFFFFFFFFULL) * <uint64_t>(m - j)) >> 32)
                    # the swap of Fisher–Yates, writing only what a later step reads: position j is
                    # done, so its entry moves to k
                    t = perm[j]
                    c = perm[k]
                    perm[k] = t
                    touched[j] = <int32_t>k
                    v = (<uint64_t>j << 32) | (z >> 32)
                    if v < row[c]:
                        j2 = <int64_t>(row[c] >> 32)
                        if j2 > m - 1:
                            j2 = m - 1
                        row[c] = v
                        if j < j2:
                            hist[j2] -= 1
                            hist[j] += 1
                            while hist[a] == 0:
                                a -= 1
                    j += 1
                for u in range(j):  # back to the identity (a quarter faster than marking fresh entries)
                    perm[touched[u]] = touched[u]


cdef inline int64_t find(int64_t[::1] parent, int64_t x) noexcept nogil:
    cdef int64_t root = x, nxt
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


def union_all(int64_t[::1] parent, const int64_t[::1] a, const int64_t[::1] b):
    """Union-find over the edges (a[i], b[i]); the smaller index (earlier document) becomes the root."""
    cdef Py_ssize_t i, n = parent.shape[0]
    cdef int64_t ra, rb
    if a.shape[0] != b.shape[0]:
        raise ValueError("a and b differ in length")
    for i in range(a.shape[0]):
        if not (0 <= a[i] < n and 0 <= b[i] < n):
            raise IndexError(f"edge {i} ({a[i]}, {b[i]}) is outside 0..{n - 1}")
    with nogil:
        for i in range(a.shape[0]):
            ra = find(parent, a[i])
            rb = find(parent, b[i])
            if ra != rb:
                if ra < rb:
                    parent[rb] = ra
                else:
                    parent[ra] = rb


def intersections(
    const uint64_t[::1] values, const int64_t[::1] off, const int64_t[::1] a, const int64_t[::1] b,
    int64_t[::1] out,
):
    """out[i] = |set a[i] ∩ set b[i]|, where set d is values[off[d]:off[d + 1]], sorted and distinct: a
    merge of the two runs."""
    cdef Py_ssize_t i, n = off.shape[0] - 1
    cdef int64_t x, xe, y, ye, c
    if not (a.shape[0] == b.shape[0] == out.shape[0]):
        raise ValueError("a, b and out differ in length")
    for i in range(a.shape[0]):
        if not (0 <= a[i] < n and 0 <= b[i] < n):
            raise IndexError(f"pair {i} ({a[i]}, {b[i]}) is outside 0..{n - 1}")
    with nogil:
        for i in range(a.shape[0]):
            x, xe, y, ye, c = off[a[i]], off[a[i] + 1], off[b[i]], off[b[i] + 1], 0
            while x < xe and y < ye:
                if values[x] < values[y]:
                    x += 1
                elif values[y] < values[x]:
                    y += 1
                else:
                    c += 1
                    x += 1
                    y += 1
            out[i] = c


def flatten(int64_t[::1] parent):
    """Point every node at its root."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(parent.shape[0]):
            parent[i] = find(parent, i)


cdef inline Py_ssize_t put_utf8(uint8_t[::1] out, Py_ssize_t n, uint32_t cp) noexcept nogil:
    """Write ``cp`` as UTF-8 at ``out[n]``; returns the new end (the caller leaves room for 4 bytes)."""
    if cp < 0x80:
        out[n] = <uint8_t>cp
        return n + 1
    if cp < 0x800:
        out[n] = <uint8_t>(0xC0 | (cp >> 6))
        out[n + 1] = <uint8_t>(0x80 | (cp & 0x3F))
        return n + 2
    if cp < 0x10000:
        out[n] = <uint8_t>(0xE0 | (cp >> 12))
        out[n + 1] = <uint8_t>(0x80 | ((cp >> 6) & 0x3F))
        out[n + 2] = <uint8_t>(0x80 | (cp & 0x3F))
        return n + 3
    out[n] = <uint8_t>(0xF0 | (cp >> 18))
    out[n + 1] = <uint8_t>(0x80 | ((cp >> 12) & 0x3F))
    out[n + 2] = <uint8_t>(0x80 | ((cp >> 6) & 0x3F))
    out[n + 3] = <uint8_t>(0x80 | (cp & 0x3F))
    return n + 4


def normalize(
    const uint8_t[::1] data,
    const int64_t[::1] offs,
    const uint8_t[::1] classes,
    const int32_t[::1] fold,
    const uint32_t[:, ::1] expansions,
    int collapse,
    uint8_t[::1] out,
    int64_t[::1] out_offs,
):
    """The texts of ``exact_dedup``, normalized as UTF-8 into ``out`` (document d at
    ``out[out_offs[d]:out_offs[d + 1]]``): each code point case-folded (if ``fold`` is not empty), and
    with ``collapse`` every whitespace run one space and none at either end. ``out`` needs 3 bytes per
    input byte (a fold expands a 2-byte character to at most 6 bytes) plus 4. Returns the bytes used."""
    cdef Py_ssize_t n = 0, d, i, stop, j, k, end = data.shape[0], cap = out.shape[0]
    cdef Py_ssize_t n_classes = classes.shape[0], n_docs = offs.shape[0] - 1, n_fold = fold.shape[0]
    cdef int64_t cp
    cdef int32_t f
    cdef uint32_t x
    cdef bint space, started
    if out_offs.shape[0] < n_docs + 1:
        raise ValueError("out_offs is shorter than the number of documents + 1")
    if n_fold and expansions.shape[0] == 0:
        raise ValueError("a fold table needs its expansions")
    if n_docs > 0 and cap < 3 * (offs[n_docs] - offs[0]) + 4:
        raise ValueError(f"out ({cap} bytes) is too small: it needs 3 per input byte + 4")
    with nogil:
        for d in range(n_docs):
            out_offs[d] = n
            i = offs[d]
            stop = offs[d + 1]
            if stop > end:
                stop = end
            space = False
            started = False
            while i < stop:
                k = decode(data, i, stop, &cp)
                i += k
                if collapse and cp < n_classes and classes[cp] & 2:
                    space = started  # a whitespace run is one space, none at either end
                    continue
                if space:
                    out[n] = 0x20
                    n += 1
                    space = False
                started = True
                f = fold[cp] if cp < n_fold else <int32_t>cp
                if f >= 0:
                    n = put_utf8(out, n, <uint32_t>f)
                else:
                    for j in range(3):
                        x = expansions[-f - 1, j]
                        if x == 0:
                            break
                        n = put_utf8(out, n, x)
        out_offs[n_docs] = n
    return n
