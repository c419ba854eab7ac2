"""Demo data for `flask seed-demo`: idempotent, so `make run` can call it on every start.

Each domain adds its part to _seeders(): a function that takes the demo account and its owner and is
itself idempotent (checks before it creates).
"""
from sqlalchemy import select

from app.auth import services as auth_services
from app.auth.models import Account, Membership, User
from app.core import audit
from app.core.security import hash_password
from app.extensions import db

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "leadforge-demo"
DEMO_WORKSPACE = "Acme Marketing (demo)"
TEAM = [("maria@example.com", "Maria Lopez", "admin"), ("sam@example.com", "Sam Carter", "user"),
        ("viewer@example.com", "Vic Viewer", "viewer")]

def _seeders() -> list:
    from app.analytics.demo import seed_analytics
    from app.crm.demo import seed_crm
    from app.funnels.demo import seed_funnels
    from app.orders.demo import seed_orders

    return [seed_crm, seed_funnels, seed_orders, seed_analytics]


def seed_demo() -> tuple[Account, User]:
    owner = auth_services.user_by_email(DEMO_EMAIL)
    if owner is None:
        owner = auth_services.register(DEMO_EMAIL, DEMO_PASSWORD, "Dana Demo", DEMO_WORKSPACE)
        owner.timezone = "America/New_York"
    account = db.session.execute(
        select(Account).join(Membership).where(Membership.user_id == owner.id, Account.name == DEMO_WORKSPACE)
    ).scalar_one()
    account.timezone = "America/New_York"
    for email, name, role in TEAM:
        user = auth_services.user_by_email(email)
        if user is None:
            user = User(email=email, name=name, password_hash=hash_password(DEMO_PASSWORD), timezone=account.timezone)
            db.session.add(user)
            db.session.flush()
        if auth_services.membership_of(user, account.id) is None:
            membership = Membership(account_id=account.id, user_id=user.id, role=role)
            db.session.add(membership)
            db.session.flush()
            audit.record("member.joined", membership, f"{email} joined as {role}", account=account, user=user)
    db.session.commit()
    for seeder in _seeders():
        seeder(account, owner)
    db.session.commit()
    return account, owner
