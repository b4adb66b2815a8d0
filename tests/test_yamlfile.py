"""Reading YAML config files: a mapping, or an error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gencommons.errors import ConfigError
from gencommons.yamlfile import read_mapping


def test_read_mapping(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("a: 1\nb: [x]\n")
    assert read_mapping(str(tmp_path / "ok.yaml")) == {"a": 1, "b": ["x"]}
    (tmp_path / "empty.yaml").write_text("")
    assert read_mapping(str(tmp_path / "empty.yaml")) == {}
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping"):
        read_mapping(str(tmp_path / "list.yaml"))
    (tmp_path / "bad.yaml").write_text("a: [1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        read_mapping(str(tmp_path / "bad.yaml"))
    with pytest.raises(ConfigError, match="no such arena config file"):
        read_mapping(str(tmp_path / "none.yaml"), what="arena config")
