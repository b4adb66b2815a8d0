"""Serving throughput and time-to-first-token: ``gencommons serve`` vs a naive ``model.generate`` server.

    .venv/bin/python bench/serving.py                    # ~3 minutes on 2 cores
    .venv/bin/python bench/serving.py --clients 1 8 --max-tokens 32     # quicker

The model is a random-init Llama of ~4.7M parameters (hidden 256, 4 layers, a 2,048-token BPE vocabulary
trained on tests/data/corpus with ``tests/tiny_model.py``), built once in ``bench/results/scratch/serving/``.
Both servers load that folder and run in their own process:

* **gencommons** — ``gencommons serve MODEL --max-batch-size 32`` (continuous batching);
* **naive** — ``_naive_server.py``: ``model.generate`` with a ``TextIteratorStreamer`` per request, each
  request in its own thread.

For each concurrency level (1, 8, 32 clients), each client sends streaming ``/v1/completions`` requests
one after another (``--requests-per-client``, at least 16 requests in all per level) with the same
prompts (the first 300 characters of the test corpus' documents, ~60-140 tokens), ``temperature`` 1,
``max_tokens`` 64 and ``ignore_eos`` (so every request generates exactly 64 tokens on both servers).

* **tokens/s** — completion tokens of all requests (their usage) / wall time from the first request sent
  to the last one finished;
* **TTFT** — per request, from sending it to its first non-empty text chunk; median and 90th percentile.

Written to ``bench/results/serving-threads<N>.md`` and ``.json``. Each run waits for a quiet machine first
(``_measure.wait_for_quiet``); the other load seen during the run is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))

from _measure import _busy_cpu, wait_for_quiet
from tiny_model import corpus_texts, make_tiny_model

RESULTS = BENCH / "results"
MODEL = RESULTS / "scratch" / "serving" / "model-h256-l4"


@dataclass
class Run:
    server: str
    clients: int
    requests: int
    tokens: int
    wall_s: float
    tokens_per_s: float
    ttft_median_s: float
    ttft_p90_s: float
    server_cpu_s: float
    other_cores: float


def build_model() -> Path:
    if not (MODEL / "config.json").is_file():
        make_tiny_model(MODEL, vocab_size=2048, hidden_size=256, num_layers=4, context=1024)
    return MODEL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(server: str, port: int, threads: int) -> subprocess.Popen[bytes]:
    if server == "gencommons":
        cmd = [sys.executable, "-m", "gencommons.cli", "serve", str(MODEL), "--port", str(port)]
        cmd += ["--max-batch-size", "32", "--model-name", "bench", "--threads", str(threads)]
    else:
        cmd = [sys.executable, str(BENCH / "_naive_server.py"), str(MODEL), "--port", str(port)]
    log = open(RESULTS / "scratch" / "serving" / f"{server}.log", "wb")  # noqa: SIM115 (closed with the process)
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{server} server did not start; see {log.name}") from None
            time.sleep(0.3)


async def one_request(client: httpx.AsyncClient, url: str, prompt: str, max_tokens: int) -> tuple[float, int]:
    """(time to first token, completion tokens) of one streamed completion."""
    body = {
        "model": "bench",
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 1.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
    }
    t0 = time.perf_counter()
    ttft, tokens = float("nan"), 0
    async with client.stream("POST", url, json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if math.isnan(ttft) and any(c.get("text") for c in event["choices"]):
                ttft = time.perf_counter() - t0
            if event.get("usage"):
                tokens = int(event["usage"]["completion_tokens"])
    return ttft, tokens


async def load(port: int, clients: int, per_client: int, prompts: list[str], max_tokens: int) -> tuple:  # type: ignore[type-arg]
    url = f"http://127.0.0.1:{port}/v1/completions"
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def worker(w: int) -> list[tuple[float, int]]:
            return [
                await one_request(client, url, prompts[(w * per_client + k) % len(prompts)], max_tokens)
                for k in range(per_client)
            ]

        t0 = time.perf_counter()
        results = await asyncio.gather(*(worker(w) for w in range(clients)))
        return time.perf_counter() - t0, [r for rs in results for r in rs]


def measure(server: str, port: int, proc: psutil.Process, clients: int, args: argparse.Namespace) -> Run:
    per_client = max(args.requests_per_client, -(-16 // clients))
    prompts = [t[:300] for t in corpus_texts()][:64]
    wait_for_quiet(60)
    cpu0, busy0, mine0 = _cpu(proc), _busy_cpu(), time.process_time()
    wall, results = asyncio.run(load(port, clients, per_client, prompts, args.max_tokens))
    server_cpu = _cpu(proc) - cpu0
    other = max(0.0, _busy_cpu() - busy0 - server_cpu - (time.process_time() - mine0)) / wall
    ttfts = sorted(t for t, _ in results)
    tokens = sum(n for _, n in results)
    run = Run(
        server=server,
        clients=clients,
        requests=len(results),
        tokens=tokens,
        wall_s=round(wall, 2),
        tokens_per_s=round(tokens / wall, 1),
        ttft_median_s=round(statistics.median(ttfts), 3),
        ttft_p90_s=round(ttfts[int(0.9 * (len(ttfts) - 1))], 3),
        server_cpu_s=round(server_cpu, 1),
        other_cores=round(other, 2),
    )
    print(
        f"  {clients:>3} clients: {run.tokens_per_s:8.1f} tokens/s, TTFT median {run.ttft_median_s:.3f} s",
        flush=True,
    )
    return run


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def table(runs: list[Run], args: argparse.Namespace) -> str:
    by = {(r.server, r.clients): r for r in runs}
    lines = [
        "# Serving: gencommons serve vs naive model.generate",
        "",
        (
            f"Model: random-init Llama, {_params()} parameters, {os.cpu_count()} cores, "
            f"torch threads {args.torch_threads} in both servers. "
            f"Streaming /v1/completions, max_tokens {args.max_tokens}, ignore_eos, temperature 1."
        ),
        "",
        (
            "| clients | gencommons tokens/s | naive tokens/s | ratio | gencommons TTFT median (p90) s | "
            "naive TTFT median (p90) s | other load (cores) |"
        ),
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in args.clients:
        g, n = by.get(("gencommons", c)), by.get(("naive", c))
        if g is None or n is None:
            continue
        lines.append(
            f"| {c} | {g.tokens_per_s:,.0f} | {n.tokens_per_s:,.0f} | {g.tokens_per_s / n.tokens_per_s:.1f}× | "
            f"{g.ttft_median_s:.3f} ({g.ttft_p90_s:.3f}) | {n.ttft_median_s:.3f} ({n.ttft_p90_s:.3f}) | "
            f"{g.other_cores:.2f} / {n.other_cores:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _params() -> str:
    from safetensors import safe_open

    with safe_open(str(MODEL / "model.safetensors"), "pt") as f:
        n = sum(f.get_tensor(k).numel() for k in f.keys())  # noqa: SIM118 (safe_open is not a dict)
    return f"{n / 1e6:.1f}M"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="*", default=[1, 8, 32])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--requests-per-client", type=int, default=2)
    ap.add_argument("--servers", nargs="*", default=["gencommons", "naive"])
    ap.add_argument(
        "--torch-threads",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="torch threads of both servers (default: all cores but one, gencommons serve's default)",
    )
    args = ap.parse_args()
    build_model()
    runs: list[Run] = []
    for server in args.servers:
        port = free_port()
        proc = start(server, port, args.torch_threads)
        try:
            print(f"{server}:", flush=True)
            ps = psutil.Process(proc.pid)
            asyncio.run(load(port, 1, 1, ["warm up"], 8))
            runs += [measure(server, port, ps, c, args) for c in args.clients]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    RESULTS.mkdir(exist_ok=True)
    name = f"serving-threads{args.torch_threads}"
    (RESULTS / f"{name}.json").write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")
    md = table(runs, args)
    (RESULTS / f"{name}.md").write_text(md)
    print(md)
    print("RESULT " + json.dumps({"runs": len(runs)}))


if __name__ == "__main__":
    main()
