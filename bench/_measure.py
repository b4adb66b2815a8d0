"""Measure a command's whole process tree: wall time, CPU time, peak memory, and the machine's other load.

Used by ``filters_vs_datatrove.py`` and the MinHash benchmarks for every run of every tool, the same way:

* **CPU** = user + system seconds of the tree: the ``wait4`` usage of the command (which includes every
  descendant it reaped), or, when larger, the sum over every process ever seen of its last sampled
  CPU times (catches processes re-parented away from the command, such as Ray's daemons or a
  forkserver that outlives its parent by a moment).
* **Peak memory**: the largest sum of RSS over all live processes of the tree, sampled every 0.02 s
  (shared pages of forked workers count once per process, so it overstates a little; never below the
  largest single process's peak, which the samples can miss), and the largest
  single process (``ru_maxrss``, or the largest sample). Linux carries a parent's peak RSS into the
  ``ru_maxrss`` of every child it forks (the old address space's high-water mark is kept at ``exec``),
  so ``ru_maxrss`` is used only when it exceeds this harness's own peak; otherwise it only says how big
  the harness was, and the samples decide.
* **Other load**: CPU seconds the rest of the machine used meanwhile, in cores; a benchmark on 2 cores
  is only meaningful when this is near 0, so ``wait_for_quiet`` waits for it before a run.

The command must print one line ``RESULT {json}``: it becomes ``Measured.result``.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass
class Measured:
    wall_s: float = 0.0  # whole process, start to exit
    cpu_s: float = 0.0  # max(cpu_wait4_s, cpu_sampled_s)
    cpu_wait4_s: float = 0.0
    cpu_sampled_s: float = 0.0
    peak_tree_rss: int = 0  # bytes: the largest sum of RSS over the process tree
    peak_proc_rss: int = 0  # bytes: the largest single process (ru_maxrss of the reaped tree)
    max_procs: int = 0
    leftover_procs: int = 0  # descendants still running 3 s after the driver exited (then terminated)
    other_cores: float = 0.0  # CPU used by everything else on the machine meanwhile, in cores
    rc: int = 0
    result: dict[str, Any] | None = None
    log: str = ""


class TreeSampler(threading.Thread):
    """Samples RSS and CPU times of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.halt = threading.Event()
        self.known: dict[tuple[int, float], psutil.Process] = {}
        self.cpu: dict[tuple[int, float], float] = {}
        self.peak_tree = 0
        self.peak_proc = 0
        self.max_procs = 0

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            procs = []
        for p in procs:
            try:
                self.known.setdefault((p.pid, p.create_time()), p)
            except psutil.Error:
                continue
        alive = 0
        images: dict[int, tuple[int, int, str, int]] = {}  # pid: (rss, vms, name, parent pid)
        # processes seen once stay sampled after they are re-parented (Ray's daemons)
        for k, p in list(self.known.items()):
            try:
                with p.oneshot():
                    if p.status() == psutil.STATUS_ZOMBIE:
                        continue
                    mem = p.memory_info()
                    images[p.pid] = (mem.rss, mem.vms, p.name(), p.ppid())
                    t = p.cpu_times()
            except psutil.Error:
                continue
            alive += 1
            self.peak_proc = max(self.peak_proc, mem.rss)
            self.cpu[k] = max(self.cpu.get(k, 0.0), t.user + t.system)
        self.peak_tree = max(
            self.peak_tree, sum(rss for pid, (rss, *_) in images.items() if not _unexeced(pid, images))
        )

        self.max_procs = max(self.max_procs, alive)

    def leftovers(self) -> list[psutil.Process]:
        out = []
        for (_pid, ctime), p in self.known.items():
            try:
                if p.is_running() and p.create_time() == ctime and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.Error:
                continue
        return out


def _unexeced(pid: int, images: dict[int, tuple[int, int, str, int]]) -> bool:
    """A child caught between ``fork``/``vfork`` and ``exec`` (a subprocess such as ``git`` being
    started): it reports its parent's image, the same RSS and address space, which is not new memory.
    Counted, it doubled a run's tree for one sample now and then (a 150 MB run measured 239 MB)."""
    rss, vms, name, ppid = images[pid]
    if vms == 0:  # mid-exec: the old image is being replaced
        return True
    parent = images.get(ppid)
    return parent is not None and parent[:3] == (rss, vms, name)


def _busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy since boot."""
    t = psutil.cpu_times()
    return (
        t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
    )


_COMPILED = False


def compile_gencommons() -> None:
    """Write gencommons' bytecode, as installing a wheel does. The editable install leaves it to the
    first import, and with ``PYTHONDONTWRITEBYTECODE`` set (as on this machine) every run would
    compile each changed module again: 3 MB more resident for ``minhash.py`` alone, and CPU time that
    the peers, installed from wheels, never spend."""
    global _COMPILED
    if _COMPILED:
        return
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("gencommons")  # finds the package without importing it
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)
    _COMPILED = True


def measure(cmd: list[str], *, log_path: Path, cwd: Path, env: dict[str, str] | None = None) -> Measured:
    """Run cmd, sampling its process tree; its stdout's ``RESULT {json}`` line becomes ``result``."""
    compile_gencommons()
    m = Measured()
    busy0 = _busy_cpu()
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        m.wall_s = time.perf_counter() - t0
        proc.returncode = m.rc = os.waitstatus_to_exitcode(status)
        sampler.halt.set()
        sampler.join()
    # orphans (a forkserver, Ray's daemons) get a moment to exit by themselves, sampled meanwhile
    deadline = time.perf_counter() + 3
    while (left := sampler.leftovers()) and time.perf_counter() < deadline:
        sampler.sample()
        time.sleep(0.1)
    m.leftover_procs = len(left)
    for p in left:  # our own descendants that outlived the run (by pid, never by name)
        with contextlib.suppress(psutil.Error):
            p.terminate()
    psutil.wait_procs(left, timeout=5)
    m.cpu_wait4_s = usage.ru_utime + usage.ru_stime
    m.cpu_sampled_s = sum(sampler.cpu.values())
    m.cpu_s = max(m.cpu_wait4_s, m.cpu_sampled_s)
    m.other_cores = max(0.0, _busy_cpu() - busy0 - m.cpu_s) / (time.perf_counter() - t0)
    m.peak_tree_rss = sampler.peak_tree
    # a child's ru_maxrss starts at the harness's peak RSS (inherited through fork): only above it does
    # it measure the child
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m.peak_proc_rss = max(sampler.peak_proc, usage.ru_maxrss * 1024 if usage.ru_maxrss > inherited else 0)
    # the tree's peak is at least its largest process's exact peak: samples miss short peaks (a
    # 2-second run sampled every 0.1 s read 137 MB where its one process peaked at 150)
    m.peak_tree_rss = max(m.peak_tree_rss, m.peak_proc_rss)
    m.max_procs = sampler.max_procs
    m.log = str(log_path)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith("RESULT "):
            m.result = json.loads(line[len("RESULT ") :])
    if m.rc != 0 or m.result is None:
        tail = "\n".join(text.splitlines()[-30:])
        raise SystemExit(f"{' '.join(cmd)} failed (exit {m.rc}); last lines of {log_path}:\n{tail}")
    return m


def wait_for_quiet(max_wait: float, *, threshold: float = 0.3) -> float:
    """Wait (up to max_wait seconds) until the rest of the machine uses under ``threshold`` cores;
    return the load last seen. Other processes on 2 cores would distort every number."""
    start = time.perf_counter()
    while True:
        b0 = _busy_cpu()
        time.sleep(1.0)
        load = _busy_cpu() - b0
        waited = time.perf_counter() - start
        if load < threshold or waited >= max_wait:
            if waited > 1.5:
                print(
                    f"(waited {waited:.0f} s for a quiet machine; other load now {load:.2f} cores)",
                    flush=True,
                )
            return load
        if waited < 1.5:
            print(
                f"(machine busy: {load:.2f} cores used elsewhere; waiting up to {max_wait:.0f} s)", flush=True
            )
