"""The pipeline YAML, validated: inputs, steps, output, executor, error policy.

```yaml
input:    {path: "raw/*.jsonl.gz", format: jsonl, license: CC-BY-4.0}   # or a list of inputs
steps:
  - language: {keep: [en, fr]}
  - gopher_quality: {mode: annotate}
  - exact_dedup: {}
output:   {path: clean/, format: parquet, shard_size: 256MB}
executor: {kind: local, workers: 2}      # or {kind: ray, address: auto}
on_error: fail                           # or quarantine
```

Every error names the config key it is about (``steps[1].gopher_quality.min_doc_words``).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gencommons.data.step import StepParams, steps
from gencommons.errors import ConfigError, UnknownNameError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputConfig(_Strict):
    path: str | list[str] = Field(
        description="File, folder, glob or fsspec URL (file://, s3://...); or a list."
    )
    format: Literal["auto", "jsonl", "parquet", "warc", "text"] = Field(
        "auto", description="Input format; auto = by file extension."
    )
    text_field: str = Field("text", description="Record field holding the text.")
    id_field: str = Field("id", description="Record field holding a unique id (else <file>:<line>).")
    source: str | None = Field(None, description="Value of the `source` column when records have none.")
    license: str | None = Field(None, description="SPDX id for records without a `license` value.")
    extractor: str = Field(
        "resiliparse",
        description="HTML-to-text extractor for WARC input (resiliparse, trafilatura, or a plugin's).",
    )

    @field_validator("extractor")
    @classmethod
    def _extractor(cls, v: str) -> str:
        from gencommons.data.io.html import extractors

        if v not in extractors:
            raise ValueError(extractors.miss_message(v))
        return v


class OutputConfig(_Strict):
    path: str = Field(description="Output folder (local or mounted; shared storage for a Ray cluster).")
    format: Literal["parquet", "jsonl"] = Field("parquet", description="parquet or jsonl (.jsonl.gz files).")
    shard_size: int | str = Field("256MB", description="Target size of one output file (bytes or 256MB/1GB).")
    rejected: bool = Field(True, description="Write dropped documents with a `reason` column to rejected/.")

    @field_validator("shard_size")
    @classmethod
    def _size(cls, v: int | str) -> int | str:
        parse_size(v)
        return v

    @property
    def shard_bytes(self) -> int:
        return parse_size(self.shard_size)


class ExecutorConfig(_Strict):
    kind: Literal["local", "ray"] = Field("local", description="local process pool, or ray.")
    workers: int | None = Field(None, ge=1, description="Parallel tasks; default = CPU cores.")
    address: str | None = Field(None, description="Ray cluster address (auto, ray://...); none starts one.")


class StepSpec(_Strict):
    """One resolved step: its registry name, mode and validated params."""

    name: str
    mode: Literal["filter", "annotate"] = "filter"
    params: dict[str, Any] = Field(default_factory=dict)

    def step(self) -> Any:
        return steps[self.name]

    def parsed(self) -> StepParams:
        params: StepParams = self.step().params(**self.params)
        return params


class PipelineConfig(_Strict):
    input: list[InputConfig]
    steps: list[StepSpec] = Field(default_factory=list)
    output: OutputConfig
    executor: ExecutorConfig = Field(default_factory=lambda: ExecutorConfig.model_validate({}))
    on_error: Literal["fail", "quarantine"] = Field(
        "fail", description="fail: stop at the first bad record; quarantine: set it aside and count it."
    )
    batch_size: int = Field(
        5_000, ge=1, description="Documents per batch: larger is a little faster, smaller uses less memory."
    )
    task_size: int | str = Field(
        "16MB", description="Consecutive input files smaller than this (on disk) are grouped into one task."
    )

    @field_validator("task_size")
    @classmethod
    def _task_size(cls, v: int | str) -> int | str:
        parse_size(v)
        return v

    @classmethod
    def from_yaml(cls, path: str) -> PipelineConfig:
        if not os.path.exists(path):
            raise ConfigError(f"No pipeline file at {path}.")
        import yaml  # here: a pipeline built from a dict (the Python API) never needs it

        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a pipeline is a YAML mapping with input, steps and output.")
        return cls.from_dict(data, source=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> PipelineConfig:
        data = dict(data)
        known = set(cls.model_fields)
        for key in data:
            if key not in known:
                raise ConfigError(f"{source}: unknown key {key!r}; allowed: {', '.join(sorted(known))}.")
        for key in ("input", "output"):
            if key not in data:
                raise ConfigError(f"{source}: missing {key!r}.")
        inp = data["input"]
        data["input"] = inp if isinstance(inp, list) else [inp]
        data["steps"] = [_parse_step(i, s, source) for i, s in enumerate(data.get("steps") or [])]
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(f"{source}: " + _explain(e)) from None

    def resolved(self) -> dict[str, Any]:
        """The full config with every default filled in (what the manifest records)."""
        out = self.model_dump(mode="json")
        out["steps"] = [{s.name: {"mode": s.mode, **s.parsed().model_dump(mode="json")}} for s in self.steps]
        return out


def _parse_step(i: int, item: Any, source: str) -> StepSpec:
    where = f"steps[{i}]"
    if isinstance(item, str):
        name, params = item, dict[str, Any]()
    elif isinstance(item, dict) and len(item) == 1:
        name, params = next(iter(item.items()))
        params = params or {}
    else:
        raise ConfigError(f"{source}: {where}: a step is `- name: {{params}}` (one key), got {item!r}.")
    if not isinstance(params, dict):
        raise ConfigError(f"{source}: {where}.{name}: parameters must be a mapping, got {params!r}.")
    try:
        step = steps[name]
    except UnknownNameError as e:
        raise ConfigError(f"{source}: {where}: {e}") from None
    params = dict(params)
    mode = params.pop("mode", "filter")
    if mode not in ("filter", "annotate"):
        raise ConfigError(f"{source}: {where}.{name}.mode: must be filter or annotate, got {mode!r}.")
    if mode == "annotate" and step.kind == "mapper":
        raise ConfigError(f"{source}: {where}.{name}.mode: {name} is a mapper; only filters can annotate.")
    try:
        step.params(**params)
    except ValidationError as e:
        raise ConfigError(f"{source}: " + _explain(e, prefix=f"{where}.{name}")) from None
    return StepSpec(name=name, mode=mode, params=params)


def _explain(e: ValidationError, *, prefix: str = "") -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        got = err.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown parameter; run `gencommons data steps` to list the parameters"
        parts.append(f"{key}: {msg}{shown}")
    return "; ".join(parts)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_size(v: int | str) -> int:
    """``256MB`` -> 256_000_000; ``1GiB`` -> 2**30; ints pass through.

    Example:
        >>> parse_size("64MiB")
        67108864
    """
    if isinstance(v, int):
        if v < 1:
            raise ValueError("must be positive")
        return v
    m = _SIZE.match(v)
    if not m:
        raise ValueError(f"not a size: {v!r} (use e.g. 256MB or 1GiB)")
    num, unit = float(m.group(1)), (m.group(2) or "").lower()
    base = unit[:1]
    mult = 1024 ** "bkmgt".index(base) if "i" in unit and base else _UNITS[base]
    n = int(num * mult)
    if n < 1:
        raise ValueError("must be positive")
    return n
