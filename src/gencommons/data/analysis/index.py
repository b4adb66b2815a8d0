"""``gencommons data index | count | search``: a suffix-array index over a tokenized corpus, for exact
n-gram counts, phrase search and infini-gram-style next-token distributions (Liu et al. 2024,
https://arxiv.org/abs/2401.17377; implemented here from the paper's description, not its code).

**Units.** With a Hugging Face tokenizer (``tokens`` mode) each document becomes its token ids, as
``uint16`` when the vocabulary has fewer than 65,535 entries and ``uint32`` otherwise; without one
(``bytes`` mode, the default) its UTF-8 bytes. A separator (the unit type's largest value: 0xFF never
occurs in UTF-8, id 65,535 or 2^32 − 1 never in such a vocabulary) follows each document, so no match
crosses two documents. The bytes mode is tokenizer-independent: one index answers queries written as
text or as token ids of *any* tokenizer (decoded to text first); counts are of byte strings, so a
phrase counts wherever its text occurs, also inside longer words (``"cat"`` in ``"concatenate"``).
A tokens index counts token sequences, the way a model sees them, and answers only queries tokenized
with its own tokenizer (checked by the sha256 of tokenizer.json, kept inside the index).

**Build.** Units stream to ``shard-NNNNN/units.bin`` (big-endian) while documents are read; a shard is
closed at ``shard_units`` units (at a document boundary) and sorted with pydivsufsort (libdivsufsort)
over its bytes. Big-endian ids compare byte-wise in id order, so keeping the suffixes that start at a
multiple of the unit width gives the unit suffix array (the same trick and kernel as
``substring_dedup``). ``sa.bin`` holds int32 positions (int64 for a shard of 2^31 bytes or more).
``docs.parquet`` maps each document to its id and first unit. Build memory ≈ shard bytes × 5
(× 9 past 2 GB); the default shard of 2^29 units (1 GB of uint16 tokens) needs ~5 GB.

**Size.** uint16 tokens: 2 B + 4 B of suffix array = 6 B per token, plus the document table (infini-gram:
~7 B per token). Bytes mode: 5 B per byte (~20 B per GPT-2 token of English): bigger, in exchange for
tokenizer independence. ``manifest.json`` reports ``bytes_per_unit``.

**Queries.** A count is two binary searches over each shard's suffix array, comparing the query's bytes
with ``len(query)`` bytes of the memory-mapped units at each probe: O(m log n) per shard, no data loaded
up front. ``search`` pages through the matches (suffix-array order, stable across calls) with context.
``longest_suffix`` finds the longest suffix of a prompt that occurs (extending one unit at a time,
counts are monotone) and the distribution of the unit after it (exact up to ``max_next`` occurrences,
an evenly spaced sample of them beyond).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gencommons.data.analysis.dataset import AnalysisDataset, Part, iter_tables, open_dataset, split
from gencommons.data.analysis.parallel import Parallel, report, run_tasks
from gencommons.data.analysis.tokens import load_tokenizer
from gencommons.data.executors import default_workers
from gencommons.errors import UserError, require
from gencommons.lineage.atomic import atomic_dir, read_json, write_json_atomic

log = logging.getLogger(__name__)

KIND = "ngram-index"
DEFAULT_SHARD_UNITS = 2**29
MAX_QUERY_UNITS = 1000  # tokens (bytes mode: 4x this)
MAX_NEXT = 1_000_000


def resolve_index(path: str) -> str:
    """An index folder, or the default index of a dataset (``DATASET/index``, ``<file>.index``)."""
    m = os.path.join(path, "manifest.json")
    if os.path.isfile(m) and read_json(m).get("kind") == KIND:
        return path
    default = default_index_path(path)
    return default if os.path.exists(path) and os.path.isdir(default) else path


def default_index_path(dataset: str) -> str:
    """``DATASET/index`` for a dataset folder (next to data/ and manifest.json), ``<file>.index`` else."""
    return os.path.join(dataset, "index") if os.path.isdir(dataset) else dataset.rstrip("/") + ".index"


# ---------------------------------------------------------------- build


def _units_of_batch(texts: pa.ChunkedArray, tok: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The unit stream of a batch (a separator after each document) and the (D,) units per document."""
    if tok is None:
        from gencommons.data.dedup.substring import units

        return units(texts, unit="byte")
    enc = tok.encode_batch_fast(texts.to_pylist(), add_special_tokens=False)
    sep = np.iinfo(dtype).max
    counts = np.fromiter((len(e.ids) for e in enc), dtype=np.int64, count=len(enc))
    out = np.empty(int(counts.sum()) + len(enc), dtype=dtype)
    ends = np.cumsum(counts + 1) - 1
    out[ends] = sep
    starts = ends - counts
    for e, s in zip(enc, starts.tolist(), strict=True):
        out[s : s + len(e.ids)] = e.ids
    return out, counts


@dataclass
class _ShardWriter:
    folder: str
    width: int
    limit: int
    prefix: str = "shard-"
    shards: list[dict[str, Any]] = field(default_factory=list)
    sort_seconds: float = 0.0
    _fh: Any = None
    _ids: list[str] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _n: int = 0

    def add(self, ids: list[str], stream: np.ndarray, counts: np.ndarray) -> None:
        """Append documents, closing shards at the limit (always between documents)."""
        lens = counts + 1
        at, d = 0, 0
        while d < len(ids):
            room = self.limit - self._n
            cum = np.cumsum(lens[d:])
            take = int(np.searchsorted(cum, room, side="right"))
            if take == 0:
                if self._n == 0:
                    raise UserError(
                        f"document {ids[d]!r} has {int(lens[d]) - 1:,} units, more than a shard holds "
                        f"({self.limit:,}): raise --shard-units."
                    )
                self.close()
                continue
            if self._fh is None:
                path = os.path.join(self.folder, f"{self.prefix}{len(self.shards):05d}")
                os.makedirs(path)
                self._fh = open(os.path.join(path, "units.bin"), "wb")  # noqa: SIM115 (closed in close())
            size = int(cum[take - 1])
            self._starts += (self._n + np.concatenate([[0], cum[: take - 1]])).tolist()
            self._ids += ids[d : d + take]
            self._fh.write(stream[at : at + size].astype(stream.dtype.newbyteorder(">")).tobytes())
            self._n += size
            at += size
            d += take

    def close(self) -> None:
        if self._fh is None:
            return
        self._fh.close()
        path = os.path.join(self.folder, f"{self.prefix}{len(self.shards):05d}")
        t0 = time.perf_counter()
        sa_dtype = _sort(path, self.width)
        self.sort_seconds += time.perf_counter() - t0
        pq.write_table(
            pa.table({"id": pa.array(self._ids, pa.string()), "start": pa.array(self._starts, pa.int64())}),
            os.path.join(path, "docs.parquet"),
        )
        self.shards.append(
            {
                "dir": os.path.basename(path),
                "units": self._n,
                "documents": len(self._ids),
                "sa_dtype": sa_dtype,
            }
        )
        self._fh, self._ids, self._starts, self._n = None, [], [], 0


def _sort(path: str, width: int) -> str:
    """Suffix array of one shard's units -> sa.bin; returns its dtype name."""
    require("pydivsufsort", extra="data")
    from pydivsufsort import divsufsort

    from gencommons.data.dedup.substring import _kernels

    raw = np.fromfile(os.path.join(path, "units.bin"), dtype=np.uint8)  # writable, as libdivsufsort needs
    n = len(raw) // width
    sa = divsufsort(raw)  # (n * width,) int32 below 2^31 bytes, int64 above
    if width > 1:
        m = _kernels()["_compact"](sa, width)
        assert m == n, (m, n)
    sa[:n].tofile(os.path.join(path, "sa.bin"))
    return str(sa.dtype)


def _index_part(task: tuple[AnalysisDataset, Part | None, str, str, str | None, int, int]) -> dict[str, Any]:
    """One task: tokenize one part of the dataset into shards of ``folder`` and sort each shard."""
    ds, part, folder, prefix, tokenizer, shard_units, batch_rows = task
    tok = load_tokenizer(tokenizer)[0] if tokenizer else None
    width = _width(tok)
    dtype = np.dtype({1: np.uint8, 2: np.uint16, 4: np.uint32}[width])
    w = _ShardWriter(folder, width, shard_units, prefix)
    docs, tokenize_s = 0, 0.0
    first = part.first_row if part is not None else 0
    for t in iter_tables(ds, columns=["id", "text"], batch_rows=batch_rows, part=part):
        t1 = time.perf_counter()
        stream, counts = _units_of_batch(t["text"].fill_null(""), tok, dtype)
        tokenize_s += time.perf_counter() - t1
        if "id" in t.column_names:
            ids = [str(i) for i in t["id"].to_pylist()]
        elif first >= 0:
            ids = [str(first + docs + i) for i in range(t.num_rows)]
        else:
            ids = [
                f"{os.path.basename(part.file if part else ds.files[0])}:{docs + i}"
                for i in range(t.num_rows)
            ]
        w.add(ids, stream, counts)
        docs += t.num_rows
        report(t.num_rows)
    w.close()
    return {"docs_read": docs, "shards": w.shards, "tokenize_s": tokenize_s, "sort_s": w.sort_seconds}


def dataset_stamp(ds: AnalysisDataset) -> list[list[Any]]:
    """What identifies the dataset's files cheaply: (path relative to the dataset, bytes, mtime in ns)."""
    base = ds.path if os.path.isdir(ds.path) else os.path.dirname(ds.path)
    out: list[list[Any]] = []
    for f in ds.files:
        st = os.stat(f)
        out.append([os.path.relpath(f, base), st.st_size, st.st_mtime_ns])
    return out


def stale_reason(manifest: dict[str, Any]) -> str | None:
    """Why the index no longer matches its dataset (None when it does, or the dataset is elsewhere).

    A dataset with a manifest is compared by content id (a copy of the same data is not stale);
    other datasets by their files' names, sizes and modification times."""
    path = manifest.get("dataset")
    if not path or not (os.path.exists(path) or any(c in path for c in "*?[")):
        return None
    try:
        ds = open_dataset(path)
    except UserError:
        return f"the dataset at {path} has no data files any more"
    if manifest.get("dataset_content_id") or (ds.manifest or {}).get("content_id"):
        now = (ds.manifest or {}).get("content_id")
        if now != manifest.get("dataset_content_id"):
            return f"the dataset at {path} changed (content id {now} instead of {manifest.get('dataset_content_id')})"
        return None
    then = manifest.get("dataset_files")
    if then is None:
        return None  # an index from before stamps were kept
    now_files = dataset_stamp(ds)
    if now_files != then:
        changed = sorted(
            {f[0] for f in now_files} ^ {f[0] for f in then}
            | {a[0] for a, b in zip(now_files, then, strict=False) if a != b}
        )
        return (
            f"files of the dataset at {path} were added, removed or modified since ({', '.join(changed[:3])})"
        )
    return None


def _width(tok: Any) -> int:
    vocab = tok.get_vocab_size(with_added_tokens=True) if tok is not None else 256
    return 1 if tok is None else 2 if vocab < 2**16 - 1 else 4


def build_index(
    dataset: str,
    out: str | None = None,
    *,
    tokenizer: str | None = None,
    shard_units: int = DEFAULT_SHARD_UNITS,
    overwrite: bool = False,
    batch_rows: int = 2048,
    where: Parallel | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Index ``dataset`` into ``out`` (default ``DATASET/index``); returns the index manifest.

    With several workers (or on Ray) the dataset is cut into one part per worker and each part is
    tokenized and sorted into its own shards by one task; the shards together answer every query
    exactly as one index would (a query sums over shards).

    Example:
        >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile
        >>> d = tempfile.mkdtemp(); pq.write_table(pa.table({"id": ["a"], "text": ["to be or not to be"]}), f"{d}/x.parquet")
        >>> m = build_index(f"{d}/x.parquet"); NgramIndex(m["path"]).count("to be")
        2
    """
    t0 = time.perf_counter()
    where = where or Parallel()
    ds = open_dataset(dataset)
    out = out or default_index_path(dataset)
    tok, tok_id = load_tokenizer(tokenizer) if tokenizer else (None, None)
    vocab = tok.get_vocab_size(with_added_tokens=True) if tok is not None else 256
    width = _width(tok)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in ds.files if f.endswith(".parquet"))
    workers = where.workers or default_workers()
    one = where.executor == "local" and workers == 1
    parts: list[Part | None] = [None] if one else list(split(ds, workers))
    tok_path = os.path.abspath(tokenizer) if tokenizer else None
    with atomic_dir(out, overwrite=overwrite) as tmp:
        tasks = [
            (
                ds,
                p,
                os.path.abspath(tmp),
                "shard-" if one else f"shard-{k:05d}-",
                tok_path,
                shard_units,
                batch_rows,
            )
            for k, p in enumerate(parts)
        ]
        recs = run_tasks(_index_part, tasks, where, progress=progress, total=total)
        shards = [s for r in recs for s in r["shards"]]
        docs = sum(r["docs_read"] for r in recs)
        tokenize_s = sum(r["tokenize_s"] for r in recs)
        sort_s = sum(r["sort_s"] for r in recs)
        if not shards:
            raise UserError(f"{dataset}: no documents to index.")
        if tokenizer is not None:  # the very file, so its sha256 stays the tokenizer's identity
            src = os.path.join(tokenizer, "tokenizer.json") if os.path.isdir(tokenizer) else tokenizer
            shutil.copyfile(src, os.path.join(tmp, "tokenizer.json"))
        units = sum(s["units"] for s in shards)
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(tmp) for f in fs)
        manifest = {
            "kind": KIND,
            "dataset": os.path.abspath(dataset),
            "dataset_content_id": (ds.manifest or {}).get("content_id"),
            "dataset_files": dataset_stamp(ds),
            "mode": "tokens" if tok is not None else "bytes",
            "tokenizer": {"path": tokenizer, "id": tok_id, "vocab_size": vocab} if tok is not None else None,
            "width": width,
            "separator": 2 ** (8 * width) - 1,
            "documents": docs,
            "units": units,
            "shards": shards,
            "bytes": size,
            "bytes_per_unit": size / max(1, units),
            "tokenize_seconds": round(tokenize_s, 3),
            "sort_seconds": round(sort_s, 3),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        write_json_atomic(os.path.join(tmp, "manifest.json"), manifest)
    manifest["path"] = out
    return manifest


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Hit:
    """One occurrence: the document, the unit offset in it, and decoded context around the match."""

    doc_id: str
    offset: int
    left: str
    match: str
    right: str


class _Shard:
    def __init__(self, folder: str, meta: dict[str, Any], width: int):
        self.raw = np.memmap(os.path.join(folder, "units.bin"), dtype=np.uint8, mode="r")
        self.sa = np.memmap(os.path.join(folder, "sa.bin"), dtype=meta["sa_dtype"], mode="r")
        self.width = width
        self.n = meta["units"]
        self.folder = folder
        self._docs: pa.Table | None = None

    def docs(self) -> pa.Table:
        if self._docs is None:
            self._docs = pq.read_table(os.path.join(self.folder, "docs.parquet"))
        return self._docs

    def _probe(self, r: int, m: int) -> bytes:
        p = int(self.sa[r]) * self.width
        return bytes(self.raw[p : p + m])

    def bounds(self, q: bytes) -> tuple[int, int]:
        """Ranks [lo, hi) of the suffixes starting with the query bytes."""
        m = len(q)
        lo, hi = 0, self.n
        while lo < hi:  # first rank >= q
            mid = (lo + hi) // 2
            if self._probe(mid, m) < q:
                lo = mid + 1
            else:
                hi = mid
        first, hi = lo, self.n
        while lo < hi:  # first rank > q (on the first m bytes)
            mid = (lo + hi) // 2
            if self._probe(mid, m) <= q:
                lo = mid + 1
            else:
                hi = mid
        return first, lo

    def units(self, a: int, b: int) -> np.ndarray:
        return np.frombuffer(self.raw[a * self.width : b * self.width], dtype=f">u{self.width}")


class NgramIndex:
    """An index written by ``build_index``, memory-mapped.

    Args:
        path: the index folder.
        tokenizer: the tokenizer the caller tokenizes with; a tokens index refuses another one.
        allow_stale: answer even when the dataset changed after the index was built (``stale_reason``);
            by default that is an error, because counts would describe data that is no longer there.
    """

    def __init__(self, path: str, *, tokenizer: str | None = None, allow_stale: bool = False):
        mpath = os.path.join(path, "manifest.json")
        if not os.path.isfile(mpath):
            raise UserError(f"No n-gram index at {path}: build one with `gencommons data index DATASET`.")
        self.path = path
        self.manifest = read_json(mpath)
        if self.manifest.get("kind") != KIND:
            raise UserError(f"{path} is not an n-gram index (kind {self.manifest.get('kind')!r}).")
        self.stale = stale_reason(self.manifest)
        if self.stale and not allow_stale:
            raise UserError(
                f"The index at {path} is stale: {self.stale}. Rebuild it with `gencommons data index "
                f"{self.manifest['dataset']} --overwrite`, or pass --allow-stale to query it as it is."
            )
        self.mode = self.manifest["mode"]
        self.width = self.manifest["width"]
        self.sep = self.manifest["separator"]
        self.tok: Any = None
        self.query_tok: Any = None
        if self.mode == "tokens":
            self.tok, own = load_tokenizer(os.path.join(path, "tokenizer.json"))
            if own != self.manifest["tokenizer"]["id"]:
                raise UserError(f"{path}/tokenizer.json was changed after the index was built: rebuild it.")
            if tokenizer is not None and load_tokenizer(tokenizer)[1] != own:
                raise UserError(
                    f"The index at {path} was built with the tokenizer {self.manifest['tokenizer']['path']} "
                    f"({own[:19]}…), not with {tokenizer}: its token ids mean other things. Query without "
                    "--tokenizer (the index uses its own), or build a bytes index (no --tokenizer), which "
                    "answers queries from any tokenizer."
                )
        elif tokenizer is not None:
            self.query_tok = load_tokenizer(tokenizer)[0]  # bytes mode: ids of any tokenizer -> text
        self.shards = [_Shard(os.path.join(path, s["dir"]), s, self.width) for s in self.manifest["shards"]]
        self.max_units = MAX_QUERY_UNITS * (4 if self.mode == "bytes" else 1)

    # ------------------------------------------------------------ units of a query

    def encode(self, phrase: str | None = None, *, ids: list[int] | None = None) -> np.ndarray:
        """The query's units: a phrase (text), or token ids of the query tokenizer (bytes mode) or of
        the index's own tokenizer (tokens mode)."""
        if ids is not None:
            if self.mode == "tokens":
                bad = [i for i in ids if not 0 <= i < self.manifest["tokenizer"]["vocab_size"]]
                if bad:
                    raise UserError(f"token ids {bad[:5]} are outside the index tokenizer's vocabulary.")
                u = np.array(ids, dtype=np.int64)
            else:
                if self.query_tok is None:
                    raise UserError(
                        "Token ids need --tokenizer (the tokenizer they come from) to decode them."
                    )
                u = np.frombuffer(self.query_tok.decode(ids).encode("utf-8"), dtype=np.uint8)
        elif self.mode == "tokens":
            u = np.array(self.tok.encode(phrase or "", add_special_tokens=False).ids, dtype=np.int64)
        else:
            u = np.frombuffer((phrase or "").encode("utf-8"), dtype=np.uint8)
        if not len(u):
            raise UserError("The query is empty.")
        if len(u) > self.max_units:
            unit = "tokens" if self.mode == "tokens" else "bytes"
            raise UserError(
                f"The query has {len(u):,} {unit}; this index answers queries of at most {self.max_units:,} {unit}."
            )
        return u

    def _key(self, u: np.ndarray) -> bytes:
        return u.astype(f">u{self.width}").tobytes()

    def _decode(self, u: np.ndarray) -> str:
        if self.mode == "tokens":
            return str(self.tok.decode(u.astype(np.int64).tolist()))
        return bytes(u.astype(np.uint8)).decode("utf-8", errors="replace")

    def _as_units(self, query: str | np.ndarray) -> np.ndarray:
        return self.encode(query) if isinstance(query, str) else query

    # ------------------------------------------------------------ count, search

    def count(self, query: str | np.ndarray) -> int:
        """Occurrences of the query (a phrase or its units) in the corpus."""
        key = self._key(self._as_units(query))
        return sum(hi - lo for lo, hi in (s.bounds(key) for s in self.shards))

    def search(
        self, query: str | np.ndarray, *, offset: int = 0, limit: int = 10, context: int = 20
    ) -> tuple[int, list[Hit]]:
        """(total matches, up to ``limit`` hits from match number ``offset``) with ``context`` units each side."""
        u = self._as_units(query)
        key = self._key(u)
        ranges = [s.bounds(key) for s in self.shards]
        total = sum(hi - lo for lo, hi in ranges)
        hits: list[Hit] = []
        skip = offset
        for s, (lo, hi) in zip(self.shards, ranges, strict=True):
            if skip >= hi - lo:
                skip -= hi - lo
                continue
            docs = s.docs()
            starts = docs["start"].to_numpy()
            for r in range(lo + skip, min(hi, lo + skip + limit - len(hits))):
                pos = int(s.sa[r])
                d = int(np.searchsorted(starts, pos, side="right")) - 1
                begin = int(starts[d])
                end = int(starts[d + 1]) - 1 if d + 1 < len(starts) else s.n - 1
                a, b = max(begin, pos - context), min(end, pos + len(u) + context)
                hits.append(
                    Hit(
                        doc_id=str(docs["id"][d]),
                        offset=pos - begin,
                        left=self._decode(s.units(a, pos)),
                        match=self._decode(s.units(pos, pos + len(u))),
                        right=self._decode(s.units(pos + len(u), b)),
                    )
                )
            skip = 0
            if len(hits) >= limit:
                break
        return total, hits

    # ------------------------------------------------------------ infini-gram queries

    def longest_suffix(self, query: str | np.ndarray, *, max_next: int = MAX_NEXT) -> dict[str, Any]:
        """The longest suffix of the prompt that occurs followed by a unit, its count, and the
        distribution of that next unit (infini-gram's ∞-gram estimate)."""
        u = self._as_units(query)
        best: dict[str, Any] = {"suffix_units": 0, "suffix": "", "count": 0, "next": [], "sampled": False}
        for length in range(1, len(u) + 1):
            key = self._key(u[len(u) - length :])
            ranges = [s.bounds(key) for s in self.shards]
            nxt, total, sampled = self._next_units(ranges, length, max_next)
            if total == 0:
                break
            best = {
                "suffix_units": length,
                "suffix": self._decode(u[len(u) - length :]),
                "count": sum(hi - lo for lo, hi in ranges),
                "continuations": total,
                "next": nxt,
                "sampled": sampled,
            }
        return best

    def _next_units(
        self, ranges: list[tuple[int, int]], length: int, max_next: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        found: list[np.ndarray] = []
        n_occ = sum(hi - lo for lo, hi in ranges)
        sampled = n_occ > max_next
        for s, (lo, hi) in zip(self.shards, ranges, strict=True):
            if hi <= lo:
                continue
            ranks = np.arange(lo, hi)
            if sampled:
                ranks = np.linspace(lo, hi - 1, max(1, max_next * (hi - lo) // n_occ)).astype(np.int64)
            pos = s.sa[ranks].astype(np.int64) + length
            pos = pos[pos < s.n]
            vals = np.frombuffer(s.raw, dtype=f">u{self.width}")[pos].astype(np.int64)
            found.append(vals[vals != self.sep])
        if not found or not sum(len(f) for f in found):
            return [], 0, sampled
        vals, counts = np.unique(np.concatenate(found), return_counts=True)
        order = np.argsort(-counts, kind="stable")[:50]
        total = int(counts.sum())
        nxt = [
            {
                "unit": int(vals[i]),
                "text": self._decode(vals[i : i + 1]),
                "count": int(counts[i]),
                "prob": float(counts[i]) / total,
            }
            for i in order
        ]
        return nxt, total, sampled


def iter_hits(index: NgramIndex, query: str, *, page_size: int = 100) -> Iterator[Hit]:
    """Every hit of a query, page by page."""
    offset = 0
    while True:
        _, hits = index.search(query, offset=offset, limit=page_size)
        if not hits:
            return
        yield from hits
        offset += len(hits)
