"""The import itself: started from the mapping page, run as a tracked background job, reported.

`start()` checks the mapping, remembers it, and enqueues `app.crm.tasks.run_import`, which calls `run()`:
the file is read in the import's encoding in batches of BATCH_SIZE rows, one commit each (the counts of
the import move with the batch, so they always say how far it went), and the rejected rows are written
with their line number and reason to a report CSV. Safe to run twice: a finished import is not run
again, an interrupted one goes on after its last committed batch.
"""
import csv
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.core import audit, events, jobs
from app.core.db import utcnow
from app.core.errors import ConflictError, ValidationError
from app.crm.models import ContactImport
from app.crm.services.imports import files, mapping, sniffing
from app.crm.services.imports.batches import BatchOutcome, BatchWriter
from app.crm.services.imports.rows import parse_tag_names
from app.extensions import db

BATCH_SIZE = 500
DUPLICATE_MODES = ("update", "skip")


def start(account, upload: ContactImport, columns: dict, duplicate_mode: str, tags_text: str = "", actor=None):
    """Check the mapping, remember it for these headers, and start the import job; returns the Job.

    columns: {header: target}; errors name the field "map_<column index>", "mapping", "duplicate_mode" or
    "tags". ConflictError when the import was started already or its file is gone."""
    from app.crm import tasks  # the job this starts (tasks call services, so it is imported here)

    if upload.status != "uploaded":
        raise ConflictError("This import has already been started.")
    if not Path(upload.path).is_file():
        raise ConflictError(files.FILE_GONE, field="file")
    clean, errors = mapping.checked_mapping(account, upload.headers, columns)
    if duplicate_mode not in DUPLICATE_MODES:
        errors["duplicate_mode"] = "Choose what to do with contacts that exist already."
    try:
        tag_names = parse_tag_names(tags_text)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError("Check the column mapping.", fields=errors)
    # Only one request may start it (a double click, two tabs).
    claimed = db.session.execute(update(ContactImport).where(
        ContactImport.id == upload.id, ContactImport.status == "uploaded").values(status="queued")).rowcount
    if not claimed:
        db.session.rollback()
        raise ConflictError("This import has already been started.")
    mapping.remember(account, upload.headers, clean)
    upload.mapping, upload.duplicate_mode, upload.tag_names = clean, duplicate_mode, tag_names
    audit.record("contact_import.started", upload, f"Import of {upload.filename} started ({upload.row_count:,} rows)",
                 account=account, user=actor, details={"encoding": upload.encoding})
    job = jobs.create_job(account, "contact_import", f"Import {upload.filename}", user=actor)  # commits
    upload.job_id = job.id
    db.session.commit()
    try:
        jobs.enqueue(tasks.run_import, upload.id, job=job)
    except Exception as exc:  # the queue is down: let the user try again later
        db.session.rollback()
        upload.status, job.state, job.error = "uploaded", "failed", f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise ConflictError("The import could not be queued. Try again in a minute.") from exc
    return job


def run(account, upload: ContactImport, actor, job_id: str | None) -> dict:
    """Import the rows of a started ContactImport (the job's work); returns the job's result. Safe to run
    twice: a finished import is not run again, an interrupted one goes on after its last committed batch."""
    if upload.status == "finished":
        return result(upload)
    if upload.status == "uploaded":
        return {"message": "This import was not started."}
    upload_id = upload.id
    upload.status = "running"
    db.session.commit()
    try:
        _run(account, upload, actor, job_id)
    except Exception:
        db.session.rollback()
        upload = db.session.get(ContactImport, upload_id)
        upload.status = "failed"
        db.session.commit()
        raise
    return result(db.session.get(ContactImport, upload_id))


class RejectedRows:
    """The report: a CSV of the rejected rows (line, reason, then the file's own columns), kept across runs."""

    def __init__(self, upload: ContactImport):
        self.path = report_path(upload)
        self.headers = ["line", "reason"] + list(upload.headers)

    def open(self, keep_rows: int) -> "RejectedRows":
        """Start the file, after the first `keep_rows` rows of an earlier, interrupted run's."""
        kept = []
        if keep_rows and self.path.is_file():
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                next(reader, None)
                kept = [row for _, row in zip(range(keep_rows), reader)]
        self.handle = self.path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(self.headers)
        self.writer.writerows(kept)
        return self

    def mark(self) -> int:
        return self.handle.tell()

    def add(self, rejected: list) -> None:
        for line, reason, row in rejected:
            self.writer.writerow([line, reason] + list(row))
        self.handle.flush()

    def back_to(self, mark: int) -> None:
        """Forget the rows added since `mark` (their batch was rolled back)."""
        self.handle.seek(mark)
        self.handle.truncate()

    def close(self) -> None:
        self.handle.close()


def _run(account, upload: ContactImport, actor, job_id) -> None:
    writer = BatchWriter(account, upload, actor)
    ids = (account.id, upload.id)  # plain values: the models expire at each commit
    db.session.commit()  # the tags of the form, created by the writer
    writer.committed()
    done = upload.created_count + upload.updated_count + upload.skipped_count + upload.rejected_count
    total = max(upload.row_count, 1)
    report = RejectedRows(upload).open(upload.rejected_count)
    try:
        with files.open_upload(upload) as handle:
            reader, _, _ = sniffing.csv_reader(handle)
            rows = sniffing.numbered_rows(reader)
            next(rows, None)  # the header
            for _ in range(done):  # rows of an earlier, interrupted run: already committed
                line, row = next(rows, (None, None))
                if line is None:
                    break
                writer.note_imported_row(line, row)
            batch = []
            for item in rows:
                batch.append(item)
                if len(batch) >= BATCH_SIZE:
                    done = _commit_batch(writer, ids, batch, report, done, total, job_id)
                    batch = []
            if batch:
                done = _commit_batch(writer, ids, batch, report, done, total, job_id)
    finally:
        report.close()
    upload = db.session.get(ContactImport, ids[1])
    upload.status = "finished"
    if upload.rejected_count:
        upload.report_path = str(report.path)
    else:
        report.path.unlink(missing_ok=True)
    Path(upload.path).unlink(missing_ok=True)  # the rows are in the CRM (and the rejected ones in the report)
    audit.record("contact_import.finished", upload, f"Imported {upload.filename}: {summary(upload)}",
                 account=account, user=actor, details={"created": upload.created_count, "updated": upload.updated_count,
                                                       "skipped": upload.skipped_count,
                                                       "rejected": upload.rejected_count})
    db.session.commit()


def _commit_batch(writer: BatchWriter, ids: tuple, batch, report: RejectedRows, done: int, total: int,
                  job_id: str | None) -> int:
    """Write, report and commit one batch with the import's counts; returns the number of rows done.
    ids: (account id, import id)."""
    account_id, upload_id = ids
    mark = report.mark()
    for attempt in (1, 2):
        try:
            outcome = writer.process_batch(batch)
            report.add(outcome.rejected)
            db.session.execute(update(ContactImport).where(ContactImport.id == upload_id).values(
                created_count=ContactImport.created_count + outcome.created,
                updated_count=ContactImport.updated_count + outcome.updated,
                skipped_count=ContactImport.skipped_count + outcome.skipped,
                rejected_count=ContactImport.rejected_count + len(outcome.rejected),
                updated_at=utcnow()))
            db.session.commit()
            break
        except IntegrityError:
            # Someone created a contact with one of these e-mails (or a tag) meanwhile: reload and redo once.
            db.session.rollback()
            report.back_to(mark)
            writer.rolled_back()
            if attempt == 2:
                raise
    writer.committed(outcome)
    done += len(batch)
    _publish(account_id, upload_id, outcome)
    if job_id:
        jobs.progress(job_id, done * 100 // total, f"{min(done, total):,} of {total:,} rows")
    return done


def _publish(account_id, import_id, outcome: BatchOutcome) -> None:
    for contact_id in outcome.new_ids:
        events.publish("contact.created", account_id=account_id, contact_id=contact_id, source="import",
                       import_id=import_id)
    for contact_id, fields in outcome.updated_events:
        events.publish("contact.updated", account_id=account_id, contact_id=contact_id, fields=fields,
                       source="import", import_id=import_id)
    for contact_id, tag_id, name in outcome.tag_events:
        events.publish("tag.added", account_id=account_id, contact_id=contact_id, tag_id=tag_id, tag=name)


def summary(upload: ContactImport) -> str:
    return (f"{upload.created_count:,} created, {upload.updated_count:,} updated, "
            f"{upload.skipped_count:,} skipped, {upload.rejected_count:,} rejected")


def result(upload: ContactImport) -> dict:
    """The job's result: the summary, and the report to download when rows were rejected."""
    found = {"message": summary(upload) + "."}
    if upload.report_path and Path(upload.report_path).is_file():
        found.update(path=upload.report_path, name=report_name(upload))
    return found


def report_path(upload: ContactImport) -> Path:
    return Path(upload.path).with_name(f"{upload.id}-report.csv")


def report_name(upload: ContactImport) -> str:
    return f"{Path(upload.filename).stem[:80]}-rejected-rows.csv"
