"""The measured runs of the MinHash benchmarks (``minhash_quality.py``, ``minhash_vs_peers.py``).

Each is a ``filters_vs_datatrove.Run``: one fresh subprocess that ``filters_vs_datatrove.run_all``
measures with ``_measure.py`` and that prints ``RESULT {json}``:

* gencommons: ``_gencommons_driver.py`` with a one-step pipeline (``minhash_dedup``), the local executor,
  one task per input file, importing the benchmark's snapshot of ``src/gencommons``;
* datasketch, rensa and the floors: ``_minhash_peer_driver.py`` in the project's ``.venv``;
* datatrove: ``_datatrove_minhash_driver.py`` in ``bench/.venv-datatrove``.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _minhash_corpus import Corpus
from filters_vs_datatrove import DT_VENV, ROOT, Run, _slug, gencommons_run

BENCH = ROOT / "bench"


def minhash_params(bands: int, rows: int, **extra: Any) -> dict[str, Any]:
    """``minhash_dedup`` parameters for ``bands`` × ``rows`` (``num_perm`` = their product), word 5-grams."""
    return {"num_perm": bands * rows, "bands": bands, "rows": rows, **extra}


# A venv holding only what ``pip install gencommons[data]`` brings (no pandas, which the project's dev
# .venv has for the arena and evaluation extras, and which pyarrow loads on its first ``pa.array``).
DATA_VENV = BENCH / ".venv-gencommons-data"


def data_requirements() -> list[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["data"]]


def ensure_data_venv() -> Path:
    """``bench/.venv-gencommons-data``: gencommons' dependencies and its ``data`` extra, nothing else
    (gencommons itself comes from the benchmark's source snapshot, on PYTHONPATH)."""
    reqs = data_requirements()
    stamp = DATA_VENV / ".bench-installed"
    if not (stamp.exists() and stamp.read_text() == "\n".join(reqs)):
        if not (DATA_VENV / "bin" / "python").exists():
            print(f"creating {DATA_VENV.relative_to(ROOT)} (gencommons[data] only)", flush=True)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(DATA_VENV)], check=True)
        pip = [sys.executable, "-m", "pip", "--python", str(DATA_VENV / "bin" / "python"), "install", "-q"]
        subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), *reqs], check=True)
        stamp.write_text("\n".join(reqs))
    return DATA_VENV / "bin" / "python"


def gencommons_minhash_run(
    name: str,
    corpus: Corpus,
    *,
    params: dict[str, Any],
    workers: int,
    snapshot: Path,
    work: Path,
    python: Path | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    return gencommons_run(
        name,
        corpus=corpus.folder,
        steps=[("minhash_dedup", params)],
        kind="local",
        workers=workers,
        env={"PYTHONPATH": str(snapshot)} | (env or {}),
        work=work,
        python=str(python) if python else None,
    )


def peer_run(
    name: str, tool: str, corpus: Corpus, *, bands: int, rows: int, snapshot: Path, work: Path
) -> Run:
    """datasketch, rensa, or a floor (``floor``, ``gencommons-floor``, ``gencommons-lean``) in one process."""
    out = work / "out" / _slug(name)
    cmd = [sys.executable, str(BENCH / "_minhash_peer_driver.py"), "--tool", tool]
    cmd += ["--input", str(corpus.folder), "--output", str(out), "--bands", str(bands), "--rows", str(rows)]
    return Run(name, tool, "1 process", 1, out, cmd, dict(os.environ, PYTHONPATH=str(snapshot)))


def datatrove_minhash_run(
    name: str, corpus: Corpus, *, workers: int, tokenizer: str, bands: int, rows: int, work: Path
) -> Run:
    out = work / "out" / _slug(name)
    cmd = [str(DT_VENV / "bin" / "python"), str(BENCH / "_datatrove_minhash_driver.py")]
    cmd += ["--input", str(corpus.folder), "--output", str(out), "--workers", str(workers)]
    cmd += ["--tokenizer", tokenizer, "--bands", str(bands), "--rows", str(rows)]
    # datatrove caches assets under HF_HOME: keep it in the work folder, and offline
    env = dict(os.environ, HF_HOME=str(work / "hf-home"), HF_HUB_OFFLINE="1")
    return Run(name, f"datatrove ({tokenizer})", "local", workers, out, cmd, env)


def warm_up(corpus: Corpus, snapshot: Path, work: Path) -> float:
    """One unmeasured pipeline run on 200 documents (warms the OS file cache for the snapshot's
    modules, as on any machine that has run gencommons before); returns its seconds."""
    tiny = work / "warm-up-input"
    tiny.mkdir(parents=True, exist_ok=True)
    with (
        gzip.open(min(corpus.folder.glob("*.jsonl.gz")), "rb") as fh,
        gzip.open(tiny / "part-00.jsonl.gz", "wb") as out,
    ):
        for i, line in enumerate(fh):
            if i == 200:
                break
            out.write(line)
    run = gencommons_run(
        "warm-up",
        corpus=tiny,
        steps=[("minhash_dedup", {})],
        kind="local",
        workers=1,
        env={"PYTHONPATH": str(snapshot)},
        work=work,
    )
    t0 = time.perf_counter()
    done = subprocess.run(run.cmd, env=run.env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"warm-up run failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return time.perf_counter() - t0
