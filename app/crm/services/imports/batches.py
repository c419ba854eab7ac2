"""Writing one batch of checked rows: new contacts inserted in bulk, existing ones (same e-mail) updated or
skipped, companies and tags found by name or created, timeline entries written with them.

`BatchWriter` loads what the rows are matched against once (the account's e-mails, companies, tags) and
keeps it current from batch to batch. Its interface to the job: `process_batch` (written, not committed),
then `committed(outcome)` once the job committed it, or `rolled_back()` if the job rolled it back; and
`note_imported_row` for the rows of an earlier, interrupted run.
"""
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import insert, select

from app.core.db import utcnow
from app.core.tenancy import scoped
from app.crm.models import Company, Contact, ContactImport, Tag, TimelineEntry, contact_tags
from app.crm.services import contacts
from app.crm.services.imports.rows import RowError, RowParser
from app.extensions import db


@dataclass
class BatchOutcome:
    """What a batch did: counts, the rejected rows (line, reason, row), and what to publish once committed."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: list = field(default_factory=list)
    new_ids: list = field(default_factory=list)  # contacts created
    updated_events: list = field(default_factory=list)  # (contact id, sorted names of the changed fields)
    tag_events: list = field(default_factory=list)  # (contact id, tag id, tag name)
    seen: dict = field(default_factory=dict)  # e-mail -> line of its first row in this batch
    emails: dict = field(default_factory=dict)  # e-mail -> id of the contact created with it


class BatchWriter:
    """Writes the batches of one ContactImport (its mapping, duplicate mode and tags)."""

    def __init__(self, account, upload: ContactImport, actor):
        self.account, self.account_id, self.actor_id = account, account.id, getattr(actor, "id", None)
        self.import_id, self.filename = upload.id, upload.filename
        self.parser = RowParser(account, upload.headers, upload.mapping)
        self.update_existing = upload.duplicate_mode == "update"
        self.companies = {}
        live_companies = select(Company.id, Company.name).where(Company.account_id == self.account_id,
                                                                Company.deleted_at.is_(None))
        for company_id, name in db.session.execute(live_companies.order_by(Company.created_at)):
            self.companies.setdefault(name.lower(), (company_id, name))
        self._load_emails_and_tags()
        self.seen: dict[str, int] = {}  # e-mail -> line of its first row in this file
        self._pending_tags: dict[str, tuple] = {}
        self._pending_companies: dict[str, tuple] = {}
        self.extra_tags = [self._tag(name) for name in upload.tag_names or []]
        self._insert_pending()  # the tags of the form, created now (the job commits them)

    def _load_emails_and_tags(self) -> None:
        self.existing = dict(db.session.execute(
            select(Contact.email, Contact.id).where(Contact.account_id == self.account_id,
                                                    Contact.deleted_at.is_(None), Contact.email.is_not(None))).all())
        self.tags = {tag.name.lower(): (tag.id, tag.name) for tag in db.session.execute(
            scoped(Tag, self.account)).scalars()}

    # -- the job's side --

    def note_imported_row(self, line: int, row: list[str]) -> None:
        """A row an earlier run of this import committed: its e-mail counts as seen in this file."""
        try:
            email = self.parser.parse(row)["values"].get("email")
        except RowError:
            return
        if email:
            self.seen.setdefault(email, line)

    def committed(self, outcome: BatchOutcome | None = None) -> None:
        """The job committed what was written since the last call: keep it for the next batches."""
        self.tags.update(self._pending_tags)
        self.companies.update(self._pending_companies)
        self._pending_tags, self._pending_companies = {}, {}
        if outcome is not None:
            self.seen.update(outcome.seen)
            self.existing.update(outcome.emails)

    def rolled_back(self) -> None:
        """The job rolled the batch back (someone created a contact with one of its e-mails, or one of its tags,
        meanwhile): forget what it made, and read the e-mails and tags again before it is redone."""
        self._pending_tags, self._pending_companies = {}, {}
        self._load_emails_and_tags()

    # -- lookups that create what is missing (written with the batch) --

    def _tag(self, name: str):
        return _known_or_planned(self.tags, self._pending_tags, name)

    def _company(self, name: str):
        return _known_or_planned(self.companies, self._pending_companies, name)

    def _insert_pending(self) -> None:
        now = utcnow()
        if self._pending_tags:
            db.session.execute(insert(Tag), [
                {"id": tag_id, "account_id": self.account_id, "name": name, "color": "gray", "created_at": now,
                 "updated_at": now} for tag_id, name in self._pending_tags.values()])
        if self._pending_companies:
            db.session.execute(insert(Company), [
                {"id": company_id, "account_id": self.account_id, "name": name, "created_at": now, "updated_at": now}
                for company_id, name in self._pending_companies.values()])

    # -- a batch --

    def process_batch(self, batch: list[tuple[int, list[str]]]) -> BatchOutcome:
        """Check and write one batch of (line, row) (not committed)."""
        # Updated contacts may point at companies inserted below: their UPDATEs wait for the commit.
        with db.session.no_autoflush:
            return self._process_batch(batch)

    def _process_batch(self, batch: list[tuple[int, list[str]]]) -> BatchOutcome:
        now = utcnow()
        outcome = BatchOutcome()
        created, updates = [], []
        for line, row in batch:
            try:
                parsed = self.parser.parse(row)
            except RowError as error:
                outcome.rejected.append((line, str(error), row))
                continue
            email = parsed["values"].get("email")
            if email:
                first = self.seen.get(email) or outcome.seen.get(email)
                if first is not None:
                    outcome.rejected.append((line, f"Same e-mail as line {first} of this file ({email}).", row))
                    continue
                outcome.seen[email] = line
            if email and email in self.existing:
                if not self.update_existing:
                    outcome.skipped += 1
                    continue
                updates.append((line, self.existing[email], parsed))
                continue
            missing = self.parser.missing_required(parsed["custom"])
            if missing:
                outcome.rejected.append((line, " ".join(missing), row))
                continue
            created.append(parsed)

        contact_rows, links, entries = [], [], []
        extra_names = {tag_id: name for tag_id, name in self.extra_tags}
        for parsed in created:
            values = parsed["values"]
            contact_id = uuid.uuid4()
            company = self._company(parsed["company"]) if parsed["company"] else None
            row_tags = [self._tag(name) for name in parsed["tags"]]
            names = {**extra_names, **dict(row_tags)}
            tag_ids = list(dict.fromkeys([tag_id for tag_id, _ in row_tags] + list(extra_names)))
            row = {"id": contact_id, "account_id": self.account_id, "first_name": values.get("first_name", ""),
                   "last_name": values.get("last_name", ""), "email": values.get("email"),
                   "phone": values.get("phone"), "company_id": company[0] if company else None,
                   "owner_id": values.get("owner_id"), "source": values.get("source", "import"),
                   "street": values.get("street"), "city": values.get("city"), "region": values.get("region"),
                   "postal_code": values.get("postal_code"), "country": values.get("country"),
                   "custom_fields": parsed["custom"], "deleted_at": None, "created_at": now, "updated_at": now}
            row["search_text"] = contacts.search_text_of(SimpleNamespace(
                **{k: row[k] for k in ("first_name", "last_name", "email", "phone")},
                company=SimpleNamespace(name=company[1]) if company else None))
            contact_rows.append(row)
            links += [{"contact_id": contact_id, "tag_id": tag_id} for tag_id in tag_ids]
            summary = f"Contact created (import of {self.filename})"
            if tag_ids:
                summary += ", tagged " + ", ".join(f"“{names[tag_id]}”" for tag_id in tag_ids)
            entries.append(self._entry(contact_id, "contact.created", summary, {"import_id": str(self.import_id)}, now))
            outcome.new_ids.append(contact_id)

        self._apply_updates(updates, links, entries, outcome, now)
        self._insert_pending()
        if contact_rows:
            db.session.execute(insert(Contact), contact_rows)
        if links:
            db.session.execute(insert(contact_tags), links)
        if entries:
            db.session.execute(insert(TimelineEntry), entries)
        outcome.created, outcome.updated = len(contact_rows), len(updates)
        outcome.emails = {row["email"]: row["id"] for row in contact_rows if row["email"]}
        return outcome

    def _apply_updates(self, updates, links, entries, outcome: BatchOutcome, now) -> None:
        if not updates:
            return
        ids = [contact_id for _, contact_id, _ in updates]
        loaded = {contact.id: contact for contact in db.session.execute(
            select(Contact).where(Contact.id.in_(ids))).scalars()}
        had = set(db.session.execute(select(contact_tags.c.contact_id, contact_tags.c.tag_id)
                                     .where(contact_tags.c.contact_id.in_(ids))).all())
        company_names = dict(db.session.execute(select(Company.id, Company.name).where(
            Company.id.in_({c.company_id for c in loaded.values() if c.company_id}))).all())
        for _, contact_id, parsed in updates:
            contact = loaded.get(contact_id)
            if contact is None:
                continue
            values = dict(parsed["values"])
            if parsed["company"]:
                company_id, company_name = self._company(parsed["company"])
                values["company_id"] = company_id
                company_names[company_id] = company_name
            if parsed["custom"]:
                values["custom_fields"] = {**(contact.custom_fields or {}), **parsed["custom"]}
            changed = [name for name, value in values.items() if getattr(contact, name) != value]
            for name in changed:
                setattr(contact, name, values[name])
            if changed:
                contact.updated_at = now
                contact.search_text = contacts.search_text_of(SimpleNamespace(
                    first_name=contact.first_name, last_name=contact.last_name, email=contact.email,
                    phone=contact.phone, company=SimpleNamespace(name=company_names[contact.company_id])
                    if contact.company_id in company_names else None))
                label = ", ".join(name.replace("_id", "").replace("_", " ") for name in changed)
                entries.append(self._entry(contact_id, "contact.updated",
                                           f"Changed {label} (import of {self.filename})",
                                           {"import_id": str(self.import_id)}, now))
                outcome.updated_events.append((contact_id, sorted(changed)))
            tags = {self._tag(name) for name in parsed["tags"]} | set(self.extra_tags)
            for tag_id, tag_name in sorted(tags, key=lambda t: t[1].lower()):
                if (contact_id, tag_id) in had:
                    continue
                had.add((contact_id, tag_id))
                links.append({"contact_id": contact_id, "tag_id": tag_id})
                entries.append(self._entry(contact_id, "tag.added", f"Tagged “{tag_name}”", {}, now,
                                           object_type="Tag", object_id=str(tag_id)))
                outcome.tag_events.append((contact_id, tag_id, tag_name))

    def _entry(self, contact_id, kind, summary, details, now, object_type="ContactImport", object_id=None) -> dict:
        return {"account_id": self.account_id, "contact_id": contact_id, "kind": kind, "summary": summary[:300],
                "details": details, "actor_id": self.actor_id, "object_type": object_type,
                "object_id": object_id or str(self.import_id), "created_at": now}


def _known_or_planned(known: dict, pending: dict, name: str) -> tuple:
    """(id, name) of the row named so (any case) that exists or is already planned; else a new one,
    planned to be inserted with the batch."""
    key = name.lower()
    found = known.get(key) or pending.get(key)
    if found is None:
        found = pending[key] = (uuid.uuid4(), name)
    return found
