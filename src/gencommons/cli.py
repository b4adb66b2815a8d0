"""The ``gencommons`` command: mounts each area's sub-app (``data``, ``lineage``, ...)."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from gencommons import __version__
from gencommons.errors import UserError

app = typer.Typer(
    help="gencommons: build generative AI in the open — curate data, train small models, run arenas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gencommons {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logging (-vv for debug)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _mount() -> None:
    from gencommons.arena.cli import app as arena_app
    from gencommons.data.cli import app as data_app
    from gencommons.lineage.cli import app as lineage_app
    from gencommons.lm.cli import app as lm_app
    from gencommons.serve.cli import serve

    app.add_typer(data_app, name="data", help="Curate text corpora: run pipelines, list steps, re-threshold.")
    app.add_typer(lineage_app, name="lineage", help="Inspect the manifests that travel with every artifact.")
    app.add_typer(lm_app, name="lm", help="Small language models: tokenizers, packing, training, evaluation.")
    app.command("serve")(serve)
    app.add_typer(arena_app, name="arena", help="Run an arena: battles, votes, leaderboard, exports.")


_mount()


def main() -> None:
    try:
        app()
    except UserError as e:
        err.print(f"[bold red]Error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("Interrupted. Rerun the same command to resume.")
        sys.exit(130)


if __name__ == "__main__":
    main()
