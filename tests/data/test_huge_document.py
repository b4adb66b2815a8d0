"""A 50 MB single document goes through every built-in step (each rule defined for it) without error."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from gencommons.data.pipeline import Pipeline
from gencommons.data.step import steps

pytestmark = pytest.mark.slow


def test_fifty_megabyte_document_through_every_step(tmp_path: Path) -> None:
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(5000)] + ["the", "and", "of", "to"]
    parts = []
    size = 0
    while size < 50 * 2**20:
        line = " ".join(rng.choice(vocab) for _ in range(12)) + ".\n"
        parts.append(line)
        size += len(line)
    src = tmp_path / "big.jsonl"
    with src.open("wb") as fh:
        fh.write(orjson.dumps({"id": "big", "text": "".join(parts), "url": "https://example.org/x"}) + b"\n")
        fh.write(
            orjson.dumps({"id": "small", "text": "A short normal document about the sea and the sky."})
            + b"\n"
        )
    evals = tmp_path / "eval.jsonl"  # decontaminate needs an eval set: one question from the big text
    evals.write_text(orjson.dumps({"question": parts[1000].strip()}).decode() + "\n")
    needs = {"decontaminate": {"evals": [str(evals)], "fields": ["question"], "n": 8}}
    chosen = [n for n in steps.names() if n not in ("url_blocklist", "language")]

    def spec(n: str) -> object:
        params = needs.get(n, {}) | ({"mode": "annotate"} if steps[n].kind == "filter" else {})
        return {n: params} if params else n

    cfg = {
        "input": {"path": str(src)},
        "steps": [spec(n) for n in chosen],
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
    }
    m = Pipeline.from_dict(cfg).run().manifest
    assert m["counts"]["documents_in"] == 2
    assert m["counts"]["documents_out"] == 2  # annotate keeps both
    by_name = {s["name"]: s for s in m["steps"]}
    assert by_name["gopher_quality"]["docs_in"] == 2
