"""The arena's tables (SQLAlchemy 2), the engine, and schema migrations (Alembic).

Tables, all prefixed ``arena_``:

    users       a pseudonymous random id per browser, the consent given and whether prompts may be shared
    models      the models on offer: name, endpoint, status (active / paused / removed)
    battles     one conversation: who, which mode (battle, side_by_side, single), which two models,
                the hashed IP, language and category (filled by later steps), open or voted
    turns       each prompt of a battle with both answers, their state (pending, streaming, done, error)
    votes       one per battle: the winner in Chatbot Arena's vocabulary, flags, excluded-from-ratings
    refusals    moderation: which rule refused a prompt (or flagged an answer), when, for whom — not the text
    deletions   tombstones: which pseudonymous users deleted their data and when

A user's deletion removes their battles, turns and votes (ON DELETE CASCADE) and leaves a tombstone,
so every later export is computed without them. IP addresses are never stored: only a salted hash
whose salt rotates (:mod:`gencommons.arena.privacy`).

``upgrade(url)`` brings any database to the latest schema through the Alembic migrations in
``migrations/`` (``gencommons arena db upgrade``); the server runs it at start.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
MODES = ("battle", "side_by_side", "single")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "arena_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    consent_version: Mapped[str] = mapped_column(String(32))
    share_prompts: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(40), nullable=True)  # opt-in contributors' board


class Model(Base):
    __tablename__ = "arena_models"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text)
    remote_model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, paused, removed
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Battle(Base):
    __tablename__ = "arena_battles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("arena_users.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    model_a: Mapped[str] = mapped_column(String(128))
    model_b: Mapped[str | None] = mapped_column(String(128), nullable=True)  # None in single-model chat
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ip_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, voted


class Turn(Base):
    __tablename__ = "arena_turns"
    __table_args__ = (UniqueConstraint("battle_id", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("arena_battles.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    answer_a: Mapped[str] = mapped_column(Text, default="")
    answer_b: Mapped[str] = mapped_column(Text, default="")
    state_a: Mapped[str] = mapped_column(String(16), default="pending")  # pending, streaming, done, error
    state_b: Mapped[str] = mapped_column(String(16), default="pending")
    error_a: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_b: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    thumbs_a: Mapped[int | None] = mapped_column(Integer, nullable=True)  # single chat: +1 / -1 on the answer


class Vote(Base):
    __tablename__ = "arena_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("arena_battles.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("arena_users.id", ondelete="CASCADE"), index=True)
    winner: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ip_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flags: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of vote-quality flags
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)  # left out of the ratings


class Refusal(Base):
    __tablename__ = "arena_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("arena_users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    battle_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    stage: Mapped[str] = mapped_column(String(16))  # prompt, answer
    rule: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Deletion(Base):
    __tablename__ = "arena_deletions"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deleted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout (many writers)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    else:
        kwargs |= {"pool_size": 10, "max_overflow": 20}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA synchronous=FULL")  # a vote that got its response survives a kill -9
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


def safe_url(url: str) -> str:
    """``url`` without its password (for messages and manifests)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for display: an unparsable URL is named generically
        return "<database>"


def sessions(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
