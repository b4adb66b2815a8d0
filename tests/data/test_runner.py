"""The task runner's process hygiene: Arrow's thread pools during a task, and restored after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
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
