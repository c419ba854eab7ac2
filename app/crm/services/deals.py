"""Pipelines with ordered stages, deals on the board, won/lost/abandoned, and the forecast.

Every workspace starts with a pipeline: `create_default_pipeline` runs when auth publishes
`workspace.created` (and migration 3c1e8a5d9f20 gave existing workspaces theirs)."""
import uuid
from collections import defaultdict
from datetime import date

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import aliased, joinedload

from app.auth.models import Account
from app.auth.services import member_user_id
from app.core import audit, events
from app.core.dates import read_date
from app.core.db import like_pattern, utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, as_uuid, row_of_account, text_value, uuid_or_none
from app.crm.models import DEAL_STATUSES, Company, Contact, Deal, Pipeline, Stage
from app.crm.services import timeline
from app.extensions import db

DEFAULT_PIPELINE = "Sales pipeline"
DEFAULT_STAGES = [("Lead", 10), ("Qualified", 25), ("Proposal", 50), ("Negotiation", 75), ("Closing", 90)]


# ---- pipelines and stages -----------------------------------------------------------------------

def pipelines_of(account) -> list[Pipeline]:
    return list(db.session.execute(scoped(Pipeline, account).order_by(Pipeline.position, Pipeline.name)).scalars())


def probability(raw, field: str = "probability") -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError) as exc:
        raise ValidationError("Enter a whole number from 0 to 100.", field=field) from exc
    if not 0 <= value <= 100:
        raise ValidationError("The probability is between 0 and 100.", field=field)
    return value


def _new_pipeline(account, name: str, stages) -> Pipeline:
    name = text_value({"name": name}, "name", "pipeline name", 80, required=True)
    pipeline = Pipeline(account_id=account.id, name=name, position=len(pipelines_of(account)))
    db.session.add(pipeline)
    db.session.flush()
    for index, (stage_name, chance) in enumerate(stages if stages is not None else DEFAULT_STAGES):
        db.session.add(Stage(account_id=account.id, pipeline_id=pipeline.id, name=stage_name, position=index,
                             probability=probability(chance)))
    return pipeline


def create_pipeline(account, name: str, stages=None, actor=None) -> Pipeline:
    """A pipeline with these (name, probability) stages, DEFAULT_STAGES when none are given."""
    pipeline = _new_pipeline(account, name, stages)
    audit.record("pipeline.created", pipeline, f"Pipeline “{pipeline.name}” created", account=account, user=actor)
    db.session.commit()
    return pipeline


def create_default_pipeline(account) -> Pipeline | None:
    """The pipeline a workspace starts with (DEFAULT_PIPELINE with DEFAULT_STAGES); nothing when it has one.
    Part of making the workspace, whose creation the audit log records: no entry of its own."""
    if pipelines_of(account):
        return None
    pipeline = _new_pipeline(account, DEFAULT_PIPELINE, DEFAULT_STAGES)
    db.session.commit()
    return pipeline


@events.subscribe("workspace.created")
def default_pipeline_for_new_workspace(name: str, payload: dict) -> None:
    """A new workspace gets its default pipeline, so that the deal pages have stages from the first visit."""
    account = db.session.get(Account, uuid.UUID(payload["account_id"]))
    if account is None:
        return
    try:
        create_default_pipeline(account)
    except Exception:
        db.session.rollback()  # the publisher's session stays usable; core.events logs the failure
        raise


def rename_pipeline(account, pipeline: Pipeline, name: str, actor=None) -> Pipeline:
    pipeline.name = text_value({"name": name}, "name", "pipeline name", 80, required=True)
    audit.record("pipeline.renamed", pipeline, f"Pipeline renamed “{pipeline.name}”", account=account, user=actor)
    db.session.commit()
    return pipeline


def delete_pipeline(account, pipeline: Pipeline, actor=None) -> None:
    if len(pipelines_of(account)) <= 1:
        raise ConflictError("The workspace needs at least one pipeline.")
    audit.record("pipeline.deleted", pipeline, f"Pipeline “{pipeline.name}” and its deals deleted",
                 account=account, user=actor)
    db.session.execute(Deal.__table__.delete().where(Deal.pipeline_id == pipeline.id))
    db.session.delete(pipeline)
    db.session.commit()


def add_stage(account, pipeline: Pipeline, name: str, chance, actor=None) -> Stage:
    name = text_value({"name": name}, "name", "stage name", 80, required=True)
    stage = Stage(account_id=account.id, pipeline_id=pipeline.id, name=name, probability=probability(chance),
                  position=len(pipeline.stages))
    db.session.add(stage)
    audit.record("stage.created", pipeline, f"Stage “{name}” added to {pipeline.name}", account=account, user=actor)
    db.session.commit()
    return stage


def update_stage(account, stage: Stage, name: str, chance, actor=None) -> Stage:
    errors = {}
    try:
        stage.name = text_value({"name": name}, "name", "stage name", 80, required=True)
    except ValidationError as error:
        errors.update(error.fields)
    try:
        stage.probability = probability(chance)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        db.session.rollback()
        raise ValidationError("The stage is not valid.", fields=errors)
    db.session.commit()
    return stage


def delete_stage(account, stage: Stage, actor=None) -> None:
    in_use = db.session.execute(select(func.count()).where(Deal.stage_id == stage.id)).scalar_one()
    if in_use:
        raise ConflictError(f"{in_use} deal(s) are in this stage: move them first.")
    if len(stage.pipeline.stages) <= 1:
        raise ConflictError("A pipeline needs at least one stage.")
    pipeline = stage.pipeline
    db.session.delete(stage)
    db.session.flush()
    _renumber([s for s in pipeline.stages if s.id != stage.id])  # the loaded collection still holds it
    db.session.commit()


def reorder_stages(account, pipeline: Pipeline, stage_ids: list) -> None:
    """Stages in the posted order (every stage of the pipeline exactly once)."""
    by_id = {str(stage.id): stage for stage in pipeline.stages}
    if sorted(map(str, stage_ids)) != sorted(by_id):
        raise ValidationError("Send every stage of the pipeline once.", field="stage_ids")
    _renumber([by_id[str(i)] for i in stage_ids])
    db.session.commit()


def _renumber(rows) -> None:
    for index, row in enumerate(rows):
        row.position = index


# ---- deals --------------------------------------------------------------------------------------

def value_cents(raw, field: str = "value") -> int:
    """Cents from what a person types ("1,250.50") or from the API (an integer of cents)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        cents = raw
    else:
        text = str(raw if raw is not None else "").replace(",", "").replace("$", "").strip() or "0"
        try:
            amount = round(float(text) * 100)
        except (ValueError, OverflowError) as exc:  # "abc", "nan", "inf"
            raise ValidationError("Enter an amount like 1250 or 1250.50.", field=field) from exc
        cents = int(amount)
    if cents < 0 or cents > 10**14:
        raise ValidationError("The value must be between 0 and 1,000,000,000,000.", field=field)
    return cents


def _close_date(raw):
    return read_date(raw, "expected_close_date")


def _clean(account, data: dict, deal: Deal | None, partial: bool, cents_in_api: bool) -> dict:
    fields = FieldErrors(data, partial)
    attempt = fields.add
    attempt("title", lambda: text_value(data, "title", "title", 160, required=True))
    value_key = "value_cents" if cents_in_api else "value"
    attempt("value_cents", lambda: value_cents(data.get(value_key), value_key), key=value_key)
    attempt("contact_id", lambda: getattr(row_of_account(Contact, account, data.get("contact_id"),
                                                         "contact_id", "contact"), "id", None))
    attempt("company_id", lambda: getattr(row_of_account(Company, account, data.get("company_id"),
                                                         "company_id", "company"), "id", None))
    attempt("owner_id", lambda: member_user_id(account, data.get("owner_id")))
    attempt("expected_close_date", lambda: _close_date(data.get("expected_close_date")))
    return fields.values_or_raise()


def _stage_for(account, pipeline_id, stage_id) -> Stage:
    """The stage asked for, else the first stage of the pipeline asked for, else of the first pipeline."""
    stage = row_of_account(Stage, account, stage_id, "stage_id", "stage") if stage_id else None
    if stage is None:
        if pipeline_id:
            pipeline = row_of_account(Pipeline, account, pipeline_id, "pipeline_id", "pipeline")
        else:
            pipeline = next(iter(pipelines_of(account)), None)
            if pipeline is None:
                raise ValidationError("The workspace has no pipeline: create one first.", field="pipeline_id")
        if pipeline is None:
            raise ValidationError("Choose a pipeline.", field="pipeline_id")
        stage = pipeline.stages[0]
    elif pipeline_id and str(stage.pipeline_id) != str(pipeline_id):
        raise ValidationError("That stage belongs to another pipeline.", field="stage_id")
    return stage


def create(account, data: dict, actor=None, cents_in_api: bool = False) -> Deal:
    values = _clean(account, data, None, False, cents_in_api)
    stage = _stage_for(account, data.get("pipeline_id"), data.get("stage_id"))
    top = db.session.execute(select(func.min(Deal.position)).where(
        Deal.stage_id == stage.id, Deal.status == "open")).scalar_one()
    deal = Deal(account_id=account.id, pipeline_id=stage.pipeline_id, stage_id=stage.id,
                currency=account.currency, position=(top or 0) - 1, **values)
    db.session.add(deal)
    db.session.flush()
    if deal.contact_id:
        timeline.add(account, deal.contact_id, "deal.created", f"Deal “{deal.title}” created in {stage.name}",
                     actor, deal)
    audit.record("deal.created", deal, f"Deal {deal.title} created", account=account, user=actor)
    db.session.commit()
    events.publish("deal.created", account_id=account.id, deal_id=deal.id, contact_id=deal.contact_id)
    return deal


def update(account, deal: Deal, data: dict, actor=None, partial: bool = False, cents_in_api: bool = False) -> Deal:
    for name, value in _clean(account, data, deal, partial, cents_in_api).items():
        setattr(deal, name, value)
    audit.record("deal.updated", deal, f"Deal {deal.title} updated", account=account, user=actor)
    db.session.commit()
    return deal


def move(account, deal: Deal, stage_id, before_ids: list | None = None, actor=None) -> Deal:
    """Put the deal in a stage of its own pipeline; `before_ids` is the new order of that column."""
    stage = row_of_account(Stage, account, stage_id, "stage_id", "stage")
    if stage is None:
        raise ValidationError("Choose a stage.", field="stage_id")
    if stage.pipeline_id != deal.pipeline_id:
        raise ValidationError("A deal moves only between stages of its own pipeline.", field="stage_id")
    old_stage = deal.stage
    deal.stage_id = stage.id
    if before_ids:
        column = {str(d.id): d for d in db.session.execute(scoped(Deal, account).where(
            Deal.stage_id == stage.id, Deal.status == "open")
            .order_by(Deal.position, Deal.created_at.desc(), Deal.id)).scalars()}  # the board's order
        column[str(deal.id)] = deal
        posted = list(dict.fromkeys(str(i) for i in before_ids if str(i) in column))
        order = [column[i] for i in posted]
        posted_set = set(posted)
        order += [d for key, d in column.items() if key not in posted_set]
        _renumber(order)
    changed = old_stage.id != stage.id
    if changed:
        if deal.contact_id:
            timeline.add(account, deal.contact_id, "deal.stage_changed",
                         f"Deal “{deal.title}” moved from {old_stage.name} to {stage.name}", actor, deal)
        audit.record("deal.stage_changed", deal, f"Deal {deal.title}: {old_stage.name} → {stage.name}",
                     account=account, user=actor, details={"from": old_stage.name, "to": stage.name})
    db.session.commit()
    if changed:
        events.publish("deal.stage_changed", account_id=account.id, deal_id=deal.id, from_stage_id=old_stage.id,
                       to_stage_id=stage.id)
    return deal


def set_status(account, deal: Deal, status: str, reason: str | None = None, actor=None) -> Deal:
    if status not in DEAL_STATUSES:
        raise ValidationError(f"Choose one of: {', '.join(DEAL_STATUSES)}.", field="status")
    reason = text_value({"reason": reason}, "reason", "reason", 255)
    if status == "lost" and not reason:
        raise ValidationError("Say why the deal was lost.", field="reason")
    if deal.status == status:
        return deal
    deal.status, deal.lost_reason = status, reason if status == "lost" else None
    deal.closed_at = None if status == "open" else utcnow()
    label = {"open": "reopened", "won": "won", "lost": "lost", "abandoned": "abandoned"}[status]
    if deal.contact_id:
        timeline.add(account, deal.contact_id, f"deal.{label}", f"Deal “{deal.title}” {label}"
                     + (f": {reason}" if status == "lost" else ""), actor, deal)
    audit.record(f"deal.{label}", deal, f"Deal {deal.title} {label}", account=account, user=actor)
    db.session.commit()
    if status in ("won", "lost"):
        events.publish(f"deal.{status}", account_id=account.id, deal_id=deal.id, contact_id=deal.contact_id)
    return deal


def delete(account, deal: Deal, actor=None) -> None:
    audit.record("deal.deleted", deal, f"Deal {deal.title} deleted", account=account, user=actor)
    db.session.delete(deal)
    db.session.commit()


# ---- the list and a new deal's values ----------------------------------------------------------------

FILTER_KEYS = ("q", "pipeline_id", "stage_id", "status", "owner", "contact_id", "company_id")


def filtered(account, filters: dict) -> Select:
    """SELECT of the account's deals matching the filters, newest first (the deal list and the API): `q` (part
    of the title, any case), `pipeline_id`, `stage_id`, `contact_id`, `company_id`, `owner` (a user id, or
    "none" for deals without one) and `status` (one of DEAL_STATUSES). A value that is not an id matches no
    deal; an unknown status is ignored."""
    query = scoped(Deal, account)
    q = (filters.get("q") or "").strip()
    if q:
        query = query.where(func.lower(Deal.title).like(like_pattern(q), escape="\\"))
    for key, column in (("pipeline_id", Deal.pipeline_id), ("stage_id", Deal.stage_id),
                        ("contact_id", Deal.contact_id), ("company_id", Deal.company_id)):
        if filters.get(key):
            wanted = uuid_or_none(filters[key])
            query = query.where(column == wanted if wanted else false())
    if filters.get("status") in DEAL_STATUSES:
        query = query.where(Deal.status == filters["status"])
    if filters.get("owner") == "none":
        query = query.where(Deal.owner_id.is_(None))
    elif filters.get("owner"):
        wanted = uuid_or_none(filters["owner"])
        query = query.where(Deal.owner_id == wanted if wanted else false())
    return query.order_by(Deal.created_at.desc(), Deal.id)


def draft(account, contact_id=None, company_id=None, pipeline_id=None, stage_id=None) -> tuple[dict, Contact | None]:
    """The values a new deal's form starts with, and the contact it is for: the contact's company and a title
    naming them, the company asked for, the stage asked for (of any pipeline) else the first stage of the
    pipeline asked for, else of the first pipeline. Ids that are not the account's are left out."""
    values = {}
    wanted = uuid_or_none(contact_id)
    contact = db.session.execute(scoped(Contact, account).where(
        Contact.id == wanted, Contact.deleted_at.is_(None))).scalar_one_or_none() if wanted else None
    if contact is not None:
        values["contact_id"] = str(contact.id)
        if contact.company_id:
            values["company_id"] = str(contact.company_id)
        values["title"] = f"{contact.company.name if contact.company else contact.name} – new deal"
    if uuid_or_none(company_id):
        values["company_id"] = str(uuid_or_none(company_id))
    pipelines = pipelines_of(account)
    stages = [stage for pipeline in pipelines for stage in pipeline.stages]
    stage = next((s for s in stages if s.id == uuid_or_none(stage_id)), None)
    if stage is None and pipelines:
        pipeline = next((p for p in pipelines if p.id == uuid_or_none(pipeline_id)), pipelines[0])
        stage = pipeline.stages[0] if pipeline.stages else None
    if stage is not None:
        values["stage_id"] = str(stage.id)
    return values, contact


# ---- board and forecast ----------------------------------------------------------------------------

COLUMN_PAGE = 25


def board(account, pipeline: Pipeline, filters: dict | None = None, per_column: int = COLUMN_PAGE) -> list[dict]:
    """Each stage with its open deals' count and total, and the first `per_column` cards."""
    base = _board_query(account, pipeline, filters or {})
    totals = dict((stage_id, (count, total)) for stage_id, count, total in db.session.execute(
        base.with_only_columns(Deal.stage_id, func.count(), func.coalesce(func.sum(Deal.value_cents), 0))
        .group_by(Deal.stage_id)))
    ranked = base.add_columns(func.row_number().over(
        partition_by=Deal.stage_id, order_by=(Deal.position, Deal.created_at.desc(), Deal.id)).label("rank")).subquery()
    deal_alias = aliased(Deal, ranked)
    cards = defaultdict(list)
    for deal in db.session.execute(
            select(deal_alias).where(ranked.c.rank <= per_column)
            .options(joinedload(deal_alias.contact), joinedload(deal_alias.owner))
            .order_by(ranked.c.rank)).scalars():
        cards[deal.stage_id].append(deal)
    return [{"stage": stage, "count": totals.get(stage.id, (0, 0))[0], "total": totals.get(stage.id, (0, 0))[1],
             "deals": cards.get(stage.id, [])} for stage in pipeline.stages]


def column_page(account, pipeline: Pipeline, stage: Stage, offset: int, filters: dict | None = None,
                limit: int = COLUMN_PAGE) -> list[Deal]:
    query = (_board_query(account, pipeline, filters or {}).where(Deal.stage_id == stage.id)
             .options(joinedload(Deal.contact), joinedload(Deal.owner))  # the cards show both
             .order_by(Deal.position, Deal.created_at.desc(), Deal.id).offset(offset).limit(limit))
    return list(db.session.execute(query).scalars())


def _board_query(account, pipeline: Pipeline, filters: dict):
    query = scoped(Deal, account).where(Deal.pipeline_id == pipeline.id, Deal.status == "open")
    if filters.get("owner"):
        query = query.where(Deal.owner_id == as_uuid(filters["owner"], "owner", "owner"))
    if filters.get("close_from"):
        query = query.where(Deal.expected_close_date >= bound_date(filters["close_from"], "close_from"))
    if filters.get("close_to"):
        query = query.where(Deal.expected_close_date <= bound_date(filters["close_to"], "close_to"))
    return query


def bound_date(raw, field: str) -> date:
    """A filter's bound: any calendar date (0001-01-01 and 9999-12-31 simply bound nothing), unlike the dates
    a deal stores (core.dates' range)."""
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValidationError("Use a date like 2026-12-31.", field=field) from None


def forecast(account, pipeline: Pipeline | None = None) -> dict:
    """Totals (open, weighted by stage probability, won, lost) overall and by month of expected close."""
    query = (scoped(Deal, account).join(Stage, Stage.id == Deal.stage_id)
             .with_only_columns(Deal.status, Deal.value_cents, Stage.probability, Deal.expected_close_date))
    if pipeline is not None:
        query = query.where(Deal.pipeline_id == pipeline.id)
    empty = {"open": 0, "weighted": 0, "won": 0, "lost": 0, "count": 0}
    totals, months = dict(empty), defaultdict(lambda: dict(empty))
    for status, cents, chance, close in db.session.execute(query):
        # A zero-padded key ("0001-01"), whatever year a row was stored with before dates were checked.
        month = f"{close.year:04d}-{close.month:02d}" if close else "no date"
        for bucket in (totals, months[month]):
            bucket["count"] += 1
            if status == "open":
                bucket["open"] += cents
                bucket["weighted"] += cents * chance // 100
            elif status in ("won", "lost"):
                bucket[status] += cents
    ordered = sorted(months.items(), key=lambda item: (item[0] == "no date", item[0]))
    return {"totals": totals, "months": ordered}
