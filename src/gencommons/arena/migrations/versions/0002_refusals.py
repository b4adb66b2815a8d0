"""Moderation refusals: which rule refused which stage (prompt or answer) when, for whom (never the text).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arena_refusals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.String(32), sa.ForeignKey("arena_users.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("battle_id", sa.String(32), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_arena_refusals_user_id", "arena_refusals", ["user_id"])


def downgrade() -> None:
    op.drop_table("arena_refusals")
