"""``gencommons arena ratings --votes FILE``: the leaderboard of a vote file, as a table or JSON.

One command function, mounted by the arena's CLI with ``app.command("ratings")(ratings)``; the work is
done by ``gencommons.arena.ratings.leaderboard``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gencommons.errors import ConfigError

if TYPE_CHECKING:
    from gencommons.arena.ratings import Leaderboard


def parse_anchors(specs: list[str]) -> dict[str, float]:
    """``["MODEL=SCORE", ...]`` → {model: score}; the last ``=`` splits, so names may contain one."""
    anchors = {}
    for spec in specs:
        name, sep, score = spec.rpartition("=")
        try:
            value = float(score)
        except ValueError:
            value = math.nan
        if not sep or not name or math.isnan(value):
            raise ConfigError(f"--anchor {spec!r}: expected MODEL=SCORE, e.g. --anchor 'gpt-4=1250'")
        anchors[name] = value
    return anchors


def ratings(
    *,
    votes: Annotated[
        Path,
        typer.Option(
            "--votes",
            help="Vote file: Parquet, CSV or JSONL with model_a, model_b, winner (model_a, model_b, "
            "tie, tie (bothbad)), optionally count.",
        ),
    ],
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor", help="MODEL=SCORE: shift the ratings so that MODEL gets SCORE (repeatable)."
        ),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=0, help="Bootstrap rounds for the intervals.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    min_votes: Annotated[
        int, typer.Option("--min-votes", min=0, help="Models with fewer votes are provisional.")
    ] = 301,
    style_control: Annotated[
        bool,
        typer.Option(
            "--style-control",
            help="Control for answer style: needs columns len_a/len_b, header_*, list_*, bold_*, "
            "Chatbot Arena's conv_metadata, or the answers as answer_a/answer_b.",
        ),
    ] = False,
    features: Annotated[
        str, typer.Option("--features", help="Style features, comma-separated (with --style-control).")
    ] = "len,header,list,bold",
    robustness: Annotated[
        bool,
        typer.Option("--robustness/--no-robustness", help="Search the fewest votes that change the top."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Rate the models of a vote file: Bradley–Terry on the Elo scale with bootstrap 95% intervals.

    Rank = 1 + the number of models whose interval lies entirely above; models with fewer than
    --min-votes votes are provisional; online Elo (k = 4) is shown beside.
    """
    from gencommons.arena.ratings import leaderboard, read_votes

    board = leaderboard(
        read_votes(votes),
        rounds=rounds,
        seed=seed,
        anchor=parse_anchors(anchor or []),
        min_votes=min_votes,
        style_control=style_control,
        features=tuple(f.strip() for f in features.split(",") if f.strip()),
        robustness=robustness,
    )
    if as_json:
        typer.echo(json.dumps(board.to_dict(), indent=1, ensure_ascii=False))
        return
    _print_table(board, votes)


def _print_table(board: Leaderboard, votes: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"{votes.name}: {board.votes:,} votes"
    if board.rounds:
        title += f", {board.rounds} bootstrap rounds (seed {board.seed})"
    table = Table(title=title)
    for name in ("rank", "model", "rating", "95% CI", "votes", "provisional", "online Elo"):
        table.add_column(name, justify="left" if name in ("model", "provisional") else "right")
    for row in board.table.iter_rows(named=True):
        ci = f"{row['lower'] - row['rating']:+.1f} / {row['upper'] - row['rating']:+.1f}"
        elo = "" if row["online_elo"] is None else f"{row['online_elo']:.0f}"
        table.add_row(
            str(row["rank"]),
            row["model"],
            f"{row['rating']:.1f}",
            ci if board.rounds else "",
            f"{row['votes']:,}",
            "provisional" if row["provisional"] else "",
            elo,
        )
    console = Console()
    console.print(table)
    if board.style_coefficients:
        coefs = ", ".join(f"{k} {v:+.3f}" for k, v in board.style_coefficients.items())
        console.print(f"Style coefficients (logits per RMS unit): {coefs}", highlight=False)
    r = board.robustness
    if r is None:
        return
    if r.votes is None:
        console.print(f"Top: {r.top}; no removal of votes found that changes it.", highlight=False)
    else:
        console.print(
            f"Top: {r.top}. Removing {r.votes:,} of {board.votes:,} votes ({100 * (r.fraction or 0):.3g}%) "
            f"puts {r.new_top} level with or above it ({r.method}).",
            highlight=False,
        )
