"""The ratings command, mounted in a small typer app the way the arena CLI mounts it."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import typer
from tests.arena.ratings.conftest import LLMFAO
from typer.testing import CliRunner

from gencommons.arena.ratings_cli import parse_anchors, ratings
from gencommons.errors import ConfigError, InputDataError

app = typer.Typer()
app.command("ratings")(ratings)
app.command("other")(lambda: None)  # two commands, so "ratings" is a subcommand as in the arena CLI
runner = CliRunner()
COUNTS = LLMFAO / "llmfao-counts.csv"


def test_table_with_intervals_elo_and_robustness() -> None:
    result = runner.invoke(app, ["ratings", "--votes", str(COUNTS), "--rounds", "20", "--min-votes", "310"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "llmfao-counts.csv: 8,931 votes, 20 bootstrap rounds (seed 0)" in out
    for header in ("rank", "model", "rating", "95% CI", "votes", "provisional", "online Elo"):
        assert header in out
    assert "GPT 4" in out
    assert "provisional" in out
    assert "Top: GPT 4. Removing" in out
    assert "an upper bound" in out


def test_json_output_with_anchor() -> None:
    result = runner.invoke(
        app, ["ratings", "--votes", str(COUNTS), "--rounds", "10", "--anchor", "GPT 4=1250", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    top = data["models"][0]
    assert top["model"] == "GPT 4"
    assert top["rating"] == pytest.approx(1250)
    assert top["rank"] == 1
    assert set(top) == {"rank", "model", "rating", "lower", "upper", "votes", "provisional", "online_elo"}
    assert data["votes"] == 8931
    assert data["rounds"] == 10
    assert data["anchor"] == {"GPT 4": 1250.0}
    assert data["robustness"]["top"] == "GPT 4"
    assert data["robustness"]["votes"] >= 1


def test_style_control_from_columns(tmp_path: Path) -> None:
    votes = pl.read_csv(COUNTS).with_columns(len_a=pl.lit(100), len_b=pl.lit(100) + pl.col("count"))
    path = tmp_path / "styled.parquet"
    votes.write_parquet(path)
    result = runner.invoke(
        app, ["ratings", "--votes", str(path), "--style-control", "--features", "len", "--rounds", "5",
              "--no-robustness"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Style coefficients (logits per RMS unit): len" in result.output
    assert "Top:" not in result.output


def test_bad_input_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("model_a,model_b,winner\nx,y,model_a\nx,y,x\n")
    result = runner.invoke(app, ["ratings", "--votes", str(bad)])
    assert isinstance(result.exception, InputDataError)
    assert str(result.exception) == f"{bad}:3: winner 'x' is not one of model_a, model_b, tie, tie (bothbad)"
    result = runner.invoke(app, ["ratings", "--votes", str(COUNTS), "--anchor", "GPT 4"])
    assert isinstance(result.exception, ConfigError)


def test_parse_anchors() -> None:
    assert parse_anchors(["a=b=1114", "x=1000.5"]) == {"a=b": 1114.0, "x": 1000.5}
    for bad in ("=1", "x=", "x=high"):
        with pytest.raises(ConfigError, match="expected MODEL=SCORE"):
            parse_anchors([bad])
