"""``gencommons arena``: serve an arena, migrate its database, export its votes, rate vote files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console

from gencommons.errors import require

app = typer.Typer(no_args_is_help=True)
db_app = typer.Typer(no_args_is_help=True)
app.add_typer(db_app, name="db", help="The arena's database schema (Alembic migrations).")
console = Console()

CONFIG = typer.Option(None, "--config", "-c", help="The arena YAML (models, database, limits).")
DATABASE = typer.Option(
    None,
    "--database",
    help="sqlite:///path.db or postgresql://user@host/db (overrides the config and $GENCOMMONS_ARENA_DATABASE).",
)


@contextlib.contextmanager
def _session(config: str | None, database: str | None) -> Iterator[Any]:
    """A session on the arena's database, migrated to the latest schema first; disposed afterwards."""
    from gencommons.arena.config import load_arena_config
    from gencommons.arena.db import make_engine, sessions, upgrade

    cfg = load_arena_config(config, database=database)
    upgrade(cfg.database)
    engine = make_engine(cfg.database)
    try:
        with sessions(engine)() as s:
            yield s
    finally:
        engine.dispose()


@app.command()
def serve(
    config: str = CONFIG,
    database: str = DATABASE,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    no_migrate: bool = typer.Option(
        False, "--no-migrate", help="Do not upgrade the database schema at start."
    ),
) -> None:
    """Start the arena web app (SQLite by default; the schema is upgraded at start)."""
    for module in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "jinja2", "multipart"):
        require(module, extra="arena")
    import uvicorn

    from gencommons.arena.app import create_app
    from gencommons.arena.config import load_arena_config
    from gencommons.arena.db import safe_url

    cfg = load_arena_config(config, database=database)
    web = create_app(cfg, migrate=not no_migrate)
    console.print(
        f"Arena '{cfg.title}' at http://{host}:{port}/ · database {safe_url(cfg.database)} · {len(cfg.models)} model(s) in the config"
    )
    uvicorn.run(web, host=host, port=port, log_level="info")


@db_app.command("upgrade")
def db_upgrade(
    config: str = CONFIG,
    database: str = DATABASE,
    revision: str = typer.Option("head", help="Target revision."),
) -> None:
    """Apply the schema migrations (idempotent)."""
    from gencommons.arena.config import load_arena_config
    from gencommons.arena.db import current_revision, safe_url, upgrade

    cfg = load_arena_config(config, database=database)
    before = current_revision(cfg.database)
    upgrade(cfg.database, revision)
    console.print(f"{safe_url(cfg.database)}: schema {before or 'empty'} -> {current_revision(cfg.database)}")


@app.command()
def export(
    out: str = typer.Argument(..., help="The folder to write (Parquet + README.md dataset card + manifest)."),
    config: str = CONFIG,
    database: str = DATABASE,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Write the shareable preference dataset: voted battles of users who opted in to sharing."""
    from gencommons.arena.config import load_arena_config
    from gencommons.arena.export import export_dataset

    cfg = load_arena_config(config, database=database)
    m = export_dataset(cfg, out, overwrite=overwrite)
    c = m["counts"]
    console.print(
        f"Exported {c['battles']:,} voted battles ({c['not_shared']:,} not shared by their users) -> {out}"
    )


@app.command()
def prompts(
    out: str = typer.Argument(
        ..., help="The folder to write (<language>/<category>.jsonl + README + manifest)."
    ),
    since: str = typer.Option(
        None, "--since", help="Only prompts first asked on or after this date (YYYY-MM-DD)."
    ),
    config: str = CONFIG,
    database: str = DATABASE,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Export shared prompts as dated, de-duplicated evaluation sets per language and category."""
    import datetime as dt

    from gencommons.arena.config import load_arena_config
    from gencommons.arena.prompts import export_prompts
    from gencommons.errors import UserError

    try:
        day = dt.date.fromisoformat(since) if since else None
    except ValueError as e:
        raise UserError(f"--since {since!r}: expected a date like 2026-11-28.") from e
    m = export_prompts(load_arena_config(config, database=database), out, since=day, overwrite=overwrite)
    console.print(f"Exported {m['counts']['prompts']:,} prompts in {m['counts']['sets']} set(s) -> {out}")


@app.command()
def release(
    out: str = typer.Argument(..., help="The folder to write (counts Parquet + README + manifest)."),
    epsilon: float = typer.Option(..., "--epsilon", help="The privacy budget ε (user-level)."),
    max_votes_per_user: int = typer.Option(
        50, "--max-votes-per-user", help="Votes kept per user (the sensitivity)."
    ),
    languages: str = typer.Option(
        "en", "--languages", help="Comma-separated languages of the public domain."
    ),
    config: str = CONFIG,
    database: str = DATABASE,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Release per-pair vote counts per language and category with differential privacy."""
    from gencommons.arena import store
    from gencommons.arena.release import release as do_release

    with _session(config, database) as s:
        votes = store.release_votes(s)
        models = [m.name for m in store.list_models(s)]
    m = do_release(
        votes,
        out,
        models=models,
        languages=[x.strip() for x in languages.split(",") if x.strip()],
        epsilon=epsilon,
        max_votes_per_user=max_votes_per_user,
        overwrite=overwrite,
    )
    console.print(
        f"Released {m['counts']['cells']:,} noisy cells from {m['counts']['votes_in']:,} votes (ε = {epsilon}) -> {out}"
    )


@app.command()
def review(
    config: str = CONFIG,
    database: str = DATABASE,
    alpha: float = typer.Option(0.01, "--alpha", help="Chance of flagging anyone if every voter is honest."),
    min_votes: int = typer.Option(20, "--min-votes", help="Voters with fewer decisive votes are not tested."),
) -> None:
    """Flag anomalous voters (same side, against the consensus, too fast); their votes leave the ratings."""
    from rich.table import Table

    from gencommons.arena import store

    with _session(config, database) as s:
        res = store.review_votes(s, alpha=alpha, min_votes=min_votes)
    t = Table(
        title=f"{res['flagged_voters']} voter(s) flagged; {res['excluded_votes']} vote(s) left out of the ratings"
    )
    for col in ("voter", "votes", "share A", "side p", "consensus z", "flags"):
        t.add_column(col)
    for r in res["voters"]:
        if r["flags"]:
            t.add_row(
                r["voter"][:12],
                str(r["votes"]),
                f"{r['share_a']:.2f}" if r["share_a"] is not None else "",
                f"{r['side_p']:.1e}" if r["side_p"] is not None else "",
                f"{r['consensus_z']:.1f}" if r["consensus_z"] is not None else "",
                ", ".join(r["flags"]),
            )
    console.print(t)


def _mount_ratings() -> None:
    from gencommons.arena.ratings_cli import ratings

    app.command("ratings")(ratings)


_mount_ratings()
