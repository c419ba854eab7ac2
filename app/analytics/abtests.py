"""Split-test results (SPEC-FUN-004 REQ-09), from the exposures: one row per visitor and test
(`analytics_ab_exposures`: the variant they saw, and what they converted afterwards), so the figures are exact.

Per variant: visitors (exposures), conversions (visitors who converted at least once), the conversion rate,
revenue and revenue per visitor, the improvement over the control (relative), and the confidence that the
variant's rate differs from the control's: 1 - p of a two-sided two-proportion z-test (pooled). Beyond the
spec, because marketers get burnt by peeking:
- the 95% confidence interval of the improvement, absolute (difference of the rates, unpooled standard error)
  and relative (ratio of the rates, on the log scale: Katz's interval);
- a winner only when every variant has at least the test's minimum sample of visitors, the normal
  approximation holds (n·p > 5 and n·(1 - p) > 5 for each variant) and the confidence is at least 95%;
  otherwise `winner.variant_id` is null and the reason says what is missing;
- a sample-ratio mismatch warning: a chi-square goodness-of-fit test of the visitors each variant got
  against the configured weights, flagged at p < 0.001 (the split is broken: results cannot be trusted).

Pure functions of counts (`z_test`, `chi_square_sf`, ...) do the statistics without scipy; `funnel_results`
reads the counts in one grouped query for all of a funnel's tests.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from sqlalchemy import case, delete, func, select

from app.analytics.models import Exposure
from app.core import dates, events
from app.core.errors import NotFoundError, ServiceError
from app.core.validation import uuid_or_none
from app.extensions import db
from app.funnels import splittests
from app.funnels.models import Funnel, SplitTest

CONFIDENCE_LEVEL = 0.95
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile
SRM_THRESHOLD = 0.001
MIN_EXPECTED = 5  # n·p and n·(1 - p) above this for the normal approximation
MAX_DAYS = 366


class PeriodError(ServiceError):
    """A date range the results refuse (400 in the API, with its reason and the field)."""

    status = 400
    code = "invalid_period"


# ---- statistics ---------------------------------------------------------------------------------------

def normal_sf(z: float) -> float:
    """P(Z > z) of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def z_test(conversions_a: int, visitors_a: int, conversions_b: int, visitors_b: int) -> tuple[float, float] | None:
    """(z, two-sided p) of the pooled two-proportion z-test of b against a; None when it is undefined
    (no visitors on one side, or nobody or everybody converted on both)."""
    if visitors_a <= 0 or visitors_b <= 0:
        return None
    pooled = (conversions_a + conversions_b) / (visitors_a + visitors_b)
    variance = pooled * (1 - pooled) * (1 / visitors_a + 1 / visitors_b)
    if variance <= 0:
        return None
    z = (conversions_b / visitors_b - conversions_a / visitors_a) / math.sqrt(variance)
    return z, min(1.0, 2 * normal_sf(abs(z)))


def difference_interval(conversions_a: int, visitors_a: int, conversions_b: int, visitors_b: int,
                        z: float = Z_95) -> tuple[float, float] | None:
    """The confidence interval of rate_b - rate_a (unpooled standard error); None without visitors."""
    if visitors_a <= 0 or visitors_b <= 0:
        return None
    rate_a, rate_b = conversions_a / visitors_a, conversions_b / visitors_b
    error = math.sqrt(rate_a * (1 - rate_a) / visitors_a + rate_b * (1 - rate_b) / visitors_b)
    return rate_b - rate_a - z * error, rate_b - rate_a + z * error


def ratio_interval(conversions_a: int, visitors_a: int, conversions_b: int, visitors_b: int,
                   z: float = Z_95) -> tuple[float, float] | None:
    """The confidence interval of rate_b / rate_a - 1 (the relative improvement), from the log of the ratio
    (Katz); None when either side has no conversions."""
    if min(conversions_a, conversions_b, visitors_a, visitors_b) <= 0:
        return None
    rate_a, rate_b = conversions_a / visitors_a, conversions_b / visitors_b
    error = math.sqrt((1 - rate_a) / conversions_a + (1 - rate_b) / conversions_b)
    centre = math.log(rate_b / rate_a)
    return math.exp(centre - z * error) - 1, math.exp(centre + z * error) - 1


def upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a): a series below a + 1, a continued fraction (modified Lentz) above."""
    if a <= 0:
        raise ValueError("a must be positive")
    if x <= 0:
        return 1.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # P(a, x) by its series, Q = 1 - P
        term = total = 1 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


def chi_square_sf(statistic: float, degrees: int) -> float:
    """P(X > statistic) for a chi-square distribution with `degrees` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    return upper_gamma_regularized(degrees / 2, statistic / 2)


def sample_ratio(observed: list[int], weights: list[int]) -> dict:
    """Chi-square goodness of fit of the visitors each variant got against the configured weights:
    {"chi_square", "p_value", "flagged"} (flagged at p < 0.001)."""
    total, weight_sum = sum(observed), sum(weights)
    if total <= 0 or weight_sum <= 0 or len(observed) < 2:
        return {"chi_square": 0.0, "p_value": 1.0, "flagged": False}
    statistic = 0.0
    for count, weight in zip(observed, weights):
        expected = total * weight / weight_sum
        if expected > 0:
            statistic += (count - expected) ** 2 / expected
    p_value = chi_square_sf(statistic, len(observed) - 1)
    return {"chi_square": round(statistic, 4), "p_value": p_value, "flagged": p_value < SRM_THRESHOLD}


# ---- one test -------------------------------------------------------------------------------------------

def _percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def confidence_text(value: float) -> str:
    """87.3%; ">99.9%" rather than a rounded "100.0%", which no test can give."""
    return ">99.9%" if value >= 0.9995 else f"{value * 100:.1f}%"


def _interval(values: tuple[float, float] | None, digits: int = 4) -> list[float] | None:
    return [round(values[0], digits), round(values[1], digits)] if values is not None else None


def evaluate(test: SplitTest, counts: dict) -> dict:
    """The results of one test (the REQ-09 shape, plus the extras described above) from its counts:
    {variant id: (visitors, conversions, revenue cents)}."""
    variants = list(test.variants)
    control = next((variant for variant in variants if variant.is_control), variants[0] if variants else None)
    rows = []
    figures = {}
    for variant in variants:
        visitors, conversions, revenue = counts.get(variant.id, (0, 0, 0))
        figures[variant.id] = (visitors, conversions)
        rows.append({
            "variant_id": str(variant.id), "variant_name": variant.name, "is_control": variant.is_control,
            "visitors": visitors, "conversions": conversions,
            "conversion_rate": round(conversions / visitors, 4) if visitors else 0.0,
            "revenue_cents": revenue, "avg_revenue_per_visitor_cents": round(revenue / visitors) if visitors else 0,
            "improvement_vs_control": None, "confidence": 0.0,
            "weight": variant.weight, "page_id": str(variant.page_id),
            "improvement_interval": None, "difference_interval": None, "p_value": None,
        })
    control_visitors, control_conversions = figures.get(control.id, (0, 0)) if control else (0, 0)
    control_rate = control_conversions / control_visitors if control_visitors else 0.0
    for row, variant in zip(rows, variants):
        if variant is control:
            continue
        visitors, conversions = figures[variant.id]
        rate = conversions / visitors if visitors else 0.0
        if control_rate > 0 and visitors:
            row["improvement_vs_control"] = round((rate - control_rate) / control_rate, 4)
        tested = z_test(control_conversions, control_visitors, conversions, visitors)
        if tested is not None:
            row["p_value"] = tested[1]
            row["confidence"] = round(1 - tested[1], 4)
        row["difference_interval"] = _interval(difference_interval(control_conversions, control_visitors,
                                                                   conversions, visitors))
        row["improvement_interval"] = _interval(ratio_interval(control_conversions, control_visitors,
                                                               conversions, visitors))
    srm = sample_ratio([row["visitors"] for row in rows], [variant.weight for variant in variants])
    fewest = min((row["visitors"] for row in rows), default=0)
    result = {
        "test_id": str(test.id), "test_name": test.name, "status": test.status,
        "started_at": test.started_at.isoformat() if test.started_at else None,
        "completed_at": test.completed_at.isoformat() if test.completed_at else None,
        "variants": rows,
        "winner": {"variant_id": None, "reason": ""},
        "step_id": str(test.step_id), "min_sample": test.min_sample,
        "sample_progress": round(min(1.0, fewest / test.min_sample), 4) if test.min_sample else 1.0,
        "visitors_needed_per_variant": max(0, test.min_sample - fewest),
        "sample_ratio_mismatch": srm,
        "promoted_variant_id": str(test.winner_variant_id) if test.winner_variant_id else None,
    }
    result["winner"] = _winner(test, rows, control, fewest, srm)
    return result


def _winner(test: SplitTest, rows: list[dict], control, fewest: int, srm: dict) -> dict:
    none = {"variant_id": None}
    if control is None or len(rows) < 2:
        return {**none, "reason": "The test has no control to compare with."}
    total = sum(row["visitors"] for row in rows)
    if total == 0:
        return {**none, "reason": f"No visitors yet: each variant needs at least {test.min_sample:,} visitors "
                                  "before a winner can be declared."}
    if fewest < test.min_sample:
        needed = test.min_sample - fewest
        return {**none, "reason": f"Not enough data yet: needs {needed:,} more visitor{'' if needed == 1 else 's'} "
                                  f"per variant (minimum sample {test.min_sample:,} per variant)."}
    thin = [row["variant_name"] for row in rows
            if row["conversions"] <= MIN_EXPECTED or row["visitors"] - row["conversions"] <= MIN_EXPECTED]
    if thin:
        return {**none, "reason": f"Too few conversions to judge yet ({', '.join(thin)}): each variant needs more "
                                  f"than {MIN_EXPECTED} visitors who converted and more than {MIN_EXPECTED} who "
                                  "did not."}
    control_row = next(row for row in rows if row["is_control"])
    challengers = [row for row in rows if not row["is_control"]]
    better = [row for row in challengers if row["confidence"] >= CONFIDENCE_LEVEL
              and row["conversion_rate"] > control_row["conversion_rate"]]
    warning = (" Warning: the visitors are not split as configured (sample ratio mismatch), so check the "
               "set-up before trusting this." if srm["flagged"] else "")
    if better:
        best = max(better, key=lambda row: (row["conversion_rate"], row["confidence"]))
        interval = best["improvement_interval"]
        span = f" (95% CI {_percent(interval[0])} to {_percent(interval[1])})" if interval else ""
        confidence = confidence_text(best["confidence"])
        return {"variant_id": best["variant_id"],
                "reason": f"{best['variant_name']} converts {_percent(best['improvement_vs_control'] or 0)} "
                          f"vs {control_row['variant_name']}{span} with {confidence} confidence, "
                          f"and every variant reached the minimum sample of {test.min_sample:,} visitors.{warning}"}
    worse = [row for row in challengers if row["confidence"] >= CONFIDENCE_LEVEL
             and row["conversion_rate"] < control_row["conversion_rate"]]
    if worse and len(worse) == len(challengers):
        return {"variant_id": control_row["variant_id"],
                "reason": f"{control_row['variant_name']} converts better than every variant with at least "
                          f"{CONFIDENCE_LEVEL * 100:.0f}% confidence.{warning}"}
    leader = max(challengers, key=lambda row: row["confidence"])
    confidence = confidence_text(leader["confidence"])
    return {**none, "reason": f"No significant difference yet: the most different variant, {leader['variant_name']}, "
                              f"is at {confidence} confidence ({CONFIDENCE_LEVEL * 100:.0f}% needed). Let the test "
                              "run longer."}


# ---- reading the counts --------------------------------------------------------------------------------

def _read_moment(raw, field: str, zone_name: str, end: bool) -> datetime | None:
    """A bound: "2026-03-01" (that day's start, or the next day's start for date_to, in the workspace's zone)
    or an ISO 8601 time (as given; a time without zone is the workspace's)."""
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    try:
        if len(text) > 10:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dates.zone(zone_name))
            if not dates.in_range(moment.date()):
                raise ValueError
            return moment
        day = date.fromisoformat(text)
        if not dates.in_range(day):
            raise ValueError
    except (ValueError, OverflowError):
        raise PeriodError(f"{field} is not a date: use ISO 8601, like 2026-03-01.", field=field) from None
    return dates.start_of_day(day + timedelta(days=1) if end else day, zone_name)


def read_range(account, date_from=None, date_to=None) -> tuple[datetime | None, datetime | None]:
    """(since, until) of the exposures counted (first seen in [since, until)); both optional (the whole test).
    Refused with a 400 naming the field: not a date, reversed, longer than a year."""
    zone_name = dates.zone(account.timezone).key
    since = _read_moment(date_from, "date_from", zone_name, end=False)
    until = _read_moment(date_to, "date_to", zone_name, end=True)
    if since is not None and until is not None:
        if until <= since:
            raise PeriodError("date_to is before date_from: the range is reversed.", field="date_to")
        if until - since > timedelta(days=MAX_DAYS):
            raise PeriodError(f"The range is longer than a year: at most {MAX_DAYS} days.", field="date_from")
    return since, until


def exposure_counts(test_ids: list, since=None, until=None) -> dict:
    """{test id: {variant id: (visitors, conversions, revenue cents)}} in one grouped query."""
    if not test_ids:
        return {}
    query = (select(Exposure.test_id, Exposure.variant_id, func.count(),
                    func.coalesce(func.sum(case((Exposure.conversions > 0, 1), else_=0)), 0),
                    func.coalesce(func.sum(Exposure.value_cents), 0))
             .where(Exposure.test_id.in_(test_ids)).group_by(Exposure.test_id, Exposure.variant_id))
    if since is not None:
        query = query.where(Exposure.first_seen_at >= since)
    if until is not None:
        query = query.where(Exposure.first_seen_at < until)
    found: dict = {}
    for test_id, variant_id, visitors, conversions, revenue in db.session.execute(query):
        found.setdefault(test_id, {})[variant_id] = (int(visitors), int(conversions), int(revenue))
    return found


def funnel_of(account, funnel_id) -> Funnel:
    """One of the workspace's live funnels; NotFoundError (404) for anything else."""
    found = uuid_or_none(funnel_id)
    funnel = db.session.get(Funnel, found) if found is not None else None
    if funnel is None or funnel.account_id != account.id or funnel.deleted_at is not None:
        raise NotFoundError("No such funnel in this workspace.")
    return funnel


def funnel_results(account, funnel: Funnel, test_id=None, date_from=None, date_to=None) -> dict:
    """{"tests": [...]} of the funnel, newest first (an empty list when it has none); one test with
    `test_id` (404 when it is not one of the funnel's)."""
    since, until = read_range(account, date_from, date_to)
    tests = splittests.tests_of_funnel(account, funnel)
    if test_id not in (None, ""):
        wanted = uuid_or_none(test_id)
        tests = [test for test in tests if test.id == wanted]
        if not tests:
            raise NotFoundError("No such split test in this funnel.", field="test_id")
    counts = exposure_counts([test.id for test in tests], since, until)
    return {"tests": [evaluate(test, counts.get(test.id, {})) for test in tests]}


@splittests.results_provider
def test_results(account, test: SplitTest) -> dict:
    """One test's results over its whole life (the test's page in the app)."""
    return evaluate(test, exposure_counts([test.id]).get(test.id, {}))


@events.subscribe("split_test.deleted")
def forget_exposures(name: str, payload: dict) -> None:
    """A deleted test's exposures go with it."""
    test_id = uuid_or_none(payload.get("test_id"))
    if test_id is None:
        return
    db.session.execute(delete(Exposure).where(Exposure.test_id == test_id))
    db.session.commit()

