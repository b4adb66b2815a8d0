"""One measured training run (a subprocess of ``training.py``): gencommons' loop or transformers.Trainer.

    python bench/_training_driver.py TOOL PACKED PRESET STEPS BATCH OUT

TOOL is one of
  gencommons            `gencommons lm train` as configured by default (precision auto: bf16 on a CPU
                        with native bf16, with eager attention; fp32 elsewhere; `compile: loss`, the
                        cross-entropy compiled)
  gencommons-eager      the same without compiling anything (`compile: false`)
  gencommons-fp32       the default loop in fp32
  gencommons-compile    precision auto plus `compile: true` (torch.compile; its compile time is in the
                        first steps, which are not timed, and in the CPU seconds)
  trainer               a plain transformers.Trainer: default settings (fp32, sdpa attention)
  trainer-bf16          Trainer with bf16=True and the same attention as gencommons
  trainer-bf16-compile  Trainer with bf16=True and torch_compile=True

All train the same LlamaForCausalLM (the preset's config, the same seed-0 initial weights) on the same
packed sequences, with the same optimizer settings (AdamW, lr 1e-3, betas 0.9/0.95, weight decay 0.1,
10 warmup steps then cosine, gradient clipping at 1.0, all cores). Steady-state speed: the median time
per optimizer step over the steps after the first 5 (start-up, compilation, first-touch and allocator
warm-up excluded for all). Prints ``RESULT {json}``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

WARMUP_STEPS_SKIPPED = 5


def main() -> None:
    tool, packed, preset, steps, batch, out = sys.argv[1:7]
    steps_n, batch_n = int(steps), int(batch)
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from gencommons.lm.pack import Packed
    from gencommons.lm.presets import flops_per_token, model_config
    from gencommons.lm.tokenizer import load_tokenizer

    p = Packed(packed)
    tok = load_tokenizer(os.path.join(packed, "..", "tok"))
    mcfg = model_config(
        preset, vocab_size=len(tok), seq_len=p.seq_len, bos=None, eos=tok.eos_token_id, pad=tok.pad_token_id
    )
    tokens_per_step = batch_n * p.seq_len
    from gencommons.lm.train import attention_for, pick_device, pick_precision

    dev = pick_device("cpu")
    precision = pick_precision("auto", dev)
    if tool.startswith("gencommons"):
        precision = "fp32" if tool == "gencommons-fp32" else precision
        times, loss = run_gencommons(
            packed,
            preset,
            steps_n,
            batch_n,
            out,
            precision,
            compile_={"gencommons-compile": True, "gencommons-eager": False}.get(tool, "loss"),
        )
    else:
        precision = "bf16" if "bf16" in tool else "fp32"
        if precision == "bf16":  # the same attention kernel as gencommons uses in bf16
            mcfg._attn_implementation = attention_for(dev, "bf16")
        times, loss = run_trainer(
            p, mcfg, steps_n, batch_n, out, precision, compile_=tool.endswith("compile")
        )
    steady = times[WARMUP_STEPS_SKIPPED:]
    step_s = statistics.median(steady)
    tps = tokens_per_step / step_s
    result = {
        "tool": tool,
        "preset": preset,
        "steps": steps_n,
        "batch": batch_n,
        "seq_len": p.seq_len,
        "step_s_median": step_s,
        "tokens_per_s": tps,
        "flops_per_token": flops_per_token(mcfg, p.seq_len),
        "flops_per_s": tps * flops_per_token(mcfg, p.seq_len),
        "final_loss": loss,
        "threads": torch.get_num_threads(),
        "precision": precision,
    }
    print("RESULT " + json.dumps(result), flush=True)


def run_gencommons(
    packed: str, preset: str, steps: int, batch: int, out: str, precision: str, *, compile_: bool | str
) -> tuple[list[float], float]:
    from gencommons.lm.config import parse_config
    from gencommons.lm.train import read_log, train

    cfg = parse_config(
        {
            "data": packed,
            "out": out,
            "model": {"preset": preset},
            "steps": steps,
            "batch_size": batch,
            "lr": 1e-3,
            "warmup_steps": 10,
            "log_every": 1,  # one record per step: its time is what we measure
            "eval_every": 10**6,
            "eval_tokens": 1,
            "checkpoint_every": 10**6,
            "precision": precision,
            "device": "cpu",
            "compile": compile_,
        }
    )
    train(cfg, progress=False)
    recs = [r for r in read_log(out) if r["event"] == "train"]
    times = [batch * cfg_seq(packed) / r["tokens_per_s"] for r in recs]
    return times, recs[-1]["loss"]


def cfg_seq(packed: str) -> int:
    with open(os.path.join(packed, "index.json")) as fh:
        return int(json.load(fh)["seq_len"])


def run_trainer(
    p: object, mcfg: object, steps: int, batch: int, out: str, precision: str, *, compile_: bool
) -> tuple[list[float], float]:
    import numpy as np
    import torch
    from transformers import LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

    train_arr = p.train  # type: ignore[attr-defined]

    class Sequences(torch.utils.data.Dataset):  # the packed rows, in order, as the Trainer expects
        def __len__(self) -> int:
            return int(train_arr.shape[0])

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            ids = torch.from_numpy(np.asarray(train_arr[i], dtype=np.int64))
            return {"input_ids": ids, "labels": ids}

    times: list[float] = []
    losses: list[float] = []

    class Clock(TrainerCallback):
        """Time between consecutive step ends: data loading, forward, backward, optimizer, callbacks."""

        t = 0.0

        def on_train_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            now = time.perf_counter()
            times.append(now - self.t)
            self.t = now

        def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    torch.manual_seed(0)
    model = LlamaForCausalLM(mcfg)
    args = TrainingArguments(
        output_dir=out,
        per_device_train_batch_size=batch,
        max_steps=steps,
        learning_rate=1e-3,
        adam_beta1=0.9,
        adam_beta2=0.95,
        weight_decay=0.1,
        warmup_steps=10,
        lr_scheduler_type="cosine",
        max_grad_norm=1.0,
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
        bf16=precision == "bf16",
        torch_compile=compile_,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Sequences(), callbacks=[Clock()])
    trainer.train()
    return times, losses[-1] if losses else float("nan")


if __name__ == "__main__":
    main()
