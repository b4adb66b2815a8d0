"""Training: a Hugging Face folder that loads as it is, per-source logs, resume after kill -9, bad config."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from tests.lm.conftest import tiny_config

from gencommons.errors import ConfigError, OutputConflictError, UserError
from gencommons.lm.config import load_config, parse_config
from gencommons.lm.train import lr_at, read_log, train


@pytest.fixture(scope="module")
def trained(packed_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "model"
    train(parse_config(tiny_config(packed_dir, out, steps=30, eval_every=10, lr=1e-2)), progress=False)
    return out


def test_result_loads_with_transformers(trained: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(trained)
    tok = AutoTokenizer.from_pretrained(trained)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (trained / "model.safetensors").exists()
    assert not (trained / "checkpoints").exists()
    ids = tok("The manual page", return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] == ids.shape[1] + 5
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all()
    m = json.loads((trained / "manifest.json").read_text())
    assert m["kind"] == "model"
    assert {i["role"] for i in m["inputs"]} == {"training data", "tokenizer"}
    assert m["counts"]["tokens"] == 30 * 4 * 64
    assert set(m["results"]["val_loss_by_source"]) == {"gutenberg", "debian-man"}


def test_log_has_per_source_losses_and_they_fall(trained: Path) -> None:
    log = read_log(str(trained))
    train_recs = [r for r in log if r["event"] == "train"]
    evals = [r for r in log if r["event"] == "eval"]
    assert [r["step"] for r in train_recs] == list(range(2, 31, 2))
    assert [r["step"] for r in evals] == [10, 20, 30]
    assert all(set(r["loss_by_source"]) <= {"gutenberg", "debian-man"} for r in train_recs)
    assert train_recs[-1]["loss"] < train_recs[0]["loss"] - 0.5  # from ~ln(512)=6.2 towards the data
    for s in ("gutenberg", "debian-man"):
        assert evals[-1]["val_loss_by_source"][s] < evals[0]["val_loss_by_source"][s]
    png = (trained / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 5000


@given(steps=st.integers(1, 500), warmup=st.integers(0, 50), floor=st.floats(0, 1))
def test_schedule(steps: int, warmup: int, floor: float) -> None:
    cfg = parse_config(
        {"data": "d", "out": "o", "steps": steps, "warmup_steps": warmup, "min_lr_ratio": floor}
    )
    lrs = [lr_at(s, cfg) for s in range(steps)]
    w = min(warmup, steps)
    assert lrs[:w] == pytest.approx([(s + 1) / warmup for s in range(w)])
    assert all(floor - 1e-12 <= x <= 1 + 1e-12 for x in lrs[w:])
    assert all(a < b for a, b in itertools.pairwise(lrs[:w]))  # warmup rises
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(lrs[w:]))  # then decays


def test_bad_configs(packed_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'stepz'.*allowed: data, out"):
        parse_config({**tiny_config(packed_dir, tmp_path / "o"), "stepz": 3})
    with pytest.raises(ConfigError, match=r"unknown key 'model.layers'"):
        parse_config({**tiny_config(packed_dir, tmp_path / "o"), "model": {"layers": 3}})
    with pytest.raises(ConfigError, match="steps: Input should be greater than or equal to 1"):
        parse_config({**tiny_config(packed_dir, tmp_path / "o"), "steps": 0})
    too_long = tiny_config(packed_dir, tmp_path / "o")
    too_long["model"] = {"preset": "1m", "overrides": {"max_position_embeddings": 32}}
    with pytest.raises(ConfigError, match="64 tokens but the model allows at most 32"):
        train(parse_config(too_long), progress=False)
    with pytest.raises(ConfigError, match="not a preset; choose one of: 1m, 3m"):
        train(
            parse_config({**tiny_config(packed_dir, tmp_path / "o"), "model": {"preset": "7b"}}),
            progress=False,
        )
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        train(
            parse_config({**tiny_config(packed_dir, tmp_path / "o"), "precision": "fp16", "device": "cpu"}),
            progress=False,
        )
    with pytest.raises(UserError, match="not a packed dataset"):
        train(parse_config(tiny_config(tmp_path, tmp_path / "o")), progress=False)
    assert not (tmp_path / "o").exists()  # nothing written for a config that cannot run
    (tmp_path / "c.yaml").write_text("steps: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(tmp_path / "c.yaml"))


def test_output_folder_rules(trained: Path, packed_dir: Path, tmp_path: Path) -> None:
    cfg = parse_config(tiny_config(packed_dir, trained, steps=30, eval_every=10, lr=1e-2))
    with pytest.raises(OutputConflictError, match="finished run"):
        train(cfg, progress=False)
    with pytest.raises(OutputConflictError, match=r"different config.*steps"):
        train(
            parse_config(tiny_config(packed_dir, trained, steps=31, eval_every=10, lr=1e-2)), progress=False
        )
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(OutputConflictError, match="not a gencommons training run"):
        train(parse_config(tiny_config(packed_dir, other)), progress=False)


def _write_yaml(path: Path, cfg: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_kill_9_then_resume_matches_uninterrupted(packed_dir: Path, tmp_path: Path) -> None:
    kw = {"steps": 120, "checkpoint_every": 10, "eval_every": 40, "log_every": 5, "keep_checkpoints": 2}
    ref = tmp_path / "ref"
    train(parse_config(tiny_config(packed_dir, ref, **kw)), progress=False)

    out = tmp_path / "killed"
    cfg = _write_yaml(tmp_path / "train.yaml", tiny_config(packed_dir, out, **kw))
    cmd = [sys.executable, "-m", "gencommons.cli", "lm", "train", str(cfg)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = out / "checkpoints" / "step-000030"
    deadline = time.monotonic() + 120
    while not target.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the run finished before the kill; the test proves nothing"
    steps_done = max(r.get("step", 0) for r in read_log(str(out)))
    assert steps_done < 120

    # a damaged newest checkpoint is an error naming it, not a silent wrong resume
    newest = max((out / "checkpoints").glob("step-*"))
    opt = newest / "optimizer.pt"
    opt.write_bytes(opt.read_bytes()[:-7] + b"garbage")
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert res.returncode == 1, res.stderr
    assert f"Checkpoint {newest} is damaged" in res.stderr
    assert "Traceback" not in res.stderr
    import shutil

    shutil.rmtree(newest)  # as the message says: resume from the one before
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr

    got, want = read_log(str(out)), read_log(str(ref))
    assert [(r["event"], r.get("step")) for r in got] == [(r["event"], r.get("step")) for r in want]
    for a, b in zip(got, want, strict=True):
        if a["event"] == "train":
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6)
            assert a["lr"] == pytest.approx(b["lr"])
            for s in b["loss_by_source"]:
                assert a["loss_by_source"][s] == pytest.approx(b["loss_by_source"][s], rel=1e-5)
        if a["event"] == "eval":
            for s in b["val_loss_by_source"]:
                assert a["val_loss_by_source"][s] == pytest.approx(b["val_loss_by_source"][s], rel=1e-5)
    from safetensors.torch import load_file

    wa, wb = load_file(out / "model.safetensors"), load_file(ref / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert (wa[k] - wb[k]).abs().max() < 1e-4, k
