"""The first arena schema: users, models, battles, turns, votes, deletions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "arena_users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("consent_version", sa.String(32), nullable=False),
        sa.Column("share_prompts", sa.Boolean, nullable=False),
        sa.Column("locale", sa.String(16), nullable=True),
    )
    op.create_table(
        "arena_models",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("remote_model", sa.String(256), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )
    op.create_table(
        "arena_battles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "user_id", sa.String(32), sa.ForeignKey("arena_users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("model_a", sa.String(128), nullable=False),
        sa.Column("model_b", sa.String(128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ip_hash", sa.String(64), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_arena_battles_user_id", "arena_battles", ["user_id"])
    op.create_index("ix_arena_battles_created_at", "arena_battles", ["created_at"])
    op.create_table(
        "arena_turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "battle_id", sa.String(32), sa.ForeignKey("arena_battles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("answer_a", sa.Text, nullable=False),
        sa.Column("answer_b", sa.Text, nullable=False),
        sa.Column("state_a", sa.String(16), nullable=False),
        sa.Column("state_b", sa.String(16), nullable=False),
        sa.Column("error_a", sa.Text, nullable=True),
        sa.Column("error_b", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.UniqueConstraint("battle_id", "idx"),
    )
    op.create_index("ix_arena_turns_battle_id", "arena_turns", ["battle_id"])
    op.create_table(
        "arena_votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "battle_id",
            sa.String(32),
            sa.ForeignKey("arena_battles.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "user_id", sa.String(32), sa.ForeignKey("arena_users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ip_hash", sa.String(64), nullable=True),
        sa.Column("flags", sa.Text, nullable=True),
        sa.Column("excluded", sa.Boolean, nullable=False),
    )
    op.create_index("ix_arena_votes_user_id", "arena_votes", ["user_id"])
    op.create_index("ix_arena_votes_created_at", "arena_votes", ["created_at"])
    op.create_table(
        "arena_deletions",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("deleted_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "arena_deletions",
        "arena_votes",
        "arena_turns",
        "arena_battles",
        "arena_models",
        "arena_users",
    ):
        op.drop_table(table)
