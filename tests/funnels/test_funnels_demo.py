"""The demo workspace's funnels: a lead-magnet funnel and a tripwire sales funnel, published."""
from sqlalchemy import func, select

from app.auth.models import Account
from app.extensions import db
from app.funnels.demo import DEMO_FUNNELS, seed_funnels
from app.funnels.models import Funnel
from tests import factories


def test_demo_funnels_are_published_from_the_templates(owner, client):
    user, account = owner
    made = seed_funnels(account, user)
    assert [(f.name, f.funnel_type, f.status) for f in made] == [
        ("Free playbook: Inbox to Income", "lead_generation", "published"),
        ("Swipe file offer", "sales", "published")]
    lead, sales = made
    assert len(lead.steps) == 2 and len(sales.steps) == 5
    for funnel in made:
        for step in funnel.steps:
            assert step.page.published_html and step.page.published_revision == step.page.revision
    site = "http://pages.example.com"
    html = client.get(f"/{lead.slug}/{lead.steps[0].slug}", base_url=site)
    assert html.status_code == 200 and "Turn new subscribers into paying customers" in html.get_data(as_text=True)
    with client.get("/static/img/templates/lead-magnet-guide.svg", base_url=site) as image:  # its pictures
        assert image.status_code == 200 and image.mimetype == "image/svg+xml"


def test_demo_funnels_are_seeded_once(owner):
    user, account = owner
    seed_funnels(account, user)
    assert seed_funnels(account, user) == []
    assert db.session.execute(select(func.count()).select_from(Funnel)).scalar_one() == len(DEMO_FUNNELS)


def test_a_deleted_demo_funnel_stays_deleted(owner):
    from app.funnels import services as funnels

    user, account = owner
    lead, _ = seed_funnels(account, user)
    funnels.soft_delete(account, lead, user)
    assert seed_funnels(account, user) == []


def test_a_taken_slug_gets_a_free_one(owner):
    user, account = owner
    other = factories.make_user("other@example.com")
    other_account = factories.make_account(other, "Other")
    seed_funnels(other_account, other)
    lead, sales = seed_funnels(account, user)
    assert lead.slug == "inbox-to-income-2" and sales.slug == "swipe-file-2"
    assert db.session.execute(select(func.count()).select_from(Account)).scalar_one() == 2
