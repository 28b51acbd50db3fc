"""accounts: a SAML connection to a whole federation, its IdP picked at sign-in (discovery)

Revision ID: saml2_0002
Revises: saml2_0001
Create Date: 2026-12-07 07:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = 'saml2_0002'
down_revision = 'saml2_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('saml_provider', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discovery', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('saml_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idp_entity_id', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('saml_request', schema=None) as batch_op:
        batch_op.drop_column('idp_entity_id')
    with op.batch_alter_table('saml_provider', schema=None) as batch_op:
        batch_op.drop_column('discovery')
