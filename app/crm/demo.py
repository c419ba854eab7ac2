"""CRM part of the demo workspace (idempotent), and a generator of many rows for benchmarks."""
import random
import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select

from app.core.db import utcnow
from app.crm.models import Contact, Deal, TimelineEntry
from app.crm.services import activities, companies, contacts, custom_fields, deals, notes, tags
from app.extensions import db

FIRST = ["Ava", "Liam", "Mia", "Noah", "Emma", "Lucas", "Olivia", "Ethan", "Sofia", "Mason", "Isla", "Leo",
         "Chloe", "Omar", "Priya", "Mateo", "Hana", "Jonas", "Zoe", "Kai", "Nora", "Ivan", "Lea", "Sam", "Aria"]
LAST = ["Smith", "Garcia", "Chen", "Müller", "Rossi", "Kim", "Nguyen", "Patel", "Silva", "Dubois", "Kowalski",
        "Johnson", "Brown", "Tanaka", "Hansen", "Novak", "Costa", "Ali", "Martin", "Lopez"]
COMPANIES = [("Northwind Traders", "northwind.example.com", "Retail"),
             ("Globex", "globex.example.com", "Manufacturing"),
             ("Initech", "initech.example.com", "Software"), ("Umbrella Health", "umbrella.example.com", "Healthcare"),
             ("Stark Fitness", "starkfit.example.com", "Fitness"),
             ("Wayne Realty", "waynerealty.example.com", "Real estate"),
             ("Hooli", "hooli.example.com", "Software"), ("Vandelay Imports", "vandelay.example.com", "Retail"),
             ("Pied Piper", "piedpiper.example.com", "Software"), ("Soylent Foods", "soylent.example.com", "Food"),
             ("Cyberdyne", "cyberdyne.example.com", "Manufacturing"),
             ("Acme Coaching", "acmecoach.example.com", "Education"),
             ("Blue Sky Dental", "bluesky.example.com", "Healthcare"),
             ("Green Leaf Cafe", "greenleaf.example.com", "Food"),
             ("Summit Legal", "summitlegal.example.com", "Legal"), ("Bright Yoga", "brightyoga.example.com", "Fitness"),
             ("Metro Roofing", "metroroof.example.com", "Construction"),
             ("Nimbus Travel", "nimbus.example.com", "Travel"),
             ("Quantum Tutors", "quantum.example.com", "Education"),
             ("Harbor Insurance", "harbor.example.com", "Finance")]
TAGS = [("lead", "blue"), ("customer", "green"), ("vip", "purple"), ("webinar", "amber"), ("newsletter", "teal"),
        ("cold", "gray")]
SOURCES = ["form", "import", "manual", "referral", "api", "checkout"]


def seed_crm(account, owner) -> None:
    """~200 contacts, 20 companies, a sales pipeline with deals in every stage, activities and notes."""
    if db.session.execute(select(func.count()).where(Contact.account_id == account.id)).scalar_one():
        return
    rng = random.Random(42)
    members = [m.user for m in account.memberships]
    for name, color in TAGS:
        tags.get_or_create(account, name, color)
    if not custom_fields.fields_of(account):
        custom_fields.create(account, {"label": "Plan", "key": "plan", "field_type": "dropdown",
                                       "options": "Starter\nGrowth\nScale"})
        custom_fields.create(account, {"label": "Budget", "key": "budget", "field_type": "number"})
    made_companies = [companies.create(account, {"name": name, "domain": domain, "industry": industry,
                                                 "size": rng.choice(["1-10", "11-50", "51-200"])}, owner)
                      for name, domain, industry in COMPANIES]
    people = []
    for i in range(200):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(made_companies) if rng.random() < 0.7 else None
        data = {"first_name": first, "last_name": last,
                "email": f"{first.lower()}.{last.lower().replace('ü', 'u')}{i}@example.com",
                "phone": f"+1 415 555 {1000 + i:04d}" if rng.random() < 0.6 else "",
                "company_id": str(company.id) if company else "", "owner_id": str(rng.choice(members).id),
                "source": rng.choice(SOURCES), "city": rng.choice(["Austin", "Denver", "Boston", "Seattle", ""]),
                "country": "US", "tags": rng.sample([t for t, _ in TAGS], rng.randint(0, 2)),
                "custom_fields": {"plan": rng.choice(["Starter", "Growth", "Scale", ""]),
                                  "budget": str(rng.choice([500, 1200, 5000, ""]))}}
        people.append(contacts.create(account, data, owner, commit=False))
    db.session.commit()
    _spread_in_time(account, people, rng)
    deals.create_default_pipeline(account)  # a workspace made before every workspace had one
    pipeline = deals.pipelines_of(account)[0]
    for index, stage in enumerate(pipeline.stages):
        for n in range(4 + index):
            person = rng.choice(people)
            offer = rng.choice(["Coaching", "Funnel build", "Retainer", "Ads setup"])
            deal = deals.create(account, {
                "title": f"{person.company.name if person.company else person.name} – {offer}",
                "value": str(rng.choice([900, 1500, 2500, 4800, 12000])), "stage_id": str(stage.id),
                "contact_id": str(person.id), "owner_id": str(rng.choice(members).id),
                "expected_close_date": (utcnow() + timedelta(days=rng.randint(-10, 90))).date().isoformat()}, owner)
            if index == len(pipeline.stages) - 1 and n < 3:
                deals.set_status(account, deal, ["won", "lost", "won"][n], "Budget went elsewhere", owner)
    for person in rng.sample(people, 30):
        kind = rng.choice(["call", "email", "meeting", "task"])
        subject = rng.choice(["Follow up on proposal", "Discovery call", "Send case study", "Check onboarding"])
        due = utcnow() + timedelta(days=rng.randint(-3, 10))
        activities.create(account, {"activity_type": kind, "subject": subject, "due_at": due.strftime("%Y-%m-%dT%H:00"),
                                    "assignee_id": str(owner.id), "contact_id": str(person.id)}, owner,
                          account.timezone)
        notes.create(account, {"body": rng.choice(["Interested in the Growth plan.", "Asked for a demo next week.",
                                                   "Prefers e-mail over calls."]), "contact_id": str(person.id)}, owner)


def _spread_in_time(account, people, rng) -> None:
    """Demo contacts arrived over the last 90 days, not all this second."""
    now = utcnow()
    for person in people:
        when = now - timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 1440))
        person.created_at = person.updated_at = when
        db.session.execute(TimelineEntry.__table__.update().where(
            TimelineEntry.contact_id == person.id).values(created_at=when))
    db.session.commit()


def generate(account, owner, contact_count: int = 0, deal_count: int = 0, batch: int = 5000) -> None:
    """Bulk rows for benchmarks: contacts with varied names and open deals on the first pipeline."""
    rng = random.Random(7)
    now = utcnow()
    for start in range(0, contact_count, batch):
        rows = []
        for i in range(start, min(start + batch, contact_count)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{last.lower()}.{i}@bulk.example.com"
            phone = f"+1415{rng.randint(2000000, 9999999)}"
            rows.append({"id": uuid.uuid4(), "account_id": account.id, "first_name": first, "last_name": f"{last}{i}",
                         "email": email, "phone": phone, "source": "import", "custom_fields": {},
                         "search_text": f"{first} {last}{i} {email} {phone} {phone[1:]}".lower(),
                         "created_at": now - timedelta(minutes=i), "updated_at": now})
        db.session.execute(insert(Contact), rows)
        db.session.commit()
    if deal_count:
        deals.create_default_pipeline(account)
        pipeline = deals.pipelines_of(account)[0]
        stages = list(pipeline.stages)
        rows = [{"id": uuid.uuid4(), "account_id": account.id, "pipeline_id": pipeline.id,
                 "stage_id": stages[i % len(stages)].id, "title": f"Bulk deal {i}",
                 "value_cents": rng.randint(1, 500) * 1000,
                 "currency": account.currency, "status": "open", "position": i, "created_at": now, "updated_at": now}
                for i in range(deal_count)]
        for start in range(0, len(rows), batch):
            db.session.execute(insert(Deal), rows[start:start + batch])
        db.session.commit()


