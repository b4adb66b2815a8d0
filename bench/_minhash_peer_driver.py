"""The library peers of ``minhash_vs_peers.py``: a complete near-dedup step around datasketch or rensa.

    .venv/bin/python bench/_minhash_peer_driver.py --tool rensa --input DIR --output DIR [--bands 14 --rows 8]
    .venv/bin/python bench/_minhash_peer_driver.py --tool datasketch --input DIR --output DIR --seed 7
    .venv/bin/python bench/_minhash_peer_driver.py --tool floor --input DIR --output DIR
    .venv/bin/python bench/_minhash_peer_driver.py --tool gencommons-lean --input DIR --output DIR

One process, one measured run, printing ``RESULT {json}`` like the other drivers. datasketch and rensa
are libraries, not pipelines, so this file writes the step a user would write around them, the same
for both, and leaves each library only what it is for (signatures and the LSH index):

1. **read**: every ``*.jsonl.gz`` of ``--input`` in sorted order (the input order that "keep first"
   refers to), in batches of ``BATCH`` documents;
2. **shingle**: lowercase, words = ``\\w+`` runs, the set of word ``--ngram``-grams joined by spaces (the
   definition of the benchmark's true Jaccard; a document of fewer words is one shingle);
3. **signature**: datasketch ``MinHash.bulk`` (``num_perm = bands × rows``, seed 1, its default
   SHA-1-based ``affine32`` scheme) or rensa ``RMinHash.from_token_sets`` (seed 42); ``--seed`` replaces
   either seed (``minhash_seeds.py`` runs each library with several);
4. **lsh**: datasketch ``MinHashLSH(params=(bands, rows))``, query then insert each document; rensa
   ``RMinHashLSH(num_bands=bands)``, ``insert_many`` the batch then ``query_all`` it (which also finds
   the pairs inside the batch). Every candidate pair is united in a union-find over document indexes;
5. **union_find**: connected components; the smallest index (the first document in input order) is a
   component's root;
6. **write**: the input is read again and the roots and singletons are written to
   ``<output>/kept.parquet`` (``id, text``, zstd, as gencommons writes), the members of every
   component of 2 or more to ``<output>/clusters.parquet`` (``id, cluster``).

No candidate is verified against its signature or text (as datatrove, and gencommons' default
``verify: false``). ``--tool floor`` does steps 1–2, then hashes every shingle with xxh3-64 into a
uint64 array (the cheapest possible hashing in Python), then computes plain numpy MinHash
signatures from those hashes (``(a·h + b) mod (2^61 − 1)``, min over shingles, as datatrove does):
the phases tell the floor (read + shingle + hash) from the signature stage; it writes nothing.
``--tool gencommons-floor`` times gencommons' own functions on the same batches as its pipeline
(5,000 documents): ``shingle_hashes`` (tokenize + shingle hashes, no MinHash), ``signatures`` (the
MinHash stage) and ``band_keys``; one tiny batch runs before the clock starts (first-call set-up).
``--tool gencommons-lean`` asks how small the signature stage can be in memory: gencommons' compiled
loops (``_minhash_kernels``) called directly, on ``LEAN_BATCH``-document batches (the tokenizer folds
case itself), in a process that imports neither pyarrow nor polars (so neither pandas): numpy, orjson
and the extension only. It writes nothing; its peak RSS is the figure of interest.
``--tool arrow-io`` is the other half of that question: the Parquet I/O any Arrow engine does around a
step (JSONL into 1,000-document Arrow batches, an lz4 intermediate per input file, read back and
written as zstd), with no step at all; its peak RSS is the least an engine built on Arrow can use here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

BATCH = 2048
LEAN_BATCH = 1000
DEFAULT_SEEDS = {"datasketch": 1, "rensa": 42}  # without --seed: the seeds minhash_vs_peers.py reports
WORD_RE = re.compile(r"\w+")


def read_batches(folder: Path, size: int = BATCH) -> Iterator[list[tuple[str, str]]]:
    """(id, text) of every document, in input order, ``size`` at a time."""
    batch: list[tuple[str, str]] = []
    for f in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                batch.append((rec["id"], rec["text"]))
                if len(batch) == size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def shingles(text: str, n: int) -> set[str]:
    w = WORD_RE.findall(text.lower())
    if len(w) < n:
        return {" ".join(w)}
    return set(map(" ".join, zip(*(w[i:] for i in range(n)), strict=False)))


class UnionFind:
    """Components over 0..n-1; a root is its component's smallest index (keep-first)."""

    def __init__(self) -> None:
        self.parent: list[int] = []

    def grow(self, n: int) -> None:
        self.parent.extend(range(len(self.parent), n))

    def find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]  # path halving
            x = p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


class Phases:
    """Wall and CPU seconds (all threads of this process) per named phase, summed over batches."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t, self._c = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._t
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - self._c
        self._t, self._c = now, cpu


def run_datasketch(args: argparse.Namespace, ph: Phases, uf: UnionFind) -> int:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=args.bands * args.rows, params=(args.bands, args.rows))
    seed = DEFAULT_SEEDS["datasketch"] if args.seed is None else args.seed
    n = 0
    for batch in read_batches(args.input):
        ph.lap("read")
        sets = [[s.encode("utf-8", "surrogatepass") for s in shingles(t, args.ngram)] for _, t in batch]
        ph.lap("shingle")
        sigs = MinHash.bulk(sets, num_perm=args.bands * args.rows, seed=seed)
        ph.lap("signature")
        uf.grow(n + len(batch))
        for i, m in enumerate(sigs, start=n):
            for j in lsh.query(m):
                uf.union(i, j)
            lsh.insert(i, m, check_duplication=False)
        n += len(batch)
        ph.lap("lsh")
    return n


def run_rensa(args: argparse.Namespace, ph: Phases, uf: UnionFind) -> int:
    from rensa import RMinHash, RMinHashLSH

    num_perm = args.bands * args.rows
    lsh = RMinHashLSH(threshold=0.8, num_perm=num_perm, num_bands=args.bands)  # threshold: unused by query
    seed = DEFAULT_SEEDS["rensa"] if args.seed is None else args.seed
    n = 0
    for batch in read_batches(args.input):
        ph.lap("read")
        sets = [shingles(t, args.ngram) for _, t in batch]
        ph.lap("shingle")
        sigs = RMinHash.from_token_sets(sets, num_perm, seed)
        ph.lap("signature")
        uf.grow(n + len(batch))
        lsh.insert_many(sigs, start_key=n)
        for i, cands in enumerate(lsh.query_all(sigs), start=n):
            for j in cands:
                if j != i:
                    uf.union(i, j)
        n += len(batch)
        ph.lap("lsh")
    return n


def run_floor(args: argparse.Namespace, ph: Phases) -> int:
    import xxhash

    h = xxhash.xxh3_64_intdigest
    num_perm = args.bands * args.rows
    prime = np.uint64((1 << 61) - 1)
    gen = np.random.RandomState(1)
    a = gen.randint(1, prime, dtype=np.uint64, size=(1, num_perm))
    b = gen.randint(0, prime, dtype=np.uint64, size=(1, num_perm))
    n = 0
    for batch in read_batches(args.input):
        ph.lap("read")
        sets = [shingles(t, args.ngram) for _, t in batch]
        ph.lap("shingle")
        hashes = [
            np.fromiter((h(s.encode("utf-8", "surrogatepass")) for s in ss), np.uint64, len(ss))
            for ss in sets
        ]
        ph.lap("hash")
        for hs in hashes:
            # (k, 1) * (1, num_perm): wraps mod 2^64 before the mod, as datatrove's does
            np.min((hs.reshape(-1, 1) * a + b) % prime, axis=0)
        n += len(batch)
        ph.lap("signature")
    return n


def run_gencommons_floor(args: argparse.Namespace, ph: Phases) -> int:
    import pyarrow as pa

    from gencommons.data.config import PipelineConfig
    from gencommons.data.dedup.minhash import MinhashParams, band_keys, shingle_hashes, signatures

    p = MinhashParams(n=args.ngram, num_perm=args.bands * args.rows, bands=args.bands, rows=args.rows)
    size = PipelineConfig.model_fields["batch_size"].default  # the pipeline's batches
    n = 0
    for batch in read_batches(args.input, size):
        texts = pa.array([t for _, t in batch])
        ph.lap("read")
        sh, off = shingle_hashes(texts, p)
        ph.lap("shingle")
        sig = signatures(sh, off, p)
        ph.lap("signature")
        band_keys(sig, p, None)
        n += len(batch)
        ph.lap("band_keys")
    return n


def run_gencommons_lean(args: argparse.Namespace, ph: Phases) -> int:
    from gencommons.data.dedup import _minhash_kernels as k
    from gencommons.data.dedup._seeded import permutations
    from gencommons.data.dedup._unicode import classes, fold_tables

    table = classes()
    fold, expansions = fold_tables()
    a, b = permutations(1, args.bands * args.rows)  # as minhash._permutations draws them (seed 1)
    n = 0
    for batch in read_batches(args.input, LEAN_BATCH):
        ph.lap("read")
        enc = [t.encode("utf-8", "surrogatepass") for _, t in batch]
        offs = np.zeros(len(enc) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, enc), np.int64, len(enc)), out=offs[1:])
        data = np.frombuffer(b"".join(enc), np.uint8)
        out, lengths = np.empty(len(data) // 2 + len(enc) + 1, np.uint64), np.zeros(len(enc), np.int64)
        used = k.tokens(data, offs, table, fold, expansions, 0, 1, out, lengths)  # case-folded inside
        tok_off = np.zeros(len(enc) + 1, np.int64)
        np.cumsum(lengths, out=tok_off[1:])
        counts = np.where(lengths >= args.ngram, lengths - args.ngram + 1, np.minimum(lengths, 1))
        off = np.zeros(len(enc) + 1, np.int64)
        np.cumsum(counts, out=off[1:])
        shingled = np.empty(int(off[-1]), np.uint64)
        k.roll(out[:used], tok_off, off, args.ngram, shingled)
        ph.lap("shingle")
        sig = np.full((len(enc), len(a)), np.uint64(2**32), np.uint64)
        k.minhash(shingled, off, a, b, sig)
        n += len(batch)
        ph.lap("signature")
    return n


def run_arrow_io(args: argparse.Namespace, ph: Phases) -> int:
    """The I/O an Arrow engine does around any step, and nothing else, streamed 1,000 documents at a
    time: read the ``.jsonl.gz`` into Arrow batches and write each input file as an lz4 Parquet file (an
    intermediate), then read those back batch by batch and write them as zstd Parquet (the output). No
    tokenizing, no MinHash."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = args.output / "arrow-io"
    tmp.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    n = 0
    files = sorted(args.input.glob("*.jsonl.gz"))
    for k, f in enumerate(files):
        with (
            gzip.open(f, "rb") as fh,
            pq.ParquetWriter(tmp / f"mid-{k}.parquet", schema, compression="lz4") as w,
        ):
            ids: list[str] = []
            texts: list[str] = []
            for line in fh:
                rec = orjson.loads(line)
                ids.append(rec["id"])
                texts.append(rec["text"])
                if len(texts) == LEAN_BATCH:
                    w.write_table(pa.table({"id": ids, "text": texts}, schema=schema))
                    n += len(texts)
                    ids, texts = [], []
            if texts:
                w.write_table(pa.table({"id": ids, "text": texts}, schema=schema))
                n += len(texts)
    ph.lap("read + write lz4")
    for k in range(len(files)):
        with pq.ParquetWriter(tmp / f"out-{k}.parquet", schema, compression="zstd") as w:
            for rb in pq.ParquetFile(tmp / f"mid-{k}.parquet").iter_batches(batch_size=LEAN_BATCH):
                w.write_table(pa.Table.from_batches([rb]))
    ph.lap("read + write zstd")
    return n


def warm_gencommons(args: argparse.Namespace) -> None:
    """One tiny batch outside the timed part (first-call set-up: polars' thread pool, the Unicode
    table), as a pipeline's workers have it after their first batch."""
    import pyarrow as pa

    from gencommons.data.dedup.minhash import MinhashParams, shingle_hashes, signatures

    p = MinhashParams(n=args.ngram, num_perm=args.bands * args.rows, bands=args.bands, rows=args.rows)
    signatures(*shingle_hashes(pa.array(["one two three four five six"]), p), p)


def write_outputs(args: argparse.Namespace, uf: UnionFind, n: int, ph: Phases) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    roots = [uf.find(i) for i in range(n)]
    size: dict[int, int] = {}
    for r in roots:
        size[r] = size.get(r, 0) + 1
    ph.lap("union_find")
    args.output.mkdir(parents=True, exist_ok=True)
    kept = 0
    cl_ids: list[str] = []
    cl_roots: list[int] = []
    i = 0
    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    with pq.ParquetWriter(args.output / "kept.parquet", schema, compression="zstd") as w:
        for batch in read_batches(args.input):
            ids, texts = [], []
            for doc_id, text in batch:
                r = roots[i]
                if r == i:
                    ids.append(doc_id)
                    texts.append(text)
                if size[r] > 1:
                    cl_ids.append(doc_id)
                    cl_roots.append(r)
                i += 1
            w.write_table(pa.table({"id": ids, "text": texts}, schema=schema))
            kept += len(ids)
    pq.write_table(pa.table({"id": cl_ids, "cluster": cl_roots}), args.output / "clusters.parquet")
    ph.lap("write")
    return kept


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--tool",
        choices=["datasketch", "rensa", "floor", "gencommons-floor", "gencommons-lean", "arrow-io"],
        required=True,
    )
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--output", type=Path, required=True)
    ap.add_argument("--bands", type=int, default=14)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="datasketch/rensa signature seed (default: datasketch 1, rensa 42)",
    )
    args = ap.parse_args()

    t_import = time.perf_counter()
    if args.tool in ("datasketch", "rensa"):
        __import__(args.tool)  # imports count as set-up, as for the other drivers
    if args.tool == "gencommons-floor":
        warm_gencommons(args)
    t0 = time.perf_counter()
    ph = Phases()
    uf = UnionFind()
    if args.tool == "datasketch":
        n = run_datasketch(args, ph, uf)
    elif args.tool == "rensa":
        n = run_rensa(args, ph, uf)
    elif args.tool == "floor":
        n = run_floor(args, ph)
    elif args.tool == "gencommons-lean":
        n = run_gencommons_lean(args, ph)
    elif args.tool == "arrow-io":
        n = run_arrow_io(args, ph)
    else:
        n = run_gencommons_floor(args, ph)
    kept = write_outputs(args, uf, n, ph) if args.tool in ("datasketch", "rensa") else n
    seconds = time.perf_counter() - t0
    out = {
        "docs_in": n,
        "docs_out": kept,
        "seconds": seconds,
        "setup_seconds": t0 - t_import,
        "phases": {k: round(v, 3) for k, v in ph.seconds.items()},
        "phases_cpu": {k: round(v, 3) for k, v in ph.cpu.items()},
        "tasks": 1,
        "pid": os.getpid(),
    }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
