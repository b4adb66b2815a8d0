"""Training checkpoints that survive ``kill -9``: written whole under a temporary name, then renamed.

A checkpoint folder ``step-NNNNNN/`` holds ``model.safetensors``, ``optimizer.pt`` (optimizer,
scheduler and gradient-scaler states), ``state.json`` (step, data position, RNG states) and
``checksums.json`` (sha256 of each file), written last. Loading checks every checksum, so a damaged
checkpoint is an error naming the file, never a silently wrong resume.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from typing import Any

from gencommons.errors import UserError

CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"^step-(\d{6,})$")


def checkpoint_dirs(out: str) -> list[str]:
    """Finished checkpoints of a run, oldest first (temporary folders of a killed save are ignored)."""
    root = os.path.join(out, CHECKPOINTS)
    if not os.path.isdir(root):
        return []
    names = sorted((int(m.group(1)), n) for n in os.listdir(root) if (m := _NAME.match(n)))
    return [os.path.join(root, n) for _, n in names]


def latest_checkpoint(out: str) -> str | None:
    dirs = checkpoint_dirs(out)
    return dirs[-1] if dirs else None


def save_checkpoint(
    out: str, step: int, *, model: Any, opt: Any, sched: Any, scaler: Any, data_position: int, keep: int
) -> str:
    import torch
    from safetensors.torch import save_model

    from gencommons.lineage.atomic import write_json_atomic
    from gencommons.lineage.hashing import file_sha256

    root = os.path.join(out, CHECKPOINTS)
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, f"step-{step:06d}")
    tmp = os.path.join(root, f".tmp-step-{step:06d}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_model(model, os.path.join(tmp, "model.safetensors"))
    torch.save(
        {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "scaler": scaler.state_dict()},
        os.path.join(tmp, "optimizer.pt"),
    )
    rng: dict[str, Any] = {"torch": _b64(torch.get_rng_state())}
    if torch.cuda.is_available():
        rng["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    write_json_atomic(
        os.path.join(tmp, "state.json"), {"step": step, "data_position": data_position, "rng": rng}
    )
    sums = {f: file_sha256(os.path.join(tmp, f)) for f in sorted(os.listdir(tmp))}
    write_json_atomic(os.path.join(tmp, "checksums.json"), sums)
    _fsync_dir(tmp)
    if os.path.exists(final):
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    for old in checkpoint_dirs(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: str, *, model: Any, opt: Any, sched: Any, scaler: Any) -> int:
    """Restore everything from ``path``; returns the step to continue from."""
    import torch
    from safetensors.torch import load_model

    from gencommons.lineage.atomic import read_json
    from gencommons.lineage.hashing import file_sha256

    hint = f"delete {path} to resume from the checkpoint before it, or rerun with --restart"
    sums_path = os.path.join(path, "checksums.json")
    try:
        sums = read_json(sums_path)
    except (OSError, ValueError) as e:
        raise UserError(f"Checkpoint {path} is damaged: {sums_path} unreadable ({e}); {hint}.") from e
    for f, digest in sums.items():
        fp = os.path.join(path, f)
        if not os.path.exists(fp) or file_sha256(fp) != digest:
            raise UserError(
                f"Checkpoint {path} is damaged: {f} is missing or its sha256 does not match; {hint}."
            )
    try:
        load_model(model, os.path.join(path, "model.safetensors"))
        states = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", weights_only=True)
        opt.load_state_dict(states["optimizer"])
        sched.load_state_dict(states["scheduler"])
        scaler.load_state_dict(states["scaler"])
        state = read_json(os.path.join(path, "state.json"))
    except (RuntimeError, KeyError, ValueError, OSError) as e:
        raise UserError(f"Checkpoint {path} does not fit this model/config ({e}); {hint}.") from e
    torch.set_rng_state(_unb64(state["rng"]["torch"]))
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["rng"]["cuda"]])
    return int(state["step"])


def _b64(t: Any) -> str:
    return base64.b64encode(t.numpy().tobytes()).decode()


def _unb64(s: str) -> Any:
    import torch

    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
