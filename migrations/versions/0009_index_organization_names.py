"""Index organization names by their comparison key

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

A report names its manufacturer by name and country. Finding the maker read every manufacturer of that country and
compared the names in Python, on every submission, so a registry with thousands of Chinese makers would have read
them all per report. Each name now carries its key (NFKC, spaces collapsed, case folded), indexed with the country.
Existing rows are filled in here with the key as the registry computed it when this migration was written.
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _key(text):
    if text is None:
        return None
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def upgrade() -> None:
    op.add_column('organizations', sa.Column('name_key', sa.String(length=200), nullable=True))
    op.add_column('organizations', sa.Column('name_zh_key', sa.String(length=200), nullable=True))
    organizations = sa.table('organizations', sa.column('id', sa.String), sa.column('name_en', sa.String),
                             sa.column('name_zh', sa.String), sa.column('name_key', sa.String),
                             sa.column('name_zh_key', sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(organizations.c.id, organizations.c.name_en, organizations.c.name_zh)).all()
    if rows:
        bind.execute(
            organizations.update().where(organizations.c.id == sa.bindparam('org_id')),
            [{'org_id': id_, 'name_key': _key(en), 'name_zh_key': _key(zh)} for id_, en, zh in rows],
        )
    op.create_index('ix_organizations_country_name_key', 'organizations', ['country', 'name_key'], unique=False)
    op.create_index('ix_organizations_country_name_zh_key', 'organizations', ['country', 'name_zh_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_organizations_country_name_zh_key', table_name='organizations')
    op.drop_index('ix_organizations_country_name_key', table_name='organizations')
    op.drop_column('organizations', 'name_zh_key')
    op.drop_column('organizations', 'name_key')
