"""``gencommons serve MODEL``: the OpenAI-compatible server (filled in by the serve module)."""

from __future__ import annotations

import typer


def serve(model: str = typer.Argument(..., help="A local Hugging Face model folder.")) -> None:
    """Serve MODEL over the OpenAI API (/v1/models, /v1/completions, /v1/chat/completions)."""
    raise typer.Exit(2)
