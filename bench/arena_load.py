"""Arena load and durability: votes/s and vote latency of the real ``gencommons arena serve`` under N
simulated voters, with SQLite and PostgreSQL; then ``kill -9`` mid-load and a count of lost votes.

    .venv/bin/python bench/arena_load.py                      # 200 voters x 60 s per database, ~4 minutes
    .venv/bin/python bench/arena_load.py --seconds 10 --voters 50 --durability-seconds 10   # smoke run

Three processes on loopback: the arena (``gencommons arena serve --config ... --database ...``), a scripted
OpenAI-format endpoint (``tests/arena/scripted_openai.py``: three chunks per answer, no delay, so the load
is on the arena and its database, not on a model) serving both models of the arena, and this load
generator (asyncio, one ``httpx.AsyncClient`` per voter, so each has its own session cookie).

Each voter loops: consent (a new pseudonymous user: GET ``/`` + POST ``/consent`` + GET ``/``) → POST
``/battle`` (a prompt) → read the whole answer stream (``GET /battle/{id}/stream/0``, server-sent events
until ``end``) → POST ``/battle/{id}/vote``. Voters start over the first second and stop starting new
loops after ``--seconds``; loops in flight finish.

* **votes/s** — votes answered 2xx / the measured window (first start to last finish);
* **vote p50 / p99** — latency of the vote request alone (sent → response read);
* **loop p50** — one whole consent → battle → stream → vote loop.

PostgreSQL is a throw-away cluster (``tests/arena/pg_cluster.py``) with its durable defaults (fsync on);
SQLite runs as the arena configures it (WAL, synchronous=FULL).

**Durability**: the same load for ``--durability-seconds``; halfway through, the arena gets SIGKILL, a new
one starts on the same database and port (voters meanwhile see connection errors and carry on), and at the
end every vote that got a 2xx response is looked up in the database: *missing* must be 0. Votes stored
whose response never arrived (in flight at the kill) are counted too; they are not an error.

Written to ``bench/results/arena_load.md`` and ``.json``; the servers' logs go to
``bench/results/scratch/arena_load/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests" / "arena"))

from pg_cluster import free_port, throwaway_postgres

from _measure import _busy_cpu, wait_for_quiet

RESULTS = BENCH / "results"
SCRATCH = RESULTS / "scratch" / "arena_load"
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')
BATTLE_RE = re.compile(r'data-stream="/battle/([0-9a-f]+)/stream/0"')
WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")


@dataclass
class Tally:
    """What the voters saw."""

    acked: list[tuple[str, str]] = field(default_factory=list)  # (battle id, winner) answered 2xx
    acked_at: list[float] = field(default_factory=list)  # when (perf_counter)
    vote_s: list[float] = field(default_factory=list)
    loop_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass
class Run:
    database: str
    voters: int
    window_s: float
    votes: int
    votes_per_s: float
    vote_p50_ms: float
    vote_p99_ms: float
    loop_p50_s: float
    errors: dict[str, int]
    server_cores: float
    loadgen_cores: float
    other_cores: float


@dataclass
class Durability:
    database: str
    voters: int
    seconds: float
    killed_at_s: float
    restart_s: float
    acked_votes: int
    acked_before_kill: int
    found: int
    missing: int
    stored_unacked: int
    errors: dict[str, int]


# -- processes ------------------------------------------------------------------------------------------


class Arena:
    """``gencommons arena serve`` in its own process (restartable on the same port and database)."""

    def __init__(self, config: Path, database: str, port: int, name: str):
        self.config, self.database, self.port, self.name = config, database, port, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait until it answers; return the seconds that took."""
        t0 = time.perf_counter()
        self.starts += 1
        log = open(SCRATCH / f"{self.name}-{self.starts}.log", "wb")  # noqa: SIM115 (closed with the process)
        cmd = [sys.executable, "-m", "gencommons.cli", "arena", "serve", "--config", str(self.config)]
        cmd += ["--database", self.database, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=SCRATCH)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the arena did not start; see {log.name}")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_s(self) -> float:
        assert self.proc is not None
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system


def start_scripted() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(SCRATCH / "scripted.log", "wb")  # noqa: SIM115 (closed with the process)
    script = ROOT / "tests" / "arena" / "scripted_openai.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/normal/v1/models", timeout=1)
            return proc, url
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the scripted endpoint did not start") from None
            time.sleep(0.1)


def write_config(scripted: str) -> Path:
    config = SCRATCH / "arena.yaml"
    models = [
        {"name": f"model-{k}", "endpoint": f"{scripted}/normal/v1", "model": f"model-{k}"} for k in "ab"
    ]
    values: dict[str, Any] = {
        "title": "load benchmark",
        "models": models,
        "max_tokens": 16,
        "request_timeout_s": 30,
        "secret_file": str(SCRATCH / "secret"),
    }
    from gencommons.arena.config import ArenaConfig

    if "max_actions_per_minute" in ArenaConfig.model_fields:  # every voter comes from 127.0.0.1
        values["max_actions_per_minute"] = 0
    config.write_text(json.dumps(values))  # JSON is YAML
    return config


# -- voters ---------------------------------------------------------------------------------------------


async def voter(base: str, stop_at: float, tally: Tally, rng: random.Random, delay: float) -> None:
    await asyncio.sleep(delay)
    while time.perf_counter() < stop_at:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            try:
                await one_loop(client, tally, rng)
            except httpx.TransportError as e:
                tally.error(type(e).__name__)
                await asyncio.sleep(0.2)  # the server is down (durability run): try again shortly
            except Unexpected as e:
                tally.error(str(e))


class Unexpected(Exception):
    """A response the loop did not expect (its kind is counted)."""


async def one_loop(client: httpx.AsyncClient, tally: Tally, rng: random.Random) -> None:
    t0 = time.perf_counter()
    page = await client.get("/")
    csrf = _csrf(page)
    r = await client.post("/consent", data={"csrf": csrf, "agree": "yes", "share": "yes"})
    if r.status_code != 303:
        raise Unexpected(f"consent {r.status_code}")
    csrf = _csrf(await client.get("/"))
    prompt = f"Question {rng.randrange(10**6)}: what is the best free software licence?"
    r = await client.post("/battle", data={"csrf": csrf, "prompt": prompt}, headers={"HX-Request": "true"})
    m = BATTLE_RE.search(r.text)
    if r.status_code != 200 or not m:
        raise Unexpected(f"battle {r.status_code}")
    battle = m.group(1)
    ended = False
    async with client.stream("GET", f"/battle/{battle}/stream/0") as s:
        async for line in s.aiter_lines():
            if line.startswith("event: failed"):
                raise Unexpected("answer failed")
            if line == "event: end":
                ended = True
    if not ended:
        raise Unexpected("stream cut")
    winner = rng.choice(WINNERS)
    v0 = time.perf_counter()
    r = await client.post(
        f"/battle/{battle}/vote", data={"csrf": csrf, "winner": winner}, headers={"HX-Request": "true"}
    )
    done = time.perf_counter()
    if not r.is_success:
        raise Unexpected(f"vote {r.status_code}")
    tally.acked.append((battle, winner))
    tally.acked_at.append(done)
    tally.vote_s.append(done - v0)
    tally.loop_s.append(done - t0)


def _csrf(r: httpx.Response) -> str:
    m = CSRF_RE.search(r.text)
    if r.status_code != 200 or not m:
        raise Unexpected(f"page {r.status_code}")
    return m.group(1)


async def load(base: str, voters: int, seconds: float, tally: Tally, seed: int) -> tuple[float, float]:
    """Run the voters; return (start, end) perf_counter times of the window."""
    start = time.perf_counter()
    stop_at = start + seconds
    rngs = [random.Random(seed * 100_003 + i) for i in range(voters)]
    await asyncio.gather(*(voter(base, stop_at, tally, rngs[i], i / voters) for i in range(voters)))
    return start, time.perf_counter()


# -- runs -----------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def measure(arena: Arena, kind: str, args: argparse.Namespace) -> Run:
    arena.start()
    try:
        wait_for_quiet(30)
        tally = Tally()
        cpu0, busy0, mine0 = arena.cpu_s(), _busy_cpu(), time.process_time()
        t0, t1 = asyncio.run(load(arena.url, args.voters, args.seconds, tally, args.seed))
        window = t1 - t0
        server = arena.cpu_s() - cpu0
        mine = time.process_time() - mine0
        other = max(0.0, _busy_cpu() - busy0 - server - mine) / window
    finally:
        arena.stop()
    run = Run(
        database=kind,
        voters=args.voters,
        window_s=round(window, 1),
        votes=len(tally.acked),
        votes_per_s=round(len(tally.acked) / window, 1),
        vote_p50_ms=round(1000 * pct(tally.vote_s, 0.5), 1),
        vote_p99_ms=round(1000 * pct(tally.vote_s, 0.99), 1),
        loop_p50_s=round(statistics.median(tally.loop_s), 2) if tally.loop_s else float("nan"),
        errors=tally.errors,
        server_cores=round(server / window, 2),
        loadgen_cores=round(mine / window, 2),
        other_cores=round(other, 2),
    )
    print(f"  load: {run}", flush=True)
    return run


def durability(arena: Arena, kind: str, args: argparse.Namespace) -> Durability:
    arena.start()
    tally = Tally()
    seconds = args.durability_seconds
    kill_at = 0.5 * seconds
    restart: list[float] = []
    killed: list[float] = []

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        killed.append(time.perf_counter())
        arena.kill()
        restart.append(await asyncio.to_thread(arena.start))

    async def both() -> None:
        await asyncio.gather(load(arena.url, args.voters, seconds, tally, args.seed + 1), killer())

    try:
        asyncio.run(both())
    finally:
        arena.stop()
    stored = stored_votes(arena.database)
    found = sum(1 for b, w in tally.acked if stored.get(b) == w)
    acked_ids = {b for b, _ in tally.acked}
    d = Durability(
        database=kind,
        voters=args.voters,
        seconds=seconds,
        killed_at_s=round(kill_at, 1),
        restart_s=round(restart[0], 1) if restart else float("nan"),
        acked_votes=len(tally.acked),
        acked_before_kill=sum(1 for t in tally.acked_at if killed and t < killed[0]),
        found=found,
        missing=len(tally.acked) - found,
        stored_unacked=sum(1 for b in stored if b not in acked_ids),
        errors=tally.errors,
    )
    print(f"  durability: {d}", flush=True)
    return d


def stored_votes(url: str) -> dict[str, str]:
    from sqlalchemy import select

    from gencommons.arena.db import Vote, make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {b: w for b, w in conn.execute(select(Vote.battle_id, Vote.winner)).all()}
    finally:
        engine.dispose()


# -- report ---------------------------------------------------------------------------------------------


LOAD_COLUMNS = (
    "database", "window s", "votes", "votes/s", "vote p50 ms", "vote p99 ms", "loop p50 s", "errors",
    "cores: arena / load generator / rest (scripted endpoint, PostgreSQL, other jobs)",
)  # fmt: skip
DURABILITY_COLUMNS = (
    "database", "seconds", "killed at s", "restart s", "votes answered 2xx (before the kill)", "found",
    "missing", "stored, response lost", "voter errors",
)  # fmt: skip


def markdown_table(columns: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    """A Markdown table; text columns (the first and any named errors) left-aligned, numbers right."""
    align = ["---" if c == columns[0] or "errors" in c else "--:" for c in columns]
    return ["| " + " | ".join(columns) + " |", "|" + "|".join(align) + "|"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "0"


def report(runs: list[Run], durable: list[Durability], args: argparse.Namespace) -> str:
    lines = [
        "# Arena load and durability",
        "",
        f"{args.voters} voters on loopback, each looping consent → battle → stream → vote; "  # noqa: ISC004
        f"{os.cpu_count()} cores shared by the arena, the scripted endpoint and the load generator.",
        "",
    ]
    lines += markdown_table(
        LOAD_COLUMNS,
        [
            [
                r.database,
                f"{r.window_s:.0f}",
                f"{r.votes:,}",
                f"{r.votes_per_s:.1f}",
                f"{r.vote_p50_ms:.0f}",
                f"{r.vote_p99_ms:.0f}",
                f"{r.loop_p50_s:.2f}",
                _errors(r.errors),
                f"{r.server_cores:.2f} / {r.loadgen_cores:.2f} / {r.other_cores:.2f}",
            ]
            for r in runs
        ],
    )
    if durable:
        lines += [
            "",
            (
                "Durability: SIGKILL of the arena during the load, restart on the same database, then every vote "
                "answered 2xx looked up."
            ),
            "",
        ]
        lines += markdown_table(
            DURABILITY_COLUMNS,
            [
                [
                    d.database,
                    f"{d.seconds:.0f}",
                    f"{d.killed_at_s:.0f}",
                    f"{d.restart_s:.1f}",
                    f"{d.acked_votes:,} ({d.acked_before_kill:,})",
                    f"{d.found:,}",
                    f"**{d.missing}**",
                    f"{d.stored_unacked}",
                    _errors(d.errors),
                ]
                for d in durable
            ],
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voters", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0, help="load window per database")
    ap.add_argument("--durability-seconds", type=float, default=30.0, help="0: no durability run")
    ap.add_argument("--databases", nargs="*", default=["sqlite", "postgresql"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    durable: list[Durability] = []
    with ExitStack() as stack:
        scripted, scripted_url = start_scripted()
        stack.callback(scripted.wait, 10)
        stack.callback(scripted.terminate)
        config = write_config(scripted_url)
        for kind in args.databases:
            print(f"{kind}:", flush=True)
            for phase in ("load", "durability"):
                if phase == "durability" and args.durability_seconds <= 0:
                    continue
                with ExitStack() as db:
                    if kind == "sqlite":
                        path = SCRATCH / f"arena-{phase}.db"
                        for p in SCRATCH.glob(f"arena-{phase}.db*"):
                            p.unlink()
                        url = f"sqlite:///{path}"
                    else:
                        url = db.enter_context(throwaway_postgres(durable=True))
                    arena = Arena(config, url, free_port(), f"{kind}-{phase}")
                    if phase == "load":
                        runs.append(measure(arena, kind, args))
                    else:
                        durable.append(durability(arena, kind, args))
    RESULTS.mkdir(exist_ok=True)
    data: dict[str, Any] = {
        "args": vars(args),
        "load": [asdict(r) for r in runs],
        "durability": [asdict(d) for d in durable],
    }
    (RESULTS / "arena_load.json").write_text(json.dumps(data, indent=2) + "\n")
    md = report(runs, durable, args)
    (RESULTS / "arena_load.md").write_text(md)
    print(md)
    lost = sum(d.missing for d in durable)
    print("RESULT " + json.dumps({"runs": len(runs), "missing_votes": lost}))
    if any(r.votes == 0 for r in runs) or any(d.acked_votes == 0 for d in durable):
        print("a run got no vote through: see the errors above and the logs in " + str(SCRATCH))
        return 1
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
