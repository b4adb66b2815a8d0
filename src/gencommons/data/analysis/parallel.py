"""Run an analysis command's tasks on the pipeline's executors: in this process, a local process pool,
or a Ray cluster.

The analysis commands split a dataset into parts (``dataset.split``), run one task per part and merge
the partial results in part order. Parts depend on the dataset only, never on the number of workers or
the executor, so ``--workers 1``, ``--workers 8`` and ``--executor ray`` give the same result. A task is
a module-level function returning a picklable dict (``docs_read`` counts its documents), so the same
function runs in a forkserver worker and as a Ray task (``executors/``, the ``fn`` argument).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gencommons.data.analysis.dataset import AnalysisDataset, Part, split

PART_ROWS = 200_000  # rows per part at most (a part is also at most 1/16 of the dataset)


@dataclass(frozen=True)
class Parallel:
    """Where analysis tasks run: ``executor`` (``local`` or ``ray``), ``workers`` (None = all CPUs of
    the machine or of the Ray cluster) and a Ray ``address`` (None starts a local Ray)."""

    executor: str = "local"
    workers: int | None = 1
    address: str | None = None


def parts_of(ds: AnalysisDataset, *, per: int = 16, max_rows: int = PART_ROWS) -> list[Part]:
    """The dataset's parts: at most ``max_rows`` rows and about 1/``per`` of the dataset each."""
    import pyarrow.parquet as pq

    total = sum(pq.ParquetFile(f).metadata.num_rows for f in ds.files if f.endswith(".parquet"))
    return split(ds, max(per, -(-total // max_rows)))


def report(n: int) -> None:
    """Called by a task after each batch: ``n`` more documents read (live on the local executor; Ray
    reports a task's ``docs_read`` when it ends)."""
    from gencommons.data import runner

    runner.report_docs(n)


class _Progress:
    def __init__(self, update: Callable[[int, int], None] | None, total: int):
        self.update, self.total, self.done = update, total, 0

    def docs(self, n: int) -> None:
        self.done += n
        if self.update:
            self.update(self.done, self.total)

    def task_done(self, record: dict[str, Any]) -> None:
        pass


def run_tasks(
    fn: Callable[[Any], dict[str, Any]],
    tasks: list[Any],
    where: Parallel,
    *,
    progress: Callable[[int, int], None] | None = None,
    total: int = 0,
) -> list[dict[str, Any]]:
    """``[fn(t) for t in tasks]`` on the executor of ``where``; ``progress(docs_done, total)`` as
    tasks ``report`` their batches (or, on Ray, as tasks end)."""
    from gencommons.data.executors import executors

    run = executors[where.executor]  # an unknown name is a UserError listing the executors
    try:
        return run(
            tasks, workers=where.workers, address=where.address, progress=_Progress(progress, total), fn=fn
        )
    finally:
        close = getattr(run, "close", None)  # the local executor's process pool
        if close is not None:
            close()
