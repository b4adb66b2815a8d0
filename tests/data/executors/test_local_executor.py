"""``executors/local.py``: the driver takes tasks beside a pool of ``workers - 1``; where single tasks
run; results in order; the first failure stops the run."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from gencommons.data.executors import NullProgress, local
from gencommons.data.executors.local import close_pool, run_local


def pid_of(task: int) -> dict[str, Any]:
    time.sleep(0.01)  # long enough that the pool's workers get tasks too
    return {"task": task, "pid": os.getpid(), "docs_read": 0}


def fail_on_3(task: int) -> dict[str, Any]:
    if task == 3:
        raise ValueError(f"task {task} failed in {'the driver' if os.getpid() == DRIVER else 'a worker'}")
    return pid_of(task)


DRIVER = os.getpid()


class Count(NullProgress):
    def __init__(self) -> None:
        self.done: list[int] = []

    def task_done(self, record: dict[str, Any]) -> None:
        self.done.append(record["task"])


def test_the_driver_and_a_pool_of_workers_minus_one_share_the_tasks() -> None:
    close_pool()
    try:
        progress = Count()
        out = run_local(list(range(30)), workers=3, address=None, progress=progress, fn=pid_of)
        assert [r["task"] for r in out] == list(range(30))  # in task order, whoever ran them
        assert sorted(progress.done) == list(range(30))
        pids = {r["pid"] for r in out}
        assert os.getpid() in pids  # the driver took its share
        assert 2 <= len(pids) <= 3  # and at most two pool workers did the rest
        assert local._POOL is not None
        assert local._POOL[0] == 2
    finally:
        close_pool()
    assert local._POOL is None


def test_a_single_task_runs_in_process_until_the_pool_is_up() -> None:
    """The first stage's lone task runs in the driver (no pool to start for it); once the run's pool is
    up, a lone task (MinHash's cluster stage) goes to a worker, so the driver stays at its resting size."""
    close_pool()
    try:
        (alone,) = run_local([0], workers=2, address=None, progress=NullProgress(), fn=pid_of)
        assert alone["pid"] == os.getpid()
        both = run_local([1, 2], workers=2, address=None, progress=NullProgress(), fn=pid_of)
        assert [r["task"] for r in both] == [1, 2]
        (later,) = run_local([3], workers=2, address=None, progress=NullProgress(), fn=pid_of)
        assert later["pid"] != os.getpid()
        (one_worker,) = run_local([4], workers=1, address=None, progress=NullProgress(), fn=pid_of)
        assert one_worker["pid"] == os.getpid()
    finally:
        close_pool()


@pytest.mark.parametrize("workers", [2, 3])
def test_the_first_failure_stops_the_run_wherever_it_ran(workers: int) -> None:
    close_pool()
    try:
        with pytest.raises(ValueError, match="task 3 failed"):
            run_local(list(range(12)), workers=workers, address=None, progress=NullProgress(), fn=fail_on_3)
        assert local._POOL is None  # the pool was stopped
        # and the next run starts a fresh one
        out = run_local([5, 6], workers=workers, address=None, progress=NullProgress(), fn=pid_of)
        assert [r["task"] for r in out] == [5, 6]
    finally:
        close_pool()
