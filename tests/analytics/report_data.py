"""Known traffic for the report tests, stored through the ingest worker's own `ingest_events` (raw events and
every rollup in one transaction), so that the reports are checked against what the rollups really hold.

`sales_funnel` makes a three-step funnel (landing page, order form, thank-you); `path_rows` the events of one
visitor's session through its first `reach` steps; `known_traffic` five sessions of four visitors whose figures
the tests spell out (see its docstring).
"""
import uuid
from datetime import UTC, datetime, time, timedelta

from app.analytics import ingest
from app.core import dates
from app.extensions import db
from app.funnels import services as funnels
from tests import factories

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def sales_funnel(account, user, name="Spring sale"):
    return funnels.create_funnel(account, {"name": name, "slug": f"rep-{uuid.uuid4().hex[:8]}"}, user, steps=[
        {"name": "Landing", "step_type": "page"}, {"name": "Order form", "step_type": "order_form"},
        {"name": "Thanks", "step_type": "thank_you"}])


def day_start(days_ago: int, account=None) -> datetime:
    """Midnight (the workspace's zone, UTC by default) of the day `days_ago` days before today, in UTC."""
    zone = account.timezone if account is not None else "UTC"
    day = dates.today(zone) - timedelta(days=days_ago)
    return datetime.combine(day, time.min, dates.zone(zone)).astimezone(UTC)


def path_rows(funnel, visitor, at, reach, *, source="direct", agent=WINDOWS, new=True, leave="bounce",
              reason=None, seconds=(30, 60, 10), conversions=(), session=None, utm_campaign=None) -> list[dict]:
    """One session: page view and entry of each of the first `reach` steps, a forward exit after `seconds[i]`
    from each but the last reached; there the visitor leaves (`leave`: bounce or close, with `reason`) unless it
    is the funnel's last step. `conversions`: (step index, type, value cents) made on that step."""
    steps = funnel.steps
    base = {"account_id": funnel.account_id, "funnel_id": funnel.id, "visitor_id": visitor,
            "session_id": session or f"s-{uuid.uuid4().hex[:12]}", "user_agent": agent, "source": source,
            "utm_source": None if source == "direct" else source, "utm_campaign": utm_campaign}
    rows, moment = [], at
    for index in range(reach):
        step = steps[index]
        previous = steps[index - 1].id if index else None
        url = f"https://pages.example.com/{funnel.slug}/{step.slug}"
        rows.append({**base, "event_type": "page_view", "step_id": step.id, "page_id": step.page.id, "url": url,
                     "session_start": index == 0, "is_new_visitor": new and index == 0, "created_at": moment})
        rows.append({**base, "event_type": "step_entry", "step_id": step.id, "page_id": step.page.id,
                     "previous_step_id": previous, "created_at": moment})
        spent = seconds[index]
        for at_step, kind, value in conversions:
            if at_step == index:
                rows.append({**base, "event_type": "conversion", "step_id": step.id, "page_id": step.page.id,
                             "conversion_type": kind, "value_cents": value,
                             "created_at": moment + timedelta(seconds=spent - 1)})
        moment += timedelta(seconds=spent)
        if index < reach - 1:
            rows.append({**base, "event_type": "step_exit", "step_id": step.id, "exit_outcome": "forward",
                         "next_step_id": steps[index + 1].id, "time_on_step_seconds": spent, "created_at": moment})
            moment += timedelta(seconds=1)
        elif index < len(steps) - 1:
            rows.append({**base, "event_type": "step_exit", "step_id": step.id, "exit_outcome": leave,
                         "time_on_step_seconds": spent, "exit_reason": reason, "created_at": moment})
    return rows


VISITORS = [uuid.UUID(int=n) for n in (0xA1, 0xB2, 0xC3, 0xD4)]


def known_traffic(funnel, at=None) -> dict:
    """Five sessions, stored by the ingest worker, on the day 10 days ago (10:00 UTC) and the day after:

    - A (new, google, desktop Chrome): landing 30 s > order form 60 s > thanks; converts form_submit (0 cents)
      on the landing page and purchase (5,000 cents) on the order form.
    - B (new, facebook, iPhone): landing 30 s > order form 60 s, bounces there ("form_abandoned").
    - C (new, direct, iPhone): landing 30 s, bounces (no reason given: "bounce").
    - D (returning, google, desktop Firefox): landing 45 s, converts signup (0 cents), closes the page.
    - A again the next day (direct, desktop Chrome, not new): landing 30 s, closes the page.

    Landing: 5 page views and entries, 2 forward exits, 3 drop-offs (1 bounce, 2 closes); 4 unique visitors.
    Order form: 2 entries, 1 forward exit, 1 bounce; 2 unique. Thanks: 1 entry, 1 unique. Sessions 5, new 3.
    """
    at = at or day_start(10) + timedelta(hours=10)
    a, b, c, d = VISITORS
    rows = []
    rows += path_rows(funnel, a, at, 3, source="google", conversions=[(0, "form_submit", 0), (1, "purchase", 5000)])
    rows += path_rows(funnel, b, at + timedelta(minutes=5), 2, source="facebook", agent=IPHONE, reason="form_abandoned")
    rows += path_rows(funnel, c, at + timedelta(minutes=10), 1, agent=IPHONE)
    rows += path_rows(funnel, d, at + timedelta(minutes=15), 1, source="google", agent=FIREFOX, new=False,
                      leave="close", seconds=(45,), conversions=[(0, "signup", 0)])
    rows += path_rows(funnel, a, at + timedelta(days=1), 1, new=False, leave="close")
    ingest.ingest_events(rows)
    return {"at": at, "rows": rows, "visitors": VISITORS}


def known_orders(account, funnel, other_funnel, at) -> dict:
    """Orders of the funnel and around it, for the revenue figures:

    - paid, 5,000 cents of "Course" on the order form, from google, made at `at` (visitor A);
    - partially refunded: 2,000 of "Course lite" and a 700 bump "Swipe file" refunded, from facebook, at `at`;
    - left out: a pending order, a paid order of another funnel, one made 40 days before, one in euros.
    Gross 7,700, refunded 700, net 7,000; on the order form: 2 orders."""
    course, course_price = factories.make_product(account, "Course", 5000)
    lite, lite_price = factories.make_product(account, "Course lite", 2000)
    swipe, swipe_price = factories.make_product(account, "Swipe file", 700)
    _, euro_price = factories.make_product(account, "Kurs", 3000, currency="eur")
    order_form = funnel.steps[1]
    first = factories.make_order(account, [(course_price, "main")], funnel_id=funnel.id, created_at=at)
    first.traffic_source, first.step_id, first.visitor_id = "google", order_form.id, VISITORS[0]
    second = factories.make_order(account, [(lite_price, "main"), (swipe_price, "bump")], funnel_id=funnel.id,
                                  created_at=at + timedelta(minutes=5))
    second.traffic_source, second.step_id, second.visitor_id = "facebook", order_form.id, VISITORS[1]
    second.status, second.refunded_cents, second.items[1].refunded_cents = "partially_refunded", 700, 700
    factories.make_order(account, [(course_price, "main")], status="pending", funnel_id=funnel.id, created_at=at)
    factories.make_order(account, [(course_price, "main")], funnel_id=other_funnel.id, created_at=at)
    factories.make_order(account, [(course_price, "main")], funnel_id=funnel.id, created_at=at - timedelta(days=40))
    factories.make_order(account, [(euro_price, "main")], funnel_id=funnel.id, created_at=at)
    db.session.commit()
    return {"products": {"course": course.id, "lite": lite.id, "swipe": swipe.id}, "orders": [first, second]}
