"""shared robots.txt: the last robots.txt answer of each host, for every worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tracker.schema import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("robots_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("robots_body", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("robots_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("robots_at")
        batch_op.drop_column("robots_body")
        batch_op.drop_column("robots_status")
