"""``gencommons data``: run a pipeline, list the steps, re-apply thresholds to an annotated dataset."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
console = Console()
if not console.is_terminal:  # piped or in CI: a wider page than rich's default 80 columns
    console = Console(width=120)
err_console = Console(stderr=True)


class _Bar:
    """A rich progress bar over tasks with a live documents-per-second figure (TTY only)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tasks · {task.fields[docs]:,} docs · {task.fields[rate]:,.0f} docs/s"),
            TimeElapsedColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
            transient=False,
        )
        self.task: Any = None
        self.n_docs = 0
        self.t0 = time.perf_counter()

    def stage(self, name: str, todo: int, done: int) -> None:
        self.n_docs = 0  # documents read in this stage
        self.task = self.progress.add_task(name, total=todo + done, completed=done, docs=0, rate=0.0)
        self.t0 = time.perf_counter()

    def docs(self, n: int) -> None:
        self.n_docs += n
        if self.task is not None:
            rate = self.n_docs / max(1e-9, time.perf_counter() - self.t0)
            self.progress.update(self.task, docs=self.n_docs, rate=rate)

    def task_done(self, record: dict[str, Any]) -> None:
        if self.task is not None:
            self.progress.advance(self.task)


@app.command()
def run(
    pipeline: str = typer.Argument(
        ..., help="The pipeline YAML (see README: input, steps, output, executor)."
    ),
    workers: int = typer.Option(None, "--workers", "-w", help="Override executor.workers."),
    executor: str = typer.Option(None, "--executor", help="Override executor.kind (local or ray)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output or unfinished work."),
    plan: bool = typer.Option(False, "--plan", help="Only estimate each stage's memory and disk, then stop."),
    force: bool = typer.Option(False, "--force", help="Run even if the estimate says it will not fit."),
) -> None:
    """Run a pipeline YAML (resumes unfinished work in the output folder) and print a summary."""
    from gencommons.data.config import PipelineConfig
    from gencommons.data.pipeline import Pipeline
    from gencommons.errors import InputDataError, UserError

    cfg = PipelineConfig.from_yaml(pipeline)
    if executor:
        cfg = cfg.model_copy(update={"executor": cfg.executor.model_copy(update={"kind": executor})})
    if plan:
        from gencommons.data.resources import format_plan

        console.print(format_plan(Pipeline(cfg).resource_plan(workers=workers)), highlight=False)
        return
    bar = _Bar()
    t0 = time.perf_counter()
    try:
        with bar.progress:
            result = Pipeline(cfg).run(
                overwrite=overwrite, force=force, workers=workers, progress=bar, on_stage=bar.stage
            )
    except InputDataError as e:
        hint = (
            ""
            if cfg.on_error == "quarantine"
            else (
                " Set `on_error: quarantine` in the pipeline to set bad records aside and count them instead."
            )
        )
        raise UserError(
            f"{e}\nNo output was written to {cfg.output.path} (finished tasks are kept, and a rerun "
            f"resumes).{hint}"
        ) from None
    elapsed = time.perf_counter() - t0
    if result.already_complete:
        console.print(
            f"[green]Already complete[/]: {result.output} was made by this exact config "
            "(use --overwrite to run it again)."
        )
    elif result.resumed_tasks:
        console.print(f"Resumed: {result.resumed_tasks} finished tasks were kept from an earlier run.")
    print_summary(result.manifest, result.output, elapsed=None if result.already_complete else elapsed)


def print_summary(m: dict[str, Any], output: str, *, elapsed: float | None) -> None:
    """The one-page summary: per-step table, totals, licences, where things are."""
    t = Table(title="steps", title_justify="left")
    for col, just in (
        ("#", "right"),
        ("step", "left"),
        ("mode", "left"),
        ("in", "right"),
        ("out", "right"),
        ("dropped", "right"),
        ("top reasons / counts", "left"),
        ("s", "right"),
        ("docs/s", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, s in enumerate(m["steps"]):
        dropped = sum(s["dropped"].values())
        top = sorted(s["dropped"].items(), key=lambda kv: -kv[1])[:2]
        notes = [f"{k.split(':', 1)[-1]} {v:,}" for k, v in top] + [
            f"{k} {v:,}" for k, v in s["counts"].items()
        ]
        rate = s["docs_in"] / s["seconds"] if s["seconds"] > 0 else 0
        t.add_row(
            str(i),
            s["name"],
            s["mode"],
            f"{s['docs_in']:,}",
            f"{s['docs_out']:,}",
            f"{dropped:,}",
            "; ".join(notes),
            f"{s['seconds']:.2f}",
            f"{rate:,.0f}",
        )
    console.print(t)
    c = m["counts"]
    line = (
        f"[bold]{c['documents_in']:,}[/] documents in → [bold]{c['documents_out']:,}[/] out "
        f"({len(m['files'])} {m['format']} files), {c['rejected']:,} rejected, {c['quarantined']:,} quarantined"
    )
    if elapsed:
        line += f" in {elapsed:.1f} s ({c['documents_in'] / elapsed:,.0f} docs/s)"
    console.print(line)
    skipped = m.get("skipped_by_reader") or {}
    if skipped:
        console.print(
            "skipped by the readers (not documents): " + ", ".join(f"{k} {v:,}" for k, v in skipped.items())
        )
    lic = m["licenses"]
    top = sorted(lic["output"].items(), key=lambda kv: -kv[1])
    more = f", and {len(top) - 6} more (see manifest.json)" if len(top) > 6 else ""
    console.print("licences out: " + ", ".join(f"{k} {v:,}" for k, v in top[:6]) + more)
    console.print(
        f"output: {output.rstrip('/')}/  (manifest.json, rejected/{', quarantine/' if c['quarantined'] else ''})"
    )
    console.print(f"content id: {m['content_id']}")


@app.command("steps")
def list_steps(
    name: str = typer.Argument(None, help="Show only this step."),
    markdown: bool = typer.Option(False, "--markdown", help="Print Markdown (the README's step reference)."),
) -> None:
    """List every registered step with its parameters and defaults."""
    from gencommons.data.step import steps

    names = [name] if name else steps.names()
    if markdown:
        typer.echo(steps_markdown(names), nl=False)
        return
    for n in names:
        step = steps[n]
        console.print(f"\n[bold cyan]{n}[/] ({step.kind}) — {step.doc.splitlines()[0] if step.doc else ''}")
        if getattr(step, "paper", None):
            console.print(f"  source: {step.paper}")
        t = Table(show_edge=False, box=None, padding=(0, 2))
        t.add_column("parameter")
        t.add_column("default")
        t.add_column("description")
        for pname, field in step.params.model_fields.items():
            default = field.default if field.default_factory is None else field.default_factory()
            t.add_row(pname, repr(default), field.description or "")
        console.print(t)


@app.command("apply-thresholds")
def apply_thresholds_cmd(
    dataset: str = typer.Argument(..., help="A dataset written with some steps in `mode: annotate`."),
    output: str = typer.Argument(..., help="Where to write the filtered dataset."),
    set_: list[str] = typer.Option(
        [], "--set", help="New threshold, e.g. --set gopher_quality.max_mean_word_length=12 (repeatable)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists."),
) -> None:
    """Turn an annotated dataset into a filtered one, using its score columns and (new) thresholds."""
    from gencommons.data.thresholds import apply_thresholds, parse_overrides

    manifest = apply_thresholds(dataset, output, overrides=parse_overrides(set_), overwrite=overwrite)
    print_summary(manifest, output, elapsed=None)


def steps_markdown(names: list[str]) -> str:
    """The step reference as Markdown: one section per step, a table of its parameters."""
    from gencommons.data.step import steps

    out = []
    for n in names:
        step = steps[n]
        doc = " ".join(step.doc.split("\n\n")[0].split()) if step.doc else ""
        out.append(f"#### `{n}` ({step.kind})\n\n{doc}\n")
        if getattr(step, "paper", None):
            out.append(f"Source: {step.paper}\n")
        out.append("| parameter | default | description |\n| --- | --- | --- |")
        for pname, field in step.params.model_fields.items():
            default = field.default if field.default_factory is None else field.default_factory()
            desc = (field.description or "").replace("|", "\\|")
            out.append(f"| `{pname}` | `{default!r}` | {desc} |")
        out.append("")
    return "\n".join(out) + "\n"


from gencommons.data.analysis.cli import register as _register_analysis

_register_analysis(app)  # stats, compare, index, count, search, contamination, card
