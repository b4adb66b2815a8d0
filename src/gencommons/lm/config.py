"""The training config (``gencommons lm train CONFIG.yaml``): every key, its default, and its checks.

```yaml
data: packed/            # the output of `gencommons lm pack`
out: runs/tiny           # becomes a Hugging Face model folder
tokenizer: tok/          # default: the tokenizer the packed data was made with
model: {preset: 1m}      # presets.PRESETS; `overrides:` any LlamaConfig field
steps: 200
batch_size: 8            # sequences per micro-batch
grad_accum: 1            # micro-batches per optimizer step
lr: 3.0e-3
```
Unknown keys are errors that name the key and the allowed ones.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gencommons.errors import ConfigError


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str = "1m"
    overrides: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(BaseModel):
    """One training run. Field docs are the `--help` of the YAML."""

    model_config = ConfigDict(extra="forbid")

    data: str
    out: str
    tokenizer: str | None = None
    model: ModelSpec = Field(default_factory=ModelSpec)
    seed: int = 0
    steps: int = Field(200, ge=1)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(3e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    warmup_steps: int = Field(20, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = Field(1.0, gt=0)
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(50, ge=1)
    eval_tokens: int = Field(16_384, ge=0)  # per source at each evaluation; 0 = the whole split
    checkpoint_every: int = Field(50, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: str = "auto"  # auto, cpu, cuda, cuda:1, mps
    threads: int | None = Field(None, ge=1)  # torch intra-op threads on CPU; default: all cores
    # torch.compile: "loss" (default) the cross-entropy only (~3 s to compile, ~1.9x tokens/s for small
    # models), true the model too, false nothing
    compile: bool | Literal["loss"] = "loss"


def load_config(path: str, **overrides: Any) -> TrainConfig:
    """Read a YAML config; relative paths in it are relative to the YAML file's folder."""
    from gencommons.yamlfile import read_mapping

    raw = read_mapping(path, what="training config")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    base = os.path.dirname(os.path.abspath(path))
    for key in ("data", "out", "tokenizer"):
        if isinstance(raw.get(key), str) and not os.path.isabs(raw[key]) and "://" not in raw[key]:
            raw[key] = os.path.normpath(os.path.join(base, raw[key]))
    return parse_config(raw, source=path)


def parse_config(raw: dict[str, Any], *, source: str = "config") -> TrainConfig:
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{source}: " + "; ".join(_explain(err) for err in e.errors())) from e


def _explain(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        model = TrainConfig if len(err["loc"]) == 1 else ModelSpec
        allowed = ", ".join(model.model_fields)
        return f"unknown key {where!r} (allowed: {allowed})"
    return f"{where}: {err['msg']}"
