"""Every workspace has a pipeline: new ones get "Sales pipeline" when they are made (the CRM subscribes to
workspace.created), and migration 3c1e8a5d9f20 gave one to the workspaces made before, on PostgreSQL and
SQLite alike."""
import uuid

import pytest
from sqlalchemy import select, text

from app import create_app
from app.auth import services as auth_services
from app.core import events
from app.core.models import AuditEvent
from app.crm.models import Pipeline, Stage
from app.crm.services import deals
from app.extensions import db

MIGRATION, BEFORE = "3c1e8a5d9f20", "a1e3c5d7f9b2"
DEFAULT = [("Lead", 10, 0), ("Qualified", 25, 1), ("Proposal", 50, 2), ("Negotiation", 75, 3), ("Closing", 90, 4)]


def pipelines_of(account_id) -> list[tuple[str, list[tuple[str, int, int]]]]:
    db.session.expire_all()
    rows = db.session.execute(select(Pipeline).where(Pipeline.account_id == account_id)
                              .order_by(Pipeline.position, Pipeline.name)).scalars()
    return [(p.name, [(s.name, s.probability, s.position) for s in p.stages]) for p in rows]


def test_a_workspace_is_made_with_its_pipeline(owner):
    _, account = owner
    assert pipelines_of(account.id) == [("Sales pipeline", DEFAULT)]
    # Part of making the workspace, which the activity log shows: no entry of its own.
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.account_id == account.id)).scalars()
    assert list(actions) == ["workspace.created"]
    user = auth_services.register("new@example.com", "a long enough password", "New Person", "New Co")
    signed_up = auth_services.memberships_of(user)[0].account
    assert pipelines_of(signed_up.id) == [("Sales pipeline", DEFAULT)]
    # Told twice (or once it has one), nothing more is made.
    events.publish("workspace.created", account_id=account.id, user_id=None)
    assert deals.create_default_pipeline(account) is None
    assert len(pipelines_of(account.id)) == 1


def _accounts_before_the_migration():
    """Two workspaces as they were before every workspace had a pipeline: one without, one with its own.
    Written with the columns accounts had then (the model has more since: the schema here is older)."""
    from types import SimpleNamespace

    from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid

    from app.core.db import utcnow

    bare, busy = uuid.uuid4(), uuid.uuid4()
    accounts = Table("accounts", MetaData(), Column("id", Uuid, primary_key=True), Column("name", String),
                     Column("timezone", String), Column("currency", String), Column("created_at", DateTime(True)),
                     Column("updated_at", DateTime(True)))
    db.session.execute(accounts.insert(), [
        {"id": id_, "name": name, "timezone": "UTC", "currency": "USD", "created_at": utcnow(), "updated_at": utcnow()}
        for id_, name in ((bare, "Never opened the board"), (busy, "Has a pipeline"))])
    db.session.commit()
    deals.create_pipeline(SimpleNamespace(id=busy), "Partners", stages=[("Intro", 20)])
    return bare, busy


def test_the_migration_gives_older_workspaces_their_pipeline_on_postgresql(app):
    from flask_migrate import downgrade, upgrade

    bare, busy = _accounts_before_the_migration()
    db.session.remove()
    downgrade(revision=BEFORE)  # the data migration's downgrade changes nothing
    upgrade()
    assert pipelines_of(bare) == [("Sales pipeline", DEFAULT)]
    assert pipelines_of(busy) == [("Partners", [("Intro", 20, 0)])]
    stages = db.session.execute(select(Stage).join(Pipeline).where(Pipeline.account_id == bare)).scalars().all()
    assert {stage.account_id for stage in stages} == {bare}
    assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()


def _head() -> str:
    """The newest migration (the upgrade goes through MIGRATION to it)."""
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parents[2] / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_the_migration_works_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    sqlite_app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "JOBS_MODE": "sync",
                             "RATELIMIT_STORAGE_URI": "memory://", "TESTING": True})
    with sqlite_app.app_context():
        from flask_migrate import upgrade

        try:
            upgrade(revision=BEFORE)
            bare, busy = _accounts_before_the_migration()
            db.session.remove()
            upgrade()
            assert pipelines_of(bare) == [("Sales pipeline", DEFAULT)]
            assert pipelines_of(busy) == [("Partners", [("Intro", 20, 0)])]
            created = db.session.execute(select(Pipeline.created_at).where(Pipeline.account_id == bare)).scalar_one()
            assert created.tzinfo is not None  # read back through the app's column types
        finally:
            db.session.remove()
            db.engine.dispose()
