"""Split-test results (app/analytics/abtests.py, SPEC-FUN-004 REQ-09): the statistics against figures worked
out by hand, the winner rules (minimum sample, n·p > 5, 95% confidence), the sample-ratio mismatch, and
GET /api/v1/analytics/funnels/{id}/ab-tests (shape, filters, bad input, other accounts)."""
import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from app.analytics import abtests
from app.analytics.models import Exposure
from app.extensions import db
from app.funnels import services as funnels
from app.funnels import splittests
from app.funnels.models import SplitTest
from tests import factories
from tests.api.conftest import make_key

# ---- the statistics, against hand-worked figures --------------------------------------------------------


def test_two_proportion_z_test_matches_the_hand_computation():
    # 100 of 1,000 against 130 of 1,000. Pooled rate 230 / 2,000 = 0.115; standard error
    # sqrt(0.115 × 0.885 × (1/1000 + 1/1000)) = sqrt(0.00020355) = 0.0142671; z = 0.03 / 0.0142671 = 2.10274;
    # two-sided p = 2 × (1 − Φ(2.10274)) = 0.035488 (Φ(2.10274) = 0.982256 from the normal table).
    z, p = abtests.z_test(100, 1000, 130, 1000)
    assert z == pytest.approx(2.10274, abs=1e-5)
    assert p == pytest.approx(0.035488, abs=1e-5)
    # Symmetric, and no difference is no confidence.
    assert abtests.z_test(130, 1000, 100, 1000)[0] == pytest.approx(-z)
    assert abtests.z_test(200, 1000, 200, 1000) == (0.0, 1.0)
    # 50 of 500 against 75 of 500: pooled 0.125, se = sqrt(0.125 × 0.875 × 0.004) = 0.0209165, z = 2.39046,
    # p = 0.016827.
    z, p = abtests.z_test(50, 500, 75, 500)
    assert z == pytest.approx(2.39046, abs=1e-5) and p == pytest.approx(0.016827, abs=1e-5)
    # Undefined: nobody on a side, or nobody (or everybody) converted on both.
    assert abtests.z_test(0, 0, 5, 10) is None
    assert abtests.z_test(0, 100, 0, 100) is None and abtests.z_test(100, 100, 100, 100) is None


def test_the_confidence_intervals_of_the_improvement():
    # Difference: se = sqrt(0.1 × 0.9 / 1000 + 0.13 × 0.87 / 1000) = sqrt(0.0002031) = 0.0142513;
    # 0.03 ± 1.95996 × 0.0142513 = 0.03 ± 0.0279320.
    low, high = abtests.difference_interval(100, 1000, 130, 1000)
    assert low == pytest.approx(0.002068, abs=1e-6) and high == pytest.approx(0.057932, abs=1e-6)
    # Ratio (Katz): log(1.3) = 0.262364, se = sqrt(0.9 / 100 + 0.87 / 130) = 0.125269;
    # exp(0.262364 ∓ 0.245524) − 1 = +1.70% to +66.18%.
    low, high = abtests.ratio_interval(100, 1000, 130, 1000)
    assert low == pytest.approx(0.01698, abs=1e-4) and high == pytest.approx(0.66178, abs=1e-4)
    assert abtests.ratio_interval(0, 100, 5, 100) is None  # no conversion on the control: no ratio


@pytest.mark.parametrize("statistic, degrees, expected", [
    (3.841458820694124, 1, 0.05),       # the 95th percentile of chi-square(1)
    (10.827566170662733, 1, 0.001),     # its 99.9th
    (4.0, 1, math.erfc(math.sqrt(2))),  # df 1: P(X > x) = erfc(sqrt(x / 2)) = 0.0455003
    (4.0, 2, math.exp(-2)),             # df 2: P(X > x) = exp(−x / 2) = 0.1353353
    (13.815510557964274, 2, 0.001),     # −2 ln(0.001)
    (0.5, 5, 0.9921233),                # the series branch (x < a + 1)
    (30.0, 10, 0.000856641),            # the continued-fraction branch
    (124.342, 100, 0.05),               # many degrees of freedom
    (0.0, 3, 1.0),
])
def test_chi_square_survival_function(statistic, degrees, expected):
    assert abtests.chi_square_sf(statistic, degrees) == pytest.approx(expected, rel=1e-4, abs=1e-12)


def test_upper_incomplete_gamma_against_closed_forms():
    for x in (0.1, 1.0, 2.5, 7.0, 40.0):
        assert abtests.upper_gamma_regularized(1, x) == pytest.approx(math.exp(-x), rel=1e-10)
        assert abtests.upper_gamma_regularized(0.5, x) == pytest.approx(math.erfc(math.sqrt(x)), rel=1e-9)
        assert abtests.upper_gamma_regularized(2, x) == pytest.approx((1 + x) * math.exp(-x), rel=1e-10)


def test_sample_ratio_mismatch_is_flagged_for_60_40_against_50_50_with_many_visitors():
    # (6000 − 5000)² / 5000 × 2 = 400, df 1: p ≈ 5.5e-89.
    srm = abtests.sample_ratio([6000, 4000], [50, 50])
    assert srm["chi_square"] == pytest.approx(400.0) and srm["flagged"] and srm["p_value"] < 1e-80
    # The same proportions over 100 visitors: chi-square 4, p = 0.0455, not flagged (it can be chance).
    small = abtests.sample_ratio([60, 40], [50, 50])
    assert small["chi_square"] == pytest.approx(4.0) and small["p_value"] == pytest.approx(0.0455003, abs=1e-6)
    assert not small["flagged"]
    # 60/40 observed is what a 60/40 split should give.
    assert not abtests.sample_ratio([6000, 4000], [60, 40])["flagged"]
    # Three variants: 20/30/50 configured, 2,000 / 3,000 / 5,000 seen: a perfect fit.
    assert abtests.sample_ratio([2000, 3000, 5000], [20, 30, 50])["p_value"] == pytest.approx(1.0)
    assert not abtests.sample_ratio([0, 0], [50, 50])["flagged"]


# ---- a test's results from its exposures ----------------------------------------------------------------

@pytest.fixture
def split(owner):
    user, account = owner
    funnel = funnels.create_funnel(account, {"name": "Guide", "slug": "guide"}, user)
    test = splittests.create_test(account, funnel, funnel.steps[0], {
        "name": "Headline", "variants": [{"name": "Original", "weight": 50}, {"name": "Bold", "weight": 50}]}, user)
    return funnel, db.session.get(SplitTest, test.id)


def expose(test, variant, visitors, conversions, value_cents=0, when=None):
    """`visitors` exposures of the variant, the first `conversions` of them converted (each worth value_cents)."""
    when = when or datetime.now(UTC) - timedelta(hours=1)
    db.session.execute(insert(Exposure), [
        {"account_id": test.account_id, "test_id": test.id, "visitor_id": uuid.uuid4(), "variant_id": variant.id,
         "first_seen_at": when, "conversions": 1 if i < conversions else 0,
         "value_cents": value_cents if i < conversions else 0} for i in range(visitors)])
    db.session.commit()


def results(owner, funnel, **params):
    return abtests.funnel_results(owner[1], funnel, **params)["tests"][0]


def test_per_variant_figures(owner, split):
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 1000, 100, value_cents=2000)
    expose(test, bold, 1000, 130, value_cents=1500)
    found = results(owner, funnel)
    a, b = found["variants"]
    assert a == {**a, "variant_id": str(control.id), "variant_name": "Original", "is_control": True, "visitors": 1000,
                 "conversions": 100, "conversion_rate": 0.1, "revenue_cents": 200000,
                 "avg_revenue_per_visitor_cents": 200, "improvement_vs_control": None, "confidence": 0.0}
    assert b["visitors"] == 1000 and b["conversions"] == 130 and b["conversion_rate"] == 0.13
    assert b["revenue_cents"] == 195000 and b["avg_revenue_per_visitor_cents"] == 195
    assert b["improvement_vs_control"] == 0.3
    assert b["confidence"] == pytest.approx(1 - 0.035488, abs=1e-4)
    assert b["difference_interval"] == pytest.approx([0.0021, 0.0579], abs=1e-4)
    assert b["improvement_interval"] == pytest.approx([0.017, 0.6618], abs=1e-4)


def test_a_visitor_who_converted_twice_is_one_conversion(owner, split):
    funnel, test = split
    db.session.add(Exposure(account_id=test.account_id, test_id=test.id, visitor_id=uuid.uuid4(),
                            variant_id=test.variants[0].id, conversions=3, value_cents=900))
    db.session.commit()
    row = results(owner, funnel)["variants"][0]
    assert (row["visitors"], row["conversions"], row["revenue_cents"]) == (1, 1, 900)


def test_the_winner_is_declared_at_95_percent_once_every_variant_has_the_sample(owner, split):
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 1000, 100)
    expose(test, bold, 1000, 130)
    found = results(owner, funnel)
    assert found["winner"]["variant_id"] == str(bold.id)
    reason = found["winner"]["reason"]
    assert "Bold converts +30.0% vs Original" in reason and "96.5% confidence" in reason
    assert "95% CI +1.7% to +66.2%" in reason
    assert found["visitors_needed_per_variant"] == 0 and found["sample_progress"] == 1.0


def test_no_winner_below_the_minimum_sample_however_large_the_difference(owner, split):
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 80, 8)
    expose(test, bold, 80, 40)  # 10% against 50%: "significant", but only 80 visitors each
    found = results(owner, funnel)
    assert found["variants"][1]["confidence"] > 0.99
    assert found["winner"] == {"variant_id": None, "reason": "Not enough data yet: needs 20 more visitors per "
                                                             "variant (minimum sample 100 per variant)."}
    assert found["min_sample"] == 100 and found["sample_progress"] == 0.8
    assert found["visitors_needed_per_variant"] == 20
    test.min_sample = 50
    db.session.commit()
    assert results(owner, funnel)["winner"]["variant_id"] == str(bold.id)


def test_no_winner_without_visitors_or_below_95_percent(owner, split):
    funnel, test = split
    assert results(owner, funnel)["winner"]["reason"].startswith("No visitors yet")
    control, bold = test.variants
    expose(test, control, 1000, 100)
    expose(test, bold, 1000, 120)  # z = 1.429, p = 0.153
    found = results(owner, funnel)
    assert found["winner"]["variant_id"] is None
    assert found["winner"]["reason"].startswith("No significant difference yet: the most different variant, Bold, "
                                                "is at 84.7% confidence (95% needed)")


def test_no_winner_while_too_few_converted(owner, split):
    """n·p > 5 and n·(1 − p) > 5 for every variant: 3 conversions out of 2,000 is not enough to judge."""
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 2000, 3)
    expose(test, bold, 2000, 40)
    found = results(owner, funnel)
    assert found["winner"]["variant_id"] is None and "Too few conversions to judge yet (Original)" in \
        found["winner"]["reason"]


def test_the_control_wins_when_every_variant_is_worse(owner, split):
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 1000, 150)
    expose(test, bold, 1000, 100)
    found = results(owner, funnel)
    assert found["variants"][1]["improvement_vs_control"] == pytest.approx(-0.3333, abs=1e-4)
    assert found["winner"]["variant_id"] == str(control.id)


def test_sample_ratio_mismatch_in_the_results(owner, split):
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 3000, 300)
    expose(test, bold, 2000, 200)
    srm = results(owner, funnel)["sample_ratio_mismatch"]
    assert srm["flagged"] and srm["chi_square"] == pytest.approx(200.0)


def test_the_range_counts_visitors_first_seen_in_it(owner, split):
    funnel, test = split
    control, bold = test.variants
    expose(test, control, 10, 1, when=datetime(2026, 1, 10, 12, tzinfo=UTC))
    expose(test, control, 5, 0, when=datetime(2026, 2, 10, 12, tzinfo=UTC))
    expose(test, bold, 7, 0, when=datetime(2026, 2, 11, 12, tzinfo=UTC))
    rows = results(owner, funnel, date_from="2026-02-01", date_to="2026-02-10")["variants"]
    assert [row["visitors"] for row in rows] == [5, 0]
    rows = results(owner, funnel, date_from="2026-01-01", date_to="2026-02-28")["variants"]
    assert [row["visitors"] for row in rows] == [15, 7]
    rows = results(owner, funnel, date_from="2026-02-11T00:00:00Z")["variants"]
    assert [row["visitors"] for row in rows] == [0, 7]


@pytest.mark.parametrize("params, field", [
    ({"date_from": "2026-03-01", "date_to": "2026-02-01"}, "date_to"),
    ({"date_from": "2025-01-01", "date_to": "2026-02-01"}, "date_from"),
    ({"date_from": "yesterday"}, "date_from"),
    ({"date_to": "0001-01-01"}, "date_to"),
])
def test_bad_ranges_are_refused_with_a_reason(owner, split, params, field):
    funnel, _ = split
    with pytest.raises(abtests.PeriodError) as refused:
        abtests.funnel_results(owner[1], funnel, **params)
    assert refused.value.status == 400 and field in refused.value.fields


def test_the_test_page_hook_is_registered(owner, split):
    funnel, test = split
    found = splittests.results_of(owner[1], test)
    assert found["test_id"] == str(test.id) and len(found["variants"]) == 2


# ---- the API --------------------------------------------------------------------------------------------

def test_the_api_answers_the_spec_shape(client, owner, split):
    funnel, test = split
    user, account = owner
    _, headers = make_key(account, user)
    expose(test, test.variants[0], 1000, 100, value_cents=1000)
    expose(test, test.variants[1], 1000, 130)
    response = client.get(f"/api/v1/analytics/funnels/{funnel.id}/ab-tests", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["tests"] and len(body["tests"]) == 1
    found = body["tests"][0]
    for key in ("test_id", "test_name", "status", "started_at", "completed_at", "variants", "winner"):
        assert key in found
    assert found["test_id"] == str(test.id) and found["test_name"] == "Headline" and found["status"] == "running"
    assert found["completed_at"] is None and datetime.fromisoformat(found["started_at"])
    for variant in found["variants"]:
        for key in ("variant_id", "variant_name", "is_control", "visitors", "conversions", "conversion_rate",
                    "revenue_cents", "avg_revenue_per_visitor_cents", "improvement_vs_control", "confidence"):
            assert key in variant
        assert isinstance(variant["visitors"], int) and isinstance(variant["conversion_rate"], float)
    assert set(found["winner"]) >= {"variant_id", "reason"}
    assert found["winner"]["variant_id"] == str(test.variants[1].id)
    # One test; the status after it ends.
    splittests.end_test(account, test, user)
    one = client.get(f"/api/v1/analytics/funnels/{funnel.id}/ab-tests?test_id={test.id}", headers=headers)
    assert one.get_json()["tests"][0]["status"] == "stopped"
    assert one.get_json()["tests"][0]["completed_at"] is not None


def test_the_api_answers_an_empty_list_without_tests(client, owner):
    user, account = owner
    _, headers = make_key(account, user)
    funnel = funnels.create_funnel(account, {"name": "Plain", "slug": "plain"}, user)
    response = client.get(f"/api/v1/analytics/funnels/{funnel.id}/ab-tests", headers=headers)
    assert response.status_code == 200 and response.get_json() == {"tests": []}


def test_the_api_refuses_bad_input(client, owner, split):
    funnel, test = split
    user, account = owner
    _, headers = make_key(account, user)
    base = f"/api/v1/analytics/funnels/{funnel.id}/ab-tests"
    for query, field in (("?date_from=2026-03-01&date_to=2026-01-01", "date_to"),
                         ("?date_from=2024-01-01&date_to=2026-01-01", "date_from"),
                         ("?date_from=soon", "date_from"), ("?test_id=nope", "test_id")):
        response = client.get(base + query, headers=headers)
        assert response.status_code == 400, query
        assert field in response.get_json()["error"]["fields"]
    assert client.get(f"{base}?test_id={uuid.uuid4()}", headers=headers).status_code == 404
    assert client.get(base).status_code == 401


def test_the_api_is_404_for_another_accounts_funnel_or_test(client, owner, split):
    funnel, test = split
    stranger = factories.make_user("stranger@example.com")
    other = factories.make_account(stranger, "Other")
    theirs = funnels.create_funnel(other, {"name": "Theirs", "slug": "theirs"}, stranger)
    _, headers = make_key(other, stranger)
    assert client.get(f"/api/v1/analytics/funnels/{funnel.id}/ab-tests", headers=headers).status_code == 404
    response = client.get(f"/api/v1/analytics/funnels/{theirs.id}/ab-tests?test_id={test.id}", headers=headers)
    assert response.status_code == 404
    assert client.get(f"/api/v1/analytics/funnels/{uuid.uuid4()}/ab-tests", headers=headers).status_code == 404
