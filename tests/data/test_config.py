"""Config validation: every mistake names its key and says what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gencommons.data.config import PipelineConfig, parse_size
from gencommons.errors import ConfigError


def _cfg(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"input": {"path": "x.jsonl"}, "output": {"path": "out"}, "steps": []}
    base.update(over)
    return base


def test_defaults_are_resolved() -> None:
    cfg = PipelineConfig.from_dict(_cfg(steps=["length", {"exact_dedup": None}]))
    resolved = cfg.resolved()
    assert resolved["steps"][0] == {
        "length": {"mode": "filter", "min_chars": 1, "max_chars": None, "min_words": 0, "max_words": None}
    }
    assert resolved["steps"][1]["exact_dedup"]["partitions"] == 16
    assert resolved["executor"] == {"kind": "local", "workers": None, "address": None}


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"steps": ["lenght"]}, r"steps\[0\]: Unknown pipeline step 'lenght'. Did you mean 'length'\?"),
        (
            {"steps": [{"length": {"min_words": -1}}]},
            r"steps\[0\]\.length\.min_words: Input should be greater",
        ),
        ({"steps": [{"length": {"min_wrds": 3}}]}, r"steps\[0\]\.length\.min_wrds: unknown parameter"),
        ({"steps": [{"length": {"mode": "dry"}}]}, r"steps\[0\]\.length\.mode: must be filter or annotate"),
        ({"steps": [{"length": 3}]}, r"steps\[0\]\.length: parameters must be a mapping"),
        ({"steps": [{"a": {}, "b": {}}]}, r"steps\[0\]: a step is"),
        ({"outptu": {}}, r"unknown key 'outptu'"),
        ({"on_error": "ignore"}, r"on_error: Input should be 'fail' or 'quarantine'"),
        ({"output": {"path": "o", "shard_size": "big"}}, r"output\.shard_size"),
        ({"executor": {"kind": "spark"}}, r"executor\.kind"),
    ],
)
def test_errors_name_the_key(over: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PipelineConfig.from_dict(_cfg(**over))


def test_missing_sections() -> None:
    with pytest.raises(ConfigError, match="missing 'output'"):
        PipelineConfig.from_dict({"input": {"path": "x"}})


def test_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No pipeline file"):
        PipelineConfig.from_yaml(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        PipelineConfig.from_yaml(str(bad))
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="a pipeline is a YAML mapping"):
        PipelineConfig.from_yaml(str(listy))


def test_parse_size() -> None:
    assert parse_size("256MB") == 256_000_000
    assert parse_size("1GiB") == 2**30
    assert parse_size("100KB") == 100_000
    assert parse_size(5) == 5
    for bad in ("", "12 parsecs", "-1MB", 0):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is checked through ConfigError above
            parse_size(bad)


@given(n=st.integers(1, 10**6), unit=st.sampled_from(["", "B", "KB", "MB", "KiB", "MiB"]))
def test_parse_size_property(n: int, unit: str) -> None:
    mult = {"": 1, "B": 1, "KB": 1000, "MB": 10**6, "KiB": 1024, "MiB": 2**20}[unit]
    assert parse_size(f"{n}{unit}") == n * mult
