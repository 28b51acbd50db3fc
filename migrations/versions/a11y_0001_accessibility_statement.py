"""accounts: the platform's accessibility statement (Erklärung zur Barrierefreiheit), edited by the admin

Revision ID: a11y_0001
Revises: results_0001
Create Date: 2026-12-07 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = 'a11y_0001'
down_revision = 'results_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'accessibility_statement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conformance', sa.String(length=16), nullable=False),
        sa.Column('known_gaps_de', sa.Text(), nullable=False),
        sa.Column('known_gaps_en', sa.Text(), nullable=False),
        sa.Column('contact', sa.String(length=500), nullable=False),
        sa.Column('enforcement_de', sa.Text(), nullable=False),
        sa.Column('enforcement_en', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accessibility_statement')),
    )


def downgrade():
    op.drop_table('accessibility_statement')
