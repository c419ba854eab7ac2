"""Analytics reports of the JSON API (SPEC-FUN-004): a funnel's overview (REQ-05), one step (REQ-06), conversions
(REQ-07), drop-offs (REQ-08), revenue (REQ-10), realtime (REQ-11), and a visitor's journey (REQ-13), computed by
app.analytics.reports* from the rollups and answered with the spec's field names.

Reading needs the viewer role. Another workspace's funnel, step or visitor, a deleted funnel and an unknown one
are a 404; a missing or bad date, a range reversed or longer than a year, a granularity other than hour, day or
week are a 400 naming the parameter. Results are cached a minute (realtime: 5 seconds).
"""
from flask import jsonify, request

from app.analytics import reports, reports_conversions, reports_dropoffs, reports_live, reports_revenue
from app.api.base import api_route, query_filters, query_param
from app.api.openapi import SCHEMAS, error_response, json_response
from app.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, parse_page_args
from app.core.tenancy import current_account

TAG = "Analytics"
UUID = {"type": "string", "format": "uuid"}
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
INTEGER = {"type": "integer"}
CENTS = {"type": "integer", "description": "Cents (minor units) of the workspace's currency."}
RATE = {"type": "number", "description": "A fraction from 0 to 1."}
PERCENTAGE = {"type": "number", "description": "A percentage from 0 to 100."}
SECONDS = {"type": "integer", "description": "Seconds."}
TIME = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}


def _object(properties: dict, description: str | None = None) -> dict:
    schema = {"type": "object", "required": list(properties), "properties": properties}
    return {**schema, "description": description} if description else schema


def _list(properties: dict) -> dict:
    return {"type": "array", "items": _object(properties)}


PERIOD = _object({"start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"}},
                 "The days of the report, both included, in the workspace's time zone.")
STEP_FIGURES = {"visitors": {**INTEGER, "description": "Unique visitors who entered the step."},
                "entries": INTEGER, "exits": INTEGER,
                "drop_offs": {**INTEGER, "description": "Exits by bounce or close."},
                "drop_off_rate": {**RATE, "description": "drop_offs / entries."}, "avg_time_seconds": SECONDS}
OVER_TIME_STEP = {"timestamp": {**TIME, "description": "The start of the hour, day or week (the workspace's zone)."},
                  "visitors": {**INTEGER, "description": "Page views of the step in the bucket."},
                  "entries": INTEGER, "exits": INTEGER, "drop_off_rate": RATE, "avg_time_seconds": SECONDS}

SCHEMAS.update({
    "AnalyticsOverview": _object({
        "funnel_id": UUID, "funnel_name": TEXT, "period": PERIOD,
        "visitors": _object({"total": {**INTEGER, "description": "Sessions (visits)."},
                             "unique": {**INTEGER, "description": "Unique visitors (HyperLogLog: exact up to 500 a "
                                        "day, within about 2% beyond)."},
                             "new": {**INTEGER, "description": "Sessions of first-time visitors."},
                             "returning": {**INTEGER, "description": "unique − new, at least 0."}}),
        "conversions": _object({"total": INTEGER, "rate": {**RATE, "description": "total / unique visitors."},
                                "value_cents": CENTS}),
        "revenue": _object({"total_cents": {**CENTS, "description": "The funnel's paid orders made in the period, "
                                            "less their refunds."},
                            "per_visitor_cents": CENTS, "per_conversion_cents": CENTS}),
        "steps": _list({"step_id": UUID, "step_name": TEXT, "step_type": TEXT, **STEP_FIGURES,
                        "conversion_rate": {**RATE, "description": "Forward exits / entries."}}),
    }),
    "AnalyticsStep": _object({
        "step_id": UUID, "step_name": TEXT, "period": PERIOD,
        "summary": _object({"visitors": {**INTEGER, "description": "Page views of the step."},
                            "unique_visitors": INTEGER, "entries": INTEGER, "exits": INTEGER,
                            "drop_offs": INTEGER, "drop_off_rate": RATE, "avg_time_seconds": SECONDS,
                            "median_time_seconds": {**SECONDS, "description": "Read from a histogram of the time "
                                                    "on step (grouped median)."}}),
        "over_time": _list(OVER_TIME_STEP),
        "traffic_sources": _list({"source": TEXT, "visitors": {**INTEGER, "description": "Entries."},
                                  "percentage": PERCENTAGE}),
        "devices": _list({"device_type": {"type": "string", "enum": ["desktop", "mobile", "tablet"]},
                          "visitors": INTEGER, "percentage": PERCENTAGE}),
        "browsers": _list({"browser": TEXT, "visitors": INTEGER, "percentage": PERCENTAGE}),
        "entry_paths": _list({"previous_step_id": {**NULLABLE_UUID, "description": "null: a direct entry."},
                              "count": INTEGER}),
        "exit_paths": _list({"next_step_id": {**NULLABLE_UUID, "description": "null: the visitor left."},
                             "count": INTEGER}),
    }),
    "AnalyticsConversions": _object({
        "period": PERIOD,
        "summary": _object({"total_conversions": INTEGER, "conversion_rate": RATE, "total_value_cents": CENTS,
                            "avg_value_cents": CENTS}),
        "by_type": _list({"conversion_type": TEXT, "count": INTEGER, "rate": RATE, "value_cents": CENTS}),
        "by_step": _list({"step_id": {**NULLABLE_UUID, "description": "null: conversions recorded by the server "
                                      "outside the steps (paid orders)."},
                          "step_name": TEXT, "conversions": INTEGER, "conversion_rate": RATE}),
        "over_time": _list({"timestamp": TIME, "conversions": INTEGER,
                            "rate": {**RATE, "description": "Per unique visitor of the day or week; per visit for "
                                     "hours."}, "value_cents": CENTS}),
        "converting_visitors": _list({"visitor_id": UUID, "session_id": TEXT, "conversions": INTEGER,
                                      "total_value_cents": CENTS, "first_conversion_at": TIME,
                                      "last_conversion_at": TIME}),
        "pagination": _object({"page": INTEGER, "page_size": INTEGER, "total": INTEGER},
                              "The page of converting_visitors (latest conversion first) and how many there are."),
    }),
    "AnalyticsDropoffs": _object({
        "period": PERIOD,
        "overall_drop_off_rate": {**RATE, "description": "The share of the first step's visitors who did not reach "
                                  "the last step."},
        "steps_with_drop_off": _list({
            "step_id": UUID, "step_name": TEXT, "drop_offs": INTEGER, "drop_off_rate": RATE,
            "severity": {"type": "string", "enum": ["low", "medium", "high"],
                         "description": "low under 30%, medium under 60%, high from 60%."},
            "common_exit_reasons": _list({"reason": TEXT, "count": INTEGER, "percentage": PERCENTAGE}),
            "suggestions": {"type": "array", "items": TEXT}}),
        "drop_off_funnel": _list({"step_id": UUID, "step_name": TEXT, "visitors": INTEGER, "drop_offs": INTEGER,
                                  "cumulative_drop_off_rate": RATE}),
    }),
    "AnalyticsRevenue": _object({
        "period": PERIOD,
        "summary": _object({"total_revenue_cents": {**CENTS, "description": "What the funnel's orders made in the "
                                                    "period took (paid, in the workspace's currency)."},
                            "revenue_per_visitor_cents": CENTS, "revenue_per_conversion_cents": CENTS,
                            "refund_rate": {**RATE, "description": "Refunded / total revenue."},
                            "net_revenue_cents": {**CENTS, "description": "Total less refunds; the other figures "
                                                  "are net too."}}),
        "by_source": _list({"source": TEXT, "revenue_cents": CENTS, "percentage": PERCENTAGE}),
        "by_step": _list({"step_id": NULLABLE_UUID, "step_name": TEXT, "revenue_cents": CENTS, "orders": INTEGER,
                          "avg_order_value_cents": CENTS}),
        "over_time": _list({"timestamp": TIME, "revenue_cents": CENTS, "orders": INTEGER,
                            "avg_order_value_cents": CENTS}),
        "top_products": _list({"product_id": NULLABLE_UUID, "product_name": TEXT, "revenue_cents": CENTS,
                               "units_sold": INTEGER}),
    }),
    "AnalyticsRealtime": _object({
        "funnel_id": UUID, "timestamp": TIME,
        "active_visitors": _object({"total": {**INTEGER, "description": "Visitors with an event in the last 30 "
                                              "minutes."},
                                    "by_step": _list({"step_id": UUID, "step_name": TEXT, "visitors": {
                                        **INTEGER, "description": "Active visitors whose latest step it is."}})}),
        "recent_events": _list({"event_type": TEXT, "step_id": NULLABLE_UUID, "timestamp": TIME, "session_id": TEXT}),
        "conversions_last_5min": _object({"count": INTEGER, "value_cents": CENTS}),
    }),
    "VisitorJourney": _object({
        "visitor_id": UUID, "first_seen_at": TIME, "last_seen_at": TIME, "total_sessions": INTEGER,
        "total_page_views": INTEGER, "total_conversions": INTEGER,
        "sessions": _list({
            "session_id": TEXT, "started_at": TIME,
            "ended_at": {"type": ["string", "null"], "format": "date-time",
                         "description": "null while the session may go on (an event in the last 30 minutes)."},
            "funnel_id": UUID, "entry_page": TEXT, "exit_page": {"type": ["string", "null"]},
            "page_views": INTEGER, "time_spent_seconds": SECONDS, "conversions": INTEGER,
            "events": _list({"event_type": TEXT, "page_id": NULLABLE_UUID, "step_id": NULLABLE_UUID,
                             "timestamp": TIME, "metadata": {"type": "object"}})}),
    }),
})

DATE_SCHEMA = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}"}
PERIOD_PARAMS = [
    {"name": "date_from", "in": "query", "required": True, "schema": DATE_SCHEMA,
     "description": "The first day (ISO 8601: 2026-03-01, or a time whose day in the workspace's zone counts)."},
    {"name": "date_to", "in": "query", "required": True, "schema": DATE_SCHEMA,
     "description": "The last day, included; at most a year (366 days) after date_from."},
]
GRANULARITY = query_param("granularity", {"type": "string", "enum": list(reports.GRANULARITIES), "default": "day"},
                          "The buckets of over_time, in the workspace's time zone (weeks start on Monday).")
PAGE_PARAMS = [
    query_param("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                "The page of converting_visitors."),
    query_param("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                              "default": DEFAULT_PAGE_SIZE}, "Converting visitors per page."),
]
BAD_PERIOD = error_response("A missing date or one that is not a date, a reversed range, more than a year, or a "
                            "granularity other than hour, day or week: `fields` names the parameter.")
NO_FUNNEL = error_response("No such funnel in the key's workspace.")


def _period(granularity: bool = False):
    args = request.args
    return reports.read_period(current_account(), args.get("date_from"), args.get("date_to"),
                               args.get("granularity") if granularity else None)


@api_route("/analytics/funnels/<uuid:funnel_id>/overview", summary="A funnel's visitors, conversions, revenue and "
           "steps over a period", tag=TAG, params=PERIOD_PARAMS,
           responses={200: json_response("The overview (REQ-FUN-004-05).", "AnalyticsOverview"), 400: BAD_PERIOD,
                      404: NO_FUNNEL})
def analytics_overview(funnel_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    return jsonify(reports.overview(account, funnel, _period()))


@api_route("/analytics/funnels/<uuid:funnel_id>/steps/<uuid:step_id>", summary="One step of a funnel over a period: "
           "over time, sources, devices, browsers, paths", tag=TAG, params=[*PERIOD_PARAMS, GRANULARITY],
           responses={200: json_response("The step's analytics (REQ-FUN-004-06).", "AnalyticsStep"),
                      400: BAD_PERIOD, 404: error_response("No such funnel, or step of it, in the key's workspace.")})
def analytics_step(funnel_id, step_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    step = reports.step_of(funnel, step_id)
    return jsonify(reports.step_report(account, funnel, step, _period(granularity=True)))


@api_route("/analytics/funnels/<uuid:funnel_id>/conversions", summary="A funnel's conversions by type, step and "
           "time, and the converting visitors (paginated)", tag=TAG,
           params=[*PERIOD_PARAMS, GRANULARITY, *PAGE_PARAMS],
           responses={200: json_response("The conversions (REQ-FUN-004-07).", "AnalyticsConversions"),
                      400: BAD_PERIOD, 404: NO_FUNNEL})
def analytics_conversions(funnel_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    period = _period(granularity=True)
    page, page_size = parse_page_args(request.args, strict=True)
    return jsonify(reports_conversions.conversions(account, funnel, period, page, page_size))


@api_route("/analytics/funnels/<uuid:funnel_id>/dropoffs", summary="Where visitors leave a funnel: severity, exit "
           "reasons, suggestions, cumulative drop-off", tag=TAG, params=PERIOD_PARAMS,
           responses={200: json_response("The drop-off analysis (REQ-FUN-004-08).", "AnalyticsDropoffs"),
                      400: BAD_PERIOD, 404: NO_FUNNEL})
def analytics_dropoffs(funnel_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    return jsonify(reports_dropoffs.dropoffs(account, funnel, _period()))


@api_route("/analytics/funnels/<uuid:funnel_id>/revenue", summary="A funnel's revenue net of refunds, by source, "
           "step and time, and its top 20 products", tag=TAG, params=[*PERIOD_PARAMS, GRANULARITY],
           responses={200: json_response("The revenue (REQ-FUN-004-10).", "AnalyticsRevenue"), 400: BAD_PERIOD,
                      404: NO_FUNNEL})
def analytics_revenue(funnel_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    return jsonify(reports_revenue.revenue(account, funnel, _period(granularity=True)))


@api_route("/analytics/funnels/<uuid:funnel_id>/realtime", summary="A funnel's active visitors (last 30 minutes), "
           "latest events and conversions of the last 5 minutes", tag=TAG,
           responses={200: json_response("The realtime view (REQ-FUN-004-11), at most 5 seconds old.",
                                         "AnalyticsRealtime"), 404: NO_FUNNEL})
def analytics_realtime(funnel_id):
    account = current_account()
    funnel = reports.funnel_of(account, funnel_id)
    return jsonify(reports_live.realtime(account, funnel))


@api_route("/analytics/visitors/<visitor_id>/journey", summary="A visitor's sessions and events", tag=TAG,
           params=[query_param("funnel_id", UUID, "Only the visitor's sessions in this funnel.")],
           responses={200: json_response("The journey (REQ-FUN-004-13), oldest session first.", "VisitorJourney"),
                      400: error_response("A funnel_id that is not a UUID."),
                      404: error_response("No such visitor (or funnel) in the key's workspace, or none in that "
                                          "funnel.")})
def analytics_journey(visitor_id):
    funnel_id = query_filters({"funnel_id": "uuid"}).get("funnel_id")
    return jsonify(reports_live.journey(current_account(), visitor_id, funnel_id))

