"""``gencommons lineage``: print manifests readably."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from gencommons.lineage.manifest import read_manifest

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command()
def show(path: str = typer.Argument(..., help="An artifact folder (or its manifest.json).")) -> None:
    """Print an artifact's manifest: what it is, what went in, how it was made, its licences."""
    m = read_manifest(path)
    console.print(f"[bold]{m['kind']}[/] {path}")
    console.print(f"  content id   {m.get('content_id')}")
    console.print(
        f"  created      {m.get('created_at')} by gencommons {m.get('gencommons_version')}"
        f" (commit {m.get('git_commit') or 'unknown'})"
    )
    counts = m.get("counts") or {}
    if counts:
        console.print("  counts       " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    inputs = m.get("inputs") or []
    if inputs:
        t = Table(title="inputs", title_justify="left", show_edge=False)
        for col in ("path", "documents", "bytes", "sha256"):
            t.add_column(col)
        for i in inputs:
            t.add_row(
                str(i.get("path")),
                f"{i.get('docs', '')}",
                f"{i.get('bytes', '')}",
                str(i.get("sha256") or i.get("content_id", ""))[:23] + "…",
            )
        console.print(t)
    steps = m.get("steps") or []
    if steps:
        t = Table(title="steps", title_justify="left", show_edge=False)
        for col in ("step", "mode", "in", "out", "dropped by reason", "s"):
            t.add_column(col)
        for s in steps:
            reasons = ", ".join(f"{k.split(':', 1)[-1]} {v:,}" for k, v in s.get("dropped", {}).items())
            extra = ", ".join(f"{k} {v:,}" for k, v in s.get("counts", {}).items())
            t.add_row(
                s["name"],
                s.get("mode", ""),
                f"{s['docs_in']:,}",
                f"{s['docs_out']:,}",
                "; ".join(x for x in (reasons, extra) if x),
                f"{s.get('seconds', 0):.2f}",
            )
        console.print(t)
    lic = m.get("licenses") or {}
    if lic:
        console.print("  licences in  " + ", ".join(f"{k} {v:,}" for k, v in lic.get("inputs", {}).items()))
        console.print("  licences out " + ", ".join(f"{k} {v:,}" for k, v in lic.get("output", {}).items()))
        console.print(f"  result       {lic.get('result')}")
