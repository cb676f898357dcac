"""host send times: politeness spaces requests by when they went out

hosts gains last_sent and loses next_start; host_slots gains sent_at (and loses
start, which development databases got from an earlier draft of 0005). Slots are
requests in flight, so any left over are dropped: they would expire anyway.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tracker.schema import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    op.execute("DELETE FROM host_slots")
    hosts, slots = _columns("hosts"), _columns("host_slots")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        if "last_sent" not in hosts:
            batch_op.add_column(sa.Column("last_sent", UTCDateTime(), nullable=True))
        if "next_start" in hosts:
            batch_op.drop_column("next_start")
    with op.batch_alter_table("host_slots", schema=None) as batch_op:
        if "sent_at" in slots:
            batch_op.alter_column("sent_at", existing_type=UTCDateTime(), nullable=False)
        else:
            batch_op.add_column(sa.Column("sent_at", UTCDateTime(), nullable=False))
        if "start" in slots:
            batch_op.drop_column("start")


def downgrade() -> None:
    op.execute("DELETE FROM host_slots")
    with op.batch_alter_table("host_slots", schema=None) as batch_op:
        batch_op.drop_column("sent_at")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_start", UTCDateTime(), nullable=False, server_default="1970-01-01")
        )
        batch_op.drop_column("last_sent")
