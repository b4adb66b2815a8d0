"""The task runner's process hygiene: Arrow's thread pools during a task, and restored after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gencommons.data.pipeline import Pipeline
from gencommons.data.runner import one_arrow_thread
from gencommons.data.step import MapperStep, StepParams, steps

SEEN: list[tuple[int, int]] = []


class _Probe(StepParams):
    pass


def _probe(batch: pa.Table, p: Any) -> tuple[pa.Table, dict[str, int]]:
    SEEN.append((pa.cpu_count(), pa.io_thread_count()))
    return batch, {}


@pytest.fixture
def probe_step(monkeypatch: pytest.MonkeyPatch) -> str:
    """A mapper that records Arrow's pool sizes, registered for this test only."""
    name = "test_probe_arrow_threads"
    monkeypatch.setitem(steps._entries, name, MapperStep(name=name, params=_Probe, apply=_probe))
    return name


@pytest.fixture
def threads() -> Any:
    before = pa.cpu_count(), pa.io_thread_count()
    pa.set_cpu_count(3)
    pa.set_io_thread_count(5)
    yield
    pa.set_cpu_count(before[0])
    pa.set_io_thread_count(before[1])


def test_one_arrow_thread_restores_even_on_error(threads: None) -> None:
    with one_arrow_thread():
        assert (pa.cpu_count(), pa.io_thread_count()) == (1, 1)
    assert (pa.cpu_count(), pa.io_thread_count()) == (3, 5)
    with pytest.raises(ZeroDivisionError), one_arrow_thread():
        _ = 1 / 0
    assert (pa.cpu_count(), pa.io_thread_count()) == (3, 5)


def test_tasks_run_with_one_arrow_thread(
    threads: None, probe_step: str, corpus_dir: Path, tmp_path: Path
) -> None:
    """Steps run with Arrow single-threaded (parallelism is the workers'); the caller's pools are
    as they were after an in-process run."""
    SEEN.clear()
    cfg = {
        "input": {"path": str(corpus_dir / "gutenberg.jsonl.gz")},
        "steps": [probe_step],
        "output": {"path": str(tmp_path / "out")},
        "executor": {"kind": "local", "workers": 1},
    }
    Pipeline.from_dict(cfg).run()
    assert SEEN
    assert set(SEEN) == {(1, 1)}
    assert (pa.cpu_count(), pa.io_thread_count()) == (3, 5)


def test_licence_counts_treat_missing_and_null_as_noassertion() -> None:
    from gencommons.data.runner import _count

    into: dict[str, int] = {}
    _count(into, pa.table({"id": ["a", "b"]}))
    _count(into, pa.table({"license": pa.array(["MIT", None, "MIT", ""], pa.large_string())}))
    _count(into, pa.table({"license": pa.nulls(3, pa.string())}))
    assert into == {"NOASSERTION": 2 + 1 + 3, "MIT": 2, "": 1}


BATCHES: list[int] = []


def _sizes(batch: pa.Table, p: Any) -> tuple[pa.Table, dict[str, int]]:
    BATCHES.append(batch.num_rows)
    return batch, {}


@pytest.mark.parametrize("mode", ["filter", "annotate"])
def test_a_later_stage_reads_in_pieces_and_gathers_full_batches(
    mode: str, corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a global step, the previous stage's files are read a few rows at a time (``PIECE_BYTES``)
    and what the step keeps is gathered into batches of ``batch_size`` for the steps after it: same
    documents as reading whole batches, and every batch but a shard's last is full."""
    from gencommons.data import runner

    name = "test_batch_sizes"
    monkeypatch.setitem(steps._entries, name, MapperStep(name=name, params=_Probe, apply=_sizes))

    def run(out: str) -> list[dict[str, Any]]:
        BATCHES.clear()
        cfg = {
            "input": {"path": str(corpus_dir / "*.jsonl.gz")},
            "steps": [{"exact_dedup": {"mode": mode}}, name],
            "output": {"path": str(tmp_path / out)},
            "executor": {"workers": 1},
            "batch_size": 20,
        }
        Pipeline.from_dict(cfg).run()
        return pq.read_table(tmp_path / out / "data").to_pylist()

    whole = run("whole")
    assert set(BATCHES) <= set(range(1, 21))
    monkeypatch.setattr(runner, "PIECE_BYTES", 1)  # one row per piece
    pieces = run("pieces")
    assert pieces == whole
    # two shards (input files): every batch is full but at most each shard's last
    assert sum(n != 20 for n in BATCHES) <= 2 < len(BATCHES), BATCHES
    if mode == "filter":
        assert len(pieces) < 238  # the step dropped documents between the pieces
