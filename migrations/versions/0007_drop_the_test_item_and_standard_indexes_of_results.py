"""Drop the test-item and standard indexes of test results

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

No query looks results up by test item or by standard: the engine reads a product's results by revision, and the
report list's standard filter reads the search index's standard facet (one row per report and standard, ordered by
report). Yet every submission kept both indexes up to date, and a report's ~30 results name ~30 test items and ~7
standards, each landing on a leaf page of its own: with 1,500 reports stored, the two were 56 of the 85 pages a
submission wrote on SQLite.
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f('ix_test_results_test_item_id'), table_name='test_results')
    op.drop_index(op.f('ix_test_results_standard_id'), table_name='test_results')


def downgrade() -> None:
    op.create_index(op.f('ix_test_results_standard_id'), 'test_results', ['standard_id'], unique=False)
    op.create_index(op.f('ix_test_results_test_item_id'), 'test_results', ['test_item_id'], unique=False)
