"""Results keep their measurements in the report's document only

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Each test result row carried a copy of its measurements, which nothing read: the report page and the API show them
from the revision's document, the record as the lab filed it, and the recognition engine judges results by their
standard, clause, item, verdict, dates and conditions. The copy was a third of what a submission wrote for its
results (JSON serialized, bound and, on PostgreSQL, parsed twice). Nothing is lost: the documents hold every
measurement. Going back down rebuilds the column from them.
"""
import json

import sqlalchemy as sa
from alembic import op

from registry.models import append_only_ddl, drop_append_only_ddl


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _trigger_ddl(statements):
    # The append-only triggers of test_results (and PostgreSQL's function they call, which is created idempotently).
    return [s for s in statements if ' test_results' in s or s.startswith('CREATE OR REPLACE FUNCTION registry_refuse_change')]


def upgrade() -> None:
    # Plain ALTER TABLE on both engines (SQLite 3.35+): a batch copy of the table would drop its append-only triggers.
    op.execute('ALTER TABLE test_results DROP COLUMN measurements')


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for statement in _trigger_ddl(drop_append_only_ddl(dialect)):  # the function stays: other tables' triggers call it
        op.execute(statement)
    op.add_column('test_results', sa.Column('measurements', sa.JSON(), nullable=True))
    results = sa.table('test_results', sa.column('id', sa.Integer), sa.column('revision_id', sa.Integer),
                       sa.column('position', sa.Integer), sa.column('measurements', sa.JSON))
    revisions = sa.table('report_revisions', sa.column('id', sa.Integer), sa.column('document', sa.JSON))
    for revision_id, document in bind.execute(sa.select(revisions.c.id, revisions.c.document)).all():
        if isinstance(document, str):
            document = json.loads(document)
        filed = document.get('results', [])
        rows = bind.execute(sa.select(results.c.id, results.c.position)
                            .where(results.c.revision_id == revision_id)).all()
        if rows:
            bind.execute(
                results.update().where(results.c.id == sa.bindparam('result_id')),
                [{'result_id': id_, 'measurements': filed[position].get('measurements', [])
                  if position < len(filed) else []} for id_, position in rows],
            )
    with op.batch_alter_table('test_results', schema=None) as batch_op:
        batch_op.alter_column('measurements', existing_type=sa.JSON(), nullable=False)
    for statement in _trigger_ddl(append_only_ddl(dialect)):
        op.execute(statement)
