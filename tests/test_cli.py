"""The command line: --help everywhere, step listing, summaries, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gencommons.cli import app
from gencommons.data.step import steps

runner = CliRunner()

COMMANDS = [
    [],
    ["data"],
    ["data", "run"],
    ["data", "steps"],
    ["data", "apply-thresholds"],
    ["lineage"],
    ["lineage", "show"],
    ["serve"],
    ["arena"],
    ["arena", "serve"],
    ["arena", "db"],
    ["arena", "db", "upgrade"],
    ["arena", "export"],
    ["arena", "ratings"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help(cmd: list[str]) -> None:
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


def test_steps_lists_every_step_with_params() -> None:
    res = runner.invoke(app, ["data", "steps"])
    assert res.exit_code == 0
    for name in steps.names():
        assert name in res.output
        for pname in steps[name].params.model_fields:
            assert pname in res.output


def _gencommons(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gencommons.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_run_prints_summary_and_lineage_show(corpus_dir: Path, tmp_path: Path) -> None:
    cfg = {
        "input": {"path": str(corpus_dir)},
        "steps": [{"length": {"min_words": 100}}, "exact_dedup"],
        "output": {"path": "out"},
        "executor": {"workers": 1},
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    res = _gencommons("data", "run", "p.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "too_few_words" in res.stdout
    assert "documents in" in res.stdout
    again = _gencommons("data", "run", "p.yaml", cwd=tmp_path)
    assert "Already complete" in again.stdout
    show = _gencommons("lineage", "show", "out", cwd=tmp_path)
    assert show.returncode == 0
    assert "dataset" in show.stdout
    assert "exact_dedup" in show.stdout
    assert "LicenseRef-PD-US-Gutenberg" in show.stdout


def test_user_errors_have_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("input: {path: in.jsonl}\nsteps: [gopher_qualty]\noutput: {path: out}\n")
    res = _gencommons("data", "run", "p.yaml", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith("Error: ")
    assert "Traceback" not in res.stderr
    assert "Did you mean 'gopher_quality'" in res.stderr or "Unknown pipeline step" in res.stderr
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n{"txt": "b"}\n')
    (tmp_path / "p.yaml").write_text("input: {path: in.jsonl}\noutput: {path: out}\n")
    res = _gencommons("data", "run", "p.yaml", cwd=tmp_path)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "in.jsonl:2: record has no 'text' field" in res.stderr
    assert "on_error: quarantine" in res.stderr
    res = _gencommons("lineage", "show", "nowhere", cwd=tmp_path)
    assert res.returncode == 1
    assert "No manifest" in res.stderr


def test_plan_prints_estimates_and_runs_nothing(corpus_dir: Path, tmp_path: Path) -> None:
    cfg = {"input": {"path": str(corpus_dir)}, "steps": ["minhash_dedup"], "output": {"path": "out"}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    res = _gencommons("data", "run", "p.yaml", "--plan", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "minhash_dedup · buckets" in res.stdout
    assert "whole run" in res.stdout
    assert not (tmp_path / "out").exists()
