"""Reading a YAML config file's top-level mapping, with errors that name the file."""

from __future__ import annotations

import os
from typing import Any

from gencommons.errors import ConfigError


def read_mapping(path: str, *, what: str = "config") -> dict[str, Any]:
    """The mapping at the top of ``path`` (an empty file is an empty mapping)."""
    import yaml

    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such {what} file.")
    with open(path, encoding="utf-8") as fh:
        try:
            raw = yaml.safe_load(fh) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e}).") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values.")
    return raw
