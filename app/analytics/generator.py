"""Generated traffic for a funnel (`flask analytics generate`, the demo workspace, benchmarks).

Visitors come and go as the tracker (static/site/track.js) would report them, written through
`ingest.ingest_events` in batches, so the raw events and every rollup agree:

- visitors: most come once, some come back (2 to 5 sessions, days apart); each keeps a device and browser
  (about 55% phones, 38% desktops, 7% tablets, with real user agents, read like the tracker's by
  app/analytics/useragents.py); a session's source comes from weighted sources (Google ads and search,
  Facebook, direct, the newsletter, YouTube, referring sites) with their UTM parameters, a returning visitor
  mostly directly or from the newsletter;
- time: sessions follow a daily rhythm (quiet nights, busy late mornings and evenings, in the workspace's
  zone), a weekly one (quieter weekends) and a slight growth over the period;
- progression: every session lands on the first step; from each step a share of visitors goes on (between
  35% and 70% per step, chosen per funnel from the seed, a little higher on desktop, from the newsletter or
  for returning visitors, lower from Facebook), the others bounce, close the tab or go back a step, with the
  tracker's exit reasons and times on step (forward exits take longer than bounces);
- conversions: a form_submit on steps with a form, a purchase with its value (the step's products, the bump
  now and then) on order-form steps;
- split tests: on a step with a running test, each visitor sees the variant the site would show them (the
  same hash of test and visitor id: app/site/serving.py `pick`), its page and variant id on the events, and
  each variant converts a little differently.

Everything is drawn from one random generator: the same seed, funnel and clock give the same traffic.
"""
from __future__ import annotations

import bisect
import heapq
import logging
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.analytics import ingest, partitions
from app.analytics.useragents import describe
from app.auth.models import Account
from app.extensions import db
from app.funnels.models import Funnel, SplitTest
from app.site.serving import Split, pick

log = logging.getLogger(__name__)

BATCH_SIZE = 5_000
TRIAL_VISITORS = 3_000  # visitors of the trial run that estimates the events per visitor
DEVICES = {  # device type: (share, [(weight, user agent)])
    "mobile": (55, [
        (38, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.4 Mobile/15E148 Safari/604.1"),
        (6, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/123.0.6312.52 Mobile/15E148 Safari/604.1"),
        (34, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/123.0.6312.99 Mobile Safari/537.36"),
        (14, "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
             "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"),
        (4, "Mozilla/5.0 (Android 14; Mobile; rv:124.0) Gecko/124.0 Firefox/124.0"),
        (4, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 [FBAN/FBIOS;FBAV/455.0.0.35.109;FBBV/567013522;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;"
            "FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]"),
    ]),
    "desktop": (38, [
        (44, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/123.0.0.0 Safari/537.36"),
        (16, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.4 Safari/605.1.15"),
        (15, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/123.0.0.0 Safari/537.36"),
        (13, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81"),
        (8, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0"),
        (4, "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"),
    ]),
    "tablet": (7, [
        (70, "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.4 Mobile/15E148 Safari/604.1"),
        (30, "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/123.0.6312.99 Safari/537.36"),
    ]),
}
# (weight, source, utm_source, utm_medium, campaigns, referrer, continuation factor)
SOURCES = [
    (20, "google", "google", "cpc", ("brand-search", "spring-sale", "competitors"), "https://www.google.com/", 1.0),
    (9, "google.com", None, None, (), "https://www.google.com/", 1.05),  # organic search: the referrer's host
    (17, "facebook", "facebook", "paid_social", ("lookalike-30d", "retargeting-7d", "video-views"),
     "https://l.facebook.com/", 0.85),
    (20, "direct", None, None, (), None, 1.08),
    (8, "newsletter", "newsletter", "email", ("weekly-digest", "launch-announcement"), None, 1.2),
    (7, "youtube", "youtube", "video", ("tutorial-series", "product-review"), "https://www.youtube.com/", 0.95),
    (5, "instagram", "instagram", "social", ("bio-link", "stories"), "https://l.instagram.com/", 0.9),
    (5, "reddit.com", None, None, (), "https://www.reddit.com/r/marketing/", 0.9),
    (4, "linkedin.com", None, None, (), "https://www.linkedin.com/", 1.0),
    (3, "producthunt.com", None, None, (), "https://www.producthunt.com/", 0.95),
    (2, "medium.com", None, None, (), "https://medium.com/", 1.0),
]
DEVICE_FACTOR = {"desktop": 1.12, "mobile": 0.92, "tablet": 1.0}
RETURNING_FACTOR = 1.15
VARIANT_EFFECTS = (0.14, -0.07, 0.09, 0.18, -0.04)  # each non-control variant's relative change, in turn
SESSIONS_PER_VISITOR = ((80, 1), (13, 2), (5, 3), (2, 5))  # (weight, sessions)
# Local hour weights (00..23): quiet nights, busy late mornings and evenings; weekdays from Monday.
HOUR_WEIGHTS = (0.22, 0.14, 0.1, 0.08, 0.08, 0.12, 0.28, 0.55, 0.82, 1.0, 1.12, 1.15, 1.1, 1.05, 1.02, 1.0,
                0.98, 0.98, 1.02, 1.12, 1.2, 1.12, 0.8, 0.45)
DAY_WEIGHTS = (1.1, 1.12, 1.08, 1.04, 0.95, 0.72, 0.8)
TIME_MEDIANS = {"form": 45, "order": 110, "offer": 60, "page": 50}  # seconds before a forward exit
DEFAULT_PRICES = (4700, 1700)  # main and bump (cents) of an order-form step that sells nothing yet


@dataclass
class Stats:
    events: int = 0
    visitors: int = 0
    sessions: int = 0
    conversions: int = 0


@dataclass
class StepPlan:
    """What the generator knows of one step."""

    id: uuid.UUID
    page_id: uuid.UUID
    url: str
    kind: str  # form | order | offer | page
    rate: float  # share of visitors who go on to the next step
    main_cents: int = 0
    bump_cents: int = 0
    split: object | None = None  # serving.Split of a running test (bounds, variant ids)
    variant_pages: tuple = ()  # page id per variant, as split.variant_ids
    variant_factors: tuple = ()


def find_funnel(ref: str) -> Funnel | None:
    """A funnel by id or slug (not deleted), in any workspace: the command is for operators."""
    try:
        return db.session.execute(select(Funnel).where(Funnel.id == uuid.UUID(str(ref)),
                                                       Funnel.deleted_at.is_(None))).scalar_one_or_none()
    except ValueError:
        return db.session.execute(select(Funnel).where(Funnel.slug == str(ref).strip().lower(),
                                                       Funnel.deleted_at.is_(None))).scalar_one_or_none()


# ---- the funnel's plan --------------------------------------------------------------------------------

def _kind(step) -> str:
    from app.funnels.publishing import has_checkout
    from app.pages import tree as trees

    tree = step.page.tree if step.page is not None else {}
    if step.step_type == "order_form" or has_checkout(tree) and step.step_type not in ("upsell", "downsell"):
        return "order"
    if step.step_type in ("upsell", "downsell"):
        return "offer"
    if any(element.get("type") == "form" for element, _, _ in trees.walk(tree or {})):
        return "form"
    return "page"


def _prices(step) -> tuple[int, int]:
    from app.orders.services import catalog

    offers = catalog.step_offers(step)
    main = sum(offer.price.amount_cents for offer in offers if offer.role == "main")
    bumps = [offer.price.amount_cents for offer in offers if offer.role == "bump"]
    return (main or DEFAULT_PRICES[0], bumps[0] if bumps else (0 if main else DEFAULT_PRICES[1]))


def _split_of(step, rng: random.Random):
    """The step's running test as the site serves it: variants with a page (published ones only, once the
    funnel is published), their cumulative weights, and how much better or worse each converts."""
    test = db.session.execute(select(SplitTest).where(SplitTest.step_id == step.id, SplitTest.status == "running")
                              ).scalar_one_or_none()
    if test is None:
        return None, (), ()
    published_only = step.page is not None and step.page.published_html is not None
    variants = [variant for variant in test.variants if variant.weight > 0
                and (not published_only or variant.page.published_html is not None)]
    if not variants:
        return None, (), ()
    bounds = tuple(accumulate(variant.weight for variant in variants))
    split = Split(test_id=str(test.id), bounds=bounds, entries=(), variant_ids=tuple(str(v.id) for v in variants))
    effects = iter(VARIANT_EFFECTS)
    factors = tuple(1.0 if variant.is_control else 1.0 + next(effects, rng.uniform(-0.08, 0.15))
                    for variant in variants)
    return split, tuple(variant.page_id for variant in variants), factors


def plan(funnel: Funnel, rng: random.Random) -> list[StepPlan]:
    from app.funnels.publishing import public_url

    steps = []
    for step in funnel.steps:
        if step.page is None:
            continue
        kind = _kind(step)
        main, bump = _prices(step) if kind == "order" else (0, 0)
        split, pages, factors = _split_of(step, rng)
        steps.append(StepPlan(id=step.id, page_id=step.page.id, url=public_url(step), kind=kind,
                              rate=round(rng.uniform(0.35, 0.70), 3), main_cents=main, bump_cents=bump, split=split,
                              variant_pages=pages, variant_factors=factors))
    return steps


# ---- time ---------------------------------------------------------------------------------------------

class Clock:
    """Session start times over the period, weighted by the hour of day and day of week in the workspace's
    zone, with a slight growth."""

    def __init__(self, start: datetime, end: datetime, zone: ZoneInfo):
        self.start, self.end = start, end
        hour = start.replace(minute=0, second=0, microsecond=0)
        self.hours, weights = [], []
        total_hours = max((end - hour).total_seconds() / 3600, 1)
        index = 0
        while hour < end:
            local = hour.astimezone(zone)
            growth = 0.8 + 0.4 * index / total_hours
            self.hours.append(hour)
            weights.append(HOUR_WEIGHTS[local.hour] * DAY_WEIGHTS[local.weekday()] * growth)
            hour += timedelta(hours=1)
            index += 1
        self.cumulative = list(accumulate(weights))

    def draw(self, rng: random.Random) -> datetime:
        index = bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        moment = self.hours[min(index, len(self.hours) - 1)] + timedelta(seconds=rng.random() * 3600)
        return max(self.start, min(moment, self.end))


# ---- one visitor --------------------------------------------------------------------------------------

def _weighted(items):
    """(cumulative weights, values) of [(weight, value...)]."""
    return list(accumulate(item[0] for item in items)), items


def _pick(rng: random.Random, table):
    cumulative, items = table
    return items[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


class Generator:
    def __init__(self, funnel: Funnel, steps: list[StepPlan], clock: Clock, rng: random.Random, ip_mode: str):
        self.funnel, self.steps, self.clock, self.rng = funnel, steps, clock, rng
        self.account_id, self.funnel_id = funnel.account_id, funnel.id
        self.store_ip = ip_mode != "none"
        self.sources = _weighted(SOURCES)
        self.returning_sources = _weighted([(45, *SOURCES[3][1:]), (25, *SOURCES[4][1:]), (30, None)])
        self.devices = _weighted([(share, device) for device, (share, _) in DEVICES.items()])
        self.agents = {device: _weighted([(weight, agent, describe(agent)) for weight, agent in agents])
                       for device, (_, agents) in DEVICES.items()}
        self.sessions_per_visitor = _weighted(SESSIONS_PER_VISITOR)

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def person(self) -> dict:
        """A new visitor: id, device and browser (kept at every visit), a truncated IP."""
        rng = self.rng
        device = _pick(rng, self.devices)[1]
        _, agent, parsed = _pick(rng, self.agents[device])
        ip = f"{rng.randint(23, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0" if self.store_ip else None
        return {"account_id": self.account_id, "funnel_id": self.funnel_id, "visitor_id": self._uuid(),
                "device_type": device, "browser": parsed.browser, "os": parsed.os, "user_agent": agent,
                "ip_address": ip}

    def stream(self, arrivals: list[datetime], stats: Stats, horizon: timedelta = timedelta(hours=6)):
        """The events of visitors first arriving at `arrivals` (sorted) and of their later visits, yielded in
        chunks in time order (a batch of the ingest then spans hours, not the whole period: it merges the
        unique-visitor sketches of a day or two, and a visitor's split-test exposure is stored before their
        conversion). A session's events are generated at its start; those older than the next start minus
        `horizon` (longer than any session) are final."""
        rng, end = self.rng, self.clock.end
        returns: list = []  # (time, sequence, person, sessions left)
        pending: list[dict] = []
        sequence = 0

        def flush(before):
            nonlocal pending
            pending.sort(key=itemgetter("created_at"))
            cut = bisect.bisect_left([row["created_at"] for row in pending], before) if before else len(pending)
            ready, pending = pending[:cut], pending[cut:]
            return ready

        def visit(moment, person, sessions_left, first):
            nonlocal sequence
            source = _pick(rng, self.sources) if first else None
            if not first:
                chosen = _pick(rng, self.returning_sources)
                source = _pick(rng, self.sources) if chosen[1] is None else chosen
            self._session(pending, person, source, moment, first, stats)
            stats.sessions += 1
            if sessions_left > 1:
                later = moment + timedelta(days=rng.lognormvariate(math.log(1.5), 1.0))
                if later < end:
                    sequence += 1
                    heapq.heappush(returns, (later, sequence, person, sessions_left - 1))

        for number, arrival in enumerate(arrivals):
            while returns and returns[0][0] <= arrival:
                moment, _, person, left = heapq.heappop(returns)
                visit(moment, person, left, False)
            stats.visitors += 1
            visit(arrival, self.person(), _pick(rng, self.sessions_per_visitor)[1], True)
            if number % 500 == 499:
                ready = flush(arrival - horizon)
                if ready:
                    yield ready
        while returns:
            moment, _, person, left = heapq.heappop(returns)
            visit(moment, person, left, False)
        yield flush(None)

    def _session(self, rows: list, person: dict, source, start: datetime, first: bool, stats: Stats) -> None:
        """A visit: from the first step on, as far as the visitor goes (events appended to `rows`)."""
        rng, steps, end = self.rng, self.steps, self.clock.end
        _, name, utm_source, utm_medium, campaigns, referrer, source_factor = source
        campaign = rng.choice(campaigns) if campaigns else None
        session = {**person, "session_id": str(self._uuid()), "source": name, "utm_source": utm_source,
                   "utm_medium": utm_medium, "utm_campaign": campaign}
        factor = source_factor * DEVICE_FACTOR[person["device_type"]] * (1.0 if first else RETURNING_FACTOR)
        visitor_text = str(person["visitor_id"])
        query = urlencode({key: value for key, value in (("utm_source", utm_source), ("utm_medium", utm_medium),
                                                         ("utm_campaign", campaign)) if value})
        moment, previous, came_from = start, None, referrer
        index = 0
        while index < len(steps):
            step = steps[index]
            page_id, variant_id, step_factor = step.page_id, None, 1.0
            if step.split is not None:
                chosen = pick(step.split, visitor_text)
                page_id, variant_id = step.variant_pages[chosen], step.split.variant_ids[chosen]
                step_factor = step.variant_factors[chosen]
            url = step.url + (f"?{query}" if query and previous is None else "")
            here = {**session, "page_id": page_id, "step_id": step.id, "variant_id": variant_id, "url": url,
                    "referrer": came_from}
            landing = previous is None
            new = first and landing
            rows.append({**here, "event_type": "page_view", "created_at": moment, "session_start": landing,
                         "is_new_visitor": new})
            rows.append({**here, "event_type": "step_entry", "created_at": moment + timedelta(milliseconds=300),
                         "previous_step_id": previous, "is_new_visitor": new})
            last = index == len(steps) - 1
            goes_on = not last and rng.random() < min(0.95, step.rate * factor * step_factor)
            if goes_on:
                outcome, reason, seconds = "forward", None, self._seconds(TIME_MEDIANS[step.kind], 0.7)
            else:
                outcome, reason, seconds = self._drop(step, last, previous is not None)
            left_at = moment + timedelta(seconds=seconds)
            if left_at >= end:
                return  # still on the page now
            if goes_on and step.kind in ("form", "order"):
                conversion = {**here, "event_type": "conversion", "created_at": left_at - timedelta(seconds=1)}
                if step.kind == "order":
                    value = step.main_cents + (step.bump_cents if rng.random() < 0.35 else 0)
                    conversion.update(conversion_type="purchase", value_cents=value,
                                      metadata={"order_id": str(self._uuid())})
                else:
                    conversion.update(conversion_type="form_submit")
                rows.append(conversion)
            following = steps[index + 1].id if goes_on else (steps[index - 1].id if outcome == "backward" else None)
            rows.append({**here, "event_type": "step_exit", "created_at": left_at, "exit_outcome": outcome,
                         "next_step_id": following, "time_on_step_seconds": seconds, "exit_reason": reason})
            if outcome == "backward":  # back a step, a last look, gone
                back = steps[index - 1]
                moment = left_at + timedelta(seconds=1)
                there = {**here, "page_id": back.page_id, "step_id": back.id, "variant_id": None, "url": back.url,
                         "referrer": step.url}
                if back.split is not None:
                    chosen = pick(back.split, visitor_text)
                    there.update(page_id=back.variant_pages[chosen], variant_id=back.split.variant_ids[chosen])
                seconds = self._seconds(20, 0.8)
                if moment + timedelta(seconds=seconds) >= end:
                    return
                rows.append({**there, "event_type": "page_view", "created_at": moment, "session_start": False})
                rows.append({**there, "event_type": "step_entry", "created_at": moment + timedelta(milliseconds=300),
                             "previous_step_id": step.id})
                rows.append({**there, "event_type": "step_exit", "created_at": moment + timedelta(seconds=seconds),
                             "exit_outcome": "close", "time_on_step_seconds": seconds, "exit_reason": "no_action"})
                return
            if not goes_on:
                return
            previous, came_from = step.id, step.url
            moment = left_at + timedelta(seconds=1)
            index += 1

    def _seconds(self, median: float, sigma: float) -> int:
        return max(1, min(3600, int(self.rng.lognormvariate(math.log(median), sigma))))

    def _drop(self, step: StepPlan, last: bool, has_previous: bool) -> tuple[str, str, int]:
        """How a visitor who does not go on leaves: (outcome, exit reason, seconds on the step)."""
        rng = self.rng
        roll = rng.random()
        if last:  # the end of the funnel (a thank-you page): read, then the tab is closed
            return ("close", "no_action", self._seconds(25, 0.8)) if roll < 0.8 else (
                "bounce", "no_interaction", self._seconds(4, 0.7))
        if has_previous and roll < 0.12:
            return "backward", None, self._seconds(25, 0.8)
        if roll < (0.55 if has_previous else 0.65):
            reason = "no_interaction" if rng.random() < 0.75 else "external_link"
            return "bounce", reason, self._seconds(7 if reason == "no_interaction" else 18, 0.9)
        choice = rng.random()
        if step.kind in ("form", "order") and choice < 0.45:
            reason = "form_abandoned"
        else:
            reason = "scrolled_less_than_25" if choice < 0.7 else "no_action"
        return "close", reason, self._seconds(40, 0.9)


# ---- the run ------------------------------------------------------------------------------------------

def _events_per_visitor(funnel: Funnel, steps: list[StepPlan], clock: Clock, seed) -> float:
    """About how many events a visitor makes in this funnel (a trial run of a few thousand, not written)."""
    rng = random.Random(f"{seed}:trial")
    trial = Generator(funnel, steps, clock, rng, "none")
    arrivals = sorted(clock.draw(rng) for _ in range(TRIAL_VISITORS))
    events = sum(len(chunk) for chunk in trial.stream(arrivals, Stats()))
    return max(events / TRIAL_VISITORS, 1.0)


def generate(funnel: Funnel, event_count: int, days: int, seed: int | None = None,
             progress: Callable[[int, int], None] | None = None, batch_size: int = BATCH_SIZE,
             now: datetime | None = None) -> Stats:
    """Write `event_count` events (exactly: the last visitors may be mid-visit) of visitors over the last
    `days` days into the funnel, through the ingest, in batches in time order. Returns what was made.

    The number of visitors is estimated from a trial run; a second (small) pass over the period makes up
    for an estimate a little short, so the traffic always reaches the end of the period."""
    rng = random.Random(seed)
    account = db.session.get(Account, funnel.account_id)
    zone = ZoneInfo(account.timezone or "UTC") if account is not None else ZoneInfo("UTC")
    end = (now or datetime.now(UTC)).astimezone(UTC)
    start = end - timedelta(days=days)
    steps = plan(funnel, rng)
    stats = Stats()
    if not steps or event_count <= 0:
        return stats
    partitions.ensure(start.date(), end.date())
    clock = Clock(start, end, zone)
    per_visitor = _events_per_visitor(funnel, steps, clock, seed)
    maker = Generator(funnel, steps, clock, rng, account.analytics_ip_mode if account else "")
    pending: list[dict] = []
    shortfall = 0.97  # the first pass aims a little short; what is left is spread by the next ones
    while stats.events < event_count:
        visitors = max(1, math.ceil((event_count - stats.events) / per_visitor * shortfall))
        shortfall = 1.0
        arrivals = sorted(clock.draw(rng) for _ in range(visitors))
        for chunk in maker.stream(arrivals, stats):
            chunk = chunk[:event_count - stats.events]
            stats.events += len(chunk)
            stats.conversions += sum(1 for row in chunk if row["event_type"] == "conversion")
            pending.extend(chunk)
            while len(pending) >= batch_size or (pending and stats.events >= event_count):
                ingest.ingest_events(pending[:batch_size])
                pending = pending[batch_size:]
                if progress is not None:
                    progress(stats.events - len(pending), event_count)
            if stats.events >= event_count:
                break
        if pending:  # the end of this pass's period
            ingest.ingest_events(pending)
            pending = []
            if progress is not None:
                progress(stats.events, event_count)
    db.session.expire_all()
    return stats
