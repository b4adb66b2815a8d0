"""Model presets: Llama-style causal LMs from about 1M to about 500M parameters.

A preset's name counts the parameters outside the embedding (the embedding adds vocab × hidden, tied
with the output layer). ``model_config`` turns a preset plus overrides into a ``transformers``
``LlamaConfig``; the model is then ``LlamaForCausalLM(config)``, so every tool of the ecosystem loads it.
"""

from __future__ import annotations

from typing import Any

from gencommons.errors import ConfigError

PRESETS: dict[str, dict[str, int]] = {
    # name: hidden size, layers, attention heads, MLP (intermediate) size
    "1m": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 344},
    "3m": {"hidden_size": 192, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 512},
    "10m": {"hidden_size": 320, "num_hidden_layers": 8, "num_attention_heads": 8, "intermediate_size": 864},
    "30m": {"hidden_size": 512, "num_hidden_layers": 10, "num_attention_heads": 8, "intermediate_size": 1376},
    "125m": {  # deeper than GPT-2 small (18 layers, not 12): 127M outside the embedding, as named
        "hidden_size": 768,
        "num_hidden_layers": 18,
        "num_attention_heads": 12,
        "intermediate_size": 2048,
    },
    "350m": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 2816,
    },
    "500m": {
        "hidden_size": 1280,
        "num_hidden_layers": 24,
        "num_attention_heads": 20,
        "intermediate_size": 3456,
    },
}


def model_config(
    preset: str,
    *,
    vocab_size: int,
    seq_len: int,
    bos: int | None,
    eos: int | None,
    pad: int | None,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """The ``LlamaConfig`` of ``preset`` for a tokenizer and sequence length; ``overrides`` win."""
    from transformers import LlamaConfig

    if preset not in PRESETS:
        raise ConfigError(f"model.preset {preset!r} is not a preset; choose one of: {', '.join(PRESETS)}.")
    fields = {
        **PRESETS[preset],
        "vocab_size": vocab_size,
        "max_position_embeddings": seq_len,
        "tie_word_embeddings": True,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": pad,
        "rms_norm_eps": 1e-5,
        **(overrides or {}),
    }
    if fields["hidden_size"] % fields["num_attention_heads"]:
        raise ConfigError(
            f"model: hidden_size {fields['hidden_size']} is not a multiple of num_attention_heads "
            f"{fields['num_attention_heads']}."
        )
    try:
        config = LlamaConfig(**fields)
    except Exception as e:  # TypeError, ValueError, huggingface_hub validation errors
        raise ConfigError(f"model.overrides: {e}") from e
    if config.max_position_embeddings < seq_len:
        raise ConfigError(
            f"The packed sequences have {seq_len} tokens but the model allows at most "
            f"{config.max_position_embeddings} (model.overrides.max_position_embeddings); repack with a "
            f"smaller --seq-len or raise the limit."
        )
    if config.vocab_size < vocab_size:
        raise ConfigError(
            f"model.overrides.vocab_size {config.vocab_size} is smaller than the tokenizer's {vocab_size}."
        )
    return config


def count_parameters(model: Any) -> dict[str, int]:
    """Total parameters and those outside the (tied) embedding."""
    total = sum(p.numel() for p in model.parameters())
    embed = model.get_input_embeddings().weight.numel()
    return {"total": total, "non_embedding": total - embed}


def flops_per_token(config: Any, seq_len: int) -> float:
    """Training FLOPs per token as in PaLM's MFU (Chowdhery et al. 2022, appendix B): 6N + 12·L·d·T, with N
    the matmul parameters (layers plus the output projection), L layers, d the model width, T the
    sequence length."""
    h, n_layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    kv = config.num_key_value_heads or config.num_attention_heads
    head = h // config.num_attention_heads
    per_layer = 2 * h * h + 2 * h * kv * head + 3 * h * inter
    n = n_layers * per_layer + h * config.vocab_size  # the output projection is a matmul too
    return 6.0 * n + 12.0 * n_layers * seq_len * h
