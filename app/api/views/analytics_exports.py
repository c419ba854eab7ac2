"""Analytics exports and privacy in the JSON API: export a funnel report as a file (REQ-FUN-004-12, a background
job), follow the job, and anonymize a visitor (REQ-FUN-004-13's GDPR note).

Exporting needs the viewer role (it reads reports), anonymizing the admin role. The file of an export is
downloaded from its signed link (24 hours, no key needed): e-mailed to the key's user when ready, in the app's
notifications, and in the job's status here.
"""
from flask import jsonify

from app.analytics import exports, privacy
from app.api.base import ApiError, api_route, check_types, json_body
from app.api.openapi import SCHEMAS, error_response, json_response, ref
from app.core.db import utcnow
from app.core.models import Job
from app.core.tenancy import current_account, current_actor, get_or_404

TAG = "Analytics"
UUID = {"type": "string", "format": "uuid"}
DATE = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "description": "A day (2026-03-01) or an ISO 8601 time, whose day in the workspace's zone counts."}
TIME = {"type": "string", "format": "date-time"}
STATUSES = {"queued": "processing", "running": "processing", "finished": "completed", "failed": "failed"}

SCHEMAS.update({
    "AnalyticsExportCreate": {
        "type": "object", "required": ["funnel_id", "report_type", "date_from", "date_to"],
        "description": "What to export: a report of a funnel over at most a year (days in the workspace's zone).",
        "properties": {
            "funnel_id": UUID,
            "report_type": {"type": "string", "enum": list(exports.REPORT_TYPES)},
            "date_from": DATE,
            "date_to": {**DATE, "description": "The last day, included; at most a year (366 days) after date_from."},
            "format": {"type": "string", "enum": list(exports.FORMATS), "default": "csv"},
            "include_charts": {"type": "boolean", "default": True,
                               "description": "Charts in a PDF (drawn in it) or an XLSX (native Excel charts)."},
        }},
    "AnalyticsExportStarted": {
        "type": "object", "required": ["job_id", "status", "estimated_completion"], "properties": {
            "job_id": UUID, "status": {"type": "string", "enum": ["processing"]},
            "estimated_completion": {**TIME, "description": "A guess: reports read rollups, a year takes seconds."}}},
    "AnalyticsExport": {
        "type": "object", "required": ["job_id", "status", "progress", "message", "download_url", "expires_at"],
        "properties": {
            "job_id": UUID, "status": {"type": "string", "enum": ["processing", "completed", "failed"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100}, "message": {"type": "string"},
            "download_url": {"type": ["string", "null"],
                             "description": "The signed link to the file (no key needed) once completed, until it "
                                            "expires; null otherwise."},
            "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
    "VisitorAnonymized": {
        "type": "object", "required": ["visitor_id", "events", "exposures", "orders"], "properties": {
            "visitor_id": UUID,
            "events": {"type": "integer", "description": "Events that lost the visitor id, IP address and user agent "
                                                         "(their counts stay in the reports)."},
            "exposures": {"type": "integer", "description": "Split-test exposures now tied to a random id."},
            "orders": {"type": "integer", "description": "Orders that forgot the visitor and session ids."}}},
})

# The body's fields with their JSON kinds (app.api.base.check_types); report_type is checked by the service,
# whatever its type: an invalid report type is a 400 (REQ-FUN-004-12).
EXPORT_TYPES = {"funnel_id": "string", "date_from": "string", "date_to": "string", "format": "string"}


@api_route("/analytics/export", methods=("POST",), summary="Export a funnel report (overview, conversions, "
           "drop-offs, revenue) as CSV, XLSX or PDF, in the background", tag=TAG, body=ref("AnalyticsExportCreate"),
           responses={202: json_response("The export started: its file is e-mailed (a link valid 24 hours) and "
                                         "announced in the app when ready; follow it with GET /analytics/exports/"
                                         "{job_id}.", "AnalyticsExportStarted"),
                      400: error_response("An invalid report type, format or range (missing, not a date, reversed, "
                                          "over a year): `fields` names it."),
                      404: error_response("No such funnel in the key's workspace.")})
def analytics_export():
    data = json_body()
    check_types(data, EXPORT_TYPES)
    if "include_charts" in data and not isinstance(data["include_charts"], bool):
        raise ApiError(422, "include_charts must be true or false.", {"include_charts": "Must be true or false."})
    account = current_account()
    asked = exports.check(account, data)
    job = exports.start(account, current_actor(), asked)
    return jsonify({"job_id": str(job.id), "status": "processing",
                    "estimated_completion": exports.estimated_completion(asked).isoformat()}), 202


@api_route("/analytics/exports/<uuid:job_id>", summary="An export's progress, and its download link once ready",
           tag=TAG, responses={200: json_response("The export.", "AnalyticsExport"),
                               404: error_response("No such export in the key's workspace.")})
def analytics_export_status(job_id):
    job = get_or_404(Job, job_id)
    if job.kind != exports.JOB_KIND:
        raise ApiError(404, "No such export in the key's workspace.")
    ready = job.state == "finished" and job.result_path and (job.expires_at is None or job.expires_at > utcnow())
    return jsonify({"job_id": str(job.id), "status": STATUSES.get(job.state, "processing"), "progress": job.progress,
                    "message": job.message, "download_url": exports.link_url(job) if ready else None,
                    "expires_at": job.expires_at.isoformat() if ready and job.expires_at else None})


@api_route("/analytics/visitors/<visitor_id>/anonymize", methods=("POST",), role="admin", tag=TAG,
           summary="Anonymize a visitor (consent withdrawn): their events keep their counts but lose the visitor id, "
                   "IP address and user agent",
           responses={200: json_response("What was changed.", "VisitorAnonymized"),
                      404: error_response("No such visitor in the key's workspace (or already anonymized).")})
def analytics_anonymize_visitor(visitor_id):
    return jsonify(privacy.anonymize_visitor(current_account(), visitor_id, current_actor()))
