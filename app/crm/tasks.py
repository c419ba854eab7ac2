"""Background jobs of the CRM (run by `core.jobs.enqueue`): each takes ids, loads the rows, calls a
service, and is safe to run twice."""
import uuid

from app.auth.models import Account, User
from app.core.schedule import scheduled
from app.crm.models import ContactImport
from app.crm.services import contacts
from app.crm.services.imports import job as import_job
from app.extensions import db


def run_import(job_id: str | None, import_id: str) -> dict:
    """Tracked job: import the rows of a started ContactImport (`services.imports.job.run`). Run twice, a
    finished import is not run again and an interrupted one goes on after its last committed batch."""
    upload = db.session.get(ContactImport, uuid.UUID(str(import_id)))
    if upload is None:
        return {"message": "This import was discarded."}
    account = db.session.get(Account, upload.account_id)
    actor = db.session.get(User, upload.created_by_id) if upload.created_by_id else None
    return import_job.run(account, upload, actor, job_id)


@scheduled("crm-purge-deleted", "0 3 * * *")
def purge_deleted() -> dict:
    """Remove contacts deleted more than 30 days ago, in every workspace (daily at 03:00 UTC)."""
    return {"message": f"{contacts.purge_deleted():,} deleted contacts removed."}
