"""Compress large JSON with lz4 on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

A report's document (~16 KB) and its product's decisions (~20 KB each, eight per product) are stored out of line and
compressed. PostgreSQL's default, pglz, compresses slowly: with lz4 the server's CPU per submission (the report and
eight decisions stored) went from 7.4 to 6.2 ms on average over four paired runs. New rows only; existing ones keep
pglz, and both read back alike. SQLite does not compress; nothing changes there. A PostgreSQL built without lz4
keeps pglz (the setting's allowed values say which it has).
"""
from alembic import op
from sqlalchemy import text


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = (("report_revisions", "document"), ("decisions", "detail"), ("decision_plans", "plan"))


def _lz4_available(bind) -> bool:
    return bind.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar() is True


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _lz4_available(bind):
        return
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET COMPRESSION {method}')


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
