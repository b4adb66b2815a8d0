"""The local executor: the driver and a pool of ``workers - 1`` spawned processes on this machine
(``workers: 1`` runs tasks in-process)."""

from __future__ import annotations

import atexit
import functools
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gencommons.data import runner
from gencommons.data.executors import Progress, default_workers, executors

if TYPE_CHECKING:  # imported when a pool starts: a run on one worker never needs them (~0.4 MB)
    from concurrent.futures import Future, ProcessPoolExecutor


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
    """Run ``fn`` over tasks on ``workers`` processes: the driver itself and a pool of ``workers - 1``
    (spawned: each worker imports once).

    The driver takes tasks too. It imports what a worker does and stays resident all run long, so a
    pool of ``workers`` processes beside it held one import's worth of memory (~100 MB) that did no
    work: on the MinHash benchmark at 2 workers the process tree peaked at 383-387 MB with a driver
    and two workers, and at 286-288 MB with the driver and one worker, in 10 % less CPU time
    (docs/architecture.md)."""
    del address
    workers = workers or default_workers()
    # a single task runs in-process, unless the run's pool is already up: then a worker takes it, and
    # the driver stays at its resting size (MinHash's cluster stage)
    if workers == 1 or (len(tasks) <= 1 and (_POOL is None or _POOL[0] != workers - 1)):
        return _in_process(tasks, progress, fn)
    lock = threading.Lock()

    def docs(n: int) -> None:
        with lock:
            progress.docs(n)

    pool, q = _pool(workers - 1)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                n = q.get(timeout=0.1)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            docs(n)

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    shared = _Shared(tasks, progress, lock)

    def submit_next() -> None:
        i = shared.take()
        if i is None:
            return
        try:
            future = pool.submit(fn, tasks[i])
        except RuntimeError as e:  # the pool broke (BrokenProcessPool) or was shut down
            shared.finished(i, None, e)
            return
        future.add_done_callback(functools.partial(on_done, i=i))

    def on_done(f: Future[dict[str, Any]], i: int) -> None:
        exc = None if f.cancelled() else f.exception()
        if f.cancelled() or exc is not None:
            shared.finished(i, None, exc or RuntimeError("a task was cancelled"))
            return
        shared.finished(i, f.result(), None)
        submit_next()

    try:
        for _ in range(min(workers - 1, len(tasks))):
            submit_next()
        runner.set_progress(docs)
        try:
            while (i := shared.take()) is not None:  # the driver's share (a failure stops all, below)
                shared.finished(i, fn(tasks[i]), None)
        finally:
            runner.set_progress(None)
        shared.all_done.wait()
        if shared.error is not None:
            raise shared.error
    except BaseException:
        # stop at the first failure: cancel queued tasks and stop running ones
        shared.stop()
        for p in list(getattr(pool, "_processes", {}).values()):
            p.terminate()
        close_pool()
        raise
    finally:
        stop.set()
        drainer.join(timeout=2)
    return [shared.results[i] for i in range(len(tasks))]


def _in_process(
    tasks: list[Any], progress: Progress, fn: Callable[[Any], dict[str, Any]]
) -> list[dict[str, Any]]:
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


class _Shared:
    """The tasks the driver and the pool take from, in order, and what came back (all under ``lock``,
    which also serializes the progress calls of the driver and the pool's callback thread)."""

    def __init__(self, tasks: list[Any], progress: Progress, lock: threading.Lock):
        self.n = len(tasks)
        self.progress = progress
        self.lock = lock
        self.next = 0
        self.left = self.n
        self.results: dict[int, dict[str, Any]] = {}
        self.error: BaseException | None = None
        self.all_done = threading.Event()
        if not self.n:
            self.all_done.set()

    def take(self) -> int | None:
        with self.lock:
            if self.error is not None or self.next >= self.n:
                return None
            self.next += 1
            return self.next - 1

    def finished(self, i: int, rec: dict[str, Any] | None, exc: BaseException | None) -> None:
        with self.lock:
            if exc is not None:
                self.error = self.error or exc
                self.all_done.set()  # the tasks not taken will not be
                return
            assert rec is not None
            self.results[i] = rec
            self.progress.task_done(rec)
            self.left -= 1
            if self.left == 0:
                self.all_done.set()

    def stop(self) -> None:
        with self.lock:
            self.next = self.n


# One pool is kept across the stages of a run (each worker imports polars, pyarrow and compiles its
# kernels once, not once per stage); the engine closes it when the run ends.
_POOL: tuple[int, ProcessPoolExecutor, Any] | None = None


def _pool(workers: int) -> tuple[ProcessPoolExecutor, Any]:
    global _POOL
    if _POOL is not None and _POOL[0] == workers:
        return _POOL[1], _POOL[2]
    close_pool()
    # spawn, not forkserver: the forkserver is one more resident process (13 MB) for one fewer
    # interpreter start per worker; at 2 workers on the MinHash benchmark 281-282 → 267-268 MB tree,
    # +0.09 CPU-s (2.41 → 2.50), a fixed cost per run either way
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
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
