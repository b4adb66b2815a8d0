"""``substring_dedup``: cut out every span of at least ``min_tokens`` units that occurs more than once
in the corpus, as in Lee et al. 2022 (https://arxiv.org/abs/2107.06499): a suffix array over the unit
stream of all documents, then every window of ``k = min_tokens`` units shared by ``min_count`` or more
suffixes is removed, in every occurrence (``keep_first: false``, the paper's choice) or in all but the
first. Exact repeats only: no lowercasing, no fuzzy matching (``minhash_dedup`` does near-duplicates).

**Units** (``unit``). ``word`` (default): maximal runs of non-whitespace, exactly Python's ``str.split()``
(Unicode whitespace included), each hashed to a 32-bit id (FNV-1a 64 + murmur3 finaliser, folded; 0
is the document separator), so ``k = 50`` means about 50 words as in the paper (~65 GPT-2 tokens). A cut
runs from the first removed word to the next kept word, so the text keeps its other words and
whitespace untouched. ``byte``: UTF-8 bytes (separator 0xFF, which UTF-8 never contains); cuts may fall
inside words and are shrunk to whole characters; the default ``k`` is then 200 bytes (~50 GPT-2 tokens
of English). Word units miss repeats in scripts written without spaces (a CJK document is one "word"
per space-separated run, so it is never cut): use ``unit: byte`` for such corpora.

**Stages** (files under the step's work folder):

1. ``save_signatures`` (map stage): per batch ``sig/sSSSSS-pPPPPPP.bin`` (the units, big-endian, with a
   separator after each document) and ``.parquet`` (row, n_tokens, text: the engine gives
   ``decisions`` no text, so the texts to cut are kept here, zstd-compressed).
2. ``plan index groups`` (1 task): shard sizes from the ``.bin`` sizes; consecutive shards are grouped
   up to ``max_tokens_per_index`` units -> ``groups.json``. Each group is deduplicated on its own: a
   span repeated only across two groups is kept. One shard larger than the limit is a ``ConfigError``.
3. ``find repeated spans`` (``min(shards, 64)`` tasks; task t indexes groups t, t+64, ...): the group's
   ``.bin`` files are concatenated into a memory-mapped file; pydivsufsort (libdivsufsort) sorts its
   bytes; word ids are 4 big-endian bytes, so keeping the suffixes at multiples of 4 gives the word
   suffix array (Lee et al.'s tool also sorts bytes, of 2-byte GPT-2 ids; pydivsufsort's own integer
   path makes three temporary copies, this compacts in place). The permuted LCP array comes from the Φ
   algorithm (Kärkkäinen, Manzini & Puglisi 2009), its comparisons stopping at separators, so no match
   crosses a document boundary. Runs of >= ``min_count`` suffixes sharing k units mark their window
   starts; the covered ranges go to ``cut/sSSSSS.parquet`` (row, start, end, in units).
4. ``decisions`` (next map stage): re-tokenizes the shortened documents, cuts the ranges, returns the
   new ``text``, and drops a shortened document left with fewer than ``min_words_after`` words
   (``substring_dedup:too_short_after``). ``shard_counts`` reports ``spans_removed``,
   ``chars_removed`` and ``docs_changed``. In ``mode: annotate`` the engine still applies the new
   text and adds ``substring_dedup_reason`` and ``substring_dedup_removed_chars``.

**Memory** (n = units in one group, plus one separator per document). Bytes per unit while a group is
indexed, the suffix array int32 as long as the stream has < 2^31 bytes, int64 beyond:

=============================  ================  ==========
                               word (4 B ids)    byte
stream (memory-mapped file)    4                 1
suffix array of stream bytes   16 (int64: 32)    4 (8)
PLCP, then marks               inside the SA     4 (8)
total                          20 (36)           9 (17)
=============================  ================  ==========

The default ``max_tokens_per_index`` keeps the int32 path: 536,870,911 words (10.7 GB; 3-4 GB of
text) or 2,147,483,647 bytes (19.3 GB), both within 24 GB. A larger value switches to int64 (24 GB then
holds ~660 M words or ~1.4 G bytes: more than the int32 path only for words). Before allocating, each
index task compares its estimate with the memory available and raises ``ConfigError`` (set a smaller
``max_tokens_per_index``) instead of being killed. Index tasks of several groups run in parallel, up
to ``workers``: each needs its own bound. Disk: the signatures (4 B a word or 1 B a byte, plus the
compressed texts) and, while indexing, the group's stream again. Measured (``bench/substring_dedup.py``,
one core, up to 1 GB of text): indexing runs at 3.3-4.7 M words/s or 10-12 M bytes/s, and its peak
RSS is this estimate plus the interpreter's 0.3 GB.

**Defined behaviour.** Empty and whitespace-only documents have no units and are never changed.
Documents shorter than ``k`` units cannot contain a window and are never changed, even when their
whole text occurs inside a longer document. A run of one repeated unit longer than ``k`` repeats its
own windows (overlapping occurrences count), so it is removed. Ids play no part: two documents with
the same id are two documents. A 50 MB document (~9 M words) is indexed like any other.
``min_words_after`` only judges documents this step shortened.
``keep_first`` keeps each window's first occurrence (lowest shard, row, position); a kept window may
still be cut where it overlaps a later occurrence of another repeated window. Without ``keep_first``
the result does not depend on the order of the input within a group. Word ids are 32-bit hashes: two
different words share one with probability 2^-32, so a false repeat needs two spans that differ only in
words whose ids collide (about one in 4 x 10^9 such near-repeats).

**Not idempotent in general.** Cutting joins the text around each cut, and the join can form a new
repeat (documents "A S B" and "A T B", with S and T repeated elsewhere, both become "A B"). A second
run only ever removes spans with an occurrence across such a join; tests check exactly that.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from gencommons.data import numpy_arrow as na
from gencommons.data.io.parquet import read_file
from gencommons.data.step import ReduceStage, StepParams, steps
from gencommons.errors import ConfigError, require
from gencommons.lineage.atomic import read_json, write_json_atomic

log = logging.getLogger(__name__)

NAME = "substring_dedup"
REASON = f"{NAME}:too_short_after"
WORD_SEP, BYTE_SEP = 0, 0xFF
INDEX_TASKS = 64  # at most this many parallel index tasks (the rest would find no group to index)
INT32_MAX = 2**31 - 1


class SubstringDedupParams(StepParams):
    unit: Literal["word", "byte"] = Field(
        "word", description="word: whitespace-separated words (hashed); byte: UTF-8 bytes (for CJK)."
    )
    min_tokens: int | None = Field(
        None, ge=1, description="Shortest repeated span to cut, in units; null = 50 words or 200 bytes."
    )
    min_count: int = Field(2, ge=2, description="Cut spans occurring at least this many times.")
    keep_first: bool = Field(
        False, description="Keep each span's first occurrence (input order) instead of cutting all."
    )
    min_words_after: int = Field(
        20, ge=0, description="Drop a shortened document left with fewer whitespace-separated words."
    )
    max_tokens_per_index: int | None = Field(
        None,
        ge=2,
        description="Units per suffix array (shard groups dedup separately); null = 536,870,911 words "
        "or 2,147,483,647 bytes (~11 or ~19 GB).",
    )

    @property
    def k(self) -> int:
        return self.min_tokens or (50 if self.unit == "word" else 200)

    @property
    def width(self) -> int:
        """Bytes per unit in the stream."""
        return 4 if self.unit == "word" else 1

    @property
    def max_units(self) -> int:
        return self.max_tokens_per_index or INT32_MAX // self.width


def index_bytes(n: int, width: int) -> int:
    """Memory needed to index a stream of ``n`` units of ``width`` bytes (see the module docstring)."""
    item = 4 if n * width <= INT32_MAX else 8
    sa = n * width * item
    extra = 0 if width > 1 else n * item  # the PLCP fits in the suffix array's spare room for words
    return n * width + sa + extra


# ---------------------------------------------------------------- kernels (references of _substring_kernels.pyx)


def _scan_words(data: np.ndarray, offsets: np.ndarray, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Split documents data[offsets[d]:offsets[d+1]] into words (runs of non-whitespace, as str.split).

    When ``ids`` is not empty, writes each word's 32-bit id to ``ids`` and, when ``starts`` is not
    empty, its byte offset in its document to ``starts``, then a slot for the document's end (id 0,
    offset = document length). Returns the (D,) word counts.
    """
    counts = np.zeros(len(offsets) - 1, dtype=np.int64)
    fill, fill_starts = len(ids) > 0, len(starts) > 0
    o = 0
    for d in range(len(offsets) - 1):
        begin, end = offsets[d], offsets[d + 1]
        p = begin
        in_word = False
        h = np.uint64(0)
        c = 0
        while p <= end:
            w = 1  # length of the whitespace character at p, 0 if none (str.isspace(), in UTF-8)
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
                    c1, c2 = data[p + 1], data[p + 2]
                    if (
                        (b == 0xE1 and c1 == 0x9A and c2 == 0x80)
                        or (b == 0xE2 and c1 == 0x80 and (c2 <= 0x8A or c2 in (0xA8, 0xA9, 0xAF)))
                        or (b == 0xE2 and c1 == 0x81 and c2 == 0x9F)
                        or (b == 0xE3 and c1 == 0x80 and c2 == 0x80)
                    ):
                        w = 3
            if w > 0:  # the end of the document counts as whitespace
                if in_word:
                    if fill:  # murmur3's 64-bit finaliser, folded to 32 bits; 0 is the separator
                        h ^= h >> np.uint64(33)
                        h *= np.uint64(0xFF51AFD7ED558CCD)
                        h ^= h >> np.uint64(33)
                        h *= np.uint64(0xC4CEB9FE1A85EC53)
                        h ^= h >> np.uint64(33)
                        v = (h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
                        ids[o] = v if v != 0 else 1
                        o += 1
                    c += 1
                    in_word = False
                p += w
            else:
                if not in_word:
                    in_word = True
                    h = np.uint64(14695981039346656037)  # FNV-1a 64
                    if fill_starts:
                        starts[o] = p - begin
                h = (h ^ np.uint64(data[p])) * np.uint64(1099511628211)
                p += 1
        if fill:
            ids[o] = WORD_SEP
            if fill_starts:
                starts[o] = end - begin
            o += 1
        counts[d] = c
    return counts


def _byte_units(data: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> None:
    """Copy each document's bytes to ``out``, a separator after each."""
    o = 0
    for d in range(len(offsets) - 1):
        for p in range(offsets[d], offsets[d + 1]):
            out[o] = data[p]
            o += 1
        out[o] = BYTE_SEP
        o += 1


def _compact(sa: np.ndarray, width: int) -> int:
    """In place: keep the suffixes starting at multiples of ``width`` (in order), as unit positions."""
    m = 0
    for r in range(len(sa)):
        if sa[r] % width == 0:
            sa[m] = sa[r] // width
            m += 1
    return m


def _plcp(text: np.ndarray, sa: np.ndarray, n: int, sep: int, out: np.ndarray) -> None:
    """Φ algorithm: out[i] = units shared by suffix i and its predecessor in ``sa``, up to a separator."""
    out[sa[0]] = -1
    for r in range(1, n):
        out[sa[r]] = sa[r - 1]
    h = 0
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


def _mark(sa: np.ndarray, plcp: np.ndarray, n: int, k: int, min_count: int, keep_first: int) -> int:
    """Mark (plcp[pos] = -1) each window start shared by >= min_count suffixes; returns how many.

    The suffixes sharing their first k units are consecutive ranks with PLCP >= k; each PLCP value
    is read (at rank r) before any mark can overwrite it (marks go to ranks < r).
    """
    marked = 0
    a = 0
    for r in range(1, n + 1):
        if r < n and plcp[sa[r]] >= k:
            continue
        if r - a >= min_count:  # ranks a..r-1 share their first k units
            first = n
            if keep_first:
                for q in range(a, r):
                    first = min(first, sa[q])
            for q in range(a, r):
                if sa[q] != first:
                    plcp[sa[q]] = -1
                    marked += 1
        a = r
    return marked


def _cover(
    text: np.ndarray,
    plcp: np.ndarray,
    n: int,
    sep: int,
    k: int,
    doc: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> int:
    """Merge the marked windows [i, i+k) into ranges: (document number, start, end in the document).

    Fills the arrays as far as they are long; returns the number of ranges. A window never holds a
    separator, so a range never crosses a document's end.
    """
    m = 0
    d, doc_start = 0, 0
    cur_lo, cur_hi, cur_doc, cur_start = -1, -1, 0, 0  # the open range, in stream positions
    for i in range(n):
        if text[i] == sep:
            d += 1
            doc_start = i + 1
        elif plcp[i] == -1:
            if cur_lo >= 0 and i <= cur_hi:  # overlaps or touches the open range
                cur_hi = max(cur_hi, i + k)
                continue
            if cur_lo >= 0:
                if m < len(doc):
                    doc[m], lo[m], hi[m] = cur_doc, cur_lo - cur_start, cur_hi - cur_start
                m += 1
            cur_lo, cur_hi, cur_doc, cur_start = i, i + k, d, doc_start
    if cur_lo >= 0:
        if m < len(doc):
            doc[m], lo[m], hi[m] = cur_doc, cur_lo - cur_start, cur_hi - cur_start
        m += 1
    return m


@functools.cache
def _kernels() -> dict[str, Callable[..., Any]]:
    """The kernels above, compiled (``_substring_kernels.pyx``, built when gencommons is installed); the
    Python functions above are their reference implementations, which the tests compare."""
    from gencommons.data.dedup import _substring_kernels as k

    return {
        f.__name__: getattr(k, f.__name__) for f in (_scan_words, _byte_units, _compact, _plcp, _mark, _cover)
    }


# ---------------------------------------------------------------- units


def _utf8(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and (D+1,) int64 offsets of a string column, without copying (null = empty)."""
    arr = na.contiguous(texts)
    arr = arr.cast(pa.large_string())
    if arr.null_count:
        arr = pc.fill_null(arr, na.repeated("", 1)[0])  # an Arrow scalar: a Python one imports pandas
    _, offs, data = arr.buffers()
    offsets = np.frombuffer(offs, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return raw, offsets


def units(texts: pa.Array | pa.ChunkedArray, *, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """The unit stream of some documents (a separator after each) and their (D,) unit counts.

    Example:
        >>> s, n = units(pa.array(["a b a", ""]), unit="word")
        >>> n.tolist(), bool(s[0] == s[2]), s[3:].tolist()
        ([3, 0], True, [0, 0])
    """
    k = _kernels()
    data, offsets = _utf8(texts)
    n_docs = len(offsets) - 1
    if unit == "byte":
        out = np.empty(int(offsets[-1] - offsets[0]) + n_docs, dtype=np.uint8)
        k["_byte_units"](data, offsets, out)
        return out, np.diff(offsets)
    bound = int(offsets[-1] - offsets[0]) // 2 + 2 * n_docs + 1  # words <= ceil(bytes / 2) per document
    ids = np.empty(bound, dtype=np.uint32)
    counts = k["_scan_words"](data, offsets, ids, np.zeros(0, dtype=np.int64))
    return ids[: int(counts.sum()) + n_docs], counts


def word_counts(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(D,) whitespace-separated words per document (``len(text.split())``)."""
    data, offsets = _utf8(texts)
    empty = np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    counts: np.ndarray = _kernels()["_scan_words"](data, offsets, *empty)
    return counts


# ---------------------------------------------------------------- index (reduce stages)

_SIG = re.compile(r"s(\d{5})-p(\d{6})\.bin$")


def _sig_files(workdir: str) -> list[tuple[int, str]]:
    """(shard, path) of every unit file, in (shard, part) order."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(workdir), "sig", "s*-p*.bin")):
        m = _SIG.search(path)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def plan_groups(workdir: str, task: int, n_shards: int, p: SubstringDedupParams) -> None:
    """Group consecutive shards up to ``max_tokens_per_index`` units each -> groups.json."""
    size: dict[int, int] = {}
    for shard, path in _sig_files(workdir):
        size[shard] = size.get(shard, 0) + os.path.getsize(path) // p.width
    groups: list[dict[str, Any]] = []
    for shard in sorted(size):
        n = size[shard]
        if n > p.max_units:
            raise ConfigError(
                f"{NAME}: shard {shard} alone has {n:,} {p.unit}s (with one separator per document), more than "
                f"max_tokens_per_index={p.max_units:,}. Raise max_tokens_per_index (it needs about "
                f"{index_bytes(n, p.width) / 1e9:.1f} GB) or split the input files."
            )
        if groups and groups[-1]["units"] + n <= p.max_units:
            groups[-1]["shards"].append(shard)
            groups[-1]["units"] += n
        else:
            groups.append({"shards": [shard], "units": n})
    write_json_atomic(os.path.join(workdir, "groups.json"), groups)


def _check_memory(n: int, p: SubstringDedupParams, group: int) -> None:
    import psutil

    need, avail = index_bytes(n, p.width), psutil.virtual_memory().available
    if need > avail:
        raise ConfigError(
            f"{NAME}: indexing group {group} ({n:,} {p.unit}s) needs about {need / 1e9:.1f} GB, but only "
            f"{avail / 1e9:.1f} GB is available. Set max_tokens_per_index to at most "
            f"{int(n * avail / need):,} (each group of shards is then deduplicated on its own), or use "
            "fewer workers: parallel index tasks each need their own memory."
        )


def find_spans(
    stream: np.ndarray, *, width: int, k: int, min_count: int = 2, keep_first: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranges to cut from a unit stream: (R,) document numbers, starts and ends (units, in the document).

    ``stream`` is the bytes of the units (big-endian words if ``width`` is 4), a separator after each
    document; it must be writable (libdivsufsort takes a pointer). Lee et al. 2022:
    https://arxiv.org/abs/2107.06499

    Example:
        >>> s, _ = units(pa.array(["x a b c", "a b c y"]), unit="word")
        >>> [a.tolist() for a in find_spans(s.astype(">u4").view(np.uint8), width=4, k=3)]
        [[0, 1], [1, 0], [4, 3]]
    """
    require("pydivsufsort", extra="data")
    from pydivsufsort import divsufsort

    kern = _kernels()
    n = len(stream) // width
    sa = divsufsort(np.asarray(stream))  # (n * width,) int32 or int64, the byte suffixes
    if width > 1:
        m = kern["_compact"](sa, width)
        assert m == n, (m, n)
        plcp = sa[n : 2 * n]  # spare room of the byte suffix array
    else:
        plcp = np.empty(n, dtype=sa.dtype)
    text = np.asarray(stream).view(np.uint32) if width == 4 else np.asarray(stream)
    sep = WORD_SEP if width == 4 else BYTE_SEP
    kern["_plcp"](text, sa, n, sep, plcp)
    kern["_mark"](sa, plcp, n, k, min_count, int(keep_first))
    del sa  # plcp keeps the buffer alive in word mode; the order is no longer needed
    empty = np.zeros(0, dtype=np.int64)
    r = kern["_cover"](text, plcp, n, sep, k, empty, empty, empty)
    doc, lo, hi = (np.empty(r, dtype=np.int64) for _ in range(3))
    kern["_cover"](text, plcp, n, sep, k, doc, lo, hi)
    return doc, lo, hi


def index_groups(workdir: str, task: int, n_shards: int, p: SubstringDedupParams) -> None:
    """Index groups task, task + T, ... (T = index tasks) and write each shard's cut ranges."""
    groups = read_json(os.path.join(workdir, "groups.json"))
    for g in range(task, len(groups), _index_tasks(p, n_shards)):
        _index_group(workdir, g, set(groups[g]["shards"]), p)


def _index_group(workdir: str, g: int, shards: set[int], p: SubstringDedupParams) -> None:
    t0 = time.perf_counter()
    files = [(shard, path) for shard, path in _sig_files(workdir) if shard in shards]
    total = sum(os.path.getsize(path) for _, path in files)
    assert total > 0  # every file holds at least one document, hence a separator
    n = total // p.width
    _check_memory(n, p, g)
    os.makedirs(os.path.join(workdir, "idx"), exist_ok=True)
    path = os.path.join(workdir, "idx", f"g{g:05d}.bin")
    stream = np.memmap(path, dtype=np.uint8, mode="w+", shape=(total,))
    off = 0
    for _, f in files:
        with open(f, "rb") as fh:
            off += fh.readinto(stream.data[off:])
    assert off == total
    doc, lo, hi = find_spans(stream, width=p.width, k=p.k, min_count=p.min_count, keep_first=p.keep_first)
    del stream
    os.remove(path)
    # document number -> (shard, row): the documents of the .bin files, in the same order
    rows, shard_of = [], []
    for shard, f in files:
        r = na.values(read_file(f[: -len(".bin")] + ".parquet", columns=["row"])["row"])
        rows.append(r)
        shard_of.append(np.full(len(r), shard, dtype=np.int64))
    doc_row, doc_shard = np.concatenate(rows)[doc], np.concatenate(shard_of)[doc]
    os.makedirs(os.path.join(workdir, "cut"), exist_ok=True)
    for shard in sorted(shards):
        sel = doc_shard == shard
        out = _cut_path(workdir, shard)
        pq.write_table(na.table({"row": doc_row[sel], "start": lo[sel], "end": hi[sel]}), out + ".tmp")
        os.replace(out + ".tmp", out)
    log.info("%s group %d: %d units, %d ranges, %.1f s", NAME, g, n, len(doc), time.perf_counter() - t0)


def _index_tasks(p: Any, n_shards: int) -> int:
    return max(1, min(n_shards, INDEX_TASKS))


# ---------------------------------------------------------------- decisions (next map stage)


def _cut_path(workdir: str, shard: int) -> str:
    return os.path.join(workdir, "cut", f"s{shard:05d}.parquet")


def _stamp(path: str) -> tuple[int, int, int] | None:
    """Identifies one version of a file (a rerun replaces it with a new inode)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=1)  # decisions, then shard_counts, ask for the same shard
def _edit_shard(
    p: SubstringDedupParams, workdir: str, shard: int, stamp: tuple[int, int, int] | None
) -> tuple[pa.Table, dict[str, int]]:
    """The shard's decisions table and counts: cut the ranges out of the changed documents."""
    parts = sorted(glob.glob(os.path.join(glob.escape(workdir), "sig", f"s{shard:05d}-p*.parquet")))
    schema = pa.schema([("row", pa.int64()), ("n_tokens", pa.int64())])
    meta = pa.concat_tables([na.empty_table(schema)] + [read_file(f, columns=schema.names) for f in parts])
    n_rows = meta.num_rows
    assert np.array_equal(na.values(meta["row"]), np.arange(n_rows))
    removed = np.zeros(n_rows, dtype=np.int64)
    reason: list[str | None] = [None] * n_rows
    new_text: list[str | None] = [None] * n_rows
    counts = {"spans_removed": 0, "chars_removed": 0, "docs_changed": 0}
    assert stamp is not None or not parts  # every shard with documents belongs to a group
    cuts = read_file(_cut_path(workdir, shard)) if parts else None
    if cuts is not None and cuts.num_rows:
        cuts = cuts.sort_by([("row", "ascending"), ("start", "ascending")])
        changed, first = np.unique(na.values(cuts["row"]), return_index=True)
        texts = pa.concat_tables([read_file(f, columns=["text"]) for f in parts])["text"]
        data, offsets = _utf8(texts.take(na.array(changed)))
        bounds = np.append(first, cuts.num_rows)
        lo, hi = na.values(cuts["start"]), na.values(cuts["end"])
        if p.unit == "word":  # unit ranges -> byte ranges: each word's start, then the document's end
            n_tok = na.values(meta["n_tokens"])[changed]
            starts = np.empty(int(n_tok.sum()) + len(changed), dtype=np.int64)
            got = _kernels()["_scan_words"](data, offsets, np.empty(len(starts), np.uint32), starts)
            assert np.array_equal(got, n_tok)
            base = np.concatenate([[0], np.cumsum(n_tok + 1)[:-1]])
        for i, row in enumerate(changed.tolist()):
            doc = data[offsets[i] : offsets[i + 1]].tobytes()
            keep, at = [], 0
            for c in range(bounds[i], bounds[i + 1]):
                if p.unit == "word":  # from the first cut word to the next kept word
                    a, b = int(starts[base[i] + lo[c]]), int(starts[base[i] + hi[c]])
                else:  # shrink to whole characters: bytes 0b10xxxxxx continue a character
                    a, b = int(lo[c]), int(hi[c])
                    while a < len(doc) and doc[a] & 0xC0 == 0x80:
                        a += 1
                    while a < b < len(doc) and doc[b] & 0xC0 == 0x80:
                        b -= 1
                if a < b:
                    keep.append(doc[at:a])
                    at = b
            if not keep:
                continue  # byte ranges inside one character: nothing to cut
            keep.append(doc[at:])
            text = b"".join(keep).decode("utf-8")
            new_text[row] = text
            removed[row] = len(doc.decode("utf-8")) - len(text)
            counts["spans_removed"] += len(keep) - 1
            counts["chars_removed"] += int(removed[row])
            counts["docs_changed"] += 1
        rows = [r for r in changed.tolist() if new_text[r] is not None]
        words = word_counts(na.strings([new_text[r] for r in rows], large=True))
        for row, nw in zip(rows, words.tolist(), strict=True):
            if nw < p.min_words_after:
                reason[row] = REASON
    table = na.table(
        {
            "reason": na.strings(reason),
            "text": na.strings(new_text, large=True),
            f"{NAME}_removed_chars": removed,
        }
    )
    return table, counts


class SubstringDedup:
    name = NAME
    params = SubstringDedupParams
    paper = "https://arxiv.org/abs/2107.06499"
    kind: ClassVar[str] = "global"
    # bytes held per byte of batch text while saving signatures (the unit stream (4 B per word) and the texts saved for the index stage); see resources.py
    memory_per_text_byte: ClassVar[float] = 4
    doc = (
        "Cut every span of min_tokens words (or bytes) that occurs more than once in the corpus, found "
        "with a suffix array (a global, staged step; memory bounds in the module docstring)."
    )
    reduce_stages = (
        ReduceStage("plan index groups", lambda p, n_shards: 1, plan_groups),
        ReduceStage("find repeated spans", _index_tasks, index_groups),
    )

    def estimate(self, p: Any, *, docs: int, text_bytes: int, shards: int) -> list[Any]:
        """Disk: the unit stream (4 B per word, ~1 per 6 bytes of text; or 1 B per byte) plus a
        compressed copy of the texts; memory: ``index_bytes`` of one group (module docstring)."""
        from gencommons.data.resources import WORKER_BASE, Estimate

        n = text_bytes // 6 if p.unit == "word" else text_bytes
        group = min(n, p.max_units)
        groups = max(1, -(-n // p.max_units))
        return [
            Estimate(
                "substring_dedup · find repeated spans",
                groups,
                WORKER_BASE + index_bytes(group, p.width),
                n * p.width + text_bytes // 3,
            )
        ]

    def save_signatures(
        self, batch: pa.Table, p: Any, *, workdir: str, shard: int, part: int, first_row: int
    ) -> None:
        require("pydivsufsort", extra="data")  # fail in the first stage rather than after it
        stream, counts = units(batch["text"], unit=p.unit)
        folder = os.path.join(workdir, "sig")
        os.makedirs(folder, exist_ok=True)
        stem = os.path.join(folder, f"s{shard:05d}-p{part:06d}")
        stream.astype(">u4" if p.unit == "word" else np.uint8).tofile(stem + ".bin.tmp")
        os.replace(stem + ".bin.tmp", stem + ".bin")
        meta = na.table(
            {
                "row": np.arange(first_row, first_row + batch.num_rows, dtype=np.int64),
                "n_tokens": counts.astype(np.int64),
                "text": batch["text"].cast(pa.large_string()),
            }
        )
        pq.write_table(meta, stem + ".parquet.tmp", compression="zstd")
        os.replace(stem + ".parquet.tmp", stem + ".parquet")

    def decisions(self, p: Any, *, workdir: str, shard: int, n_rows: int) -> pa.Table:
        table, _ = _edit_shard(p, workdir, shard, _stamp(_cut_path(workdir, shard)))
        assert table.num_rows == n_rows, (table.num_rows, n_rows)
        return table

    def shard_counts(self, p: Any, *, workdir: str, shard: int) -> dict[str, int]:
        return dict(_edit_shard(p, workdir, shard, _stamp(_cut_path(workdir, shard)))[1])


steps.add(NAME, SubstringDedup())
