"""The analysis commands through the real CLI: --help of each, one run of each on the test dataset,
and the bad inputs the issue lists (clear ``Error:`` lines, non-zero exit, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gencommons.cli import app
from gencommons.errors import UserError

COMMANDS = ["stats", "compare", "index", "count", "search", "contamination", "card"]
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    """Exit code and output; a UserError (which `gencommons`' main prints as "Error: ...") is added as such."""
    r = runner.invoke(app, ["data", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        assert isinstance(r.exception, UserError), r.exception  # anything else would print a traceback
        return r.exit_code, r.output + f"Error: {r.exception}"
    return r.exit_code, r.output


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help(cmd: str) -> None:
    code, out = _run(cmd, "--help")
    assert code == 0
    assert "Usage" in out


def test_commands_end_to_end(dataset_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    code, out = _run("stats", str(dataset_dir), "-o", str(tmp_path / "st"), "-t", str(tokenizer_dir))
    assert code == 0, out
    assert (tmp_path / "st" / "report.html").exists()
    code, out = _run("index", str(dataset_dir), "-o", str(tmp_path / "ix"))
    assert code == 0, out
    assert "bytes per byte" in out
    code, out = _run("count", "the", "-i", str(tmp_path / "ix"), "--json", "--longest")
    assert code == 0, out
    res = json.loads(out)
    assert res["count"] > 100
    assert res["longest_suffix"]["suffix"] == "the"
    code, out = _run("search", "the", "-i", str(tmp_path / "ix"), "--json", "--page-size", "2", "--page", "2")
    assert code == 0, out
    res = json.loads(out)
    assert len(res["hits"]) == 2, out[:500]
    assert res["page"] == 2
    evals = tmp_path / "qa.jsonl"
    evals.write_text(json.dumps({"id": "e1", "question": "q", "answer": "a"}) + "\n")
    code, out = _run("contamination", str(dataset_dir), str(evals), "-o", str(tmp_path / "c"), "--json")
    assert code == 0, out
    assert json.loads(out.splitlines()[0])["id"] == "e1"
    code, out = _run("card", str(dataset_dir), "-o", str(tmp_path / "card"))
    assert code == 0, out
    assert (tmp_path / "card" / "croissant.json").exists()
    code, out = _run("card", str(dataset_dir), "-o", str(tmp_path / "card"))
    assert code == 1
    assert "--overwrite" in out
    code, out = _run("compare", str(dataset_dir), str(dataset_dir), "-o", str(tmp_path / "cmp"))
    assert code == 0, out


def test_bad_inputs(dataset_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    cases = [
        (("stats", str(tmp_path / "nope")), "no such file or folder"),
        (("count", "x", "-i", str(tmp_path)), "No n-gram index"),
        (("stats", str(dataset_dir), "--ngrams", "a,b"), "--ngrams"),
        (("contamination", str(dataset_dir), str(tmp_path / "none.jsonl")), "no such eval file"),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q"}) + "\n")
    cases.append((("contamination", str(dataset_dir), str(bad)), "no field 'answer'"))
    assert _run("index", str(dataset_dir), "-o", str(tmp_path / "tix"), "-t", str(tokenizer_dir))[0] == 0
    cases.append((("count", "word " * 1200, "-i", str(tmp_path / "tix")), "at most 1,000 tokens"))
    from tokenizers import Tokenizer, models

    other = tmp_path / "other.json"
    Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")).save(str(other))
    cases.append((("count", "x", "-i", str(tmp_path / "tix"), "-t", str(other)), "built with the tokenizer"))
    for args, msg in cases:
        code, out = _run(*args)
        assert code != 0, args
        assert "Error:" in out, (args, out)
        assert msg in " ".join(out.split()), (args, out)
