"""A combined message's complaints remember their batch while it is sent, and a card or combined message
sent again after a crash is marked as a possible repeat.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # no index on card_batch: it is looked up only when a crash left a combined message unrecorded
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("card_batch", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("card_repeat", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("card_repeat")
        batch.drop_column("card_batch")
