"""listing spread: a listing's place among its host's listings, for claims

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 17:30:00
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
    # filled in by the next sync of the configuration (every command does one)
    with op.batch_alter_table("listing_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spread", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("listing_state", schema=None) as batch_op:
        batch_op.drop_column("spread")
