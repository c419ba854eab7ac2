"""Split tests of a funnel's steps: start one on a step (its variants are copies of the step's page, edited
in the builder), its page with the results (computed by app/analytics, see app/funnels/splittests.py), end
it, promote a variant to the step's page, delete it.

Viewers read the results; users start, end, promote and delete. Another account's funnel, step or test is
a 404."""
from flask import flash, request, url_for
from flask_login import current_user

from app.core.errors import ServiceError
from app.core.forms import apply_error, flashed_refusal, refusal
from app.core.roles import role_required
from app.core.tenancy import current_account
from app.core.web import redirect_to, render
from app.funnels import bp, publishing, services, splittests
from app.funnels.forms import SplitTestForm
from app.funnels.models import Funnel, SplitTest


def _test(funnel: Funnel, test_id) -> SplitTest:
    return splittests.get_test(current_account(), funnel, test_id)


def test_url(test: SplitTest) -> str:
    return url_for("funnels.split_test", funnel_id=test.funnel_id, test_id=test.id)


@bp.route("/funnels/<uuid:funnel_id>/steps/<uuid:step_id>/split-test", methods=["GET", "POST"])
@role_required("user")
def split_test_new(funnel_id, step_id):
    """Start a test on the step: its name, the minimum sample and the variants with their share of traffic."""
    account = current_account()
    funnel = services.get_funnel(account, funnel_id)
    step = services.get_step(account, funnel, step_id)
    form = SplitTestForm()
    if form.validate_on_submit():
        try:
            test = splittests.create_test(account, funnel, step, form.service_data(), current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Split test “{test.name}” started. Edit each new variant in the builder: it is a copy of the "
                  "step's page until you change it.", "success")
            return redirect_to(test_url(test))
    status = 422 if form.is_submitted() else 200
    funnel = services.get_funnel(account, funnel_id)
    step = services.get_step(account, funnel, step_id)
    return render("funnels/split_test_new.html", block="form", status=status, form=form, funnel=funnel, step=step,
                  running=splittests.running_test_of(step), past=splittests.tests_of_step(account, step),
                  test_url=test_url, status_labels=splittests.STATUS_LABELS)


def _test_context(funnel: Funnel, test: SplitTest, **extra) -> dict:
    account = current_account()
    step = services.get_step(account, funnel, test.step_id)
    results = splittests.results_of(account, test)
    rows = {row["variant_id"]: row for row in (results or {}).get("variants", [])}
    live = step.page is not None and step.page.is_published
    variants = [{"variant": variant, "row": rows.get(str(variant.id)), "page": variant.page,
                 "unpublished": test.status == "running" and live and not variant.page.is_published}
                for variant in test.variants]
    winner_id = ((results or {}).get("winner") or {}).get("variant_id")
    return {"funnel": funnel, "step": step, "test": test, "results": results, "variants": variants,
            "winner": next((item for item in variants if str(item["variant"].id) == winner_id), None),
            "promoted": next((item for item in variants if item["variant"].id == test.winner_variant_id), None),
            "step_live": live, "step_url": publishing.public_url(step),
            "status_labels": splittests.STATUS_LABELS, "notice": None, **extra}


@bp.route("/funnels/<uuid:funnel_id>/split-tests/<uuid:test_id>")
@role_required("viewer")
def split_test(funnel_id, test_id):
    """The test's results: per variant visitors, conversions, rate, revenue per visitor, improvement with its
    confidence interval, confidence; the minimum sample and the progress toward it; the sample-ratio check;
    the winner or why there is none yet."""
    funnel = services.get_funnel(current_account(), funnel_id)
    return render("funnels/split_test.html", **_test_context(funnel, _test(funnel, test_id)))


@bp.route("/funnels/<uuid:funnel_id>/split-tests/<uuid:test_id>/end", methods=["POST"])
@role_required("user")
def split_test_end(funnel_id, test_id):
    funnel = services.get_funnel(current_account(), funnel_id)
    test = _test(funnel, test_id)
    with flashed_refusal() as refused:
        splittests.end_test(current_account(), test, current_user)
    if not refused:
        flash(f"“{test.name}” ended: every visitor sees the step's own page again. The results stay here.",
              "success")
    return redirect_to(test_url(test))


@bp.route("/funnels/<uuid:funnel_id>/split-tests/<uuid:test_id>/promote", methods=["POST"])
@role_required("user")
def split_test_promote(funnel_id, test_id):
    """The chosen variant's page becomes the step's page (and is published again when the step's page was)."""
    account = current_account()
    funnel = services.get_funnel(account, funnel_id)
    test = _test(funnel, test_id)
    with refusal() as refused:
        splittests.promote(account, test, request.form.get("variant_id"), current_user)
    if refused:
        funnel = services.get_funnel(account, funnel_id)
        test = _test(funnel, test_id)
        problems = getattr(refused.error, "problems", None) or []
        message = refused.error.message
        if problems:
            message = "Nothing was promoted: the step's page could not be published with this variant. " + \
                      " ".join(problem["message"] for problem in problems[:3])
        return render("funnels/split_test.html", status=422, **_test_context(funnel, test, notice=message))
    name = splittests.variant_of(test, test.winner_variant_id).name
    flash(f"{name} is now the page of “{test.step.name}”"
          f"{' and it is published' if test.step.page.is_published else ''}. Undo it in the builder if needed.",
          "success")
    return redirect_to(test_url(test))


@bp.route("/funnels/<uuid:funnel_id>/split-tests/<uuid:test_id>/delete", methods=["POST"])
@role_required("user")
def split_test_delete(funnel_id, test_id):
    funnel = services.get_funnel(current_account(), funnel_id)
    test = _test(funnel, test_id)
    name = test.name
    with flashed_refusal() as refused:
        splittests.delete_test(current_account(), test, current_user)
    if refused:
        return redirect_to(test_url(test))
    flash(f"Split test “{name}” deleted, with its variant pages and results.", "success")
    return redirect_to(url_for("funnels.detail", funnel_id=funnel.id) + "#steps")
