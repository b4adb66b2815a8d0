"""The work of one task: a map task runs a segment of steps over one shard; a reduce task runs one
part of a global step's barrier stage. Executors (``executors/``) only decide where tasks run.

Resumption lives here, in the files a task leaves (``workdir.py`` names them): a task writes its outputs
under temporary names, renames them into place, and writes its completion record last. A task that
finds its completion record is skipped by the engine; a task that died half-way leaves no record and
is simply run again (it first removes whatever it had renamed into place).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gencommons.data import numpy_arrow as na
from gencommons.data.config import InputConfig, PipelineConfig
from gencommons.data.document import LICENSE, TEXT
from gencommons.data.io.parquet import STREAMING, USE_THREADS
from gencommons.data.io.reading import BadRecords, ReadOptions, readers
from gencommons.data.io.writing import ParquetWriter, WrittenFile, writers
from gencommons.data.step import StepCounts
from gencommons.data.workdir import Workdir
from gencommons.lineage.atomic import write_json_atomic
from gencommons.lineage.hashing import file_sha256

if TYPE_CHECKING:  # imported where a filter runs (``_to_arrow``): other pipelines never load polars
    import polars as pl

REASON = "reason"
INTERMEDIATE_BYTES = 1 << 30

# Set in worker processes by the local executor: a callable receiving the number of documents read.
_progress: Callable[[int], None] | None = None


def set_progress(callback: Callable[[int], None] | None) -> None:
    global _progress
    _progress = callback


def report_docs(n: int) -> None:
    """Tell the executor's progress bar that ``n`` more documents were read (where it listens)."""
    if _progress is not None:
        _progress(n)


@dataclass(frozen=True)
class InputFile:
    path: str
    input_index: int  # which entry of config.input
    format: str
    root: str
    bytes: int


@dataclass(frozen=True)
class Shard:
    index: int
    files: tuple[InputFile, ...]


@dataclass(frozen=True)
class MapTask:
    """Run steps[start:stop] over one shard; apply global step ``apply_global`` first, save signatures
    for ``save_global`` last; the last stage writes the final output."""

    config: PipelineConfig
    workdir: str
    stage: int
    shard: Shard
    start: int
    stop: int
    apply_global: int | None
    save_global: int | None
    final: bool

    @property
    def key(self) -> str:
        return f"map{self.stage}:{self.shard.index}"


@dataclass(frozen=True)
class ReduceTask:
    config: PipelineConfig
    workdir: str
    step_index: int
    stage_index: int
    task: int
    n_shards: int

    @property
    def key(self) -> str:
        return f"reduce{self.step_index}.{self.stage_index}:{self.task}"


@dataclass
class _Bookkeeping:
    counts: dict[int, StepCounts] = field(default_factory=dict)
    licenses_out: dict[str, int] = field(default_factory=dict)
    licenses_in: dict[str, int] = field(default_factory=dict)
    docs_read: int = 0


# ---------------------------------------------------------------- map tasks


def run_map_task(task: MapTask) -> dict[str, Any]:
    """Run one map task to completion and return its completion record."""
    wd = Workdir(task.workdir)
    done_path = wd.done_path(task.key)
    tmp = wd.tmp_dir(task.key)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    prefix = f"part-{task.shard.index:05d}"
    out_dir = wd.final_dir() if task.final else wd.stage_dir(task.stage)
    wd.remove_prefixed(out_dir, prefix)  # leftovers of a run killed while renaming
    wd.remove_prefixed(wd.rejected_dir(), f"{prefix}-s{task.stage}")
    if task.save_global is not None:
        wd.reset_signatures(task.save_global, task.shard.index)

    cfg = task.config
    specs = cfg.steps
    book = _Bookkeeping()
    bad = BadRecords(quarantine=cfg.on_error == "quarantine")
    inputs_info: list[dict[str, Any]] = []

    if task.final:
        out_writer = writers[cfg.output.format](tmp, prefix, target_bytes=cfg.output.shard_bytes)
    else:
        out_writer = ParquetWriter(tmp, prefix, target_bytes=INTERMEDIATE_BYTES, compression="lz4")
    rej_writer = (
        ParquetWriter(tmp, f"{prefix}-s{task.stage}-rejected", target_bytes=cfg.output.shard_bytes)
        if cfg.output.rejected
        else None
    )
    gstep = specs[task.save_global].step() if task.save_global is not None else None
    gparams = specs[task.save_global].parsed() if task.save_global is not None else None
    prepared = [(i, specs[i], specs[i].step(), specs[i].parsed()) for i in range(task.start, task.stop)]

    rows_out = 0
    part = 0
    for batch in _source_batches(task, wd, book, bad, inputs_info, rej_writer):
        if task.stage == 0:
            _count(book.licenses_in, batch)
        batch = _apply_steps(batch, prepared, book, rej_writer)
        if batch.num_rows == 0:
            continue
        if gstep is not None:
            t_sig = time.perf_counter()
            gstep.save_signatures(
                batch,
                gparams,
                workdir=wd.global_dir(task.save_global or 0),
                shard=task.shard.index,
                part=part,
                first_row=rows_out,
            )
            sig_counts = book.counts.setdefault(task.save_global or 0, StepCounts())
            sig_counts.seconds += time.perf_counter() - t_sig
        part += 1
        rows_out += batch.num_rows
        if task.final:
            _count(book.licenses_out, batch)
        out_writer.write(batch)

    finish = getattr(gstep, "finish_signatures", None)
    if finish is not None:  # what the step gathered across batches (dedup/spool.py)
        finish(gparams, workdir=wd.global_dir(task.save_global or 0), shard=task.shard.index)
    out_files = out_writer.close()
    rej_files = rej_writer.close() if rej_writer else []
    quarantine = None
    if bad.records:
        quarantine = os.path.join(tmp, f"quarantine-{task.shard.index:05d}.jsonl")
        with open(quarantine, "wb") as fh:
            fh.writelines(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE) for rec in bad.records)
    # rename into place, then write the completion record last
    moved_out = _move_all(out_files, out_dir)
    moved_rej = _move_all(rej_files, wd.rejected_dir())
    moved_q = None
    if quarantine:
        moved_q = os.path.join(wd.quarantine_dir(), os.path.basename(quarantine))
        os.makedirs(wd.quarantine_dir(), exist_ok=True)
        os.replace(quarantine, moved_q)
    shutil.rmtree(tmp, ignore_errors=True)
    record = {
        "key": task.key,
        "stage": task.stage,
        "shard": task.shard.index,
        "files": [os.path.basename(f.path) for f in moved_out],
        "rows_out": rows_out,
        "rejected_files": [os.path.basename(f.path) for f in moved_rej],
        "quarantine_file": os.path.basename(moved_q) if moved_q else None,
        "quarantined": bad.count,
        "skipped": dict(sorted(bad.skipped.items())),
        "docs_read": book.docs_read,
        "inputs": inputs_info,
        "counts": {str(i): c.to_dict() for i, c in sorted(book.counts.items())},
        "licenses_in": book.licenses_in,
        "licenses_out": book.licenses_out,
    }
    write_json_atomic(done_path, record)
    return record


def _move_all(files: list[WrittenFile], dest: str) -> list[WrittenFile]:
    os.makedirs(dest, exist_ok=True)
    moved = []
    for f in files:
        target = os.path.join(dest, os.path.basename(f.path))
        os.replace(f.path, target)
        moved.append(WrittenFile(target, f.rows, f.bytes))
    return moved


def _source_batches(
    task: MapTask,
    wd: Workdir,
    book: _Bookkeeping,
    bad: BadRecords,
    inputs_info: list[dict[str, Any]],
    rej_writer: ParquetWriter | None,
) -> Iterator[pa.Table]:
    """Stage 0 reads the shard's input files; later stages read the previous stage's output and
    apply the global step's decisions (row-aligned with that output)."""
    cfg = task.config
    if task.stage == 0:
        for f in task.shard.files:
            icfg = cfg.input[f.input_index]
            opts = ReadOptions(
                text_field=icfg.text_field,
                id_field=icfg.id_field,
                batch_size=cfg.batch_size,
                extractor=icfg.extractor,
                root=f.root,
            )
            n = 0
            for batch in readers[f.format](f.path, opts, bad):
                n += batch.num_rows
                book.docs_read += batch.num_rows
                if _progress is not None:
                    _progress(batch.num_rows)
                yield _with_defaults(batch, icfg)
            inputs_info.append({"path": f.path, "bytes": f.bytes, "sha256": file_sha256(f.path), "docs": n})
        return

    assert task.apply_global is not None
    spec = cfg.steps[task.apply_global]
    step, p = spec.step(), spec.parsed()
    files = wd.stage_files(task.stage - 1, task.shard.index)
    n_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    decisions = step.decisions(
        p, workdir=wd.global_dir(task.apply_global), shard=task.shard.index, n_rows=n_rows
    )
    counts = book.counts.setdefault(task.apply_global, StepCounts())
    shard_counts = getattr(step, "shard_counts", None)
    if shard_counts is not None:  # what the step changed in this shard (e.g. characters removed)
        for k, v in shard_counts(p, workdir=wd.global_dir(task.apply_global), shard=task.shard.index).items():
            counts.counts[k] = counts.counts.get(k, 0) + int(v)
    row = 0
    kept: list[pa.Table] = []  # what the step kept of the pieces read, until a batch is full
    kept_rows = 0
    for path in files:
        pf = pq.ParquetFile(path, **STREAMING)
        for rb in pf.iter_batches(batch_size=_piece_rows(pf, cfg.batch_size), use_threads=USE_THREADS):
            batch = pa.Table.from_batches([rb])
            n = batch.num_rows
            book.docs_read += n
            if _progress is not None:
                _progress(n)
            t0 = time.perf_counter()
            dec = decisions.slice(row, n)
            row += n
            reasons = dec[REASON]
            counts.docs_in += n
            if TEXT in dec.column_names:  # the step rewrites texts (substring dedup); null = unchanged
                batch = _set_column(batch, TEXT, pc.coalesce(dec[TEXT], batch[TEXT]).cast(pa.large_string()))
                dec = dec.drop_columns([TEXT])
            if spec.mode == "annotate":
                for name in dec.column_names:
                    col_name = f"{spec.name}_reason" if name == REASON else name
                    batch = _set_column(batch, col_name, dec[name])
            else:
                keep = pc.is_null(reasons)
                dropped = batch.filter(pc.invert(keep))
                if dropped.num_rows:
                    _count_reasons(counts, reasons.filter(pc.invert(keep)))
                    if rej_writer is not None:
                        rej_writer.write(_set_column(dropped, REASON, reasons.filter(pc.invert(keep))))
                batch = batch.filter(keep)
            counts.docs_out += batch.num_rows
            counts.seconds += time.perf_counter() - t0
            if batch.num_rows:
                kept.append(batch)
                kept_rows += batch.num_rows
            if kept_rows >= cfg.batch_size:
                yield pa.concat_tables(kept, promote_options="permissive")
                kept, kept_rows = [], 0
    if kept:
        yield pa.concat_tables(kept, promote_options="permissive")


# A later stage reads the previous stage's files in pieces of about this much (uncompressed) data, and
# gathers the rows the global step keeps into batches of ``batch_size`` again for the steps and writer
# after it. Reading whole batches held a batch, its filtered copy and the writer's pages at once: on
# the MinHash benchmark (131,520 documents) the filter stage peaked 20 MB above the signature stage.
PIECE_BYTES = 2 << 20


def _piece_rows(pf: pq.ParquetFile, batch_size: int) -> int:
    meta = pf.metadata
    if meta.num_row_groups == 0 or meta.num_rows == 0:
        return batch_size
    per_row = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / meta.num_rows
    return max(1, min(batch_size, int(PIECE_BYTES / max(per_row, 1.0))))


def _with_defaults(batch: pa.Table, icfg: InputConfig) -> pa.Table:
    """Fill ``source`` and ``license`` from the input config where records have none."""
    n = batch.num_rows
    for name, default in (("source", icfg.source), (LICENSE, icfg.license)):
        if name == LICENSE and default is None:
            default = "NOASSERTION"
        if default is None:
            continue
        if name in batch.column_names:
            col = batch[name]
            if col.null_count:
                # the fill value as an Arrow scalar: a Python one makes pyarrow import pandas (numpy_arrow.py)
                filled = pc.fill_null(col.cast(pa.string()), na.repeated(default, 1)[0])
                batch = _set_column(batch, name, filled)
        else:
            batch = batch.append_column(name, na.repeated(default, n))
    return batch


def _apply_steps(
    batch: pa.Table,
    prepared: list[tuple[int, Any, Any, Any]],
    book: _Bookkeeping,
    rej_writer: ParquetWriter | None,
) -> pa.Table:
    for i, spec, step, p in prepared:
        counts = book.counts.setdefault(i, StepCounts())
        if batch.num_rows == 0:
            continue
        t0 = time.perf_counter()
        counts.docs_in += batch.num_rows
        if step.kind == "mapper":
            batch, changed = step.apply(batch, p)
            for k, v in changed.items():
                counts.counts[k] = counts.counts.get(k, 0) + int(v)
        else:
            scores: pl.DataFrame = step.measure(batch, p)
            if TEXT in scores.columns:
                batch = _set_column(batch, TEXT, _to_arrow(scores[TEXT]).cast(pa.large_string()))
                scores = scores.drop(TEXT)
            reasons = _to_arrow(scores.select(step.reason_expr(p)).to_series())
            if spec.mode == "annotate":
                for name in scores.columns:
                    batch = _set_column(batch, name, _to_arrow(scores[name]))
                batch = _set_column(batch, f"{spec.name}_reason", reasons)
            else:
                for name in step.keep_columns:
                    batch = _set_column(batch, name, _to_arrow(scores[name]))
                keep = pc.is_null(reasons)
                if not pc.all(keep).as_py():
                    drop = pc.invert(keep)
                    dropped_reasons = reasons.filter(drop)
                    _count_reasons(counts, dropped_reasons)
                    if rej_writer is not None:
                        rej_writer.write(_set_column(batch.filter(drop), REASON, dropped_reasons))
                    batch = batch.filter(keep)
        counts.docs_out += batch.num_rows
        counts.seconds += time.perf_counter() - t0
    return batch


def _to_arrow(s: pl.Series) -> pa.Array:
    import polars as pl

    return na.contiguous(s.to_arrow(compat_level=pl.CompatLevel.oldest()))


def _set_column(batch: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    if name in batch.column_names:
        return batch.set_column(batch.column_names.index(name), name, values)
    return batch.append_column(name, values)


def _count_reasons(counts: StepCounts, reasons: pa.Array | pa.ChunkedArray) -> None:
    for item in pc.value_counts(reasons).to_pylist():
        counts.dropped[item["values"]] = counts.dropped.get(item["values"], 0) + item["counts"]


def _count(into: dict[str, int], batch: pa.Table) -> None:
    # counted straight from the column (nulls and a missing column are NOASSERTION): no per-batch list of strings
    if LICENSE not in batch.column_names:
        into["NOASSERTION"] = into.get("NOASSERTION", 0) + batch.num_rows
        return
    for item in pc.value_counts(batch[LICENSE].cast(pa.string())).to_pylist():
        key = "NOASSERTION" if item["values"] is None else item["values"]
        into[key] = into.get(key, 0) + item["counts"]


# ---------------------------------------------------------------- reduce tasks


def run_reduce_task(task: ReduceTask) -> dict[str, Any]:
    wd = Workdir(task.workdir)
    spec = task.config.steps[task.step_index]
    step, p = spec.step(), spec.parsed()
    stage = step.reduce_stages[task.stage_index]
    t0 = time.perf_counter()
    stage.run(wd.global_dir(task.step_index), task.task, task.n_shards, p)
    seconds = round(time.perf_counter() - t0, 4)
    record = {
        "key": task.key,
        "seconds": seconds,
        "counts": {str(task.step_index): {"docs_in": 0, "docs_out": 0, "seconds": seconds}},
    }
    write_json_atomic(wd.done_path(task.key), record)
    return record


def run_task(task: MapTask | ReduceTask) -> dict[str, Any]:
    """Entry point for executors: one picklable function for both kinds of task."""
    try:
        with one_arrow_thread():
            if isinstance(task, MapTask):
                return run_map_task(task)
            return run_reduce_task(task)
    finally:
        release_memory()


@contextlib.contextmanager
def one_arrow_thread() -> Iterator[None]:
    """Arrow's CPU and I/O thread pools at one thread while a task runs, restored afterwards (an
    in-process run leaves the caller's pyarrow as it was).

    The engine's parallelism is its workers, one task per core: Arrow's own threads add CPU time
    (hand-offs, idle spinning) and memory (a malloc arena each), and no speed. Measured on the MinHash
    benchmark (32,880 documents, medians of 3-4 runs, alternated): 1 worker 248 → 229 MB peak at the
    same CPU and wall time; 2 workers 3.57 → 3.32 CPU-s, 2.38 → 2.21 s wall, 635 → 620 MB.
    """
    cpu, io = pa.cpu_count(), pa.io_thread_count()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    try:
        yield
    finally:
        pa.set_cpu_count(cpu)
        pa.set_io_thread_count(io)


def release_memory() -> None:
    """Hand the memory a task freed back to the OS. Arrow's allocator (mimalloc) and glibc's malloc keep
    freed pages for reuse; a worker running many tasks would hold its largest task's peak, and more, as
    RSS (measured on the MinHash benchmark, 32,880 documents in 31 tasks: peak 358 MB without this,
    255 MB with it, for ~0.35 CPU-s more in page faults)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None
