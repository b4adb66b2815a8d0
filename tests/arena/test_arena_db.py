"""The arena's Alembic migrations on real SQLite and PostgreSQL: the schema they build is the ORM's, and
upgrading again changes nothing."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from typer.testing import CliRunner

from gencommons.arena.db import Base, alembic_config, current_revision, make_engine, upgrade
from gencommons.cli import app as root_app


def schema_diff(url: str) -> list[Any]:
    """What ``alembic revision --autogenerate`` would write: the ORM metadata against the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_builds_the_orm_schema_and_is_idempotent(arena_database: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(arena_database)).get_current_head()
    assert current_revision(arena_database) is None

    upgrade(arena_database)
    assert current_revision(arena_database) == head
    assert schema_diff(arena_database) == []
    engine = make_engine(arena_database)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables

    upgrade(arena_database)  # again: nothing to do, nothing changes
    assert current_revision(arena_database) == head
    assert schema_diff(arena_database) == []


def test_db_upgrade_command_twice(arena_database: str) -> None:
    runner = CliRunner()
    first = runner.invoke(root_app, ["arena", "db", "upgrade", "--database", arena_database])
    assert first.exit_code == 0, first.output
    assert "schema empty -> " in first.output
    second = runner.invoke(root_app, ["arena", "db", "upgrade", "--database", arena_database])
    assert second.exit_code == 0, second.output
    head = current_revision(arena_database)
    assert f"schema {head} -> {head}" in second.output
    assert "postgresql" not in arena_database or ":***@" in second.output  # the password is not printed
    assert schema_diff(arena_database) == []
