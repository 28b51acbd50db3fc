"""keys and grants: TOTP secrets sealed (longer column), blobs cut by a crash reach the final state "cut"

Wraps of data keys made before this release (version 1, bound to the master key only) still open;
`flask storage rewrap` (or rotate-key / retire-key) re-wraps them bound to their blob's id and category.
TOTP secrets stored in the clear are sealed at the account's next login or by the same commands.

Revision ID: 0020_grants
Revises: 0017_account_security
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_grants'
down_revision = '0019_lti'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)
    # A blob still "writing" whose cut was already finished (completed_at set) is in its final state: cut.
    op.execute(sa.text("UPDATE blob SET state = 'cut' WHERE state = 'writing' AND completed_at IS NOT NULL"))


def downgrade():
    op.execute(sa.text("UPDATE blob SET state = 'writing' WHERE state = 'cut'"))
    # Sealed TOTP secrets do not fit the old column: those accounts enrol their second factor again.
    op.execute(sa.text('UPDATE "user" SET totp_secret = NULL, totp_last_step = NULL WHERE length(totp_secret) > 64'))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
