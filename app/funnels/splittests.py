"""A/B split tests of a funnel step: create, end, complete with a winner, promote the winner, delete.

A test has two or more variants. The first is the control: the step's own page. Each other variant is a
page of its own (`Page.is_variant`, same step and funnel) made as a copy of the step's page (tree, title,
SEO fields, images), then edited in the builder like any page (it opens there by its id). Weights are
whole percents adding up to 100. One running test per step: checked first, and the partial unique index
`uq_split_tests_running_step` refuses a second one made at the same moment (the same message).

The published site (app/site/serving.py) serves a step with a running test as one of its variants'
documents, chosen by weight and kept per visitor (their `lf_vid` cookie); variant pages are published
with the funnel (app/funnels/publishing.py) and never have an address of their own. Results (visitors,
conversions, confidence, the winner) are computed by app/analytics from the exposures; funnels does not
import analytics, so analytics registers its function here (`results_provider`) and the test's page
asks `results_of`.

Promoting a variant copies its page's tree, title and SEO fields into the step's page through the
page-restore path of app/funnels/versions.py (so the builder can undo it and a version records it), and
publishes the step's page again when it was published. The variant pages stay (their results remain
readable) until the test is deleted.
"""
from __future__ import annotations

import copy
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.core import audit, events
from app.core.db import utcnow
from app.core.errors import ConflictError, NotFoundError, ValidationError
from app.core.tenancy import get_or_404
from app.core.validation import text_value
from app.extensions import db
from app.funnels import publishing, versions
from app.funnels.models import Funnel, FunnelStep, Page, SplitTest, SplitVariant

MIN_VARIANTS = 2
MAX_VARIANTS = 5
DEFAULT_MIN_SAMPLE = 100
MIN_SAMPLE_RANGE = (10, 1_000_000)
RUNNING_INDEX = "uq_split_tests_running_step"
STATUS_LABELS = {"running": "Running", "completed": "Completed", "stopped": "Ended"}
DEFAULT_NAMES = ("Original", "Variant B", "Variant C", "Variant D", "Variant E")


def variant_field(index: int, name: str) -> str:
    """The name of a variant's field in errors (and in the form): variant_0_name, variant_1_weight..."""
    return f"variant_{index}_{name}"


# ---- reading ------------------------------------------------------------------------------------------

def _with_variants():
    return selectinload(SplitTest.variants).selectinload(SplitVariant.page)


def tests_of_funnel(account, funnel: Funnel) -> list[SplitTest]:
    """The funnel's tests, newest first, with their variants and pages."""
    query = (select(SplitTest).where(SplitTest.account_id == account.id, SplitTest.funnel_id == funnel.id)
             .options(_with_variants()).order_by(SplitTest.started_at.desc(), SplitTest.id))
    return list(db.session.execute(query).scalars())


def tests_of_step(account, step: FunnelStep) -> list[SplitTest]:
    query = (select(SplitTest).where(SplitTest.account_id == account.id, SplitTest.step_id == step.id)
             .options(_with_variants()).order_by(SplitTest.started_at.desc(), SplitTest.id))
    return list(db.session.execute(query).scalars())


def running_tests(account, funnel: Funnel) -> dict:
    """{step id: the step's running test} of a funnel (the steps page marks them)."""
    query = select(SplitTest).where(SplitTest.account_id == account.id, SplitTest.funnel_id == funnel.id,
                                    SplitTest.status == "running")
    return {test.step_id: test for test in db.session.execute(query).scalars()}


def running_test_of(step: FunnelStep) -> SplitTest | None:
    return db.session.execute(select(SplitTest).where(SplitTest.step_id == step.id, SplitTest.status == "running")
                              .limit(1)).scalar_one_or_none()


def get_test(account, funnel: Funnel, test_id) -> SplitTest:
    """A test of this funnel; NotFoundError for anything else (another funnel's or account's included)."""
    test = get_or_404(SplitTest, test_id, account)
    if test.funnel_id != funnel.id:
        raise NotFoundError("No such split test in this funnel.")
    return test


def variant_of(test: SplitTest, variant_id) -> SplitVariant:
    for variant in test.variants:
        if str(variant.id) == str(variant_id):
            return variant
    raise ValidationError("Choose one of this test's variants.", field="variant_id")


def control_of(test: SplitTest) -> SplitVariant | None:
    return next((variant for variant in test.variants if variant.is_control), None)


def test_of_variant_page(page: Page) -> SplitTest | None:
    """The test a variant page belongs to (the builder names it), or None for a step's own page."""
    if not page.is_variant:
        return None
    return db.session.execute(select(SplitTest).join(SplitVariant, SplitVariant.test_id == SplitTest.id)
                              .where(SplitVariant.page_id == page.id).limit(1)).scalar_one_or_none()


# ---- results (computed by app/analytics, which registers its function here) ----------------------------

_results: list[Callable] = []


def results_provider(func: Callable) -> Callable:
    """Register the function computing a test's results: func(account, test) -> dict (the shape of one
    test of the A/B results API). app/analytics/abtests.py registers itself."""
    _results[:] = [func]
    return func


def results_of(account, test: SplitTest) -> dict | None:
    """The test's results, or None when no provider is registered."""
    return _results[0](account, test) if _results else None


# ---- creating -----------------------------------------------------------------------------------------

def _whole_number(value, field: str, label: str, low: int, high: int, default: int | None = None) -> int:
    if value in (None, "") and default is not None:
        return default
    if isinstance(value, bool):
        raise ValidationError(f"The {label} must be a whole number.", field=field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = value.strip().removesuffix("%").strip()
        if not value.lstrip("-").isdigit():
            raise ValidationError(f"The {label} must be a whole number.", field=field)
        value = int(value)
    if not isinstance(value, int):
        raise ValidationError(f"The {label} must be a whole number.", field=field)
    if not low <= value <= high:
        raise ValidationError(f"The {label} must be between {low:,} and {high:,}.", field=field)
    return value


def clean(data: dict) -> dict:
    """{"name", "min_sample", "variants": [{"name", "weight"}]} checked; every field's error at once (a
    ValidationError whose fields are name, min_sample, variant_<i>_name, variant_<i>_weight and weights)."""
    errors: dict[str, str] = {}
    values: dict = {}
    try:
        values["name"] = text_value(data, "name", "test name", 255, required=True)
    except ValidationError as error:
        errors.update(error.fields)
    try:
        values["min_sample"] = _whole_number(data.get("min_sample"), "min_sample", "minimum sample",
                                             *MIN_SAMPLE_RANGE, default=DEFAULT_MIN_SAMPLE)
    except ValidationError as error:
        errors.update(error.fields)
    rows = data.get("variants")
    if not isinstance(rows, list):
        rows = []
    variants, seen = [], {}
    for index, row in enumerate(rows[:MAX_VARIANTS]):
        row = row if isinstance(row, dict) else {}
        name_field, weight_field = variant_field(index, "name"), variant_field(index, "weight")
        try:
            name = text_value(row, "name", "variant name", 100, required=True)
            if name.lower() in seen:
                raise ValidationError(f"Another variant is called “{name}”: give each its own name.",
                                      field="name")
            seen[name.lower()] = index
        except ValidationError as error:
            errors[name_field] = error.message
            name = None
        try:
            weight = _whole_number(row.get("weight"), "weight", "traffic share", 1, 99)
        except ValidationError as error:
            errors[weight_field] = error.message
            weight = None
        variants.append({"name": name, "weight": weight})
    if len(rows) > MAX_VARIANTS:
        errors["weights"] = f"A test has at most {MAX_VARIANTS} variants."
    elif len(rows) < MIN_VARIANTS:
        errors["weights"] = (f"A test needs at least {MIN_VARIANTS} variants: the original page and one or "
                             "more new ones.")
    elif all(variant["weight"] is not None for variant in variants):
        total = sum(variant["weight"] for variant in variants)
        if total != 100:
            errors["weights"] = f"The traffic split must add up to 100% (it adds up to {total}%)."
    if errors:
        message = errors.get("weights") if set(errors) == {"weights"} else "Some fields are not valid."
        raise ValidationError(message, fields=errors)
    values["variants"] = variants
    return values


def _running_refusal(test: SplitTest | None) -> ConflictError:
    name = f" (“{test.name}”)" if test is not None else ""
    return ConflictError(f"This step already has a running split test{name}: end it before starting another.")


def copy_page(account, page: Page) -> Page:
    """A variant page of the step: the page's tree, title, SEO fields and images, not published."""
    variant = Page(account_id=account.id, funnel_id=page.funnel_id, step_id=page.step_id, is_variant=True,
                   tree=copy.deepcopy(page.tree), title=page.title, seo_title=page.seo_title,
                   seo_description=page.seo_description, og_image_id=page.og_image_id, favicon_id=page.favicon_id)
    db.session.add(variant)
    return variant


def create_test(account, funnel: Funnel, step: FunnelStep, data: dict, actor=None) -> SplitTest:
    """A running test of the step. The first variant is the step's own page (the control); each other one
    a copy of it. When the step's page is published, the copies are published at once (the test runs from
    now on), unless they cannot be (the builder lists what to fix; visitors meanwhile see the others)."""
    if step.funnel_id != funnel.id or step.account_id != account.id:
        raise NotFoundError("No such step in this funnel.")
    values = clean(data)
    page = step.page
    if page is None:
        raise ConflictError("This step has no page to test.")
    running = running_test_of(step)
    if running is not None:
        raise _running_refusal(running)
    test = SplitTest(id=uuid.uuid4(), account_id=account.id, funnel_id=funnel.id, step_id=step.id,
                     name=values["name"], status="running", min_sample=values["min_sample"], started_at=utcnow(),
                     created_by_id=getattr(actor, "id", None))
    try:
        with db.session.begin_nested():  # two people starting a test of the step at the same moment
            db.session.add(test)
            db.session.flush()
    except IntegrityError as error:
        if RUNNING_INDEX in str(error.orig):
            raise _running_refusal(running_test_of(step)) from None
        raise
    for position, row in enumerate(values["variants"]):
        target = page if position == 0 else copy_page(account, page)
        db.session.flush()
        db.session.add(SplitVariant(account_id=account.id, test_id=test.id, name=row["name"],
                                    is_control=position == 0, page_id=target.id, weight=row["weight"],
                                    position=position))
    db.session.flush()
    db.session.expire(test, ["variants"])
    if page.is_published:
        publishing.publish_variant_pages([variant.page for variant in test.variants if not variant.is_control])
    audit.record("split_test.created", test, f"Split test “{test.name}” started on {step.name}", account=account,
                 user=actor, details={"step_id": str(step.id), "variants": [
                     {"name": row["name"], "weight": row["weight"]} for row in values["variants"]]})
    db.session.commit()
    return test


# ---- ending, completing, promoting ----------------------------------------------------------------------

def end_test(account, test: SplitTest, actor=None) -> SplitTest:
    """Stop a running test: visitors see the step's own page again; the results stay."""
    if test.status != "running":
        raise ConflictError("This test has ended already.")
    test.status = "stopped"
    test.completed_at = utcnow()
    audit.record("split_test.stopped", test, f"Split test “{test.name}” ended", account=account, user=actor)
    db.session.commit()
    return test


def complete(account, test: SplitTest, variant_id, actor=None, commit: bool = True) -> SplitTest:
    """Declare a variant the winner: the test is completed (and no longer splits traffic)."""
    winner = variant_of(test, variant_id)
    test.status = "completed"
    test.winner_variant_id = winner.id
    test.completed_at = test.completed_at or utcnow()
    audit.record("split_test.completed", test, f"Split test “{test.name}”: {winner.name} declared the winner",
                 account=account, user=actor, details={"variant_id": str(winner.id)})
    if commit:
        db.session.commit()
    return test


def promote(account, test: SplitTest, variant_id, actor=None) -> SplitTest:
    """The variant becomes the step's page: its tree, title and SEO fields copied into the step's page
    (undoable in the builder, recorded as a version), published again when the step's page was published
    (refused with the page's problems, nothing changed, when it cannot be). The test is completed with the
    variant as its winner."""
    winner = variant_of(test, variant_id)
    step = db.session.get(FunnelStep, test.step_id)
    page = step.page if step is not None else None
    if page is None:
        raise ConflictError("The step of this test no longer has a page.")
    funnel = step.funnel
    if not winner.is_control:
        snapshot = versions.page_snapshot(winner.page)
        versions.restore_page(account, page, snapshot)
        page.updated_at = funnel.updated_at = utcnow()
        versions.record_version(account, funnel, actor, f"{step.name}: promoted {winner.name} of the split test "
                                                        f"“{test.name}”", page=page)
    complete(account, test, winner.id, actor, commit=False)
    audit.record("split_test.promoted", test, f"Split test “{test.name}”: {winner.name} promoted to {step.name}",
                 account=account, user=actor, details={"variant_id": str(winner.id), "page_id": str(page.id)})
    if page.is_published or funnel.status == "published":
        publishing.publish_page(account, page, actor)  # commits (PublishRefused: nothing is kept)
    else:
        db.session.commit()
    return test


def delete_test(account, test: SplitTest, actor=None) -> None:
    """The test, its variants and their pages (the step's own page stays), its results with them."""
    if test.status == "running":
        raise ConflictError("End the test before deleting it: visitors are still split between its variants.")
    pages = [variant.page for variant in test.variants if not variant.is_control and variant.page is not None]
    audit.record("split_test.deleted", test, f"Split test “{test.name}” deleted", account=account, user=actor,
                 details={"variants": [variant.name for variant in test.variants]})
    test_id, funnel_id = test.id, test.funnel_id
    db.session.delete(test)
    db.session.flush()
    for page in pages:
        db.session.delete(page)
    db.session.commit()
    events.publish("split_test.deleted", account_id=account.id, funnel_id=funnel_id, test_id=test_id)


def variant_pages_of(test: SplitTest) -> list[Page]:
    return [variant.page for variant in test.variants if not variant.is_control]
