"""Shared fixtures: the small real test corpus, the shared data folder when present."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline anywhere: a deadline is a timed assertion, and on a busy 2-core CI machine
# the first example of a test (imports, caches) can exceed Hypothesis' default 200 ms and fail a run.
settings.register_profile("gencommons", deadline=None)
settings.load_profile("gencommons")

TESTS = Path(__file__).parent
CORPUS = TESTS / "data" / "corpus"
SHARED = TESTS.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present next to the checkout")
    return SHARED


@pytest.fixture(autouse=True)
def _no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", os.environ.get("TEST_COLUMNS", "160"))


def split_corpus(corpus_dir: Path, folder: Path, *, n_files: int, copies: int) -> None:
    """Write the test corpus ``copies`` times (ids made unique, so copies are cross-file duplicates),
    split into ``n_files`` JSONL.gz files: many small shards for executor tests."""
    recs = []
    for name in ("gutenberg", "debian-man"):
        with gzip.open(corpus_dir / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
            recs.extend(json.loads(line) for line in fh)
    folder.mkdir(parents=True)
    rows = [dict(r, id=f"{r['id']}#{k}") for k in range(copies) for r in recs]
    per = len(rows) // n_files + 1
    for i in range(n_files):
        with gzip.open(folder / f"in-{i:03d}.jsonl.gz", "wt", encoding="utf-8") as fh:
            for r in rows[i * per : (i + 1) * per]:
                fh.write(json.dumps(r) + "\n")


@pytest.fixture(scope="session")
def many_shards(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test corpus x4 in 24 files (24 shards)."""
    folder = tmp_path_factory.mktemp("many") / "inputs"
    split_corpus(corpus_dir, folder, n_files=24, copies=4)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init Llama with a BPE tokenizer trained on the test corpus (tests/tiny_model.py)."""
    from tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_server(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    """``(backend, base_url)``: the tiny model served by ``gencommons serve``'s app on a free loopback port."""
    from gencommons.backends.local import LocalBackend
    from gencommons.serve.background import serve_in_background

    backend = LocalBackend(tiny_model_dir, max_batch_size=8)
    with serve_in_background(backend) as url:
        yield backend, url
    backend.close()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A real local Ray cluster with 2 CPUs for the tests of one module (skipped without ray)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's teardown once the result is known: pyarrow 26.0.1 can abort
    at exit ("terminate called without an active exception", a thread left joinable; 4 of 30 runs of
    a three-line Parquet write/read script here), which would turn a passing run into a failure."""
    if _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
