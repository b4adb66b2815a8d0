"""Fixtures for the lm tests: a tokenizer and packed data made from the bundled test corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


@pytest.fixture(scope="session")
def tokenizer_dir(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gencommons.lm.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("lm") / "tok"
    train_tokenizer(str(corpus_dir / "*.jsonl.gz"), str(out), vocab_size=512)
    return out


@pytest.fixture(scope="session")
def packed_dir(corpus_dir: Path, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gencommons.lm.pack import pack

    out = tmp_path_factory.mktemp("lm") / "packed"
    pack(
        [str(corpus_dir / "*.jsonl.gz")],
        str(out),
        tokenizer=str(tokenizer_dir),
        seq_len=64,
        val_fraction=0.1,
        progress=False,
    )
    return out


def tiny_config(packed: Path, out: Path, **kw: object) -> dict[str, object]:
    cfg: dict[str, object] = {
        "data": str(packed),
        "out": str(out),
        "model": {"preset": "1m", "overrides": TINY},
        "steps": 12,
        "batch_size": 4,
        "log_every": 2,
        "eval_every": 6,
        "eval_tokens": 2048,
        "checkpoint_every": 4,
        "warmup_steps": 2,
        "threads": 1,
    }
    cfg.update(kw)
    return cfg
