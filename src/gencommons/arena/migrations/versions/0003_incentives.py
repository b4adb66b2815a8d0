"""Incentives and cheap feedback: an opt-in public name for the contributors' board, thumbs per answer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("arena_users") as batch:
        batch.add_column(sa.Column("display_name", sa.String(40), nullable=True))
    with op.batch_alter_table("arena_turns") as batch:
        batch.add_column(sa.Column("thumbs_a", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("arena_turns") as batch:
        batch.drop_column("thumbs_a")
    with op.batch_alter_table("arena_users") as batch:
        batch.drop_column("display_name")
