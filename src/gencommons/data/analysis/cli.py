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


_WORKERS_HELP = "Parallel tasks (default 1: in this process; 0: one per CPU)."
_EXECUTOR_HELP = "Where tasks run: local (processes on this machine) or ray."
_ADDRESS_HELP = "Ray cluster address (default: start a local Ray with --workers CPUs)."


def _where(executor: str, workers: int, address: str | None) -> Any:
    from gencommons.data.analysis.parallel import Parallel

    return Parallel(executor=executor, workers=workers or None, address=address)


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
    workers: int = typer.Option(1, "--workers", "-w", min=0, help=_WORKERS_HELP),
    executor: str = typer.Option("local", "--executor", help=_EXECUTOR_HELP),
    ray_address: str = typer.Option(None, "--ray-address", help=_ADDRESS_HELP),
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
        s = compute_stats(dataset, cfg, where=_where(executor, workers, ray_address), progress=update)
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


def index(
    dataset: str = typer.Argument(..., help="The dataset to index (folder, Parquet/JSONL files or a glob)."),
    out: str = typer.Option(None, "--out", "-o", help="Index folder [DATASET/index]."),
    tokenizer: str = typer.Option(
        None, "--tokenizer", "-t", help="HF tokenizer folder: index its token ids. Default: UTF-8 bytes."
    ),
    shard_units: int = typer.Option(2**29, "--shard-units", min=2, help="Units (tokens or bytes) per shard."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing index."),
    workers: int = typer.Option(1, "--workers", "-w", min=0, help=_WORKERS_HELP),
    executor: str = typer.Option("local", "--executor", help=_EXECUTOR_HELP),
    ray_address: str = typer.Option(None, "--ray-address", help=_ADDRESS_HELP),
) -> None:
    """Build a suffix-array index (count, search, longest suffix) over the tokenized or UTF-8 corpus."""
    from gencommons.data.analysis.index import build_index

    with _progress("index", "docs") as update:
        m = build_index(
            dataset,
            out,
            tokenizer=tokenizer,
            shard_units=shard_units,
            overwrite=overwrite,
            where=_where(executor, workers, ray_address),
            progress=update,
        )
    unit = "tokens" if m["mode"] == "tokens" else "bytes"
    err_console.print(
        f"indexed {m['documents']:,} documents, {m['units']:,} {unit} in {len(m['shards'])} shard(s): "
        f"{m['bytes'] / 1e6:,.1f} MB, {m['bytes_per_unit']:.2f} bytes per {unit[:-1]}; "
        f"{m['seconds']:.1f} s ({m['tokenize_seconds']:.1f} s tokenizing"
        f"{', summed over the tasks' if workers != 1 or executor != 'local' else ''}) -> {m['path']}"
    )


def _open_index(index_path: str, tokenizer: str | None, allow_stale: bool) -> Any:
    from gencommons.data.analysis.index import NgramIndex, resolve_index

    ix = NgramIndex(resolve_index(index_path), tokenizer=tokenizer, allow_stale=allow_stale)
    if ix.stale:
        err_console.print(f"[yellow]warning:[/] the index is stale: {ix.stale}.", highlight=False)
    return ix


_STALE_HELP = "Query an index whose dataset changed since it was built."


def _ids(ids: str | None) -> list[int] | None:
    from gencommons.errors import UserError

    if ids is None:
        return None
    try:
        return [int(x) for x in ids.replace(",", " ").split()]
    except ValueError:
        raise UserError(f"--ids: expected token ids like 12,345,6, got {ids!r}.") from None


_INDEX_HELP = "An index folder, or a dataset folder holding one in index/ (env GENCOMMONS_INDEX)."


def count(
    phrase: str = typer.Argument(None, help="The phrase to count (omit with --ids)."),
    index_path: str = typer.Option(..., "--index", "-i", envvar="GENCOMMONS_INDEX", help=_INDEX_HELP),
    ids: str = typer.Option(None, "--ids", help="Query as token ids (comma-separated) instead of a phrase."),
    tokenizer: str = typer.Option(
        None,
        "--tokenizer",
        "-t",
        help="The tokenizer of --ids (bytes index) or checked against a tokens index.",
    ),
    longest: bool = typer.Option(
        False,
        "--longest",
        help="Also the longest suffix that occurs and the next-token distribution (infini-gram).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help=_STALE_HELP),
) -> None:
    """Count the occurrences of a phrase (exact, in milliseconds) in an indexed corpus."""
    import time

    ix = _open_index(index_path, tokenizer, allow_stale)
    units = ix.encode(phrase, ids=_ids(ids))
    t0 = time.perf_counter()
    n = ix.count(units)
    out: dict[str, Any] = {"query": ix._decode(units), "units": len(units), "count": n, "mode": ix.mode}
    out["ms"] = round((time.perf_counter() - t0) * 1e3, 3)
    if longest:
        out["longest_suffix"] = ix.longest_suffix(units)
    if as_json:
        _dump(out)
        return
    console.print(
        f"{n:,} occurrences of {out['query']!r} ({len(units)} {ix.mode}, {out['ms']:.2f} ms)", highlight=False
    )
    if longest:
        ls = out["longest_suffix"]
        console.print(
            f"longest suffix that occurs: {ls['suffix']!r} ({ls['suffix_units']} units, {ls['count']:,} times)",
            highlight=False,
        )
        t = Table("next", "count", "p", title="next unit" + (" (sampled)" if ls["sampled"] else ""))
        for d in ls["next"][:10]:
            t.add_row(repr(d["text"]), f"{d['count']:,}", f"{d['prob']:.3f}")
        console.print(t)


def search(
    phrase: str = typer.Argument(None, help="The phrase to find (omit with --ids)."),
    index_path: str = typer.Option(..., "--index", "-i", envvar="GENCOMMONS_INDEX", help=_INDEX_HELP),
    ids: str = typer.Option(None, "--ids", help="Query as token ids (comma-separated) instead of a phrase."),
    tokenizer: str = typer.Option(None, "--tokenizer", "-t", help="The tokenizer of --ids (see count)."),
    page: int = typer.Option(1, "--page", min=1, help="Page of results (1 = first)."),
    page_size: int = typer.Option(10, "--page-size", min=1, max=1000, help="Matches per page."),
    context: int = typer.Option(30, "--context", min=0, help="Units of context on each side."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    allow_stale: bool = typer.Option(False, "--allow-stale", help=_STALE_HELP),
) -> None:
    """The documents containing a phrase, with context, page by page."""
    import dataclasses

    ix = _open_index(index_path, tokenizer, allow_stale)
    units = ix.encode(phrase, ids=_ids(ids))
    total, hits = ix.search(units, offset=(page - 1) * page_size, limit=page_size, context=context)
    pages = -(-total // page_size)
    if as_json:
        _dump({"total": total, "page": page, "pages": pages, "hits": [dataclasses.asdict(h) for h in hits]})
        return
    console.print(f"{total:,} matches; page {page} of {max(pages, 1)}", highlight=False)
    for h in hits:
        left, right = (x.replace("\n", " ") for x in (h.left, h.right))
        console.print(
            f"[dim]{h.doc_id}@{h.offset}[/]  …{left}[bold yellow]{h.match}[/]{right}…",
            highlight=False,
            markup=True,
        )


def contamination(
    dataset: str = typer.Argument(..., help="The training dataset (folder, Parquet/JSONL files or a glob)."),
    evals: list[str] = typer.Argument(..., help="Eval sets: JSONL(.gz) files, one example per line."),
    fields: str = typer.Option(
        "question,answer", "--fields", help="Record fields joined into an example's text."
    ),
    id_field: str = typer.Option("id", "--id-field", help="Record field with the example id [file:line]."),
    n: int = typer.Option(13, "--n", min=1, help="Words per n-gram."),
    threshold: float = typer.Option(
        0.0, "--threshold", min=0.0, max=1.0, help="Flag examples with more than this share of n-grams found."
    ),
    out: str = typer.Option(
        None, "--out", "-o", help="Folder for contamination.json/.html [DATASET/contamination]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON record per example (id, flag, ...)."),
    workers: int = typer.Option(1, "--workers", "-w", min=0, help=_WORKERS_HELP),
    executor: str = typer.Option("local", "--executor", help=_EXECUTOR_HELP),
    ray_address: str = typer.Option(None, "--ray-address", help=_ADDRESS_HELP),
) -> None:
    """Overlap of evaluation examples with the corpus: per example the n-grams found, the longest
    matching span and the matching documents; per benchmark the contamination rate."""
    from gencommons.data.analysis.contamination import check_contamination, render_contamination
    from gencommons.lineage.atomic import write_bytes_atomic, write_json_atomic

    fs = tuple(f.strip() for f in fields.split(",") if f.strip())
    with _progress("contamination", "docs") as update:
        r = check_contamination(
            dataset,
            evals,
            fields=fs,
            id_field=id_field,
            n=n,
            threshold=threshold,
            where=_where(executor, workers, ray_address),
            progress=update,
        )
    out = out or _default_out(dataset, "contamination")
    os.makedirs(out, exist_ok=True)
    write_json_atomic(os.path.join(out, "contamination.json"), r)
    write_bytes_atomic(os.path.join(out, "contamination.html"), render_contamination(r).encode("utf-8"))
    if as_json:
        for x in r["examples"]:
            typer.echo(json.dumps(x, ensure_ascii=False))
    t = Table("benchmark", "examples", "contaminated", "rate", f"< {n} words")
    for k, v in r["benchmarks"].items():
        t.add_row(
            k, f"{v['examples']:,}", f"{v['contaminated']:,}", f"{v['rate']:.1%}", f"{v['too_short']:,}"
        )
    err_console.print(t)
    err_console.print(f"wrote {out}/contamination.json and .html ({r['seconds']:.1f} s)")


def card(
    dataset: str = typer.Argument(..., help="The dataset (a `gencommons data run` output folder)."),
    out: str = typer.Option(None, "--out", "-o", help="Folder for README.md and croissant.json [DATASET]."),
    name: str = typer.Option(None, "--name", help="The dataset's name on the card [folder name]."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an existing README.md / croissant.json."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=0, help=_WORKERS_HELP),
    executor: str = typer.Option("local", "--executor", help=_EXECUTOR_HELP),
    ray_address: str = typer.Option(None, "--ray-address", help=_ADDRESS_HELP),
) -> None:
    """A Hugging Face dataset card (README.md with YAML metadata) and Croissant JSON-LD metadata, from the
    manifest, the stats and the contamination report."""
    from gencommons.data.analysis.card import build_card
    from gencommons.errors import OutputConflictError
    from gencommons.lineage.atomic import write_bytes_atomic, write_json_atomic

    out = out or (dataset if os.path.isdir(dataset) else _default_out(dataset, "card"))
    paths = [os.path.join(out, "README.md"), os.path.join(out, "croissant.json")]
    if not overwrite and any(os.path.exists(p) for p in paths):
        raise OutputConflictError(
            f"{out} already has a README.md or croissant.json; pass --overwrite to replace them."
        )
    readme, meta = build_card(dataset, name=name, where=_where(executor, workers, ray_address))
    write_bytes_atomic(paths[0], readme.encode("utf-8"))
    write_json_atomic(paths[1], meta)
    err_console.print(f"wrote {paths[0]} and {paths[1]}")


def compare(
    a: str = typer.Argument(..., help="Dataset A (e.g. before a pipeline)."),
    b: str = typer.Argument(..., help="Dataset B (e.g. after)."),
    out: str = typer.Option("compare", "--out", "-o", help="Folder for compare.json and compare.html."),
    tokenizer: str = typer.Option(
        None, "--tokenizer", "-t", help="A Hugging Face tokenizer folder to count tokens."
    ),
    highlight: float = typer.Option(
        0.1, "--highlight", min=0.0, help="Highlight relative changes above this."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=0, help=_WORKERS_HELP),
    executor: str = typer.Option("local", "--executor", help=_EXECUTOR_HELP),
    ray_address: str = typer.Option(None, "--ray-address", help=_ADDRESS_HELP),
) -> None:
    """The statistics of two datasets side by side, differences highlighted (compare.json, compare.html)."""
    from gencommons.data.analysis.compare import compare_stats, render_compare
    from gencommons.data.analysis.stats import StatsConfig, compute_stats
    from gencommons.lineage.atomic import write_bytes_atomic, write_json_atomic

    cfg = StatsConfig(tokenizer=tokenizer)
    stats_ab = []
    for path in (a, b):
        with _progress(f"stats {os.path.basename(os.path.normpath(path))}", "docs") as update:
            stats_ab.append(
                compute_stats(path, cfg, where=_where(executor, workers, ray_address), progress=update)
            )
    sa, sb = stats_ab
    diff = compare_stats(sa, sb, highlight=highlight)
    os.makedirs(out, exist_ok=True)
    write_json_atomic(os.path.join(out, "compare.json"), {"diff": diff, "a": stats_ab[0], "b": stats_ab[1]})
    write_bytes_atomic(os.path.join(out, "compare.html"), render_compare(sa, sb, diff).encode("utf-8"))
    t = Table("", "A", "B", "change")
    for label, d in diff["overview"].items():
        ch = d["change"]
        t.add_row(label, f"{d['a']:,}", f"{d['b']:,}", "—" if ch is None else f"{ch:+.1%}")
    err_console.print(t)
    err_console.print(f"wrote {out}/compare.json and {out}/compare.html")


COMMANDS: list[tuple[str, Callable[..., Any]]] = [
    ("compare", compare),
    ("card", card),
    ("contamination", contamination),
    ("stats", stats),
    ("index", index),
    ("count", count),
    ("search", search),
]


def register(app: typer.Typer) -> None:
    """Mount the analysis commands on the ``gencommons data`` app."""
    for name, fn in COMMANDS:
        app.command(name)(fn)
