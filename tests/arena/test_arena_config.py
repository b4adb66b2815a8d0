"""The arena config: defaults, relative paths, unknown keys, duplicate names, the database override."""

from __future__ import annotations

from pathlib import Path

import pytest

from gencommons.arena.config import load_arena_config
from gencommons.errors import ConfigError


def test_paths_are_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENCOMMONS_ARENA_DATABASE", raising=False)
    (tmp_path / "a.yaml").write_text(
        "database: sqlite:///votes/arena.db\nmodels:\n  - {name: tiny, endpoint: models/tiny}\n"
        "  - {name: big, endpoint: 'http://127.0.0.1:8000/v1', model: big-model, api_key_env: KEY}\n"
    )
    cfg = load_arena_config(str(tmp_path / "a.yaml"))
    assert cfg.database == f"sqlite:///{tmp_path}/votes/arena.db"
    assert cfg.models[0].endpoint == str(tmp_path / "models" / "tiny")
    assert cfg.models[1].endpoint == "http://127.0.0.1:8000/v1"
    assert cfg.min_votes == 30
    monkeypatch.setenv("GENCOMMONS_ARENA_DATABASE", "postgresql://u@h/db")
    assert load_arena_config(str(tmp_path / "a.yaml")).database == "postgresql://u@h/db"
    assert (
        load_arena_config(str(tmp_path / "a.yaml"), database="sqlite:////x.db").database == "sqlite:////x.db"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modles: []\n", "unknown key 'modles'"),
        ("models:\n  - {name: a, endpoint: x, kind: y}\n", "unknown key 'models.0.kind'"),
        ("models:\n  - {name: a, endpoint: x}\n  - {name: a, endpoint: y}\n", "repeated: a"),
        ("max_tokens: 0\n", "max_tokens"),
        ("models: [1\n", "not valid YAML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "a.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_arena_config(str(tmp_path / "a.yaml"))
