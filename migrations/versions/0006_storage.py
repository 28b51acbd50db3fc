"""storage blobs and purge receipts

Revision ID: 0006_storage
Revises: 0005_proctoring
Create Date: 2026-11-22 13:12:23.792853

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_storage'
down_revision = '0005_proctoring'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('purge_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('blob_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('purged_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_purge_receipt_institution_id_institution'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_purge_receipt_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purge_receipt'))
    )
    with op.batch_alter_table('purge_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purge_receipt_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_purge_receipt_blob_id'), ['blob_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_purge_receipt_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_purge_receipt_user_id'), ['user_id'], unique=False)

    op.create_table('blob',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('state', sa.Enum('writing', 'complete', 'purging', 'purged', name='blobstate', native_enum=False, length=16), nullable=False),
    sa.Column('master_key_id', sa.String(length=32), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('plaintext_size', sa.BigInteger(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('retain_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_blob_attempt_id_attempt'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_blob_institution_id_institution'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_blob_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blob')),
    sa.UniqueConstraint('key', name=op.f('uq_blob_key'))
    )
    with op.batch_alter_table('blob', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blob_attempt_id'), ['attempt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_blob_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_blob_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_blob_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_blob_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('blob', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blob_user_id'))
        batch_op.drop_index(batch_op.f('ix_blob_state'))
        batch_op.drop_index(batch_op.f('ix_blob_institution_id'))
        batch_op.drop_index(batch_op.f('ix_blob_category'))
        batch_op.drop_index(batch_op.f('ix_blob_attempt_id'))

    op.drop_table('blob')
    with op.batch_alter_table('purge_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purge_receipt_user_id'))
        batch_op.drop_index(batch_op.f('ix_purge_receipt_institution_id'))
        batch_op.drop_index(batch_op.f('ix_purge_receipt_blob_id'))
        batch_op.drop_index(batch_op.f('ix_purge_receipt_attempt_id'))

    op.drop_table('purge_receipt')
