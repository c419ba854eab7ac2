"""The migrations build the schema the models describe, on PostgreSQL and on SQLite."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app import create_app
from app.analytics.models import is_partition
from app.extensions import db


def include_name(name, type_, parent_names):
    """As migrations/env.py: the monthly partitions of analytics_events are made at run time, not models."""
    return not (type_ == "table" and is_partition(name))


def differences(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        return compare_metadata(context, db.metadata)


def test_migrated_postgres_matches_the_models(app):
    # The session fixture ran `flask db upgrade` on an empty database.
    assert differences(db.engine) == []
    assert "alembic_version" in inspect(db.engine).get_table_names()


# SQLite cannot reflect expression indexes (lower(name) on tags); PostgreSQL's test compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_run_from_empty_on_sqlite_and_match_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    sqlite_app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "JOBS_MODE": "sync",
                             "RATELIMIT_STORAGE_URI": "memory://", "TESTING": True})
    with sqlite_app.app_context():
        from flask_migrate import downgrade, upgrade

        upgrade()
        engine = create_engine(url)
        try:
            assert differences(engine) == []
            downgrade(revision="base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        finally:
            engine.dispose()
            db.engine.dispose()
