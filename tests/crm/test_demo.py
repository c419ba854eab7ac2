"""The demo workspace's CRM data, and the bulk generator used by the benchmarks."""
from sqlalchemy import func, select

from app.crm.demo import generate
from app.crm.models import Activity, Company, Contact, Deal, Note, Stage
from app.demo import seed_demo
from app.extensions import db


def count(model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_demo_has_contacts_companies_deals_in_every_stage_activities_and_notes():
    account, owner = seed_demo()
    assert count(Contact, Contact.account_id == account.id) == 200
    assert count(Company, Company.account_id == account.id) == 20
    stages = db.session.execute(select(Stage).where(Stage.account_id == account.id)).scalars().all()
    assert stages and all(count(Deal, Deal.stage_id == stage.id) > 0 for stage in stages)
    assert {"won", "lost", "open"} <= set(db.session.execute(select(Deal.status).distinct()).scalars())
    assert count(Activity) == 30 and count(Note) == 30
    # Contacts arrived over time, not all at once.
    oldest, newest = db.session.execute(select(func.min(Contact.created_at), func.max(Contact.created_at))).one()
    assert (newest - oldest).days >= 30


def test_demo_seeding_is_idempotent():
    seed_demo()
    seed_demo()
    assert count(Contact) == 200 and count(Deal) == 30


def test_generator_adds_searchable_contacts_and_open_deals():
    account, owner = seed_demo()
    generate(account, owner, contact_count=1200, deal_count=50, batch=500)
    assert count(Contact) == 1400
    assert count(Deal, Deal.status == "open") >= 50 + 27
    found = db.session.execute(
        select(Contact).where(Contact.search_text.like("%bulk.example.com%")).limit(1)).scalar_one()
    assert found.email in found.search_text


def test_purge_removes_only_contacts_deleted_over_30_days_ago(app):
    from datetime import timedelta

    from app.core.db import utcnow
    from app.crm.services import contacts

    account, owner = seed_demo()
    old, recent = db.session.execute(select(Contact).limit(2)).scalars().all()
    contacts.soft_delete(account, old, owner)
    contacts.soft_delete(account, recent, owner)
    old.deleted_at = utcnow() - timedelta(days=31)
    db.session.commit()
    old_id, recent_id = old.id, recent.id
    result = app.test_cli_runner().invoke(args=["purge-deleted"])
    assert "Removed 1 contacts" in result.output
    assert db.session.get(Contact, old_id) is None and db.session.get(Contact, recent_id) is not None
