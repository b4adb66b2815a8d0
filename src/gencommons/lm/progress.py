"""One rich progress bar for the long ``lm`` commands (off with ``progress=False``, e.g. in tests)."""

from __future__ import annotations

from typing import Any


def progress_bar(*, enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=True,
    )
