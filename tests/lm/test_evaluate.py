"""Held-out evaluation: the windowed loss against a direct computation, bits per byte, both dataset kinds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gencommons.cli import app
from gencommons.errors import UserError
from gencommons.lm.evaluate import evaluate, stream_loss, summarize


@pytest.fixture(scope="module")
def model_and_tok(tokenizer_dir: Path) -> tuple[object, object]:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=16,
    )
    return LlamaForCausalLM(cfg).eval(), tok


def _reference(model: object, tokens: np.ndarray, seq_len: int) -> tuple[float, int]:
    """One window at a time, unbatched, through transformers' own loss (mean over labels)."""
    import torch

    nll, n, start = 0.0, 0, 0
    while start < len(tokens) - 1:
        w = torch.tensor(tokens[start : start + seq_len], dtype=torch.long)[None]
        with torch.no_grad():
            loss = model(input_ids=w, labels=w).loss  # type: ignore[operator]
        nll += float(loss) * (w.shape[1] - 1)
        n += w.shape[1] - 1
        start += seq_len - 1
    return nll, n


@pytest.mark.parametrize("length", [2, 9, 16, 17, 31, 100])
def test_windowed_loss_equals_reference(model_and_tok: tuple[object, object], length: int) -> None:
    import torch

    model, _ = model_and_tok
    tokens = np.random.default_rng(length).integers(0, 512, size=length)
    nll, n = stream_loss(model, tokens, 16, 3, torch.device("cpu"))
    ref_nll, ref_n = _reference(model, tokens, 16)
    assert n == ref_n == length - 1  # every token but the first, exactly once
    assert nll == pytest.approx(ref_nll, rel=1e-5)


def test_summary_formulas() -> None:
    s = summarize(nll=100.0, tokens=50, nbytes=200)
    assert s["loss"] == 2.0
    assert s["perplexity"] == pytest.approx(math.exp(2.0))
    assert s["bits_per_byte"] == pytest.approx(100.0 / math.log(2) / 200)
    assert summarize(0.0, 0, 0)["tokens"] == 0


def test_eval_on_packed_and_on_curated(
    tmp_path: Path, packed_dir: Path, corpus_dir: Path, model_and_tok: tuple[object, object]
) -> None:
    model, tok = model_and_tok
    model.save_pretrained(tmp_path / "m")  # type: ignore[attr-defined]
    tok.save_pretrained(tmp_path / "m")  # type: ignore[attr-defined]
    res = evaluate(str(tmp_path / "m"), str(packed_dir))
    index = json.loads((packed_dir / "index.json").read_text())
    assert set(res["sources"]) == {"gutenberg", "debian-man"}
    for s, r in res["sources"].items():
        assert r["tokens"] == index["sources"][s]["val"]["tokens"] - 1
        assert r["bytes"] == index["sources"][s]["val"]["bytes"]
        assert 5.0 < r["loss"] < 8.0  # an untrained model: about ln(512) = 6.24
    assert res["all"]["tokens"] == sum(r["tokens"] for r in res["sources"].values())

    res2 = evaluate(str(tmp_path / "m"), str(corpus_dir / "gutenberg.jsonl.gz"), max_documents=5)
    assert list(res2["sources"]) == ["gutenberg"]
    assert res2["sources"]["gutenberg"]["bytes"] > 1000

    runner = CliRunner()
    out = runner.invoke(
        app, ["lm", "eval", str(tmp_path / "m"), str(packed_dir), "--json", "-o", str(tmp_path / "e.json")]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["all"]["tokens"] == res["all"]["tokens"]
    saved = json.loads((tmp_path / "e.json").read_text())
    assert saved["kind"] == "eval"
    assert saved["results"]["all"]["loss"] == pytest.approx(res["all"]["loss"])


def test_eval_errors(tmp_path: Path, packed_dir: Path) -> None:
    with pytest.raises(UserError, match=r"no config.json"):
        evaluate(str(tmp_path), str(packed_dir))
