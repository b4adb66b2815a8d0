"""``executors/local.py``: where single tasks run."""

from __future__ import annotations

import os
from typing import Any

from gencommons.data.executors import NullProgress
from gencommons.data.executors.local import close_pool, run_local


def pid_of(task: int) -> dict[str, Any]:
    return {"task": task, "pid": os.getpid(), "docs_read": 0}


def test_a_single_task_runs_in_process_until_the_pool_is_up() -> None:
    """The first stage's lone task runs in the driver (no pool to start for it); once the run's pool is
    up, a lone task (MinHash's cluster stage) goes to a worker, so the driver does not grow to its peak."""
    close_pool()
    try:
        (alone,) = run_local([0], workers=2, address=None, progress=NullProgress(), fn=pid_of)
        assert alone["pid"] == os.getpid()
        both = run_local([1, 2], workers=2, address=None, progress=NullProgress(), fn=pid_of)
        assert [r["task"] for r in both] == [1, 2]
        assert all(r["pid"] != os.getpid() for r in both)
        (later,) = run_local([3], workers=2, address=None, progress=NullProgress(), fn=pid_of)
        assert later["pid"] != os.getpid()
        (one_worker,) = run_local([4], workers=1, address=None, progress=NullProgress(), fn=pid_of)
        assert one_worker["pid"] == os.getpid()
    finally:
        close_pool()
