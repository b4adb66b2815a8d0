"""Loss curves from a training log: training loss per source (thin) and validation loss per source."""

from __future__ import annotations

import os
from typing import Any


def plot_losses(records: list[dict[str, Any]], path: str) -> str | None:
    """Draw ``log.jsonl`` records to a PNG at ``path`` (atomically); None when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gencommons.lineage.atomic import write_bytes_atomic

    train = [r for r in records if r.get("event") == "train"]
    evals = [r for r in records if r.get("event") == "eval"]
    if not train and not evals:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    sources = sorted(
        {s for r in train for s in r.get("loss_by_source", {})}
        | {s for r in evals for s in r.get("val_loss_by_source", {})}
    )
    colors = {s: f"C{i % 10}" for i, s in enumerate(sources)}
    for s in sources:
        pts = [(r["step"], r["loss_by_source"][s]) for r in train if s in r.get("loss_by_source", {})]
        if pts:
            ax.plot(*zip(*pts, strict=True), color=colors[s], alpha=0.45, lw=1, label=f"train · {s}")
        pts = [(r["step"], r["val_loss_by_source"][s]) for r in evals if s in r.get("val_loss_by_source", {})]
        if pts:
            ax.plot(
                *zip(*pts, strict=True), color=colors[s], lw=2, marker="o", ms=3, label=f"validation · {s}"
            )
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    return os.path.abspath(path)
