"""certificates as Open Badges 3.0: the status list index and the signed JSON-LD credential

Revision ID: 0016_openbadges
Revises: 0015_oidc_sign_in
Create Date: 2026-12-01 20:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_openbadges'
down_revision = '0015_oidc_sign_in'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('openbadge', sa.Text(), nullable=True))
        batch_op.create_unique_constraint('uq_certificate_status_index', ['status_index'])


def downgrade():
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_constraint('uq_certificate_status_index', type_='unique')
        batch_op.drop_column('openbadge')
        batch_op.drop_column('status_index')
