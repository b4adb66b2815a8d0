"""The docs are checked: the README's step reference is current, its examples run as written."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from gencommons.data.config import PipelineConfig
from gencommons.data.step import steps

ROOT = Path(__file__).resolve().parent.parent


def _load_updater():  # docs/ is not a package
    spec = importlib.util.spec_from_file_location("update_steps", ROOT / "docs" / "update_steps.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_step_reference_is_current() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _load_updater().render(text) == text, "run `make docs` to regenerate the README's step list"
    for name in steps.names():
        assert f"#### `{name}`" in text
        for param in steps[name].params.model_fields:
            assert f"`{param}`" in text


def test_readme_pipeline_example_validates() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL) if b.startswith("input:"))
    cfg = PipelineConfig.from_dict(yaml.safe_load(block))
    assert [s.name for s in cfg.steps][:2] == ["language", "gopher_quality"]


def test_examples_validate() -> None:
    from gencommons.lm.config import load_config

    seen = set()
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if "input" in raw:
            PipelineConfig.from_yaml(str(path))
        elif "models" in raw:
            from gencommons.arena.config import load_arena_config

            assert len(load_arena_config(str(path)).models) >= 2
        else:
            cfg = load_config(str(path))  # a training config
            assert cfg.data.endswith("demo-lm/packed")
        seen.add(path.name)
    assert {"demo.yaml", "train_tiny.yaml", "arena.yaml"} <= seen


@pytest.mark.slow
def test_ask_model_example_runs_as_written(tiny_model_dir: Path) -> None:
    """examples/ask_model.py (the last step of `make demo`) against a real `gencommons serve` process."""
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "ask_model.py"), str(tiny_model_dir), "Hello there"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert f"model: {tiny_model_dir.name} at http://127.0.0.1:" in res.stdout
    assert "> Hello there" in res.stdout
    assert re.search(r"usage: \d+ prompt \+ \d+ completion tokens", res.stdout)


def test_demo_pipeline_runs_as_written(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gencommons.data.pipeline import Pipeline

    monkeypatch.chdir(ROOT)
    data = yaml.safe_load((ROOT / "examples" / "demo.yaml").read_text())
    data["output"]["path"] = str(tmp_path / "demo-out")
    m = Pipeline.from_dict(data).run().manifest
    by = {s["name"]: s for s in m["steps"]}
    assert m["counts"]["documents_in"] > 800
    assert 0 < m["counts"]["documents_out"] < m["counts"]["documents_in"]
    assert by["url_blocklist"]["dropped"] == {"url_blocklist:demo": 18}
    assert by["pii"]["counts"]["email"] > 0
    assert "GPL-2.0-or-later" in m["licenses"]["output"]
    assert m["skipped_by_reader"] == {"not_html": 3}
