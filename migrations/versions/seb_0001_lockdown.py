"""exams: Safe Exam Browser required per exam, allowed Browser Exam Keys, an attempt's key state, the certificate's
statement that the attempt was taken in SEB

Revision ID: seb_0001_lockdown
Revises: accounts_0026_email_held
Create Date: 2026-12-07 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'seb_0001_lockdown'
down_revision = 'accounts_0026_email_held'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seb_required', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('seb_browser_exam_keys', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seb_state', sa.String(length=16), nullable=True))
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seb_lockdown', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_column('seb_lockdown')
    with op.batch_alter_table('attempt', schema=None) as batch_op:
        batch_op.drop_column('seb_state')
    with op.batch_alter_table('exam', schema=None) as batch_op:
        batch_op.drop_column('seb_browser_exam_keys')
        batch_op.drop_column('seb_required')
