"""Resource plan: how much memory and disk each stage of a pipeline will need, estimated before any
work starts (``gencommons data run --plan``), and the check that refuses a run that will not fit.

**Documents.** Parquet inputs give their row counts exactly (file footers). For JSONL the first file's
first 8 MB on disk are decompressed and their lines counted: records per byte on disk, scaled to every
input file by size. The first 2,000 documents give the average text size.

**Memory of a task.** A map task costs ``WORKER_BASE`` (the process with its imports), plus
``POLARS_BASE`` where a filter runs, plus the text of one batch times ``IO_FACTOR`` (reading and
writing it) and the largest step's ``memory_per_text_byte`` (a step's attribute; ``STEP_FACTOR``
where a step declares none). A global step adds its reduce stages' figures:
``estimate(p, *, docs, text_bytes, shards) -> list[Estimate]`` (one per stage it adds). A run with
more than one worker process adds ``HELPERS`` (multiprocessing's resource tracker), and
``DRIVER_BASE`` for a driver resting in a stage with fewer tasks than workers (the driver takes tasks
as a worker does). The constants are peaks measured on the MinHash benchmark corpus
(``bench/dedup_memory.py`` prints the plan next to the measured peak), rounded up; they are
estimates, not bounds.
"""

from __future__ import annotations

import itertools
import lzma
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gencommons.data.io.files import open_binary
from gencommons.data.io.reading import (
    GZIP_ERRORS,
    BadRecords,
    ReadOptions,
    decoded_chunks,
    member_decompressor,
    readers,
    zstd_errors,
)
from gencommons.errors import UserError

SAMPLE_DOCS = 2_000
# JSONL: compressed bytes of the first file decoded to count its records
COUNT_PREFIX = 8 * 2**20
# a process with its imports: interpreter, numpy, pyarrow (with pandas, which pyarrow imports when
# it is installed) and pydantic, plus the fixed part of reading and writing Parquet. Measured 230-265
# MB peak for the output stage after a dedup step on 1,000-5,000 document batches in the first
# sessions; 124-145 MB for a whole MinHash run on one worker since the seventh session's import cuts
# (no fsspec for local files, no numpy.random). Up to ~40 MB of that is shared libraries' pages, more
# when the page cache holds them (right after an install the kernel maps more pages around each
# fault): the bases below allow for that
FILE_PAGES = 32 * 2**20
WORKER_BASE = 208 * 2**20 + FILE_PAGES
# bytes per byte of a batch's text that reading and writing it holds (JSON records into Arrow, the
# Parquet reader's and writer's buffers, the allocator's slack): 3.7-12 measured (1,000 to 20,000
# document batches; the larger the batch, the smaller the factor)
IO_FACTOR = 6
# a reduce task that reads and writes columns of numbers only (MinHash buckets, exact-dedup groups):
# the process and its imports; measured 140-170 MB
REDUCE_BASE = 192 * 2**20 + FILE_PAGES
# polars, loaded where a filter runs (~35 MB resident)
POLARS_BASE = 40 * 2**20
# bytes a step holds per byte of its batch's text, where the step declares no
# ``memory_per_text_byte``: filters tokenizing and scoring with polars measure 13-17 (Gopher, C4 and
# FineWeb quality filters, 1,000 and 5,000 document batches)
STEP_FACTOR = 16
# a run with worker processes: the driver takes tasks as a worker does (executors/local.py); beside
# them runs multiprocessing's resource tracker (12 MB measured), and, in a stage with fewer tasks
# than workers, the driver resting with its imports (~100 MB measured)
HELPERS = 32 * 2**20
DRIVER_BASE = 192 * 2**20 + FILE_PAGES


@dataclass(frozen=True)
class Estimate:
    stage: str
    tasks: int
    memory_per_task: int  # bytes, peak resident per task
    disk: int  # bytes written by the stage that stay until the run ends

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "tasks": self.tasks,
            "memory_per_task": self.memory_per_task,
            "disk": self.disk,
        }


@dataclass(frozen=True)
class Plan:
    docs: int
    text_bytes: int
    stages: list[Estimate]
    workers: int

    @property
    def peak_memory(self) -> int:
        """The largest stage: its tasks running at once on the workers (the driver is one of them),
        plus, where workers are processes, the resource tracker and, in a stage with fewer tasks than
        workers, the driver resting."""

        def extra(e: Estimate) -> int:
            if self.workers == 1:
                return 0
            return HELPERS + (DRIVER_BASE if e.tasks < self.workers else 0)

        return max(
            (extra(e) + e.memory_per_task * min(self.workers, e.tasks) for e in self.stages), default=0
        )

    @property
    def disk(self) -> int:
        return sum(e.disk for e in self.stages)


# bytes of record per byte on disk, for formats whose records cannot be counted cheaply (WARC)
COMPRESSION = {".gz": 3.5, ".zst": 4.0, ".bz2": 4.0, ".xz": 4.0, ".parquet": 3.0}


def sample_input(pipeline: Any) -> tuple[int, int]:
    """(estimated documents, estimated text bytes) of the whole input, summed over the config's
    inputs (each sampled on its own: sources differ in document size).

    Documents: exact for Parquet (footers), from the records per byte on disk of the input's first
    file (its first ``COUNT_PREFIX`` bytes) for JSONL, and otherwise from the sample's bytes per
    document and a typical compression ratio for the file's extension (``COMPRESSION``). Text bytes:
    documents times the average text of the input's first ``SAMPLE_DOCS`` documents.
    """
    by_input: dict[int, list[Any]] = {}
    for shard in pipeline.plan_shards():
        for f in shard.files:
            by_input.setdefault(f.input_index, []).append(f)
    docs = text = 0
    for files in by_input.values():
        d, t = _sample_one_input(pipeline, files)
        docs += d
        text += t
    return docs, text


def _sample_one_input(pipeline: Any, files: list[Any]) -> tuple[int, int]:
    total_disk = sum(f.bytes for f in files)
    first = files[0]
    icfg = pipeline.config.input[first.input_index]
    opts = ReadOptions(
        text_field=icfg.text_field, id_field=icfg.id_field, batch_size=SAMPLE_DOCS, root=first.root
    )
    batch = next(iter(readers[first.format](first.path, opts, BadRecords(quarantine=True))), None)
    if batch is None or batch.num_rows == 0 or total_disk == 0:
        return 0, 0
    docs = batch.num_rows
    import pyarrow.compute as pc

    per_doc = (pc.sum(pc.binary_length(batch["text"])).as_py() or 0) / docs
    if first.format == "parquet":
        est_docs = parquet_rows(files, total_disk)
    elif first.format == "jsonl":
        est_docs = int(records_per_disk_byte(first.path) * total_disk)
    elif docs < SAMPLE_DOCS and first.format != "warc":  # the whole first file
        est_docs = int(docs / max(1, first.bytes) * total_disk)
    else:
        ratio = next((r for ext, r in COMPRESSION.items() if first.path.endswith(ext)), 1.0)
        est_docs = int(ratio / (per_doc * 1.1 + 50) * total_disk)  # record overhead: keys, metadata
    est_docs = max(docs, est_docs)
    return est_docs, int(est_docs * per_doc)


def parquet_rows(files: list[Any], total_disk: int, *, max_files: int = 256) -> int:
    """Rows of the Parquet input files, from their footers; past ``max_files`` files (a remote file
    costs a request), scaled by bytes on disk."""
    import pyarrow.parquet as pq

    rows = read = 0
    for f in files[:max_files]:
        with open_binary(f.path) as fh:
            rows += pq.ParquetFile(fh).metadata.num_rows
        read += f.bytes
    if len(files) <= max_files or not read:
        return rows
    return int(rows / read * total_disk)


def records_per_disk_byte(path: str, *, prefix: int = COUNT_PREFIX) -> float:
    """JSON Lines records per byte on disk of ``path``: its first ``prefix`` bytes (all of a smaller
    file) decompressed by the file's extension and their lines counted, blank ones not (the reader
    skips them)."""
    codec = member_decompressor(path)
    cut: tuple[type[BaseException], ...] = (*GZIP_ERRORS, lzma.LZMAError, *zstd_errors())
    raw = lines = 0
    blank = True  # the line read so far is empty or whitespace
    with open_binary(path) as fh:
        if codec is None:
            chunks: Iterator[tuple[int, bytes]] = ((len(c), c) for c in iter(lambda: fh.read(1 << 20), b""))
        else:
            chunks = decoded_chunks(fh, *codec)
        try:
            for n, out in chunks:
                raw += n
                parts = out.split(b"\n")  # parts[0] continues the line before; parts[-1] is not ended
                if len(parts) > 1:
                    lines += not (blank and not parts[0].strip())
                    lines += sum(1 for part in itertools.islice(parts, 1, len(parts) - 1) if part.strip())
                    blank = True
                blank = blank and not parts[-1].strip()
                if raw >= prefix:
                    break
            else:
                lines += not blank  # a last record without a newline
        except cut:  # a cut or corrupt file: the rate of what decoded (the run reports the cut)
            pass
    return lines / raw if raw else 0.0


def map_memory(steps: list[Any], batch_text: float) -> int:
    """Peak resident bytes of a map task running ``steps`` (filters, mappers, and the global step
    whose signatures it saves) on batches of ``batch_text`` bytes of text."""
    polars = POLARS_BASE if any(s.kind == "filter" for s in steps) else 0
    factor = IO_FACTOR + max((getattr(s, "memory_per_text_byte", STEP_FACTOR) for s in steps), default=0)
    return int(WORKER_BASE + polars + factor * batch_text)


def estimate(pipeline: Any, *, workers: int) -> Plan:
    cfg = pipeline.config
    docs, text_bytes = sample_input(pipeline)
    shards = max(1, len(pipeline.plan_shards()))
    per_doc = text_bytes / docs if docs else 0
    batch_text = min(cfg.batch_size * per_doc, 64 * 2**20, text_bytes)  # a batch is at most the input
    stages: list[Estimate] = []
    in_map: list[Any] = []  # the steps of the map stage being planned
    k = 0
    for spec in cfg.steps:
        step = spec.step()
        in_map.append(step)
        if step.kind != "global":
            continue
        stages.append(Estimate(f"map {k}", shards, map_memory(in_map, batch_text), int(text_bytes * 0.5)))
        in_map = []
        k += 1
        est = getattr(step, "estimate", None)
        if est is not None:
            stages.extend(est(spec.parsed(), docs=docs, text_bytes=text_bytes, shards=shards))
    out_mem = map_memory(in_map, batch_text)
    stages.append(Estimate(f"map {k} (output)", shards, out_mem, int(text_bytes * 0.5)))
    return Plan(docs, text_bytes, stages, workers)


def physical_memory() -> int:
    """This machine's RAM in bytes: from ``sysconf`` where it exists (psutil, imported only elsewhere,
    costs each process ~0.8 MB of resident memory for this one number)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
        import psutil

        return int(psutil.virtual_memory().total)


def check_fits(plan: Plan, output: str) -> None:
    """Raise UserError, with the estimate, when the run will not fit in memory or on disk."""
    mem = physical_memory()
    folder = output
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder.rstrip("/"))
    free = shutil.disk_usage(folder or ".").free
    problems = []
    if plan.peak_memory > mem:
        problems.append(f"peak memory {human(plan.peak_memory)} > {human(mem)} of RAM")
    if plan.disk > free:
        problems.append(f"disk {human(plan.disk)} > {human(free)} free under {folder or '.'}")
    if problems:
        raise UserError(
            "This run will not fit: "
            + "; ".join(problems)
            + ".\n"
            + format_plan(plan)
            + "\nUse fewer workers, a smaller batch_size, a per-source `scope`, or run it on a bigger machine "
            "or a Ray cluster; `--force` runs it anyway."
        )


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def format_plan(plan: Plan) -> str:
    lines = [
        f"Estimated input: {plan.docs:,} documents, {human(plan.text_bytes)} of text; {plan.workers} workers.",
        f"{'stage':<34} {'tasks':>6} {'memory/task':>12} {'peak memory':>12} {'disk':>10}",
    ]
    for e in plan.stages:
        lines.append(
            f"{e.stage:<34} {e.tasks:>6} {human(e.memory_per_task):>12} "
            f"{human(e.memory_per_task * min(plan.workers, e.tasks)):>12} {human(e.disk):>10}"
        )
    lines.append(f"{'whole run':<34} {'':>6} {'':>12} {human(plan.peak_memory):>12} {human(plan.disk):>10}")
    return "\n".join(lines)
