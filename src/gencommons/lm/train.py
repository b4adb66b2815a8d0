"""The training loop: a plain, short loop over packed sequences (no Trainer).

AdamW (no weight decay on norms), linear warmup then cosine decay to ``min_lr_ratio × lr``, gradient
accumulation, gradient clipping, bf16/fp16 autocast where the device has it (fp16 with a gradient
scaler). Every ``log_every`` steps a JSON line goes to ``<out>/log.jsonl`` with the training loss per
source; every ``eval_every`` steps the validation loss per source; ``<out>/loss.png`` draws both.

Resuming: checkpoints (``<out>/checkpoints/step-NNNNNN/``: weights, optimizer, scheduler, gradient
scaler, RNG states and the data position, with sha256 checksums) are written to a temporary folder and
renamed into place, so a ``kill -9`` leaves either the old or the new checkpoint, never half of one.
A rerun of the same command resumes from the newest checkpoint, truncates the log to it, and reaches
the same losses as an uninterrupted run: the data order is a pure function of the step (sequence
``(step × grad_accum + micro) × batch_size`` onwards of the shuffled packed data).

The result, written when the last step is done, is a Hugging Face folder: ``config.json``,
``model.safetensors``, the tokenizer files, ``manifest.json`` (written last).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from gencommons.errors import ConfigError, OutputConflictError, UserError
from gencommons.lm.config import TrainConfig
from gencommons.lm.progress import progress_bar

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"
LOG = "log.jsonl"
RUN_CONFIG = "train_config.json"


def pick_device(name: str) -> Any:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"device {name!r}: {e}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: no CUDA GPU here; use device: auto or cpu.")
    return dev


def pick_precision(precision: str, device: Any) -> str:
    """``auto``: bf16 on a GPU that has it, else fp16 on a GPU; on a CPU, bf16 when it computes bf16
    natively (AVX512-BF16 or AMX: 1.4-1.8x the fp32 tokens/s measured in bench/training.py), else fp32
    (emulated bf16 is slower than fp32)."""
    import torch

    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ConfigError("precision fp16 needs a GPU; use fp32 or bf16 on CPU.")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cpu_has_bf16():
        return "bf16"
    return "fp32"


def cpu_has_bf16() -> bool:
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private but stable since 2.2
    return any(bool(getattr(torch.cpu, p, lambda: False)()) for p in probes)


def attention_for(device: Any, precision: str) -> str:
    """PyTorch's fused attention (sdpa) has no fast bf16 kernel on CPU: the plain ("eager") attention
    is about 1.5x faster there in bf16 (measured, bench/training.py) and equal in fp32."""
    return "eager" if device.type == "cpu" and precision == "bf16" else "sdpa"


def autocast(precision: str, device: Any) -> AbstractContextManager[Any]:
    import torch

    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warmup, cosine to ``min_lr_ratio``."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def batch_at(train: np.ndarray, position: int, batch_size: int) -> np.ndarray:
    """``batch_size`` sequences from ``position`` on, wrapping around the data (a new epoch)."""
    n = train.shape[0]
    idx = (np.arange(position, position + batch_size) % n) if position + batch_size > n else None
    rows = train[idx] if idx is not None else train[position % n : position % n + batch_size]
    return np.asarray(rows, dtype=np.int64)


def token_losses(logits: Any, ids: Any) -> Any:
    """Mean next-token loss of each row (float32, shape [batch]) from the logits of ``ids``."""
    import torch.nn.functional as F

    b, t, v = logits.shape
    # shift the labels, not the logits: slicing [batch, seq, vocab] logits would copy all of them
    labels = F.pad(ids[:, 1:], (0, 1), value=-100)
    loss = F.cross_entropy(
        logits.float().view(-1, v), labels.reshape(-1), reduction="none", ignore_index=-100
    )
    return loss.view(b, t).sum(dim=1) / (t - 1)


def row_losses(model: Any, ids: Any) -> Any:
    """Mean next-token loss of each row of ``ids`` (float32), shape [batch]."""
    return token_losses(model(input_ids=ids).logits, ids)


def loss_function(*, mode: bool | str) -> Callable[[Any, Any], Any]:
    """``(model, ids) -> row losses``, compiled as configured: ``"loss"`` (the default) compiles only the
    cross-entropy over the [batch, seq, vocab] logits — for small models it costs as much as the model,
    fusing its upcast, log-softmax and gather took the 1m preset from ~9.8k to ~18.5k tokens/s on this
    CPU in bf16, and compiling it takes ~3 s —; ``True`` compiles the model as well (longer to compile);
    ``False`` runs eagerly. Without a working compiler (none installed, an unsupported platform) the
    first call falls back to eager with a warning."""
    import torch

    if mode is False:
        return row_losses
    # a fresh, shape-specialised compilation per run: kernels compiled earlier in the same process (other
    # shapes, dynamic dims) round differently, and a resumed run must reproduce an uninterrupted one
    torch._dynamo.reset()
    compiled_model_loss = torch.compile(row_losses, dynamic=False) if mode is True else None
    compiled_head = torch.compile(token_losses, dynamic=False) if mode == "loss" else None
    state = {"eager": False}

    def losses(model: Any, ids: Any) -> Any:
        if state["eager"]:
            return row_losses(model, ids)
        try:
            if compiled_model_loss is not None:
                return compiled_model_loss(model, ids)
            assert compiled_head is not None
            return compiled_head(model(input_ids=ids).logits, ids)
        except Exception as e:  # noqa: BLE001 - torch.compile raises many kinds when it cannot compile
            log.warning("torch.compile failed (%s); training without compiling", str(e).splitlines()[0][:200])
            state["eager"] = True
            return row_losses(model, ids)

    return losses


def train(cfg: TrainConfig, *, progress: bool = True, restart: bool = False) -> dict[str, Any]:
    """Run (or resume) ``cfg``; returns the final manifest."""
    import torch

    from gencommons.lm.evaluate import stream_loss
    from gencommons.lm.pack import Packed
    from gencommons.lm.presets import count_parameters, flops_per_token, model_config
    from gencommons.lm.tokenizer import load_tokenizer

    packed = Packed(cfg.data)
    tok_path = cfg.tokenizer or _tokenizer_of(cfg.data)
    tok = load_tokenizer(tok_path)
    if len(tok) > packed.index["vocab_size"]:
        raise ConfigError(
            f"tokenizer {tok_path} has {len(tok)} tokens but {cfg.data} was packed with "
            f"{packed.index['vocab_size']}: pack with the same tokenizer."
        )
    seq_len = packed.seq_len
    mcfg = model_config(
        cfg.model.preset,
        vocab_size=len(tok),
        seq_len=seq_len,
        bos=tok.bos_token_id,
        eos=tok.eos_token_id,
        pad=tok.pad_token_id,
        overrides=cfg.model.overrides,
    )
    device = pick_device(cfg.device)
    precision = pick_precision(cfg.precision, device)
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)

    _claim_out(cfg, restart=restart)
    torch.manual_seed(cfg.seed)
    from transformers import LlamaForCausalLM

    mcfg._attn_implementation = attention_for(device, precision)
    model = LlamaForCausalLM(mcfg).to(device)
    params = count_parameters(model)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=cfg.betas,
        fused=device.type == "cuda",
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    from gencommons.lm.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    start = 0
    ckpt = latest_checkpoint(cfg.out)
    if ckpt is not None:
        start = load_checkpoint(ckpt, model=model, opt=opt, sched=sched, scaler=scaler)
        _truncate_log(os.path.join(cfg.out, LOG), start)
    losses = loss_function(mode=cfg.compile)

    fpt = flops_per_token(mcfg, seq_len)
    sources = packed.sources
    src_ids = torch.from_numpy(packed.train_source.astype(np.int64))
    log_path = os.path.join(cfg.out, LOG)
    tokens_per_step = cfg.batch_size * cfg.grad_accum * seq_len
    sums = torch.zeros(len(sources), dtype=torch.float64)
    counts = torch.zeros(len(sources), dtype=torch.float64)
    t_last, steps_since = time.perf_counter(), 0
    bar = progress_bar(enabled=progress)
    with bar, open(log_path, "a", encoding="utf-8") as log:
        task = bar.add_task("training", total=cfg.steps, completed=start)
        if start == 0:
            _write(
                log, {"event": "start", "parameters": params, "device": str(device), "precision": precision}
            )
        for step in range(start, cfg.steps):
            model.train()
            total = 0.0
            for micro in range(cfg.grad_accum):
                pos = (step * cfg.grad_accum + micro) * cfg.batch_size
                ids = torch.from_numpy(batch_at(packed.train, pos, cfg.batch_size)).to(device)
                with autocast(precision, device):
                    rows = losses(model, ids)
                loss = rows.mean() / cfg.grad_accum
                scaler.scale(loss).backward()
                total += float(loss.detach())
                which = src_ids[(np.arange(pos, pos + cfg.batch_size) % len(src_ids))]
                sums.index_add_(0, which, rows.detach().double().cpu())
                counts.index_add_(0, which, torch.ones(cfg.batch_size, dtype=torch.float64))
            if not math.isfinite(total):
                raise UserError(
                    f"The training loss became {total} at step {step + 1}; lower lr ({cfg.lr}) or use fp32/bf16."
                )
            scaler.unscale_(opt)
            grad_norm = (
                float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
                if cfg.grad_clip
                else None
            )
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            sched.step()
            steps_since += 1
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                dt = time.perf_counter() - t_last
                tps = steps_since * tokens_per_step / dt if dt > 0 else 0.0
                by_source = {s: float(sums[i] / counts[i]) for i, s in enumerate(sources) if counts[i] > 0}
                _write(
                    log,
                    {
                        "event": "train",
                        "step": done,
                        "tokens": done * tokens_per_step,
                        "loss": total,
                        "loss_by_source": by_source,
                        "lr": sched.get_last_lr()[0],
                        "grad_norm": grad_norm,
                        "tokens_per_s": tps,
                        "flops_per_s": tps * fpt,
                    },
                )
                sums.zero_()
                counts.zero_()
                t_last, steps_since = time.perf_counter(), 0
            if done % cfg.eval_every == 0 or done == cfg.steps:
                model.eval()
                val = {}
                for s in sources:
                    nll, n = stream_loss(
                        model,
                        packed.val(s),
                        seq_len,
                        cfg.batch_size,
                        device,
                        precision,
                        max_tokens=cfg.eval_tokens,
                    )
                    if n:
                        val[s] = nll / n
                _write(log, {"event": "eval", "step": done, "val_loss_by_source": val})
                t_last = time.perf_counter()
            if done % cfg.checkpoint_every == 0 and done < cfg.steps:
                log.flush()
                save_checkpoint(
                    cfg.out,
                    done,
                    model=model,
                    opt=opt,
                    sched=sched,
                    scaler=scaler,
                    data_position=done * cfg.grad_accum * cfg.batch_size,
                    keep=cfg.keep_checkpoints,
                )
                t_last = time.perf_counter()
            bar.update(task, completed=done)
    return _finish(cfg, model, tok, tok_path, params, precision, device, seq_len)


def _write(log: Any, record: dict[str, Any]) -> None:
    log.write(json.dumps(record) + "\n")
    log.flush()


def _tokenizer_of(data: str) -> str:
    from gencommons.lineage.manifest import read_manifest

    for inp in read_manifest(data).get("inputs", []):
        if inp.get("role") == "tokenizer":
            return str(inp["path"])
    raise ConfigError(f"{data}: the packed data does not name its tokenizer; set `tokenizer:` in the config.")


def _claim_out(cfg: TrainConfig, *, restart: bool) -> None:
    """``out`` is new, or holds a run of the same config (resume), or ``restart`` clears it."""
    from gencommons.lineage.atomic import read_json, write_json_atomic

    run_cfg = os.path.join(cfg.out, RUN_CONFIG)
    mine = cfg.model_dump(mode="json")
    if os.path.isdir(cfg.out) and os.listdir(cfg.out):
        if not os.path.exists(run_cfg):
            raise OutputConflictError(
                f"{cfg.out} exists and is not a gencommons training run; choose another out."
            )
        if restart:
            shutil.rmtree(cfg.out)
        else:
            old = read_json(run_cfg)
            changed = sorted(
                k
                for k in set(old) | set(mine)
                if old.get(k) != mine.get(k) and k not in ("device", "threads")
            )
            if changed:
                raise OutputConflictError(
                    f"{cfg.out} holds a run with a different config ({', '.join(changed)} changed); "
                    "rerun with --restart to start over, or choose another out."
                )
            if os.path.exists(os.path.join(cfg.out, "manifest.json")):
                raise OutputConflictError(f"{cfg.out} is a finished run; --restart trains it again.")
    os.makedirs(cfg.out, exist_ok=True)
    write_json_atomic(run_cfg, mine)


def _truncate_log(path: str, step: int) -> None:
    """Keep the log's records up to ``step`` (the checkpoint resumed from)."""
    from gencommons.lineage.atomic import write_bytes_atomic

    if not os.path.exists(path):
        return
    keep = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                break  # a line cut by the kill
            if rec.get("step", 0) <= step:
                keep.append(line if line.endswith("\n") else line + "\n")
    write_bytes_atomic(path, "".join(keep).encode())


def read_log(out: str) -> list[dict[str, Any]]:
    with open(os.path.join(out, LOG), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _finish(
    cfg: TrainConfig,
    model: Any,
    tok: Any,
    tok_path: str,
    params: dict[str, int],
    precision: str,
    device: Any,
    seq_len: int,
) -> dict[str, Any]:
    from gencommons.lineage.atomic import atomic_dir
    from gencommons.lineage.hashing import content_id, file_sha256
    from gencommons.lineage.manifest import new_manifest, read_manifest, write_manifest
    from gencommons.lm.plots import plot_losses

    records = read_log(cfg.out)
    plot_losses(records, os.path.join(cfg.out, "loss.png"))
    staging = os.path.join(cfg.out, ".final")
    with atomic_dir(staging, overwrite=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    for f in os.listdir(staging):
        os.replace(os.path.join(staging, f), os.path.join(cfg.out, f))
    os.rmdir(staging)
    shutil.rmtree(os.path.join(cfg.out, CHECKPOINTS), ignore_errors=True)
    files = [
        (f, file_sha256(os.path.join(cfg.out, f)))
        for f in sorted(os.listdir(cfg.out))
        if os.path.isfile(os.path.join(cfg.out, f)) and f != "manifest.json"
    ]
    data_manifest = read_manifest(cfg.data)
    evals = [r for r in records if r.get("event") == "eval"]
    manifest = new_manifest(
        "model",
        content_id=content_id(files),
        inputs=[
            {
                "path": os.path.abspath(cfg.data),
                "content_id": data_manifest.get("content_id"),
                "role": "training data",
            },
            {
                "path": os.path.abspath(tok_path),
                "content_id": _content_id_or_none(tok_path),
                "role": "tokenizer",
            },
        ],
        config=cfg.model_dump(mode="json"),
        counts={
            "parameters": params["total"],
            "non_embedding_parameters": params["non_embedding"],
            "steps": cfg.steps,
            "tokens": cfg.steps * cfg.batch_size * cfg.grad_accum * seq_len,
        },
        results={"val_loss_by_source": evals[-1]["val_loss_by_source"] if evals else {}},
        precision=precision,
        device=str(device),
        licenses=data_manifest.get("licenses", {}),
        files=[{"path": f, "sha256": h} for f, h in files],
    )
    write_manifest(cfg.out, manifest)
    return manifest


def _content_id_or_none(path: str) -> str | None:
    from gencommons.lineage.manifest import read_manifest

    try:
        return read_manifest(path).get("content_id")
    except UserError:
        return None
