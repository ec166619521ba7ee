"""Make report revisions, results and events append-only in the database itself

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
from alembic import op

from registry.models import append_only_ddl, drop_append_only_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)
