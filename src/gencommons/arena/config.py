"""The arena's config file (``gencommons arena serve --config arena.yaml``).

```yaml
title: Our community arena
database: sqlite:///arena.db            # or postgresql://user@host/db (also --database, $GENCOMMONS_ARENA_DATABASE)
models:
  - name: tiny-a                         # what voters see after voting
    endpoint: demo-lm/model              # a local Hugging Face folder ...
  - name: llama-70b
    endpoint: http://127.0.0.1:8000/v1   # ... or any OpenAI-compatible endpoint
    model: meta-llama/Llama-3.3-70B      # the endpoint's model name (default: its first model)
    api_key_env: VLLM_KEY                # the environment variable holding its API key
admin_password_env: GENCOMMONS_ARENA_ADMIN_PASSWORD  # the admin page's password comes from here
```
Every key and its default is below; unknown keys are errors naming the key.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gencommons.errors import ConfigError

CONSENT_VERSION = "1"


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    endpoint: str = Field(min_length=1)
    model: str | None = None
    api_key_env: str | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if v.strip() != v or any(c in v for c in "\n\r\t"):
            raise ValueError("a model name is one line without surrounding spaces")
        return v


class ArenaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = "gencommons arena"
    database: str = "sqlite:///arena.db"
    models: list[ModelEntry] = Field(default_factory=list)
    max_tokens: int = Field(512, ge=1, le=32_768)  # per answer
    temperature: float = Field(0.7, ge=0, le=2)
    max_prompt_chars: int = Field(8_000, ge=1)
    max_turns: int = Field(8, ge=1)
    request_timeout_s: float = Field(120.0, gt=0)
    min_votes: int = Field(30, ge=0)  # below this a model is listed as provisional
    min_votes_per_slice: int = Field(50, ge=0)
    moderation: list[str] = Field(default_factory=lambda: ["blocklist"])  # checks run on prompts and answers
    sampler: Literal["informative", "uniform"] = "informative"  # how battle pairs are chosen (sampler.py)
    sampler_refit_s: float = Field(60.0, ge=0)
    max_actions_per_minute: int = Field(
        30, ge=0
    )  # battles + votes per user and per IP; 0: no limit  # a language/category board with fewer votes is not ranked
    bootstrap_rounds: int = Field(100, ge=0)
    leaderboard_cache_s: float = Field(30.0, ge=0)
    secret_key_env: str = "GENCOMMONS_ARENA_SECRET"  # signs cookies; generated into secret_file if unset
    secret_file: str = ".arena-secret"
    admin_password_env: str = "GENCOMMONS_ARENA_ADMIN_PASSWORD"
    ip_salt_rotation_days: int = Field(1, ge=1)
    https_only_cookies: bool = False  # set true behind HTTPS
    seed: int | None = None  # the pair sampler's seed (tests); None: fresh randomness

    @field_validator("models")
    @classmethod
    def _unique(cls, v: list[ModelEntry]) -> list[ModelEntry]:
        names = [m.name for m in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dup)}")
        return v


def load_arena_config(path: str | None, **overrides: Any) -> ArenaConfig:
    """Read the YAML (relative model folders are relative to it), apply overrides, validate."""
    from gencommons.yamlfile import read_mapping

    raw: dict[str, Any] = {}
    base = os.getcwd()
    if path:
        raw = read_mapping(path, what="arena config")
        base = os.path.dirname(os.path.abspath(path))
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if "database" not in overrides or overrides["database"] is None:
        env = os.environ.get("GENCOMMONS_ARENA_DATABASE")
        if env:
            raw["database"] = env
    for m in raw.get("models") or []:
        ep = m.get("endpoint") if isinstance(m, dict) else None
        if isinstance(ep, str) and "://" not in ep and not os.path.isabs(ep):
            m["endpoint"] = os.path.normpath(os.path.join(base, ep))
    secret = raw.get("secret_file", ArenaConfig.model_fields["secret_file"].default)
    if isinstance(secret, str) and not os.path.isabs(secret):
        raw["secret_file"] = os.path.normpath(os.path.join(base, secret))
    db = raw.get("database")
    if isinstance(db, str) and db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        rel = db[len("sqlite:///") :]
        if rel and rel != ":memory:":
            raw["database"] = "sqlite:///" + os.path.normpath(os.path.join(base, rel))
    try:
        return ArenaConfig.model_validate(raw)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"])
            msgs.append(
                f"unknown key {where!r}" if err["type"] == "extra_forbidden" else f"{where}: {err['msg']}"
            )
        raise ConfigError(f"{path or 'arena config'}: " + "; ".join(msgs)) from e
