"""Pending resolutions get their own table (apart from residents' drafts); generated settings are shared.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = storage.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "desk_prompts",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("complaint_id", BigIntPK, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("prompt_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_desk_prompts_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_prompts")),
        sa.UniqueConstraint("user_id", "complaint_id", name="uq_desk_prompts_user_id_complaint_id"),
    )
    op.create_index(
        "ix_desk_prompts_chat_id_prompt_message_id",
        "desk_prompts",
        ["chat_id", "prompt_message_id"],
        unique=False,
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    # a pending resolution stored the old way had no prompt message id, so no reply could be matched to
    # it safely; such prompts are dropped (the staff member presses "resolve" again)
    op.execute(sa.text("DELETE FROM conversations WHERE state = 'resolve'"))


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_index("ix_desk_prompts_chat_id_prompt_message_id", table_name="desk_prompts")
    op.drop_table("desk_prompts")
