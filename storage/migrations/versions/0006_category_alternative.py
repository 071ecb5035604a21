"""Complaints keep the classifier's runner-up category when it was torn, for the department card.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable and without defaults: existing complaints simply have no alternative
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("alternative_category", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("alternative_confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("alternative_confidence")
        batch.drop_column("alternative_category")
