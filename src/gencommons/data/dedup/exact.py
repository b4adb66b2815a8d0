"""``exact_dedup``: keep the first copy of each normalized text across the whole dataset.

A global step in three moves (see ``data/step.py``):

1. signatures (map stage): xxh3-64 of the normalized text (case-folded by Unicode full case folding,
   whitespace runs collapsed to one space, stripped; one compiled pass over the Arrow bytes with the
   tables of ``_unicode.py``), written per hash partition: ``sig/bBBB/sSSSSS-pPPPPP.parquet`` (hash,
   shard, row; one file per ~4 MB of them, ``spool.py``);
2. reduce (``partitions`` parallel tasks): each reads one partition from every shard, sorts by
   (hash, shard, row) and marks every row but the first of its hash as a duplicate;
3. decisions (next map stage): each shard reads its duplicates from every partition.

"First" is the order of the input: shard index, then row, so the result does not depend on the number
of workers or partitions. Memory: about 24 bytes per document of one partition in a reduce task.
With 64-bit hashes, the chance of any false collision among 10^9 documents is about 3%; among 10^8,
0.03% (birthday bound n²/2^65). In annotate mode the step adds ``exact_dedup_hash`` and
``exact_dedup_reason``; ``apply-thresholds`` re-runs keep-first on the hash among the survivors of the
other rules.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from pydantic import Field

from gencommons.data import numpy_arrow as na
from gencommons.data.dedup import _unicode, spool
from gencommons.data.io.parquet import read_file
from gencommons.data.step import ReduceStage, StepParams, steps

REASON = "exact_dedup:duplicate"


class ExactDedupParams(StepParams):
    lowercase: bool = Field(
        True, description="Ignore case: Unicode full case folding (ß = ss, final σ = σ) before comparing."
    )
    collapse_whitespace: bool = Field(
        True, description="Treat every whitespace run as one space; strip ends."
    )
    partitions: int = Field(16, ge=1, le=4096, description="Hash partitions = parallel reduce tasks.")


NORMALIZE_CHUNK = 1 << 20  # input bytes per compiled call: its output buffer is 3 bytes per input byte


def normalized_texts(texts: pa.Array | pa.ChunkedArray, p: ExactDedupParams) -> Iterator[memoryview]:
    """The UTF-8 bytes of each normalized text, in order (views into one buffer per ~1 MB of input).
    The compiled loop and the Arrow buffer access are ``minhash.py``'s, shared within ``dedup``."""
    for chunk in texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]:
        yield from _normalized_chunk(chunk, p)  # chunk by chunk: a batch in chunks is not combined (copied)


def _normalized_chunk(texts: pa.Array, p: ExactDedupParams) -> Iterator[memoryview]:
    from gencommons.data.dedup.minhash import _NO_FOLD, _kernels, _utf8_buffers

    offs, data = _utf8_buffers(texts)
    fold, expansions = _unicode.fold_tables() if p.lowercase else _NO_FOLD
    normalize = _kernels()["normalize"]
    n = len(offs) - 1
    d = 0
    while d < n:
        e = min(n, max(d + 1, int(np.searchsorted(offs, offs[d] + NORMALIZE_CHUNK, side="right")) - 1))
        out = np.empty(3 * int(offs[e] - offs[d]) + 4, dtype=np.uint8)
        out_offs = np.empty(e - d + 1, dtype=np.int64)
        normalize(
            data,
            offs[d : e + 1],
            _unicode.classes(),
            fold,
            expansions,
            int(p.collapse_whitespace),
            out,
            out_offs,
        )
        view = out.data
        bounds = out_offs.tolist()
        for i in range(e - d):
            yield view[bounds[i] : bounds[i + 1]]
        d = e


def normalized_hashes(texts: pa.Array | pa.ChunkedArray, p: ExactDedupParams) -> np.ndarray:
    """xxh3-64 of each normalized text, as uint64."""
    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(t) for t in normalized_texts(texts, p)), dtype=np.uint64, count=len(texts))


def _reduce(workdir: str, task: int, n_shards: int, p: ExactDedupParams) -> None:
    files = sorted(glob.glob(os.path.join(glob.escape(workdir), "sig", f"b{task:04d}", "*.parquet")))
    out = os.path.join(workdir, "dec", f"b{task:04d}.parquet")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    schema = pa.schema([("shard", pa.uint32()), ("row", pa.uint64())])
    if not files:
        pq.write_table(na.empty_table(schema), out + ".tmp")
        os.replace(out + ".tmp", out)
        return
    t = pa.concat_tables(read_file(f) for f in files)
    hashes, shard, row = (na.values(t[c]) for c in ("hash", "shard", "row"))
    del t
    order = np.lexsort((row, shard, hashes))  # by hash, then input order
    dup = np.zeros(len(order), dtype=bool)
    np.equal(hashes[order][1:], hashes[order][:-1], out=dup[1:])  # all but the first of each hash
    order = order[dup]
    order = order[np.lexsort((row[order], shard[order]))]
    pq.write_table(na.table({"shard": shard[order], "row": row[order]}).cast(schema), out + ".tmp")
    os.replace(out + ".tmp", out)


class ExactDedup:
    name = "exact_dedup"
    params = ExactDedupParams
    paper = "https://arxiv.org/abs/2107.06499"
    kind: ClassVar[str] = "global"
    # bytes held per byte of batch text while saving signatures (the normalized (case-folded, whitespace-collapsed) copy of the text); see resources.py
    memory_per_text_byte: ClassVar[float] = 2
    # apply-thresholds re-picks the first copy per value of this column among the survivors
    rethreshold_key = "exact_dedup_hash"
    doc = "Keep the first copy of each normalized text across the whole dataset (a global, staged step)."
    reduce_stages = (ReduceStage("find duplicates", lambda p, n_shards: p.partitions, _reduce),)

    def estimate(self, p: Any, *, docs: int, text_bytes: int, shards: int) -> list[Any]:
        """Signatures: 20 B per document on disk; a reduce task holds its partition (20 B per
        document) about 4 times over while numpy sorts it."""
        from gencommons.data.resources import REDUCE_BASE, Estimate

        return [
            Estimate(
                "exact_dedup · find duplicates",
                p.partitions,
                REDUCE_BASE + 96 * docs // p.partitions,
                20 * docs,
            )
        ]

    def save_signatures(
        self, batch: pa.Table, p: Any, *, workdir: str, shard: int, part: int, first_row: int
    ) -> None:
        hashes = normalized_hashes(batch["text"], p)
        rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.uint64)
        bucket = (hashes % np.uint64(p.partitions)).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(p.partitions + 1))
        for b in range(p.partitions):
            idx = order[bounds[b] : bounds[b + 1]]
            if len(idx) == 0:
                continue
            table = na.table(
                {"hash": hashes[idx], "shard": np.full(len(idx), shard, dtype=np.uint32), "row": rows[idx]}
            )
            spool.add(os.path.join(workdir, "sig", f"b{b:04d}"), shard, part, table)

    def finish_signatures(self, p: Any, *, workdir: str, shard: int) -> None:
        spool.flush(workdir, shard)

    def decisions(self, p: Any, *, workdir: str, shard: int, n_rows: int) -> pa.Table:
        dup = np.zeros(n_rows, dtype=bool)
        for f in sorted(glob.glob(os.path.join(glob.escape(workdir), "dec", "*.parquet"))):
            t = read_file(f)
            rows = na.values(t["row"])[na.values(t["shard"]) == shard]
            dup[rows.astype(np.int64)] = True
        hashes = np.zeros(n_rows, dtype=np.uint64)
        for f in glob.glob(os.path.join(glob.escape(workdir), "sig", "b*", f"s{shard:05d}-*.parquet")):
            sig = read_file(f)
            hashes[na.values(sig["row"]).astype(np.int64)] = na.values(sig["hash"])
        return pa.table(
            {
                "reason": na.strings_where(dup, REASON),
                "exact_dedup_hash": na.array(hashes),
            }
        )


steps.add("exact_dedup", ExactDedup())
