"""Funnel templates: the system templates (app/funnels/system_templates/) and a workspace's own
(FunnelTemplate rows), and the three things done with them: save a funnel as a template, use a
template, delete one. The gallery's pages are app/funnels/views/templates.py."""
from app.core import audit
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, text_value
from app.extensions import db
from app.funnels import services as funnels
from app.funnels import versions
from app.funnels.models import FUNNEL_TYPES, Funnel, FunnelTemplate


def workspace_templates_query(account, funnel_type: str | None = None):
    query = scoped(FunnelTemplate, account)
    if funnel_type:
        query = query.where(FunnelTemplate.funnel_type == funnel_type)
    return query.order_by(FunnelTemplate.updated_at.desc(), FunnelTemplate.id)


def clean_type_filter(value) -> str:
    """The gallery's type filter: a known funnel type, or "" (all)."""
    return value if value in FUNNEL_TYPES else ""


def save_as_template(account, funnel: Funnel, data: dict, actor=None) -> FunnelTemplate:
    """A workspace template holding the funnel as it is now (steps, pages, settings)."""
    fields = FieldErrors(data, partial=False)
    fields.add("name", lambda: text_value(data, "name", "name", 120, required=True))
    fields.add("description", lambda: text_value(data, "description", "description", 2000) or "")
    values = fields.values_or_raise()
    template = FunnelTemplate(account_id=account.id, funnel_type=funnel.funnel_type,
                              snapshot=versions.snapshot_of(funnel), created_by_id=getattr(actor, "id", None), **values)
    db.session.add(template)
    db.session.flush()
    audit.record("funnel_template.created", template, f"Funnel {funnel.name} saved as template {template.name}",
                 account=account, user=actor)
    db.session.commit()
    return template


def use_template(account, snapshot: dict, template_name: str, data: dict, actor=None) -> Funnel:
    """A new draft funnel with every step and page of the template (ValidationError on a bad or taken slug)."""
    fields = FieldErrors(data, partial=False)
    fields.add("name", lambda: text_value(data, "name", "name", 120, required=True))
    fields.add("slug", lambda: text_value(data, "slug", "slug", 120) or "")
    values = fields.values_or_raise()
    return funnels.create_from_snapshot(account, snapshot, values, actor,
                                        summary=f"Created from template {template_name}"[:200])


def delete_template(account, template: FunnelTemplate, actor=None) -> None:
    """Funnels made from the template keep their own copy: only the template goes."""
    audit.record("funnel_template.deleted", template, f"Template {template.name} deleted", account=account, user=actor)
    db.session.delete(template)
    db.session.commit()

