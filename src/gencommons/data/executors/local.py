"""The local executor: a process pool on this machine (``workers: 1`` runs tasks in-process)."""

from __future__ import annotations

import atexit
import multiprocessing as mp
import queue
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any

from gencommons.data import runner
from gencommons.data.executors import Progress, default_workers, executors


def _init_worker(q: Any) -> None:
    runner.set_progress(q.put)


@executors.register("local")
def run_local(
    tasks: list[Any],
    *,
    workers: int | None,
    address: str | None,
    progress: Progress,
    fn: Callable[[Any], dict[str, Any]] = runner.run_task,
) -> list[dict[str, Any]]:
    """Run ``fn`` over tasks in a pool of ``workers`` processes (forkserver: each worker imports once)."""
    del address
    workers = workers or default_workers()
    # a single task runs in-process, unless the run's pool is already up: then a worker takes it, and
    # the driver, resident all run long, does not grow to that task's peak (MinHash's cluster stage)
    if workers == 1 or (len(tasks) <= 1 and (_POOL is None or _POOL[0] != workers)):
        runner.set_progress(progress.docs)
        try:
            out = []
            for t in tasks:
                rec = fn(t)
                progress.task_done(rec)
                out.append(rec)
            return out
        finally:
            runner.set_progress(None)

    pool, q = _pool(workers)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                progress.docs(q.get(timeout=0.1))
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    results: dict[int, dict[str, Any]] = {}
    try:
        futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for f in done:
                exc = f.exception()
                if exc is not None:
                    raise exc
                rec = f.result()
                results[futures[f]] = rec
                progress.task_done(rec)
    except BaseException:
        # stop at the first failure: cancel queued tasks and stop running ones
        for p in list(getattr(pool, "_processes", {}).values()):
            p.terminate()
        close_pool()
        raise
    finally:
        stop.set()
        drainer.join(timeout=2)
    return [results[i] for i in range(len(tasks))]


# One pool is kept across the stages of a run (each worker imports polars, pyarrow and compiles its
# kernels once, not once per stage); the engine closes it when the run ends.
_POOL: tuple[int, ProcessPoolExecutor, Any] | None = None


def _pool(workers: int) -> tuple[ProcessPoolExecutor, Any]:
    global _POOL
    if _POOL is not None and _POOL[0] == workers:
        return _POOL[1], _POOL[2]
    close_pool()
    ctx = mp.get_context("forkserver")
    q = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(q,))
    _POOL = (workers, pool, q)
    return pool, q


def close_pool() -> None:
    """Shut the kept process pool down (the engine calls this when a run ends)."""
    global _POOL
    if _POOL is None:
        return
    _, pool, q = _POOL
    _POOL = None
    pool.shutdown(wait=True, cancel_futures=True)
    q.close()


run_local.close = close_pool  # type: ignore[attr-defined]
atexit.register(close_pool)
