"""A/B split-test results of the JSON API (SPEC-FUN-004 REQ-09): GET /analytics/funnels/{id}/ab-tests, computed
by app.analytics.abtests from the exposures. Another workspace's funnel (or a deleted one) is a 404."""
from flask import jsonify, request

from app.analytics import abtests
from app.api.base import api_route, query_filters, query_param
from app.api.openapi import SCHEMAS, error_response, json_response, ref
from app.core.tenancy import current_account

TAG = "Analytics"
UUID = {"type": "string", "format": "uuid"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
INTERVAL = {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2, "maxItems": 2}

SCHEMAS.update({
    "AbTestVariant": {
        "type": "object",
        "required": ["variant_id", "variant_name", "is_control", "visitors", "conversions", "conversion_rate",
                     "revenue_cents", "avg_revenue_per_visitor_cents", "improvement_vs_control", "confidence"],
        "properties": {
            "variant_id": UUID, "variant_name": {"type": "string"}, "is_control": {"type": "boolean"},
            "visitors": {"type": "integer", "description": "Visitors who saw this variant (each counted once)."},
            "conversions": {"type": "integer", "description": "Of those, the visitors who converted."},
            "conversion_rate": {"type": "number", "description": "conversions / visitors, from 0 to 1."},
            "revenue_cents": {"type": "integer"},
            "avg_revenue_per_visitor_cents": {"type": "integer"},
            "improvement_vs_control": {**NULLABLE_NUMBER, "description": "(rate − control's rate) / control's "
                                       "rate; null for the control and while the control has no conversion."},
            "confidence": {"type": "number", "description": "1 − p of a two-sided two-proportion z-test against "
                           "the control (0 for the control itself, and while it cannot be computed)."},
            "weight": {"type": "integer", "description": "The configured share of the traffic, in percent."},
            "page_id": UUID,
            "p_value": NULLABLE_NUMBER,
            "difference_interval": {**INTERVAL, "description": "95% confidence interval of rate − control's rate."},
            "improvement_interval": {**INTERVAL, "description": "95% confidence interval of the relative "
                                     "improvement (rate / control's rate − 1)."},
        }},
    "AbTest": {
        "type": "object",
        "required": ["test_id", "test_name", "status", "started_at", "completed_at", "variants", "winner"],
        "properties": {
            "test_id": UUID, "test_name": {"type": "string"},
            "status": {"type": "string", "enum": ["running", "completed", "stopped"]},
            "started_at": {"type": "string", "format": "date-time"},
            "completed_at": {"type": ["string", "null"], "format": "date-time"},
            "variants": {"type": "array", "items": ref("AbTestVariant")},
            "winner": {"type": "object", "required": ["variant_id", "reason"], "properties": {
                "variant_id": {"type": ["string", "null"], "format": "uuid", "description": "Declared only at 95% "
                               "confidence or more, once every variant has the minimum sample; else null."},
                "reason": {"type": "string", "description": "Why this winner, or what is missing for one."}}},
            "step_id": UUID,
            "min_sample": {"type": "integer", "description": "Visitors each variant needs before a winner."},
            "sample_progress": {"type": "number", "description": "The fewest visitors of a variant / min_sample "
                                "(at most 1)."},
            "visitors_needed_per_variant": {"type": "integer"},
            "sample_ratio_mismatch": {"type": "object", "required": ["chi_square", "p_value", "flagged"],
                                      "description": "Chi-square goodness of fit of the visitors each variant got "
                                                     "against the weights; flagged at p < 0.001.",
                                      "properties": {"chi_square": {"type": "number"},
                                                     "p_value": {"type": "number"},
                                                     "flagged": {"type": "boolean"}}},
            "promoted_variant_id": {"type": ["string", "null"], "format": "uuid",
                                    "description": "The variant the marketer declared the winner, if any."},
        }},
    "AbTestResults": {"type": "object", "required": ["tests"], "properties": {
        "tests": {"type": "array", "items": ref("AbTest")}}},
})

PARAMS = [
    query_param("test_id", UUID, "Only this test of the funnel."),
    query_param("date_from", {"type": "string"}, "Visitors first exposed on or after this day (ISO 8601, the "
                "workspace's time zone) or time."),
    query_param("date_to", {"type": "string"}, "Visitors first exposed on or before this day (ISO 8601) or "
                "before this time; at most a year after date_from."),
]


@api_route("/analytics/funnels/<uuid:funnel_id>/ab-tests", summary="A/B split-test results of a funnel", tag=TAG,
           params=PARAMS, responses={
               200: json_response("The funnel's tests, newest first (an empty list when it has none).",
                                  "AbTestResults"),
               400: error_response("A test_id that is not a UUID, a date that is not one, a reversed range, or "
                                   "more than a year."),
               404: error_response("No such funnel (or test of it) in the key's workspace.")})
def ab_test_results(funnel_id):
    account = current_account()
    funnel = abtests.funnel_of(account, funnel_id)
    test_id = query_filters({"test_id": "uuid"}).get("test_id")
    return jsonify(abtests.funnel_results(account, funnel, test_id, request.args.get("date_from"),
                                          request.args.get("date_to")))
