"""accounts: an address is held (unique) only by an account with a password or a confirmed address

Accounts made by a sign-in provider or a learning platform no longer block the address they were given for the
person elsewhere: the global unique constraint on user.email becomes a partial unique index.

Revision ID: accounts_0026_email_held
Revises: 0025_screen_playback
Create Date: 2026-12-07 06:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'accounts_0026_email_held'
down_revision = '0025_screen_playback'
branch_labels = None
depends_on = None

HOLDS = "password_hash <> '!openid' OR email_verified_at IS NOT NULL"


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_user_email'), type_='unique')
        batch_op.create_index(batch_op.f('ix_user_email'), ['email'], unique=False)
    op.create_index('uq_user_email_held', 'user', ['email'], unique=True, sqlite_where=sa.text(HOLDS),
                    postgresql_where=sa.text(HOLDS))


def downgrade():
    op.drop_index('uq_user_email_held', table_name='user')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_email'))
        batch_op.create_unique_constraint(batch_op.f('uq_user_email'), ['email'])
