"""Drop indexes that unique constraints already cover

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

products.manufacturer_id, report_revisions.report_id and decisions.product_id each had an index of their own
beside a unique constraint whose index starts with the same column. Every submission paid for keeping the extra
three up to date (on SQLite, about one more page per index in each commit); no query needed them.
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f('ix_products_manufacturer_id'), table_name='products')
    op.drop_index(op.f('ix_report_revisions_report_id'), table_name='report_revisions')
    op.drop_index(op.f('ix_decisions_product_id'), table_name='decisions')


def downgrade() -> None:
    op.create_index(op.f('ix_decisions_product_id'), 'decisions', ['product_id'], unique=False)
    op.create_index(op.f('ix_report_revisions_report_id'), 'report_revisions', ['report_id'], unique=False)
    op.create_index(op.f('ix_products_manufacturer_id'), 'products', ['manufacturer_id'], unique=False)
