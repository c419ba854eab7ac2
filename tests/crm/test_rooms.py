"""The CRM's rooms, read from its source: the Flask-WTF forms in app/crm/forms.py (one class of each name),
the choices they offer defined there once, no view that rolls the session back itself; and the
filter_select macro that every list and board filter of the CRM uses."""
import ast
import re
from pathlib import Path

from flask import render_template_string

import app.crm

CRM = Path(app.crm.__file__).parent
TEMPLATES = CRM.parents[1] / "templates" / "crm"


def _form_classes(path: Path) -> list[str]:
    """The classes of a module that derive from a form (FlaskForm or another *Form)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [getattr(base, "id", getattr(base, "attr", "")) for base in node.bases]
            if any(name.endswith("Form") for name in bases):
                names.append(node.name)
    return names


def test_every_crm_form_lives_in_forms_py_once():
    elsewhere = {str(path.relative_to(CRM)): _form_classes(path) for path in CRM.rglob("*.py")
                 if path.name != "forms.py" and _form_classes(path)}
    assert not elsewhere, f"forms outside app/crm/forms.py: {elsewhere}"
    names = _form_classes(CRM / "forms.py")
    assert len(names) == len(set(names)) and names.count("TagForm") == 1
    assert {"ContactForm", "NoteForm", "TagForm", "SegmentForm", "CompanyForm", "DealForm", "QuickDealForm",
            "ActivityForm", "CustomFieldForm", "CustomFieldEditForm"} <= set(names)


def test_choice_helpers_are_defined_once_beside_the_forms():
    views = {path.name: path.read_text() for path in (CRM / "views").glob("*.py")}
    for name, source in views.items():
        assert "Membership" not in source, f"{name} queries the members itself (use forms.member_choices)"
        assert not re.search(r"def \w*(member|company|companies)_?choice", source), name
        assert "def _uuid_list" not in source and "as_uuid_or_none" not in source, name
    forms = (CRM / "forms.py").read_text()
    assert forms.count("def member_choices(") == 1 and forms.count("def company_choices(") == 1


def test_no_crm_view_rolls_back_itself():
    """apply_error, flashed_refusal (core.forms) and the app's error handler are the places that roll back."""
    for path in (CRM / "views").glob("*.py"):
        assert "rollback(" not in path.read_text(), path.name


def test_crm_list_filters_use_the_filter_select_macro():
    for name in ("contacts/list.html", "companies/list.html", "deals/list.html", "deals/board.html",
                 "deals/forecast.html"):
        source = (TEMPLATES / name).read_text()
        filters = re.search(r'<form id="[a-z]+-filters".*?</form>', source, re.S).group(0)
        assert "filter_select(" in filters and "<select" not in filters, name


def test_the_filter_select_macro(app):
    with app.test_request_context("/"):
        html = render_template_string(
            "{{ filter_select('owner', 'Owner', members, 'none', id='f-owner', any_label='Anyone', "
            "extra=[('none', 'Nobody')]) }}"
            "{{ filter_select('stage', 'Stage', groups, stage, grouped=True) }}"
            "{{ filter_select('tag', 'Tag', tags, 7, value='id', text='name') }}",
            members=[("u1", "Ada <Admin>"), ("u2", "Bob")], stage="s2",
            groups=[("Sales", [("s1", "Lead"), ("s2", "Won")]), ("Partners", [("s3", "Intro")])],
            tags=[{"id": 7, "name": "vip"}, {"id": 8, "name": "lead"}])
    compact = re.sub(r"\s+", " ", html)
    assert '<label for="f-owner">Owner</label> <select id="f-owner" name="owner">' in compact
    assert '<option value="">Anyone</option> <option value="none" selected>Nobody</option>' in compact
    assert '<option value="u1" >Ada &lt;Admin&gt;</option>' in compact  # escaped
    assert ('<optgroup label="Sales"><option value="s1" >Lead</option><option value="s2" selected>Won</option>'
            '</optgroup>') in compact
    stage_select = compact.split('<select id="stage" name="stage">')[1].split("</select>")[0]
    assert 'value=""' not in stage_select  # no "any" option unless asked
    assert '<option value="7" selected>vip</option><option value="8" >lead</option>' in compact
