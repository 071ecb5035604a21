"""A desk prompt remembers the button press that asked for it, so a press handled twice asks once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable: prompts opened before this revision answer to no particular press
    with op.batch_alter_table("desk_prompts") as batch:
        batch.add_column(sa.Column("callback_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("desk_prompts") as batch:
        batch.drop_column("callback_id")
