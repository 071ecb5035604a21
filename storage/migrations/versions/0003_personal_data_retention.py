"""Personal data retention: when a complaint's author data was erased; residents' complaints indexed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.base.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("erased_at", UTC(), nullable=True))
    op.create_index("ix_complaints_resident_id", "complaints", ["resident_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_complaints_resident_id", table_name="complaints")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("erased_at")
