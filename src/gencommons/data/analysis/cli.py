"""``gencommons data stats | compare | index | count | search | contamination | card``: know your data.

``register(app)`` adds these commands to the ``gencommons data`` typer app. Heavy modules are imported
inside the commands, so ``gencommons --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def _progress(description: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (TTY only); yields ``update(done, total)`` (total 0 = unknown)."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total or None)

    with bar:
        yield update


def _dump(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def stats(
    dataset: str = typer.Argument(
        ..., help="A `gencommons data run` output folder, Parquet/JSONL files or a glob."
    ),
    out: str = typer.Option(
        None, "--out", "-o", help="Folder for stats.json and report.html [DATASET/stats]."
    ),
    tokenizer: str = typer.Option(
        None, "--tokenizer", "-t", help="A Hugging Face tokenizer folder to count tokens."
    ),
    ngrams: str = typer.Option("1,2,3", "--ngrams", help="Sizes of the top word n-grams, comma-separated."),
    top_k: int = typer.Option(
        2000, "--top-k", min=10, help="Counters per top-items sketch (more = exact longer)."
    ),
    sample_ngrams: int = typer.Option(
        1, "--sample-ngrams", min=1, help="Count n-grams in every k-th batch only."
    ),
    as_json: bool = typer.Option(False, "--json", help="Also print the stats as JSON on stdout."),
) -> None:
    """Statistics of a dataset (sizes, lengths, languages, sources, licences, domains, scores, duplicates,
    top n-grams) in one streaming pass, written as stats.json and a self-contained report.html."""
    from gencommons.data.analysis.report import write_report
    from gencommons.data.analysis.stats import StatsConfig, compute_stats
    from gencommons.errors import UserError

    try:
        sizes = tuple(int(x) for x in ngrams.split(",") if x.strip())
    except ValueError:
        raise UserError(f"--ngrams: expected sizes like 1,2,3, got {ngrams!r}.") from None
    if any(n < 1 for n in sizes):
        raise UserError("--ngrams: sizes must be >= 1.")
    cfg = StatsConfig(tokenizer=tokenizer, ngram_sizes=sizes, top_k=top_k, sample_ngrams=sample_ngrams)
    with _progress("stats", "docs") as update:
        s = compute_stats(dataset, cfg, progress=update)
    out = out or _default_out(dataset, "stats")
    j, h = write_report(s, out)
    if as_json:
        _dump(s)
    t = Table(show_header=False, box=None)
    from gencommons.data.analysis.report import overview_rows

    for k, v in overview_rows(s):
        t.add_row(k, f"{v:,}")
    err_console.print(t)
    if not s["has_manifest"]:
        err_console.print(
            "[yellow]No manifest.json[/]: pipeline steps, input licences and duplicate rates unknown."
        )
    err_console.print(f"wrote {j} and {h} ({s['seconds']:.1f} s)")


def _default_out(dataset: str, name: str) -> str:
    """``DATASET/<name>`` for a folder, ``<file>.<name>`` next to a file or a glob's folder."""
    if os.path.isdir(dataset):
        return os.path.join(dataset, name)
    base = (
        dataset if not any(c in dataset for c in "*?[") else os.path.join(os.path.dirname(dataset), "dataset")
    )
    return f"{base}.{name}"


COMMANDS: list[tuple[str, Callable[..., Any]]] = [("stats", stats)]


def register(app: typer.Typer) -> None:
    """Mount the analysis commands on the ``gencommons data`` app."""
    for name, fn in COMMANDS:
        app.command(name)(fn)
