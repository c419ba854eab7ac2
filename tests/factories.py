"""Factories that build test data through the same services the app uses."""
from sqlalchemy import select

from app.auth import services as auth_services
from app.auth.models import Account, Membership, User
from app.core.security import hash_password
from app.extensions import db

PASSWORD = "correct horse battery"
_FAST_HASH = None


def _password_hash(password: str) -> str:
    # argon2 is slow on purpose; hash the common test password once.
    global _FAST_HASH
    if password != PASSWORD:
        return hash_password(password)
    if _FAST_HASH is None:
        _FAST_HASH = hash_password(PASSWORD)
    return _FAST_HASH


def make_user(email: str, name: str = "Test User", password: str = PASSWORD, timezone: str = "UTC") -> User:
    user = User(email=email.lower(), name=name, password_hash=_password_hash(password), timezone=timezone)
    db.session.add(user)
    db.session.commit()
    return user


def make_account(owner: User, name: str = "Workspace", timezone: str = "UTC", currency: str = "USD") -> Account:
    return auth_services.create_workspace(owner, name, timezone, currency)


def add_member(account: Account, role: str, email: str | None = None, name: str = "Member") -> User:
    user = make_user(email or f"{role}-{account.id.hex[:6]}@example.com", name=name)
    db.session.add(Membership(account_id=account.id, user_id=user.id, role=role))
    db.session.commit()
    return user


def login(client, user: User, account: Account | None = None) -> None:
    """Log the test client in as `user` (in `account`) without going through the rate-limited form."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        if account is not None:
            session["account_id"] = str(account.id)


def populate_account(account: Account, owner: User) -> dict:
    """One row of every tenant model in `account`, for the cross-account test.

    When a domain adds a tenant model, add a row of it here: the test fails until you do.
    """
    from app.core import jobs
    from app.core.audit import record

    member = add_member(account, "user", email=f"member-{account.id.hex[:6]}@example.com")
    membership = auth_services.membership_of(member, account.id)
    invitation, _ = auth_services.invite(account, owner, "owner", f"invitee-{account.id.hex[:6]}@example.com", "user")
    key, _ = auth_services.create_api_key(account, owner, "Populate key")
    job = jobs.create_job(account, "test", "Test job", user=owner)
    record("test.populated", account, "populated", account=account, user=owner)
    from app.core import notifications

    notification = notifications.notify(owner.id, account.id, "Populated", url="/")
    db.session.commit()
    ids = {"member_id": membership.id, "invitation_id": invitation.id, "api_key_id": key.id, "job_id": job.id,
           "notification_id": notification.id}
    ids.update(populate_crm(account, owner))
    ids.update(populate_funnels(account, owner))
    ids.update(populate_orders(account, ids["funnel_id"], ids["step_id"], ids["contact_id"]))
    populate_analytics(account, ids["funnel_id"], ids["step_id"])
    ids.update(populate_integrations(account, owner, ids["funnel_id"], ids["contact_id"]))
    return ids


def populate_integrations(account: Account, owner: User, funnel_id, contact_id) -> dict:
    """A connection with a call and a sync record, an SMS, a webhook endpoint with a message and an attempt,
    an inbound hook with a call, a workspace pixel and a funnel pixel, a mail of the workspace."""
    import secrets

    from app.core import crypto
    from app.core.models import MailMessage
    from app.integrations.models import (
        Connection,
        InboundCall,
        InboundHook,
        ProviderCall,
        SmsMessage,
        SyncRecord,
        TrackingPixel,
        WebhookAttempt,
        WebhookEndpoint,
        WebhookMessage,
    )

    suffix = account.id.hex[:6]
    connection = Connection(account_id=account.id, kind="email", provider="sendgrid", name=f"SendGrid {suffix}",
                            credentials_encrypted=crypto.encrypt('{"api_key": "SG.populated"}'),
                            credential_hints={"api_key": crypto.hint("SG.populated")}, created_by_id=owner.id)
    sms = Connection(account_id=account.id, kind="sms", provider="twilio", name=f"Twilio {suffix}",
                     credentials_encrypted=crypto.encrypt('{"auth_token": "populated"}'), created_by_id=owner.id)
    endpoint = WebhookEndpoint(account_id=account.id, url=f"https://hooks.example.com/{suffix}",
                               events=["contact.created"], secret_encrypted=crypto.encrypt("whsec_" + "A" * 32),
                               created_by_id=owner.id)
    token = secrets.token_urlsafe(24)
    hook = InboundHook(account_id=account.id, name="Zapier", token_hash=crypto.digest(token),
                       token_encrypted=crypto.encrypt(token), field_map={"email": "email"}, created_by_id=owner.id)
    db.session.add_all([connection, sms, endpoint, hook])
    db.session.flush()
    message = WebhookMessage(account_id=account.id, endpoint_id=endpoint.id, webhook_id=f"msg_{secrets.token_hex(12)}",
                             event_type="contact.created", payload={"type": "contact.created", "data": {}})
    record = SyncRecord(account_id=account.id, connection_id=connection.id, contact_id=contact_id,
                        email="populated@example.com", list_id="list-1", trigger="contact.created", status="synced")
    text = SmsMessage(account_id=account.id, connection_id=sms.id, to="+15555550100", body="Hello",
                      provider_message_id=f"SM{suffix}")
    workspace_pixel = TrackingPixel(account_id=account.id, provider="facebook", pixel_code="123456789012345")
    funnel_pixel = TrackingPixel(account_id=account.id, funnel_id=funnel_id, provider="ga4", pixel_code="G-ABC123XYZ")
    db.session.add_all([message, record, text, workspace_pixel, funnel_pixel,
                        ProviderCall(account_id=account.id, connection_id=connection.id, operation="check", ok=True),
                        InboundCall(account_id=account.id, hook_id=hook.id, source="inbound", status_code=202),
                        MailMessage(account_id=account.id, to="someone@example.com", subject="Populated")])
    db.session.flush()
    db.session.add(WebhookAttempt(account_id=account.id, message_id=message.id, endpoint_id=endpoint.id, number=1,
                                  url=endpoint.url, status_code=200, ok=True))
    db.session.commit()
    return {"connection_id": connection.id, "endpoint_id": endpoint.id, "message_id": message.id,
            "hook_id": hook.id, "sms_id": text.id, "pixel_id": workspace_pixel.id, "sync_record_id": record.id}


def populate_analytics(account: Account, funnel_id, step_id) -> None:
    """A visitor's events through the ingest: raw events, step hours, dimension days, unique sketches."""
    import uuid

    from app.analytics import ingest

    visitor = uuid.uuid4()
    base = {"account_id": account.id, "funnel_id": funnel_id, "step_id": step_id, "visitor_id": visitor,
            "session_id": f"populate-{visitor}", "user_agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"}
    ingest.ingest_events([{**base, "event_type": "page_view", "session_start": True, "is_new_visitor": True},
                          {**base, "event_type": "step_entry"},
                          {**base, "event_type": "conversion", "conversion_type": "form_submit"},
                          {**base, "event_type": "step_exit", "exit_outcome": "bounce", "time_on_step_seconds": 5}])


# A valid 1×1 transparent PNG.
ONE_PIXEL_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                              "1f15c4890000000d49444154789c6360000002000001e5273b840000000049454e44ae426082")


def populate_funnels(account: Account, owner: User) -> dict:
    """One funnel (two steps with their pages and a version), a workspace template and an asset."""
    from app.assets.models import Asset
    from app.funnels import services as funnels
    from app.funnels import versions
    from app.funnels.models import FunnelTemplate

    suffix = account.id.hex[:6]
    funnel = funnels.create_funnel(account, {"name": "Lead magnet", "slug": f"lead-magnet-{suffix}"}, owner)
    template = FunnelTemplate(account_id=account.id, name="Our template", funnel_type="lead_generation",
                              snapshot=versions.snapshot_of(funnel), created_by_id=owner.id)
    asset = Asset(account_id=account.id, filename="logo.png", content_type="image/png", size=68, width=1,
                  height=1, storage_key=f"{account.id}/populated-{suffix}.png", checksum="0" * 64,
                  created_by_id=owner.id)
    db.session.add_all([template, asset])
    db.session.commit()
    from app.core.storage import get_storage

    get_storage().save(asset.storage_key, ONE_PIXEL_PNG)  # the file route serves it
    version = versions.versions_query(funnel).limit(1)
    ids = {"funnel_id": funnel.id, "step_id": funnel.steps[0].id, "page_id": funnel.steps[0].page.id,
           "version_id": db.session.execute(version).scalar_one().id, "template_id": template.id,
           "asset_id": asset.id}
    return {**ids, **populate_split_test(account, owner, funnel)}


def populate_split_test(account: Account, owner: User, funnel) -> dict:
    """A running split test of the funnel's last step (two variants, a variant page) and a visitor exposed to it."""
    import uuid

    from app.analytics.models import Exposure
    from app.funnels import splittests

    test = splittests.create_test(account, funnel, funnel.steps[-1], {"name": "Headline test", "variants": [
        {"name": "Original", "weight": 50}, {"name": "Variant B", "weight": 50}]}, owner)
    variant = test.variants[1]
    db.session.add(Exposure(account_id=account.id, test_id=test.id, visitor_id=uuid.uuid4(), variant_id=variant.id))
    db.session.commit()
    return {"test_id": test.id, "variant_id": variant.id}


def populate_crm(account: Account, owner: User) -> dict:
    """One of each CRM record in `account` (a tag, custom field, segment, company, contact, deal in the
    workspace's pipeline, activity, note, timeline entry, import and remembered mapping)."""
    from app.crm.models import ContactImport, ImportMapping
    from app.crm.services import activities, companies, contacts, custom_fields, deals, notes, tags

    suffix = account.id.hex[:6]
    tag = tags.create(account, {"name": f"vip-{suffix}"})
    field = custom_fields.create(account, {"label": "Plan", "field_type": "text"})
    company = companies.create(account, {"name": f"Acme {suffix}", "domain": f"acme-{suffix}.com"}, owner)
    contact = contacts.create(account, {"first_name": "Pat", "last_name": "Populated",
                                        "email": f"pat-{suffix}@example.com", "company_id": str(company.id),
                                        "tags": [tag.name]}, owner)
    segment = contacts.save_segment(account, "VIPs", {"tag": str(tag.id)}, owner)
    pipeline = default_pipeline(account)
    deal = deals.create(account, {"title": "Big deal", "value": "1000", "pipeline_id": str(pipeline.id),
                                  "contact_id": str(contact.id)}, owner)
    activity = activities.create(account, {"subject": "Call Pat", "activity_type": "call",
                                           "contact_id": str(contact.id)}, owner)
    note = notes.create(account, {"body": "Met at the fair.", "contact_id": str(contact.id)}, owner)
    upload = ContactImport(account_id=account.id, filename="contacts.csv", path="/nonexistent/contacts.csv",
                           headers=["email"], created_by_id=owner.id)
    db.session.add_all([upload, ImportMapping(account_id=account.id, header_signature="x" * 64,
                                              mapping={"email": "email"})])
    db.session.commit()
    return {"tag_id": tag.id, "custom_field_id": field.id, "company_id": company.id, "contact_id": contact.id,
            "segment_id": segment.id, "pipeline_id": pipeline.id, "stage_id": pipeline.stages[0].id,
            "deal_id": deal.id, "activity_id": activity.id, "note_id": note.id, "import_id": upload.id}


# ---- CRM records, made by the CRM's services ----------------------------------------------------------

def make_contact(account: Account, user: User | None = None, **data):
    """A contact ("Ann Archer" unless the data names it otherwise), with any fields of the contact form or
    the API (`tags` as names, `custom_fields` by key)."""
    from app.crm.services import contacts

    data.setdefault("first_name", "Ann")
    data.setdefault("last_name", "Archer")
    return contacts.create(account, data, user)


def make_company(account: Account, name: str = "Acme", user: User | None = None, **data):
    from app.crm.services import companies

    return companies.create(account, {"name": name, **data}, user)


def default_pipeline(account: Account, name: str | None = None):
    """The pipeline every workspace starts with (five stages, Lead to Closing), renamed when `name` is given."""
    from app.crm.services import deals

    pipeline = deals.pipelines_of(account)[0]
    if name is not None and pipeline.name != name:
        deals.rename_pipeline(account, pipeline, name)
    return pipeline


def make_pipeline(account: Account, name: str, stages=None, user: User | None = None):
    """Another pipeline: `stages` as (name, probability) pairs, the five usual ones when omitted."""
    from app.crm.services import deals

    return deals.create_pipeline(account, name, stages=stages, actor=user)


def remove_pipelines(account: Account) -> None:
    """A workspace without a pipeline (every workspace gets one when it is made)."""
    from app.crm.models import Pipeline

    for pipeline in db.session.execute(select(Pipeline).where(Pipeline.account_id == account.id)).scalars():
        db.session.delete(pipeline)
    db.session.commit()


def make_deal(account: Account, pipeline=None, title: str = "Deal", value: str = "100", stage: int = 0,
              user: User | None = None, **data):
    """A deal in the `stage`-th stage of `pipeline` (the workspace's first pipeline when omitted)."""
    from app.crm.services import deals

    pipeline = pipeline or deals.pipelines_of(account)[0]
    return deals.create(account, {"title": title, "value": value, "stage_id": str(pipeline.stages[stage].id),
                                  **data}, user)


def make_product(account: Account, name: str = "Swipe file", amount_cents: int = 700, currency: str = "usd",
                 **fields):
    """An active product with one active price: (product, price)."""
    from app.orders.models import Price, Product

    product = Product(account_id=account.id, name=name, **fields)
    price = Price(account_id=account.id, product=product, amount_cents=amount_cents, currency=currency)
    db.session.add_all([product, price])
    db.session.commit()
    return product, price


def make_order(account: Account, items=(), status: str = "paid", email: str = "buyer@example.com",
               contact_id=None, funnel_id=None, created_at=None):
    """An order written directly (no Stripe): `items` are (price, kind) pairs; a paid order gets one
    succeeded payment per item kind group with made-up Stripe ids."""
    import secrets

    from app.core.db import utcnow
    from app.orders.models import Order, OrderItem, Payment
    from app.orders.services.orders import next_number, recompute_totals

    order = Order(account_id=account.id, number=next_number(account.id), status=status, email=email,
                  first_name="Bea", last_name="Buyer", contact_id=contact_id, funnel_id=funnel_id,
                  checkout_key=secrets.token_urlsafe(16))
    if created_at is not None:
        order.created_at = created_at
    db.session.add(order)
    for position, (price, kind) in enumerate(items):
        payment = None
        if status != "pending":
            payment = Payment(account_id=account.id, order=order, purpose="checkout" if kind in ("main", "bump")
                              else kind, amount_cents=price.amount_cents, currency=price.currency,
                              status="succeeded", stripe_payment_intent_id=f"pi_test_{secrets.token_hex(6)}")
            db.session.add(payment)  # a backref does not cascade it into the session (SQLAlchemy 2)
        order.items.append(OrderItem(account_id=account.id, kind=kind, product_id=price.product_id, price_id=price.id,
                                     name=price.product.name, unit_amount_cents=price.amount_cents, quantity=1,
                                     discount_cents=0, refunded_cents=0,
                                     amount_cents=price.amount_cents, position=position, payment=payment))
        order.currency = price.currency
    recompute_totals(order)
    if status != "pending":
        order.paid_at = created_at or utcnow()
    db.session.commit()
    return order


def populate_orders(account: Account, funnel_id, step_id, contact_id) -> dict:
    """A product with its price, a coupon, a step offer, and a paid order with an item, a payment, a refund and a
    line of its history."""
    from app.orders.models import Coupon, Refund, StepOffer

    product, price = make_product(account, "Populated product")
    coupon = Coupon(account_id=account.id, code=f"SAVE-{account.id.hex[:6]}", percent_off=10)
    offer = StepOffer(account_id=account.id, step_id=step_id, price_id=price.id, role="main")
    db.session.add_all([coupon, offer])
    order = make_order(account, [(price, "main")], contact_id=contact_id, funnel_id=funnel_id)
    item = order.items[0]
    refund = Refund(account_id=account.id, order_id=order.id, payment_id=item.payment_id, item_id=item.id,
                    amount_cents=100, reason="requested_by_customer")
    db.session.add(refund)
    from app.orders.services.orders import log

    log(order, "order.paid", f"Order #{order.number} paid")
    db.session.commit()
    return {"product_id": product.id, "price_id": price.id, "coupon_id": coupon.id, "offer_id": offer.id,
            "order_id": order.id, "item_id": item.id, "payment_id": item.payment_id, "refund_id": refund.id}
