"""Model presets: their names match their size; the config carries the tokenizer's ids."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gencommons.cli import app
from gencommons.errors import ConfigError
from gencommons.lm.presets import PRESETS, count_parameters, flops_per_token, model_config


@pytest.mark.parametrize("name", list(PRESETS))
def test_name_says_the_non_embedding_size(name: str) -> None:
    import torch
    from transformers import LlamaForCausalLM

    cfg = model_config(name, vocab_size=32_000, seq_len=256, bos=None, eos=0, pad=1)
    with torch.device("meta"):  # no memory: only the shapes
        model = LlamaForCausalLM(cfg)
    n = count_parameters(model)["non_embedding"]
    nominal = float(name.rstrip("m")) * 1e6
    assert nominal / 1.35 <= n <= nominal * 1.35, f"{name}: {n:,} parameters outside the embedding"
    # 6N dominates the FLOPs per token at this context; attention adds 12·L·d·T
    per_token = flops_per_token(cfg, 256)
    assert per_token == pytest.approx(
        6 * (n + 32_000 * cfg.hidden_size) + 12 * cfg.num_hidden_layers * 256 * cfg.hidden_size, rel=0.02
    )


def test_overrides_and_errors() -> None:
    cfg = model_config(
        "1m", vocab_size=300, seq_len=64, bos=None, eos=0, pad=1, overrides={"num_hidden_layers": 1}
    )
    assert cfg.num_hidden_layers == 1
    assert cfg.max_position_embeddings == 64
    assert cfg.eos_token_id == 0
    assert cfg.tie_word_embeddings
    with pytest.raises(ConfigError, match="not a multiple"):
        model_config(
            "1m", vocab_size=300, seq_len=64, bos=None, eos=0, pad=1, overrides={"num_attention_heads": 3}
        )
    with pytest.raises(ConfigError, match="smaller than the tokenizer"):
        model_config("1m", vocab_size=300, seq_len=64, bos=None, eos=0, pad=1, overrides={"vocab_size": 100})


def test_presets_command_lists_them() -> None:
    res = CliRunner().invoke(app, ["lm", "presets"])
    assert res.exit_code == 0
    for name in PRESETS:
        assert name in res.output
