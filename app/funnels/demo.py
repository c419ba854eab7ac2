"""Funnels of the demo workspace: a published lead-magnet funnel and a published tripwire sales funnel,
both made from the system templates. Idempotent: a demo funnel that exists (even deleted) is left alone."""
from sqlalchemy import select

from app.extensions import db
from app.funnels import services as funnels
from app.funnels import slugs
from app.funnels.models import Funnel
from app.funnels.publishing import publish_funnel
from app.funnels.system_templates import get as get_template

DEMO_FUNNELS = [  # (template key, funnel name, preferred slug)
    ("lead-magnet", "Free playbook: Inbox to Income", "inbox-to-income"),
    ("tripwire", "Swipe file offer", "swipe-file"),
]


def seed_funnels(account, owner) -> list[Funnel]:
    """The demo funnels, created and published once; returns the ones made by this call."""
    made = []
    for key, name, slug in DEMO_FUNNELS:
        exists = db.session.execute(select(Funnel.id).where(Funnel.account_id == account.id, Funnel.name == name)
                                    .limit(1)).first()
        if exists:
            continue
        template = get_template(key)
        funnel = funnels.create_from_snapshot(account, template.snapshot(),
                                              {"name": name, "slug": slugs.free_funnel_slug(slug)}, owner,
                                              summary=f"Created from template {template.name}")
        publish_funnel(account, funnel, owner)
        made.append(funnel)
    return made
