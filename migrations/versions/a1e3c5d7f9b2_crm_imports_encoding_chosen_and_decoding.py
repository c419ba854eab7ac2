"""crm imports: the encoding detected, whether the person chose it, and how the file decodes

Revision ID: a1e3c5d7f9b2
Revises: 36551da5dc6e
Create Date: 2026-12-03 14:10:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'a1e3c5d7f9b2'
down_revision = '36551da5dc6e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detected_encoding', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('encoding_chosen', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('decoding', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                         'postgresql'),
                                      server_default=sa.text("'{}'"), nullable=False))
    # Until now the encoding of an import was always the detected one.
    op.execute("UPDATE crm_imports SET detected_encoding = encoding")


def downgrade():
    with op.batch_alter_table('crm_imports', schema=None) as batch_op:
        batch_op.drop_column('decoding')
        batch_op.drop_column('encoding_chosen')
        batch_op.drop_column('detected_encoding')
