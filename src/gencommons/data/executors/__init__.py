"""Executors run a list of independent tasks and return their completion records.

One signature for every executor, registered by name (``executor.kind`` in the YAML):

    run(tasks, *, workers, address, progress, fn=runner.run_task) -> list[dict]

``fn(task)`` does one task and returns its record (a picklable dict; ``docs_read`` in it counts
documents): the pipeline's map and reduce tasks by default, the analysis commands' own tasks
(``data/analysis/parallel.py``) otherwise. ``fn`` must be a module-level function, so that worker
processes can import it. ``progress.docs(n)`` is called as documents are read (where the executor can
report it) and ``progress.task_done(record)`` when a task finishes. A task's first exception stops the
run and is raised from ``run``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gencommons.registry import Registry


class Progress(Protocol):
    def docs(self, n: int) -> None: ...
    def task_done(self, record: dict[str, Any]) -> None: ...


Executor = Callable[..., list[dict[str, Any]]]
executors: Registry[Executor] = Registry(
    "executor", package="gencommons.data.executors", group="gencommons.executors"
)


class NullProgress:
    def docs(self, n: int) -> None:
        pass

    def task_done(self, record: dict[str, Any]) -> None:
        pass


def default_workers() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


__all__ = ["Executor", "NullProgress", "Progress", "default_workers", "executors"]
