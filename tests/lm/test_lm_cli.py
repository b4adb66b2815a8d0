"""The lm commands end to end through the CLI: tokenizer -> pack -> train -> eval, and --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.lm.conftest import tiny_config
from typer.testing import CliRunner

from gencommons.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "cmd",
    [
        ["lm"],
        ["lm", "tokenizer"],
        ["lm", "tokenizer", "train"],
        ["lm", "pack"],
        ["lm", "train"],
        ["lm", "eval"],
        ["lm", "presets"],
    ],
)
def test_help(cmd: list[str]) -> None:
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0
    assert "Usage" in res.output


def test_pipeline_through_the_cli(corpus_dir: Path, tmp_path: Path) -> None:
    data = str(corpus_dir / "*.jsonl.gz")
    res = runner.invoke(
        app, ["lm", "tokenizer", "train", data, "-o", str(tmp_path / "tok"), "--vocab-size", "400"]
    )
    assert res.exit_code == 0, res.output
    assert "400 tokens from 238 documents" in res.output
    res = runner.invoke(
        app,
        [
            "lm",
            "pack",
            data,
            "-o",
            str(tmp_path / "p"),
            "-t",
            str(tmp_path / "tok"),
            "--seq-len",
            "32",
            "-w",
            "gutenberg=0.5,debian-man=0.5",
            "--tokens",
            "20000",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "gutenberg" in res.output
    assert "10,000" in res.output
    cfg = tiny_config(tmp_path / "p", tmp_path / "m", steps=4, eval_every=2)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(cfg))
    res = runner.invoke(app, ["lm", "train", str(tmp_path / "t.yaml")])
    assert res.exit_code == 0, res.output
    assert "Validation loss: debian-man" in res.output
    res = runner.invoke(app, ["lm", "eval", str(tmp_path / "m"), str(tmp_path / "p")])
    assert res.exit_code == 0
    assert "bits/byte" in res.output
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["kind"] == "model"


def test_errors_are_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "t.yaml").write_text("data: x\nout: y\nbatchsize: 3\n")
    res = subprocess.run(
        [sys.executable, "-m", "gencommons.cli", "lm", "train", str(tmp_path / "t.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1
    assert "unknown key 'batchsize'" in res.stderr
    assert "Traceback" not in res.stderr
