"""``minhash_dedup``: near-duplicate removal with MinHash LSH, clusters by connected components.

A global step in four stages (``data/step.py``), each resumable and shard- or band-parallel:

1. **signatures** (map stage, per batch): shingles (word n-grams, or character n-grams for scripts
   without spaces) are hashed to 64 bits, each document gets ``num_perm`` minimum hashes, and each
   band of ``rows`` values is hashed to one 64-bit bucket key. Written to disk, one file per ~4 MB
   (``spool.py``) with a column per band: ``sig/sSSSSS-pPPPPPP.parquet`` (doc, k0000, k0001, ...;
   uncompressed: the keys are random); plus per document its id, length, optional score
   and a 160-character preview (``docs/``) and, with ``verify: true``, its shingle hashes.
2. **buckets** (one task per band): documents sharing a bucket key are candidate duplicates; each is
   linked to the first document of its bucket (edges ``edges/bBBB.parquet``).
3. **clusters** (one task): optional verification of each edge by the true Jaccard similarity of the
   shingle sets, then union-find over every edge of every band and shard: connected components, not
   only pairs. One survivor per cluster by ``keep`` (``first`` in input order, ``longest``, or the
   highest ``score_column``). Writes per-shard decisions, ``clusters.parquet`` (cluster id, member
   ids, size) and ``report.md`` (the largest clusters with example texts), which the engine moves to
   ``<output>/steps/minhash_dedup/``.
4. **filter** (next map stage): each shard drops the non-survivors, reason ``minhash_dedup:duplicate``.

The chance that two documents of Jaccard similarity ``s`` share a bucket is the S-curve
``1 - (1 - s^r)^b`` with ``hashing: minhash`` (FineWeb: 14 bands × 8 rows, 112 permutations, ~92% at
s = 0.8, 98.8% at 0.85), a little steeper with the default ``superminhash`` (99.3% at 0.85, 5.0%
instead of 5.3% at 0.5: ``bench/minhash_hash_independence.py``).

Hashing: one compiled pass over the UTF-8 bytes of the Arrow text column finds the tokens (``\\w+``
runs as polars' regex defines them, ``_unicode.py``) and hashes each from its case-folded code points
(Unicode full case folding; FNV-1a 64 + murmur3 finalizer, seeded; independent of library versions);
shingles by a polynomial roll over the token hashes; then, by default (``hashing: superminhash``), one
random permutation of the positions per shingle (``_superminhash_kernel_py``: lower-variance values, a
steeper curve than the S-curve), or with ``hashing: minhash`` independent permutations by
multiply-shift hashing ``(a·x + b mod 2^64) >> 32`` with odd ``a`` drawn from the seed (``_seeded.py``:
SHAKE-128, also independent of library versions; 112 multiply-adds per shingle); the loops are
compiled (``_minhash_kernels.pyx``). The text is never copied, and it is hashed in slices of 1 MB, so
the step's memory does not grow with the batch size. Buckets and clusters are numpy sorts over the
columns on disk. Defined behaviour for odd input: an empty or
whitespace-only document has no shingles and is never a near-duplicate (``exact_dedup`` handles
those); a document with fewer than ``n`` words is one shingle of all its words; duplicate ids are
distinct documents (clusters are by position, ids are only reported).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from gencommons.data import numpy_arrow as na
from gencommons.data.dedup import _seeded, _unicode, spool
from gencommons.data.io.parquet import read_file
from gencommons.data.step import ReduceStage, StepParams, steps

REASON = "minhash_dedup:duplicate"
PREVIEW = 160
REPORT_CLUSTERS = 20  # the largest clusters, with example texts, in report.md
ROW_BITS = 40  # a document's global number: shard << 40 | row (1 T rows per shard, 16 M shards)


class MinhashParams(StepParams):
    shingle: Literal["word", "char"] = Field(
        "word", description="Shingles of words, or of characters (no spaces)."
    )
    n: int = Field(5, ge=1, le=64, description="Shingle size: words (word) or characters (char) per shingle.")
    num_perm: int = Field(112, ge=2, le=1024, description="Number of MinHash permutations.")
    bands: int | None = Field(
        None, ge=1, description="LSH bands (bands × rows ≤ num_perm); null = from threshold, else 14."
    )
    rows: int | None = Field(None, ge=1, description="Rows per band; null = from threshold, else 8.")
    threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Jaccard threshold: picks bands × rows unless both are given; the verify cut.",
    )
    keep: Literal["first", "longest", "score"] = Field(
        "first", description="Which document of a cluster survives."
    )
    score_column: str | None = Field(
        None, description="With keep: score, the column whose highest value survives."
    )
    verify: bool = Field(False, description="Check candidate pairs by true Jaccard before merging them.")
    lowercase: bool = Field(
        True, description="Ignore case: Unicode full case folding (ß = ss, final σ = σ) before hashing."
    )
    scope: str | None = Field(
        None,
        description="Column whose values are deduplicated separately (e.g. source, dump); null = global.",
    )
    seed: int = Field(1, description="Seed of the permutations.")
    hashing: Literal["minhash", "superminhash"] = Field(
        "superminhash",
        description=(
            "superminhash: Ertl's SuperMinHash, lower-variance values and a steeper curve than the "
            "S-curve (more recall above the threshold, fewer candidates below); minhash: num_perm "
            "independent hash functions (FineWeb's and datatrove's scheme), the S-curve holds exactly."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> MinhashParams:
        b, r = self.bands_rows
        if b * r > self.num_perm:
            raise ValueError(f"bands × rows = {b * r} exceeds num_perm = {self.num_perm}")
        if self.keep == "score" and not self.score_column:
            raise ValueError("keep: score needs score_column")
        return self

    @property
    def bands_rows(self) -> tuple[int, int]:
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        if self.bands is not None or self.rows is not None:
            raise ValueError("give both bands and rows, or neither")
        if self.threshold is None:
            return 14, 8  # FineWeb's setting for 112 permutations
        return optimal_bands_rows(self.threshold, self.num_perm)

    @property
    def verify_threshold(self) -> float:
        if self.threshold is not None:
            return self.threshold
        b, r = self.bands_rows
        return (1 / b) ** (1 / r)  # where the S-curve is steepest


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> Any:
    """The LSH S-curve: probability that a pair of Jaccard ``s`` shares at least one bucket.

    Example:
        >>> round(float(candidate_probability(0.8, 14, 8)), 3)
        0.924
    """
    return 1 - (1 - np.asarray(s, dtype=float) ** rows) ** bands


def optimal_bands_rows(threshold: float, num_perm: int) -> tuple[int, int]:
    """bands × rows ≤ num_perm minimising false positives below and false negatives above ``threshold``
    (areas under the S-curve, equal weights)."""
    xs_lo = np.linspace(0, threshold, 200)
    xs_hi = np.linspace(threshold, 1, 200)
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(candidate_probability(xs_lo, b, r), xs_lo)
            fn = np.trapezoid(1 - candidate_probability(xs_hi, b, r), xs_hi)
            if fp + fn < best_err:
                best, best_err = (b, r), fp + fn
    return best


# ------------------------------------------------------------------ shingles and signatures


def _permutations(p: MinhashParams) -> tuple[np.ndarray, np.ndarray]:
    return _seeded.permutations(p.seed, p.num_perm)


def shingle_hashes(texts: pa.Array | pa.ChunkedArray, p: MinhashParams) -> tuple[np.ndarray, np.ndarray]:
    """All shingle hashes of a batch, concatenated, and the document offsets into them (len = docs+1).

    Tokens: ``\\w+`` runs (``word``), or characters with whitespace runs as one space and none at
    either end (``char``); each token is hashed from its code points, case-folded (``lowercase``:
    Unicode full case folding, ``_unicode.py``), in one compiled pass over the UTF-8 bytes of the Arrow
    array, without a copy of the text (``_tokens_kernel_py``)."""
    offs, data = _utf8_buffers(texts)
    n = len(offs) - 1
    char = p.shingle == "char"
    lengths = np.zeros(n, dtype=np.int64)
    seed = np.uint64(p.seed % 2**64)
    fold, expansions = _fold(p)
    tokens = _kernels()["tokens"]
    parts = []
    # documents in chunks of ~TOKEN_CHUNK bytes, so that the output buffer (sized for the worst case:
    # a token per byte (char), or per two bytes of a document, rounded up (word)) stays small
    d = 0
    while d < n:
        e = max(d + 1, int(np.searchsorted(offs, offs[d] + TOKEN_CHUNK, side="right")) - 1)
        e = min(e, n)
        nbytes = int(offs[e] - offs[d])
        out = np.empty(nbytes + 1 if char else (nbytes + e - d) // 2 + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            used = tokens(
                data,
                offs[d : e + 1],
                _unicode.classes(),
                fold,
                expansions,
                int(char),
                seed,
                out,
                lengths[d:e],
            )
        parts.append(out[:used].copy() if used < len(out) // 2 else out[:used])
        d = e
    hashes = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    return _roll(hashes, lengths, p.n)


def text_slices(texts: pa.Array | pa.ChunkedArray, nbytes: int) -> Iterator[tuple[int, pa.Array]]:
    """(first row, slice) of a string column, each slice ~``nbytes`` of text (at least one document)
    within one chunk: a batch is hashed slice by slice, so the shingle hashes (16 B per word) of a
    slice, not of the whole batch, are what a step holds, and a batch in chunks is never combined
    (a copy of its text)."""
    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    row = 0
    for chunk in chunks:
        offs, _ = _utf8_buffers(chunk)
        n, d = len(chunk), 0
        while d < n:
            e = min(n, max(d + 1, int(np.searchsorted(offs, offs[d] + nbytes, side="right")) - 1))
            yield row + d, chunk.slice(d, e - d)
            d = e
        row += n


def _utf8_buffers(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """int64 offsets (len = docs + 1) into the uint8 UTF-8 bytes of a string array (nulls: empty)."""
    arr = na.contiguous(texts)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    raw = arr.buffers()[1]
    if raw is None:  # no offsets buffer: an empty array
        return np.zeros(n + 1, np.int64), np.zeros(0, np.uint8)
    offs = np.frombuffer(raw, dtype=width)[arr.offset : arr.offset + n + 1].astype(np.int64)
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    return offs, data


_NO_FOLD = (np.zeros(0, np.int32), np.zeros((0, 3), np.uint32))


def _fold(p: MinhashParams) -> tuple[np.ndarray, np.ndarray]:
    return _unicode.fold_tables() if p.lowercase else _NO_FOLD


TOKEN_CHUNK = 1 << 20
# text per signature slice: 1 MB took 12 MB off the step's peak at 131,520 documents against 4 MB, at
# the same CPU time (the shingle hashes of a slice are what it holds)
SIGNATURE_CHUNK = 1 << 20


def _scope_hashes(batch: pa.Table, p: MinhashParams) -> np.ndarray:
    """uint64 per document: a hash of its ``scope`` value (nulls as the empty string)."""
    if p.scope not in batch.column_names:
        from gencommons.errors import ConfigError

        raise ConfigError(f"minhash_dedup.scope: no column {p.scope!r} in the documents")
    values = na.contiguous(batch[p.scope].cast(pa.string())).dictionary_encode(null_encoding="encode")
    salt = (p.seed % 2**64).to_bytes(8, "little")
    table = np.array(
        [
            int.from_bytes(hashlib.blake2b((v or "").encode(), digest_size=8, key=salt).digest(), "little")
            for v in values.dictionary.to_pylist()
        ],
        dtype=np.uint64,
    )
    return table[na.values(values.indices)]


FNV_PRIME = np.uint64(0x100000001B3)
FNV_OFFSET = np.uint64(0xCBF29CE484222325)


def _finish_hash_py(h: np.uint64) -> np.uint64:
    """murmur3's 64-bit finalizer: every input bit affects every output bit."""
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


def token_hash(token: str, seed: int = 1, *, fold: bool = True) -> int:
    """The hash of one token, as the compiled tokenizer computes it (a reference for tests): FNV-1a
    64 over its code points, case-folded unless ``fold`` is false, and the murmur3 finalizer.

    Example:
        >>> token_hash("Straße") == token_hash("STRASSE") != token_hash("strase")
        True
    """
    h = (int(FNV_OFFSET) ^ (seed * 0x9E3779B97F4A7C15)) % 2**64
    for ch in _unicode.casefold(token) if fold else token:
        h = ((h ^ ord(ch)) * int(FNV_PRIME)) % 2**64
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h = ((h ^ (h >> 33)) * mult) % 2**64
    return h ^ (h >> 33)


def _mix_py(h: np.uint64, cp: int, fold: np.ndarray, expansions: np.ndarray) -> np.uint64:
    f = int(fold[cp]) if cp < len(fold) else cp
    for c in (x for x in expansions[-f - 1] if x) if f < 0 else (f,):
        h = (h ^ np.uint64(c)) * FNV_PRIME
    return h


def _tokens_kernel_py(
    data: np.ndarray,
    offs: np.ndarray,
    classes: np.ndarray,
    fold: np.ndarray,
    expansions: np.ndarray,
    char: int,  # 1: characters, 0: words
    seed: np.uint64,
    out: np.ndarray,
    lengths: np.ndarray,
) -> int:
    """Decode UTF-8, find the tokens of each document and hash each (its case-folded code points);
    returns the number of tokens."""
    start_h = FNV_OFFSET ^ (seed * np.uint64(0x9E3779B97F4A7C15))
    space_h = _finish_hash_py((start_h ^ np.uint64(0x20)) * FNV_PRIME)
    n = 0
    for d in range(len(offs) - 1):
        i, stop, first = offs[d], offs[d + 1], n
        h = start_h
        in_word = False
        space = False
        while i < stop:
            b = data[i]
            if b < 0x80:
                cp, k = np.int64(b), 1
            elif b < 0xE0:
                cp, k = np.int64(b & 0x1F) << 6 | np.int64(data[i + 1] & 0x3F), 2
            elif b < 0xF0:
                cp = (
                    np.int64(b & 0x0F) << 12
                    | np.int64(data[i + 1] & 0x3F) << 6
                    | np.int64(data[i + 2] & 0x3F)
                )
                k = 3
            else:
                cp = (
                    np.int64(b & 0x07) << 18
                    | np.int64(data[i + 1] & 0x3F) << 12
                    | np.int64(data[i + 2] & 0x3F) << 6
                    | np.int64(data[i + 3] & 0x3F)
                )
                k = 4
            cls = classes[cp] if cp < len(classes) else 0
            if char:
                if cls & 2:
                    space = n > first  # a whitespace run counts as one space, none at either end
                else:
                    if space:
                        out[n] = space_h
                        n += 1
                        space = False
                    out[n] = _finish_hash_py(_mix_py(start_h, int(cp), fold, expansions))
                    n += 1
            elif cls & 1:
                if not in_word:
                    h = start_h
                    in_word = True
                h = _mix_py(h, int(cp), fold, expansions)
            elif in_word:
                out[n] = _finish_hash_py(h)
                n += 1
                in_word = False
            i += k
        if in_word:
            out[n] = _finish_hash_py(h)
            n += 1
        lengths[d] = n - first
    return n


def _roll(hashes: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n-gram hashes per document: a polynomial over each window of n token hashes (mod 2^64), then the
    murmur3 finalizer; a document with 1..n-1 tokens gives one shingle of all its tokens, one with none
    gives no shingle. The finalizer matters: the polynomial is linear in the token hashes and so is the
    multiply-shift permutation, and overlapping windows are linear combinations of the same tokens;
    mixed, the shingle hashes behave as independent random keys, as the MinHash argument assumes
    (measured over 30 seeds, pairs at Jaccard 0.8–0.9 found directly: 0.9788 ± 0.0006 without it,
    0.9802 ± 0.0008 with it; the S-curve says 0.9792)."""
    tok_off = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=tok_off[1:])
    counts = np.where(lengths >= n, lengths - n + 1, np.minimum(lengths, 1))
    off = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    out = np.empty(int(off[-1]), dtype=np.uint64)
    _kernels()["roll"](hashes, tok_off, off, n, out)
    return out, off


def _roll_kernel_py(
    hashes: np.ndarray, tok_off: np.ndarray, off: np.ndarray, n: int, out: np.ndarray
) -> None:
    mult = np.uint64(0x9E3779B97F4A7C15)
    for d in range(len(tok_off) - 1):
        start, stop = tok_off[d], tok_off[d + 1]
        k = stop - start
        if k == 0:
            continue
        w = min(n, k)
        for i in range(off[d + 1] - off[d]):
            h = np.uint64(0)
            for j in range(w):
                h = h * mult + hashes[start + i + j]
            out[off[d] + i] = _finish_hash_py(h)


def _minhash_kernel_py(
    shingles: np.ndarray, off: np.ndarray, a: np.ndarray, b: np.ndarray, sig: np.ndarray
) -> None:
    for d in range(len(off) - 1):
        for i in range(off[d], off[d + 1]):
            x = shingles[i]
            for j in range(len(a)):
                v = (a[j] * x + b[j]) >> np.uint64(32)
                sig[d, j] = min(sig[d, j], v)


def _superminhash_kernel_py(shingles: np.ndarray, off: np.ndarray, seed: int, sig: np.ndarray) -> None:
    """SuperMinHash (O. Ertl, "SuperMinHash – A New Minwise Hashing Algorithm for Jaccard Similarity
    Estimation", 2017, with its early stop). Each shingle x draws a random permutation of the num_perm
    positions by Fisher–Yates, from a splitmix64 stream seeded by x; position j of its permutation
    offers the value ``j << 32 | r_j`` (32 random bits) to the value it lands on, which keeps its
    minimum. A value agrees between two documents exactly when the shingle that sets it in their union
    is in both (probability J, as for MinHash), but one shingle's offers go to distinct values, so the
    values are negatively correlated: the Jaccard estimate has a lower variance and the LSH curve is
    steeper. The histogram ``hist`` of the values' positions ends the walk once no later position can
    lower a value, so a shingle costs ~m·ln(m)/i steps for the i-th, not m."""
    m = sig.shape[1]
    mask = 2**64 - 1
    mix = (seed * 0xD1B54A32D192ED03) & mask
    for d in range(len(off) - 1):
        row = [mask] * m
        hist = [0] * m
        hist[m - 1] = m
        a = m - 1
        for i in range(off[d], off[d + 1]):
            s = int(shingles[i]) ^ mix
            perm = list(range(m))
            j = 0
            while j <= a:
                s = (s + 0x9E3779B97F4A7C15) & mask
                z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & mask
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
                z ^= z >> 31
                k = j + (((z & 0xFFFFFFFF) * (m - j)) >> 32)
                perm[j], perm[k] = perm[k], perm[j]
                c = perm[j]
                v = (j << 32) | (z >> 32)
                if v < row[c]:
                    j2 = min(row[c] >> 32, m - 1)
                    row[c] = v
                    if j < j2:
                        hist[j2] -= 1
                        hist[j] += 1
                        while hist[a] == 0:
                            a -= 1
                j += 1
        sig[d, :] = np.array(row, dtype=np.uint64)


@functools.cache
def _kernels() -> dict[str, Callable[..., Any]]:
    """The per-element loops, compiled: ``_minhash_kernels.pyx``, built when gencommons is installed.
    The ``_…_py`` functions here are their reference implementations (the tests compare them)."""
    try:
        from gencommons.data.dedup import _minhash_kernels as k
    except ImportError as e:  # pragma: no cover - built by pip install
        raise ImportError(
            "gencommons' compiled MinHash kernels are missing: reinstall it from source with a C compiler "
            "(pip install -e .), which builds src/gencommons/data/dedup/_minhash_kernels.pyx"
        ) from e
    return {
        "tokens": k.tokens,
        "roll": k.roll,
        "minhash": k.minhash,
        "superminhash": k.superminhash,
        "union": k.union_all,
        "flatten": k.flatten,
        "intersections": k.intersections,
        "normalize": k.normalize,  # exact.py's text normalization
    }


def signatures(shingles: np.ndarray, off: np.ndarray, p: MinhashParams) -> np.ndarray:
    """(docs, num_perm) uint64 minimum hashes (``hashing``: independent permutations or SuperMinHash);
    a document without shingles has no signature values worth comparing (it joins no bucket)."""
    if p.hashing == "superminhash":
        m = p.num_perm
        sig = np.empty((len(off) - 1, m), dtype=np.uint64)
        scratch = (np.empty(m, np.int32), np.empty(m, np.int32), np.empty(m, np.int64))
        _kernels()["superminhash"](shingles, off, np.uint64(p.seed % 2**64), sig, *scratch)
        return sig
    a, b = _permutations(p)
    sig = np.full((len(off) - 1, p.num_perm), np.uint64(2**32), dtype=np.uint64)
    with np.errstate(over="ignore"):
        _kernels()["minhash"](shingles, off, a, b, sig)
    return sig


def band_keys(sig: np.ndarray, p: MinhashParams, scope_hash: np.ndarray | None) -> np.ndarray:
    """(docs, bands) uint64 bucket keys: a hash of each band's rows (and of the scope value)."""
    bands, rows = p.bands_rows
    mult = _seeded.band_multipliers(p.seed, rows)
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(rows):
            keys = keys * np.uint64(0x100000001B3) + sig[:, k::rows][:, :bands] * mult[k]
        keys ^= np.arange(bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        if scope_hash is not None:
            keys ^= scope_hash[:, None]
    return keys


# ------------------------------------------------------------------ stages


def _write(table: pa.Table, path: str, compression: str = "snappy") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path + ".tmp", compression=compression)
    os.replace(path + ".tmp", path)


def _read_columns(files: list[str], columns: list[str]) -> dict[str, np.ndarray]:
    """``columns`` of all ``files`` (parquet, one after the other) as numpy arrays, filled in place
    (one file's table at a time on top of the result, not a list of parts and their concatenation)."""
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    out: dict[str, np.ndarray] = {}
    pos = 0
    for f in files:
        t = read_file(f, columns)
        for c in columns:
            v = na.values(t[c])
            if c not in out:
                out[c] = np.empty(total, v.dtype)
            out[c][pos : pos + len(v)] = v
        pos += t.num_rows
        del t
    return {c: out.get(c, np.zeros(0, np.uint64)) for c in columns}


def _buckets(workdir: str, band: int, n_shards: int, p: MinhashParams) -> None:
    """Link every document of a bucket to the bucket's first document (in input order)."""
    files = sorted(glob.glob(os.path.join(glob.escape(workdir), "sig", "*.parquet")))
    col = f"k{band:04d}"  # only this band's column is read from each file
    cols = _read_columns(files, ["doc", col])
    docs, keys = cols.pop("doc").astype(np.uint64, copy=False), cols.pop(col).astype(np.uint64, copy=False)
    order = np.lexsort((docs, keys))  # by key, then input order
    keys, docs = keys[order], docs[order]
    del order
    start = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=start[1:])
    del keys
    first = docs[start][np.cumsum(start) - 1]  # each document's bucket's first document
    linked = docs != first
    a, b = first[linked], docs[linked]
    order = np.lexsort((b, a))
    _write(na.table({"a": a[order], "b": b[order]}), os.path.join(workdir, "edges", f"b{band:04d}.parquet"))


def _uf_find_py(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        parent[x], x = root, parent[x]
    return root


def _union_all_py(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    for i in range(len(a)):
        ra, rb = _uf_find_py(parent, a[i]), _uf_find_py(parent, b[i])
        if ra != rb:  # the smaller index (earlier document) becomes the root
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb


def _flatten_py(parent: np.ndarray) -> None:
    """Point every node at its root."""
    for i in range(len(parent)):
        parent[i] = _uf_find_py(parent, i)


def _shard_offsets(workdir: str, n_shards: int) -> np.ndarray:
    """Dense document numbers: shard ``s``'s row ``r`` is ``offsets[s] + r`` (rows are numbered from 0
    within a shard, as ``save_signatures`` numbers them), from the row counts of the ``docs/`` files."""
    counts = np.zeros(n_shards + 1, dtype=np.int64)
    for f in glob.glob(os.path.join(glob.escape(workdir), "docs", "s*-p*.parquet")):
        counts[int(os.path.basename(f).split("-")[0][1:]) + 1] += pq.ParquetFile(f).metadata.num_rows
    return np.cumsum(counts)


def _distinct_edges(edge_files: list[str], offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct candidate pairs of all bands (a pair found in several bands counts once), as
    document numbers sorted by (a, b).

    The edges of all bands are the one thing in the cluster stage that grows with the corpus (up to one
    per duplicate and band). Each is packed into one uint64, dense a << 32 | dense b, as its band's file
    is read, and the packed array is sorted in place: 8 B per edge, where two uint64 columns, their
    lexsort order and the gathered copies held ~40 B. For 1.7 M edges (131,520 documents): numpy's
    peak 52 → 17 MB, 0.34 → 0.2 CPU-s."""
    total_docs = int(offsets[-1])
    if total_docs >= 1 << 32:
        raise RuntimeError(
            f"minhash_dedup: {total_docs:,} documents in one cluster task; at most 4,294,967,295 "
            "(split the input into separate runs)"
        )
    keys = np.empty(sum(pq.ParquetFile(f).metadata.num_rows for f in edge_files), dtype=np.uint64)
    mask = np.uint64((1 << ROW_BITS) - 1)
    pos = 0
    for f in edge_files:
        t = read_file(f, ["a", "b"])
        n = t.num_rows
        for col, shift in (("a", np.uint64(32)), ("b", np.uint64(0))):
            d = na.values(t[col]).astype(np.uint64, copy=False)
            dense = offsets[(d >> np.uint64(ROW_BITS)).astype(np.int64)].astype(np.uint64) + (d & mask)
            if shift:
                keys[pos : pos + n] = dense << shift
            else:
                keys[pos : pos + n] |= dense
        pos += n
        del t
    keys.sort()
    if len(keys):
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    return _doc_numbers(keys >> np.uint64(32), offsets), _doc_numbers(keys & np.uint64(0xFFFFFFFF), offsets)


def _doc_numbers(dense: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Back from dense numbers to ``shard << ROW_BITS | row`` (an empty shard repeats its offset, so the
    last shard whose offset is ≤ the number is the one that holds it)."""
    shard = np.searchsorted(offsets, dense.astype(np.int64), side="right") - 1
    row = dense - offsets[shard].astype(np.uint64)
    return (shard.astype(np.uint64) << np.uint64(ROW_BITS)) | row


def _clusters(workdir: str, task: int, n_shards: int, p: MinhashParams) -> None:
    del task
    edge_files = sorted(glob.glob(os.path.join(glob.escape(workdir), "edges", "*.parquet")))
    a, b = _distinct_edges(edge_files, _shard_offsets(workdir, n_shards))
    candidate_edges = len(a)
    removed_by_verify = 0
    if p.verify and len(a):
        keep = _verify(workdir, a, b, p)
        removed_by_verify = int((~keep).sum())
        a, b = a[keep], b[keep]
    nodes = np.unique(np.concatenate([a, b]))  # sorted = input order
    parent = np.arange(len(nodes), dtype=np.int64)
    if len(nodes):
        _kernels()["union"](parent, np.searchsorted(nodes, a), np.searchsorted(nodes, b))
        _kernels()["flatten"](parent)
    del a, b
    # every node points at the first (smallest) node of its component: the clusters, in input order
    roots, cluster = np.unique(parent, return_inverse=True)
    cluster = cluster.astype(np.int64)
    info = _doc_info(workdir, nodes, ["id", "length"] + (["score"] if p.keep == "score" else []))
    if p.keep == "first":
        survivor_at = roots  # the root is the first document of its cluster
    else:
        if p.keep == "longest":
            rank = -na.values(info["length"], null=0).astype(np.float64)
        else:
            score = na.values(info["score"], null=np.nan).astype(np.float64)
            rank = np.where(np.isnan(score), np.inf, -score)  # highest first, missing scores last
        order = np.lexsort((np.arange(len(nodes)), rank, cluster))
        starts = np.ones(len(order), dtype=bool)
        starts[1:] = cluster[order][1:] != cluster[order][:-1]
        survivor_at = order[starts]
    duplicate = np.ones(len(nodes), dtype=bool)
    duplicate[survivor_at] = False
    n_dup = int(duplicate.sum())
    shard = (nodes >> np.uint64(ROW_BITS)).astype(np.int64)
    row = nodes & np.uint64((1 << ROW_BITS) - 1)
    bounds = np.searchsorted(shard, np.arange(n_shards + 1))  # nodes are sorted, so are their shards
    for s in range(n_shards):
        lo, hi = bounds[s], bounds[s + 1]
        part = na.table({"row": row[lo:hi], "cluster": cluster[lo:hi], "duplicate": duplicate[lo:hi]})
        _write(part, os.path.join(workdir, "dec", f"s{s:05d}.parquet"))
    # the cluster table: members in input order, clusters by size (largest first), then input order
    by_cluster = np.argsort(cluster, kind="stable")
    sizes = np.bincount(cluster, minlength=len(roots)).astype(np.int64)
    offsets = np.zeros(len(roots) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    ids = info["id"].combine_chunks()
    member_ids = pa.ListArray.from_arrays(na.array(offsets), ids.take(na.array(by_cluster)))
    first_member = by_cluster[offsets[:-1]]
    second_member = by_cluster[np.minimum(offsets[:-1] + 1, offsets[1:] - 1)]
    example_dup = np.where(first_member == survivor_at, second_member, first_member)
    rank = np.lexsort((np.arange(len(roots)), -sizes))
    table = na.table(
        {
            "cluster": np.arange(len(roots), dtype=np.int64)[rank],
            "size": sizes[rank],
            "member_ids": member_ids.take(na.array(rank)),
            "survivor_id": ids.take(na.array(survivor_at[rank])),
        }
    )
    keep_dir = os.path.join(workdir, "keep")
    _write(table, os.path.join(keep_dir, "clusters.parquet"))
    # previews only for the clusters the report shows (all of them would be ~200 B per member in memory)
    top = rank[:REPORT_CLUSTERS]
    shown_docs = np.unique(np.concatenate([nodes[survivor_at[top]], nodes[example_dup[top]]]))
    shown = _doc_info(workdir, shown_docs, ["preview"])
    preview = dict(zip(shown_docs.tolist(), shown["preview"].to_pylist(), strict=True))
    rows = [
        {
            "cluster": int(c),
            "size": int(sizes[c]),
            "member_ids": member_ids[int(c)].as_py(),
            "survivor_id": ids[int(survivor_at[c])].as_py(),
            "survivor_preview": preview.get(int(nodes[survivor_at[c]])),
            "duplicate_preview": preview.get(int(nodes[example_dup[c]])),
        }
        for c in top
    ]
    _write_report(rows, len(roots), os.path.join(keep_dir, "report.md"), p, removed_by_verify, n_dup)
    _write(
        na.table(
            {
                "removed_by_verify": np.array([removed_by_verify], np.int64),
                "candidate_edges": np.array([candidate_edges], np.int64),
            }
        ),
        os.path.join(workdir, "stats.parquet"),
    )


_DOC_INFO = {
    "id": pa.field("id", pa.string()),
    "length": pa.field("length", pa.int64()),
    "preview": pa.field("preview", pa.string()),
    "score": pa.field("score", pa.float64()),
}


def _wanted_rows(workdir: str, sub: str, docs: np.ndarray, columns: list[str] | None) -> Iterator[pa.Table]:
    """The rows of ``docs`` (global numbers, sorted, unique) in the files of ``sub`` (``docs``,
    ``shingles``), file by file. A file is read only if its shard (in its name) holds any of them, and
    its rows are matched against that shard's documents only: O(rows · log rows) in all, not
    O(rows · files)."""
    for f in sorted(glob.glob(os.path.join(glob.escape(workdir), sub, "s*-p*.parquet"))):
        shard = int(os.path.basename(f).split("-")[0][1:])
        bounds = np.array([shard << ROW_BITS, (shard + 1) << ROW_BITS], dtype=np.uint64)
        lo, hi = np.searchsorted(docs, bounds)
        if lo == hi:
            continue
        t = read_file(f, columns)
        mask = np.isin(na.values(t["doc"]), docs[lo:hi], assume_unique=True)
        if mask.any():
            yield t.filter(na.array(mask))


def _doc_info(workdir: str, docs: np.ndarray, columns: list[str]) -> pa.Table:
    """``columns`` (of id, length, preview, score) of ``docs`` (sorted, unique, all saved), in their
    order, read from ``docs/`` one file at a time."""
    if not len(docs):
        return na.empty_table(pa.schema([_DOC_INFO[c] for c in columns]))
    parts = list(_wanted_rows(workdir, "docs", docs, ["doc", *columns]))
    found = pa.concat_tables(parts) if parts else None
    if found is None or found.num_rows != len(docs):
        raise RuntimeError(
            f"minhash_dedup: {workdir}/docs holds {0 if found is None else found.num_rows} "
            f"of the {len(docs)} documents asked for; the work folder is incomplete"
        )
    return found.drop_columns(["doc"]).combine_chunks()


def _verify(workdir: str, a: np.ndarray, b: np.ndarray, p: MinhashParams) -> np.ndarray:
    """True Jaccard of each candidate edge ≥ the threshold, from the stored shingle sets.

    Each document's set is held as a sorted, distinct run of one uint64 array (8 B per shingle, where
    Python sets took ~60 B), and each pair's intersection is counted by a compiled merge of its two
    runs (``_intersections_py`` is the reference)."""
    values, off, docs = _shingle_runs(workdir, np.unique(np.concatenate([a, b])))
    missing = RuntimeError(f"minhash_dedup: {workdir}/shingles lacks documents of candidate pairs")
    if len(docs) == 0:
        raise missing
    order = np.argsort(docs, kind="stable")
    ia = order[np.minimum(np.searchsorted(docs[order], a), len(docs) - 1)]
    ib = order[np.minimum(np.searchsorted(docs[order], b), len(docs) - 1)]
    if not (np.array_equal(docs[ia], a) and np.array_equal(docs[ib], b)):
        raise missing
    inter = np.zeros(len(a), dtype=np.int64)
    _kernels()["intersections"](values, off, ia.astype(np.int64), ib.astype(np.int64), inter)
    sizes = np.diff(off)
    union = sizes[ia] + sizes[ib] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return (union > 0) & (inter / np.maximum(union, 1) >= p.verify_threshold)


def _shingle_runs(workdir: str, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shingle sets of ``wanted`` documents (sorted, unique): values, int64 offsets (len = docs + 1)
    and the document numbers, each set sorted and distinct, read one ``shingles/`` file at a time.

    The values grow in place (``ndarray.resize``: realloc, which moves large blocks by remapping pages),
    not as a list of parts and their concatenation, which held them twice."""
    values = np.empty(0, dtype=np.uint64)
    used = 0
    counts, docs = [], []
    for t in _wanted_rows(workdir, "shingles", wanted, None):
        lists = t["shingles"].combine_chunks()
        flat = na.values(lists.flatten()).astype(np.uint64, copy=False)
        seg = np.repeat(np.arange(len(lists), dtype=np.int64), na.values(pc.list_value_length(lists)))
        order = np.lexsort((flat, seg))
        flat, seg = flat[order], seg[order]
        del order
        first = np.ones(len(flat), dtype=bool)
        first[1:] = (flat[1:] != flat[:-1]) | (seg[1:] != seg[:-1])
        run = flat[first]
        if used + len(run) > len(values):
            values.resize(max(used + len(run), 2 * len(values)), refcheck=False)
        values[used : used + len(run)] = run
        used += len(run)
        counts.append(np.bincount(seg[first], minlength=len(lists)))
        docs.append(na.values(t["doc"]).astype(np.uint64, copy=False))
    values.resize(used, refcheck=False)
    off = np.zeros(sum(len(c) for c in counts) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=off[1:])
    return values, off, np.concatenate(docs) if docs else np.zeros(0, np.uint64)


def _intersections_py(
    values: np.ndarray, off: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:
    for i in range(len(a)):
        x, xe, y, ye, c = off[a[i]], off[a[i] + 1], off[b[i]], off[b[i] + 1], 0
        while x < xe and y < ye:
            if values[x] < values[y]:
                x += 1
            elif values[y] < values[x]:
                y += 1
            else:
                c, x, y = c + 1, x + 1, y + 1
        out[i] = c


def _write_report(
    top: list[dict[str, Any]], n_clusters: int, path: str, p: MinhashParams, removed: int, n_dup: int
) -> None:
    b, r = p.bands_rows
    lines = [
        "# minhash_dedup: largest clusters",
        "",
        f"{n_clusters:,} clusters, {n_dup:,} documents removed as near-duplicates. Shingles: {p.shingle} "
        f"{p.n}-grams; {p.num_perm} permutations, {b} bands × {r} rows; survivor: {p.keep}."
        + (
            f" Verification removed {removed:,} candidate pairs below Jaccard {p.verify_threshold:.2f}."
            if p.verify
            else ""
        ),
        "",
    ]
    for row in top:
        ids = row["member_ids"]
        shown = ", ".join(f"`{i}`" for i in ids[:8]) + (f", … ({len(ids) - 8} more)" if len(ids) > 8 else "")
        lines += [
            f"## cluster {row['cluster']}: {row['size']} documents",
            "",
            f"members: {shown}",
            "",
            f"- survivor `{row['survivor_id']}`: {_quote(row['survivor_preview'])}",
            f"- a duplicate: {_quote(row['duplicate_preview'])}",
            "",
        ]
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(path + ".tmp", path)


def _quote(text: str | None) -> str:
    if not text:
        return "(empty)"
    return "“" + " ".join(text.split()).replace("`", "'") + "…”"


class MinhashDedup:
    name = "minhash_dedup"
    params = MinhashParams
    paper = "https://arxiv.org/abs/2406.17557"
    kind: ClassVar[str] = "global"
    # bytes held per byte of batch text while saving signatures (the text column combined once; shingles are hashed in SIGNATURE_CHUNK slices); see resources.py
    memory_per_text_byte: ClassVar[float] = 1
    doc = (
        "Remove near-duplicates: MinHash LSH candidates, clusters by connected components across all "
        "shards, one survivor per cluster (a global, staged step)."
    )
    reduce_stages = (
        ReduceStage("buckets", lambda p, n_shards: p.bands_rows[0], _buckets),
        ReduceStage("clusters", lambda p, n_shards: 1, _clusters),
    )

    def estimate(self, p: Any, *, docs: int, text_bytes: int, shards: int) -> list[Any]:
        """Disk: 16 B per document and band (bucket key, document number), ~230 B per document of
        id, length and preview, and with ``verify`` 8 B per shingle (about one per 6 bytes of text).
        A bucket task reads one band: 16 B per document, about 6 times over in numpy's sort and
        gathers. The cluster task holds the edges (at most one per document and band, packed into 8 B
        each), the distinct ones decoded, the union-find arrays and the ids of the clustered documents:
        32 B per document and band is kept as the bound (calibrated at 363 MB for 329 k documents when the
        edges took ~40 B each; the task now measures 205 MB at 131 k, 219 MB before the packing); with
        ``verify``, also the shingle sets of the documents in them, 8 B per distinct shingle, and one
        batch file's sort: 24 B per shingle of the corpus covers both (measured 493 MB for the 13 M
        shingles of 32,880 documents, 795 MB for 52 M; as Python sets, before, 1.6 and 5.4 GB)."""
        from gencommons.data.resources import REDUCE_BASE, WORKER_BASE, Estimate

        bands, _ = p.bands_rows
        shingles = text_bytes // 6
        sig_disk = 16 * docs * bands + 230 * docs + (8 * shingles if p.verify else 0)
        cluster_mem = WORKER_BASE + 32 * docs * bands + (24 * shingles if p.verify else 0)
        return [
            Estimate("minhash_dedup · buckets", bands, REDUCE_BASE + 96 * docs, sig_disk),
            Estimate("minhash_dedup · clusters", 1, cluster_mem, 40 * docs),
        ]

    def save_signatures(
        self, batch: pa.Table, p: Any, *, workdir: str, shard: int, part: int, first_row: int
    ) -> None:
        text = batch["text"]
        n = batch.num_rows
        scope = _scope_hashes(batch, p) if p.scope is not None else None
        docs = (np.uint64(shard) << np.uint64(ROW_BITS)) + np.arange(
            first_row, first_row + n, dtype=np.uint64
        )
        keys, has, shingle_lists = [], [], []
        for d, piece in text_slices(text, SIGNATURE_CHUNK):
            shingles, off = shingle_hashes(piece, p)
            e = d + len(piece)
            keys.append(band_keys(signatures(shingles, off, p), p, None if scope is None else scope[d:e]))
            has.append(np.diff(off) > 0)  # documents without shingles join no bucket
            if p.verify:
                shingle_lists.append(
                    pa.ListArray.from_arrays(na.array(off.astype(np.int32)), na.array(shingles))
                )
        key = np.concatenate(keys) if keys else np.zeros((0, p.bands_rows[0]), np.uint64)
        with_shingles = np.concatenate(has) if has else np.zeros(0, bool)
        cols = {"doc": docs[with_shingles]} | {
            f"k{b:04d}": key[with_shingles, b] for b in range(key.shape[1])
        }
        spool.add(os.path.join(workdir, "sig"), shard, part, na.table(cols), compression="none")
        info: dict[str, Any] = {
            "doc": docs,
            "id": batch["id"],
            "length": pc.utf8_length(text).cast(pa.int64()),
            "preview": pc.utf8_slice_codeunits(text, 0, PREVIEW),
        }
        if p.keep == "score":
            if p.score_column not in batch.column_names:
                from gencommons.errors import ConfigError

                raise ConfigError(
                    f"minhash_dedup.score_column: no column {p.score_column!r} in the documents"
                )
            info["score"] = batch[p.score_column].cast(pa.float64())
        spool.add(os.path.join(workdir, "docs"), shard, part, na.table(info))
        if p.verify:
            lists = (
                pa.chunked_array(shingle_lists, pa.list_(pa.uint64()))
                if shingle_lists
                else pa.ListArray.from_arrays(
                    na.array(np.zeros(1, np.int32)), na.array(np.zeros(0, np.uint64))
                )
            )
            spool.add(
                os.path.join(workdir, "shingles"), shard, part, na.table({"doc": docs, "shingles": lists})
            )

    def finish_signatures(self, p: Any, *, workdir: str, shard: int) -> None:
        spool.flush(workdir, shard)

    def decisions(self, p: Any, *, workdir: str, shard: int, n_rows: int) -> pa.Table:
        dup = np.zeros(n_rows, dtype=bool)
        cluster = np.full(n_rows, -1, dtype=np.int64)
        path = os.path.join(workdir, "dec", f"s{shard:05d}.parquet")
        if os.path.exists(path):
            t = read_file(path)
            rows = na.values(t["row"]).astype(np.int64)
            dup[rows] = na.values(t["duplicate"])
            cluster[rows] = na.values(t["cluster"])
        return pa.table(
            {
                "reason": na.strings_where(dup, REASON),
                "minhash_dedup_cluster": na.array(cluster, null=cluster < 0),
            }
        )

    def shard_counts(self, p: Any, *, workdir: str, shard: int) -> dict[str, int]:
        if shard != 0:
            return {}
        path = os.path.join(workdir, "stats.parquet")
        if not os.path.exists(path):
            return {}
        row = read_file(path).to_pylist()[0]
        out = {"candidate_pairs": int(row["candidate_edges"])}
        if p.verify:
            out["removed_by_verify"] = int(row["removed_by_verify"])
        return out


steps.add("minhash_dedup", MinhashDedup())
