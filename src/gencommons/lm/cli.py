"""``gencommons lm``: train tokenizers, pack datasets, train and evaluate small language models.

Heavy imports (torch, transformers) happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import math
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
tokenizer_app = typer.Typer(no_args_is_help=True)
app.add_typer(tokenizer_app, name="tokenizer", help="Train byte-level BPE tokenizers (Hugging Face format).")
console = Console()
if not console.is_terminal:
    console = Console(width=120)
err_console = Console(stderr=True)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


@tokenizer_app.command("train")
def tokenizer_train(
    dataset: str = typer.Argument(
        ..., help="A curated dataset (`gencommons data run` output) or Parquet/JSONL files."
    ),
    out: str = typer.Option(..., "--out", "-o", help="The tokenizer folder to write (Hugging Face format)."),
    vocab_size: int = typer.Option(8192, "--vocab-size", help="Vocabulary size, special tokens included."),
    min_frequency: int = typer.Option(2, "--min-frequency", help="A merge must occur at least this often."),
    text_field: str = typer.Option("text", "--text-field", help="The column holding the text."),
    max_documents: int = typer.Option(None, "--max-documents", help="Train on the first N documents only."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Train a byte-level BPE tokenizer; AutoTokenizer.from_pretrained(OUT) loads it."""
    from gencommons.lm.tokenizer import train_tokenizer

    _quiet_transformers()
    m = train_tokenizer(
        dataset,
        out,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        text_field=text_field,
        max_documents=max_documents,
        overwrite=overwrite,
    )
    c = m["counts"]
    console.print(
        f"Tokenizer: {c['vocab_size']:,} tokens from {c['documents']:,} documents "
        f"({c['characters']:,} characters) -> {out}",
        highlight=False,
    )
    if c["vocab_size"] < vocab_size:
        console.print(
            f"[yellow]Only {c['vocab_size']:,} of the {vocab_size:,} asked: the data has no more merges "
            f"occurring {min_frequency}+ times.[/]"
        )


@app.command()
def pack(
    datasets: list[str] = typer.Argument(
        ..., help="Datasets to pack: PATH (sources from its `source` column) or NAME=PATH (one source)."
    ),
    out: str = typer.Option(..., "--out", "-o", help="The packed folder to write."),
    tokenizer: str = typer.Option(..., "--tokenizer", "-t", help="A tokenizer folder."),
    weight: list[str] = typer.Option(
        [],
        "--weight",
        "-w",
        help="Mixture weight per source, NAME=W (repeat, or comma-separate). Default: as is.",
    ),
    seq_len: int = typer.Option(512, "--seq-len", help="Tokens per training sequence."),
    tokens: int = typer.Option(
        None, "--tokens", help="Training tokens in total (default: no source repeated)."
    ),
    val_fraction: float = typer.Option(
        0.01, "--val-fraction", help="Share of each source's documents held out."
    ),
    seed: int = typer.Option(0, "--seed", help="Shuffling seed."),
    text_field: str = typer.Option("text", "--text-field", help="The column holding the text."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Tokenize datasets and pack them into fixed-length sequences with mixture weights per source."""
    from gencommons.lm.pack import pack as do_pack
    from gencommons.lm.pack import parse_weights

    _quiet_transformers()
    index = do_pack(
        datasets,
        out,
        tokenizer=tokenizer,
        weights=parse_weights(weight) or None,
        seq_len=seq_len,
        tokens=tokens,
        val_fraction=val_fraction,
        seed=seed,
        text_field=text_field,
        overwrite=overwrite,
        progress=err_console.is_terminal,
    )
    t = Table(
        title=f"Packed {index['train']['sequences']:,} sequences of {seq_len} tokens -> {out}",
        title_justify="left",
    )
    for col in ("source", "weight", "tokens asked", "tokens packed", "available", "epochs", "val tokens"):
        t.add_column(col, justify="left" if col == "source" else "right")
    for name, s in index["sources"].items():
        t.add_row(
            name,
            f"{s['weight']:.3f}",
            f"{s['tokens_asked']:,}",
            f"{s['tokens_packed']:,}",
            f"{s['tokens_available']:,}",
            f"{s['epochs']:.2f}",
            f"{s['val']['tokens']:,}",
        )
    console.print(t)


@app.command("train")
def train_cmd(
    config: str = typer.Argument(..., help="The training YAML (see `gencommons lm presets` and the README)."),
    steps: int = typer.Option(None, "--steps", help="Override steps."),
    device: str = typer.Option(None, "--device", help="Override device (auto, cpu, cuda)."),
    restart: bool = typer.Option(False, "--restart", help="Discard checkpoints in `out` and start over."),
) -> None:
    """Train (or resume) a small Llama-style model; the result is a Hugging Face folder."""
    from gencommons.lm.config import load_config
    from gencommons.lm.train import train

    _quiet_transformers()
    cfg = load_config(config, steps=steps, device=device)
    m = train(cfg, progress=err_console.is_terminal, restart=restart)
    c = m["counts"]
    val = m["results"]["val_loss_by_source"]
    console.print(
        f"Trained {c['parameters']:,} parameters for {c['steps']:,} steps ({c['tokens']:,} tokens) on "
        f"{m['device']} ({m['precision']}) -> {cfg.out}",
        highlight=False,
    )
    if val:
        console.print(
            "Validation loss: " + ", ".join(f"{k} {v:.3f}" for k, v in val.items()), highlight=False
        )
    console.print(f"Loss curves: {cfg.out}/loss.png · log: {cfg.out}/log.jsonl", highlight=False)


@app.command("eval")
def eval_cmd(
    model: str = typer.Argument(..., help="A Hugging Face model folder."),
    dataset: str = typer.Argument(..., help="A packed folder (its validation split) or a curated dataset."),
    batch_size: int = typer.Option(8, "--batch-size", help="Windows per forward pass."),
    max_documents: int = typer.Option(
        None, "--max-documents", help="Curated dataset: the first N documents."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    out: str = typer.Option(None, "--out", "-o", help="Also write the JSON (with a manifest) to this file."),
) -> None:
    """Per-source loss, perplexity and bits per byte on held-out data."""
    from gencommons.lm.evaluate import evaluate

    _quiet_transformers()
    res = evaluate(model, dataset, batch_size=batch_size, max_documents=max_documents, device=device)
    if out:
        _write_eval(out, res, model, dataset)
    if as_json:
        typer.echo(json.dumps(_jsonable(res), indent=2))
        return
    t = Table(title=f"{model} on {dataset} (context {res['context']})", title_justify="left")
    for col in ("source", "tokens", "bytes", "loss", "perplexity", "bits/byte"):
        t.add_column(col, justify="left" if col == "source" else "right")
    for name, r in [*res["sources"].items(), ("all", res["all"])]:
        t.add_row(
            name,
            f"{r['tokens']:,}",
            f"{r['bytes']:,}",
            f"{r['loss']:.4f}",
            f"{r['perplexity']:.2f}",
            f"{r['bits_per_byte']:.4f}",
        )
    console.print(t)


@app.command()
def presets() -> None:
    """List the model presets (Llama-style) with their sizes."""
    from gencommons.lm.presets import PRESETS

    t = Table(
        title="Model presets (non-embedding parameters; the embedding adds vocab × hidden)",
        title_justify="left",
    )
    for col in ("preset", "hidden", "layers", "heads", "mlp"):
        t.add_column(col)
    for name, p in PRESETS.items():
        t.add_row(
            name,
            str(p["hidden_size"]),
            str(p["num_hidden_layers"]),
            str(p["num_attention_heads"]),
            str(p["intermediate_size"]),
        )
    console.print(t)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


def _write_eval(out: str, res: dict[str, Any], model: str, dataset: str) -> None:
    from gencommons.errors import UserError
    from gencommons.lineage.atomic import write_json_atomic
    from gencommons.lineage.manifest import new_manifest, read_manifest

    def cid(path: str) -> str | None:
        try:
            return read_manifest(path).get("content_id")
        except UserError:
            return None

    write_json_atomic(
        out,
        new_manifest(
            "eval",
            inputs=[
                {"path": res["model"], "content_id": cid(model), "role": "model"},
                {"path": res["dataset"], "content_id": cid(dataset), "role": "data"},
            ],
            results=_jsonable(res),
        ),
    )
