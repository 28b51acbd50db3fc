"""exams: item types (issue 32): rubric levels on answers, item images, handed-in answer files

Revision ID: itemtypes_0001
Revises: roomscan_0001
Create Date: 2026-12-07 10:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = 'itemtypes_0001'
down_revision = 'roomscan_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rubric_levels', sa.JSON(), nullable=True))
    op.create_table(
        'item_image',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=64), nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('blob_id', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['blob_id'], ['blob.id'], name=op.f('fk_item_image_blob_id_blob')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_item_image_created_by_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                                name=op.f('fk_item_image_institution_id_institution'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_item_image')),
        sa.UniqueConstraint('public_id', name=op.f('uq_item_image_public_id')),
    )
    with op.batch_alter_table('item_image', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_image_institution_id'), ['institution_id'], unique=False)
    op.create_table(
        'answer_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attempt_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.String(length=64), nullable=False),
        sa.Column('blob_id', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['attempt_id'], ['attempt.id'], name=op.f('fk_answer_file_attempt_id_attempt'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['blob_id'], ['blob.id'], name=op.f('fk_answer_file_blob_id_blob')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_file')),
    )
    with op.batch_alter_table('answer_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_file_attempt_id'), ['attempt_id'], unique=False)


def downgrade():
    with op.batch_alter_table('answer_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_file_attempt_id'))
    op.drop_table('answer_file')
    with op.batch_alter_table('item_image', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_image_institution_id'))
    op.drop_table('item_image')
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_column('rubric_levels')
