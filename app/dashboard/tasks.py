"""Background jobs of the dashboard: the activity log's CSV export."""
import uuid
from pathlib import Path

from flask import current_app

from app.auth.models import Account
from app.core import jobs
from app.core.db import utcnow
from app.core.schedule import scheduled
from app.dashboard import services
from app.extensions import db


def export_activity_csv(job_id: str, account_id: str, user_id: str | None, action: str | None) -> dict:
    """Tracked job: the (filtered) activity log as a CSV file to download, with progress. Run twice, it
    writes the same file again."""
    account = db.session.get(Account, uuid.UUID(account_id))
    folder = Path(current_app.config["EXPORTS_DIR"]) / account_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"activity-{job_id}.csv"

    def report(done: int, total: int) -> None:
        jobs.progress(job_id, done * 100 // max(total, 1), f"{done:,} of {total:,} rows")

    with path.open("w", newline="", encoding="utf-8") as handle:
        total = services.write_activity_csv(account, user_id, action, handle, report)
    return {"path": str(path), "name": f"activity-{utcnow():%Y-%m-%d}.csv", "message": f"{total:,} rows exported."}


@scheduled("exports-cleanup", "15 * * * *")
def remove_expired_exports() -> dict:
    """Delete the files of exports (every job result) past their 24 hours; their links then answer 410."""
    return {"message": f"{jobs.remove_expired_results():,} expired export files deleted."}
