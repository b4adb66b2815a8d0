"""Fixtures for the arena tests: a real PostgreSQL server and real model endpoints on loopback.

* ``postgres_cluster`` / ``postgres_url`` (session): a throw-away PostgreSQL cluster started with
  initdb/pg_ctl (``pg_cluster.py``) and the URL of its ``arena`` database. Missing binaries fail the
  tests with an install hint, unless ``GENCOMMONS_TESTS_NO_POSTGRES=1`` asks to skip them.
* ``arena_database`` (per test, parametrized ``sqlite`` / ``postgresql``): the URL of a fresh, empty
  database of each kind.
* ``arena_backends`` (session): two real HTTP model endpoints: the tiny local model served by
  ``gencommons serve``, and the scripted OpenAI-format server of ``scripted_openai.py`` (normal,
  hostile, slow, garbage answers), plus the URL of an endpoint that is down.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arena_http import ArenaBackends
from pg_cluster import PostgresCluster, PostgresMissing, free_port
from scripted_openai import ScriptedOpenAI

NO_POSTGRES_ENV = "GENCOMMONS_TESTS_NO_POSTGRES"


# -- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL cluster on a free loopback port, stopped and removed after the session."""
    if os.environ.get(NO_POSTGRES_ENV) == "1":
        pytest.skip(f"{NO_POSTGRES_ENV}=1: the PostgreSQL tests are skipped on request")
    try:
        cluster = PostgresCluster()
    except PostgresMissing as e:
        pytest.fail(str(e), pytrace=False)
    try:
        cluster.start()
    except PostgresMissing as e:
        cluster.stop()
        pytest.fail(str(e), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """``postgresql://arena:...@127.0.0.1:PORT/arena`` (shared by the session; see arena_database)."""
    return postgres_cluster.url


_fresh = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def arena_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty database: SQLite in tmp_path, or a new database in the session's cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database(f"arena_test_{os.getpid()}_{next(_fresh)}")


# -- model endpoints ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def arena_backends(tiny_server: tuple[Any, str]) -> Iterator[ArenaBackends]:
    backend, url = tiny_server
    scripted = ScriptedOpenAI(slow_s=3.0).start()
    try:
        yield ArenaBackends(
            tiny=url, tiny_model=backend.model, scripted=scripted, down=f"http://127.0.0.1:{free_port()}/v1"
        )
    finally:
        scripted.stop()
