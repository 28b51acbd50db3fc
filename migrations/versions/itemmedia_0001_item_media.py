"""exams: audio and video stimuli of items (issue 32, point 1) and the plays of limited ones

Revision ID: itemmedia_0001
Revises: pools_0001
Create Date: 2026-12-07 14:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = 'itemmedia_0001'
down_revision = 'pools_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'item_media',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=64), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('blob_id', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['blob_id'], ['blob.id'], name=op.f('fk_item_media_blob_id_blob')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_item_media_created_by_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_item_media_institution_id_institution'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_item_media')),
        sa.UniqueConstraint('public_id', name=op.f('uq_item_media_public_id')),
    )
    with op.batch_alter_table('item_media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_media_institution_id'), ['institution_id'], unique=False)
    op.create_table(
        'media_play',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.String(length=64), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('ticket_sha256', sa.String(length=64), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('bytes_served', sa.Integer(), nullable=False),
        sa.Column('byte_budget', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_media_play_attempt_id_attempt'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_media_play')),
        sa.UniqueConstraint('attempt_id', 'question_id', 'number',
                            name=op.f('uq_media_play_attempt_id')),
        sa.UniqueConstraint('ticket_sha256', name=op.f('uq_media_play_ticket_sha256')),
    )
    with op.batch_alter_table('media_play', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_play_attempt_id'), ['attempt_id'], unique=False)


def downgrade():
    with op.batch_alter_table('media_play', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_play_attempt_id'))
    op.drop_table('media_play')
    with op.batch_alter_table('item_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_media_institution_id'))
    op.drop_table('item_media')
