"""The Ray executor: the same tasks as Ray tasks, on a local or remote Ray cluster.

Tasks exchange data through files, so on a multi-node cluster the output folder must be on storage
every node sees (a shared mount). ``address: null`` starts a local Ray with ``workers`` CPUs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gencommons.data import runner
from gencommons.data.executors import Progress, default_workers, executors
from gencommons.errors import require


@executors.register("ray")
def run_ray(
    tasks: list[Any],
    *,
    workers: int | None,
    address: str | None,
    progress: Progress,
    fn: Callable[[Any], dict[str, Any]] = runner.run_task,
) -> list[dict[str, Any]]:
    """Submit ``fn`` over every task to Ray, at most ``workers`` at a time; the records in order."""
    require("ray", extra="ray")
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or default_workers(), include_dashboard=False, log_to_driver=False)
    limit = workers or int(ray.cluster_resources().get("CPU", 1))
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    results: dict[int, dict[str, Any]] = {}
    in_flight: dict[Any, int] = {}
    next_task = 0
    try:
        while next_task < len(tasks) or in_flight:
            while next_task < len(tasks) and len(in_flight) < limit:
                in_flight[remote.remote(tasks[next_task])] = next_task
                next_task += 1
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                i = in_flight.pop(ref)
                try:
                    rec = ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    raise (cause if isinstance(cause, BaseException) else e) from None
                results[i] = rec
                progress.docs(int(rec.get("docs_read", 0)))
                progress.task_done(rec)
    except BaseException:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        raise
    return [results[i] for i in range(len(tasks))]
