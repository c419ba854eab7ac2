"""crm: every workspace without a pipeline gets the default one

New workspaces get "Sales pipeline" when they are made (app.crm.services.deals subscribes to
workspace.created); before, the deals board made it on its first visit (a GET that wrote). This gives the
workspaces that never opened the board theirs, with the same name, stages, probabilities and positions as
deals.create_pipeline. Data only: the rows are written here, without the app's code.

Revision ID: 3c1e8a5d9f20
Revises: a1e3c5d7f9b2
Create Date: 2026-12-03 16:00:00.000000

"""
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3c1e8a5d9f20'
down_revision = 'a1e3c5d7f9b2'
branch_labels = None
depends_on = None

NAME = "Sales pipeline"
STAGES = [("Lead", 10), ("Qualified", 25), ("Proposal", 50), ("Negotiation", 75), ("Closing", 90)]

accounts = sa.table("accounts", sa.column("id", sa.Uuid))
pipelines = sa.table(
    "crm_pipelines", sa.column("id", sa.Uuid), sa.column("account_id", sa.Uuid), sa.column("name", sa.String),
    sa.column("position", sa.Integer), sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)))
stages = sa.table(
    "crm_stages", sa.column("id", sa.Uuid), sa.column("account_id", sa.Uuid), sa.column("pipeline_id", sa.Uuid),
    sa.column("name", sa.String), sa.column("position", sa.Integer), sa.column("probability", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)))


def upgrade():
    connection = op.get_bind()
    without = connection.execute(
        sa.select(accounts.c.id).where(accounts.c.id.not_in(sa.select(pipelines.c.account_id)))).scalars().all()
    now = datetime.now(UTC)
    pipeline_rows, stage_rows = [], []
    for account_id in without:
        pipeline_id = uuid.uuid4()
        pipeline_rows.append({"id": pipeline_id, "account_id": account_id, "name": NAME, "position": 0,
                              "created_at": now, "updated_at": now})
        stage_rows += [{"id": uuid.uuid4(), "account_id": account_id, "pipeline_id": pipeline_id, "name": name,
                        "position": position, "probability": probability, "created_at": now, "updated_at": now}
                       for position, (name, probability) in enumerate(STAGES)]
    if pipeline_rows:
        op.bulk_insert(pipelines, pipeline_rows)
        op.bulk_insert(stages, stage_rows)


def downgrade():
    # The pipelines stay: by now they may hold deals, and nothing tells them from one made by hand.
    pass
