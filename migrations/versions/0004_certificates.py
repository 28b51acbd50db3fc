"""certificates: decimal pass mark, review outcome on attempts

Revision ID: 0004_certificates
Revises: 0003_appeals_certificates
Create Date: 2026-11-22 13:29:44.826343

"""
from alembic import op
import sqlalchemy as sa


revision = '0004_certificates'
down_revision = '0003_appeals_certificates'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_outcome', sa.String(length=16), nullable=True))

    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.alter_column('pass_mark_percent',
               existing_type=sa.INTEGER(),
               type_=sa.Numeric(precision=5, scale=2),
               existing_nullable=False)


def downgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.alter_column('pass_mark_percent',
               existing_type=sa.Numeric(precision=5, scale=2),
               type_=sa.INTEGER(),
               existing_nullable=False)

    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.drop_column('review_outcome')
