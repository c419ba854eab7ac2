"""Background jobs of the published site (run by `core.jobs.enqueue`): each takes ids, loads the rows,
calls a service, and is safe to run twice."""
import uuid

from app.core.errors import ConflictError
from app.extensions import db
from app.funnels.models import Funnel
from app.site import export


def run_export(job_id: str, funnel_id: str) -> dict:
    """Tracked job: the static copy of a funnel's published pages (`export.write`). Run twice, it writes
    the same zip again."""
    funnel = db.session.get(Funnel, uuid.UUID(str(funnel_id)))
    if funnel is None or funnel.deleted_at is not None:
        raise ConflictError("This funnel was deleted.")
    return export.write(job_id, funnel)
