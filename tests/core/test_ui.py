"""The UI's shared pieces, one of each: the sortable-list behaviour and the CSRF and toast helpers of
static/js/app.js, the icon macro, the stylesheet without inline styles (and the CSP that refuses them).
These read the sources and render pages; the browser tests (tests/browser) drive them for real."""
import re
from html.parser import HTMLParser
from pathlib import Path

from tests import factories

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
SCRIPTS = ROOT / "static" / "js"
SORTABLE_SRC = "/static/vendor/Sortable.min.js"


def script(name: str) -> str:
    return (SCRIPTS / name).read_text()


def templates(exclude=()) -> dict[str, str]:
    found = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if not name.startswith(tuple(exclude)):
            found[name] = path.read_text()
    return found


class Tags(HTMLParser):
    """Every start tag of a document: (tag, {attribute: value})."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, attribute: str) -> list[dict]:
        return [attrs for _, attrs in self.tags if attribute in attrs]


# ---- one sortable behaviour, one way of loading SortableJS -------------------------------------------

def test_only_app_js_wires_sortable_lists_and_the_builder_keeps_its_own():
    for path in sorted(SCRIPTS.glob("*.js")):
        creates = "Sortable.create(" in path.read_text()
        assert creates == (path.name in ("app.js", "builder.js")), f"{path.name} wires SortableJS itself"
    # The library is loaded by app.js alone (Leadforge.withSortable), from the page's data-sortable-src.
    for name, source in templates().items():
        assert not re.search(r"<script[^>]*Sortable", source), f"{name} loads SortableJS with a <script> tag"
    assert "withSortable(initSortables)" in script("builder.js")
    for name in ("board.js", "funnels.js"):
        assert "Sortable" not in script(name).replace("data-sortable", "")


def sortable_lists(html: str) -> list[dict]:
    return Tags(html).find("data-sortable")


def test_the_board_the_stages_and_the_steps_are_sortable_lists(client, owner, login):
    user, account = owner
    login(user, account)
    pipeline = factories.default_pipeline(account)
    factories.make_deal(account, pipeline, title="Website")
    from app.funnels import services as funnels

    funnel = funnels.create_funnel(account, {"name": "Spring guide"}, user)

    board = client.get("/deals").text
    columns = sortable_lists(board)
    assert len(columns) == len(pipeline.stages)
    for column, stage in zip(columns, pipeline.stages, strict=True):
        assert column["data-sortable-name"] == "order" and column["data-sortable-target"] == "#board"
        assert column["data-sortable-swap"] == "none" and column["data-sortable-include"] == "#board-filters"
        assert column["data-sortable-group"] == f"deals-{pipeline.id}"
        assert column["data-sortable-values"] == f'{{"stage_id": "{stage.id}"}}'
        assert column["data-sortable-src"] == SORTABLE_SRC
    card = Tags(board).find("data-sortable-id")[0]
    assert card["data-sortable-url"].endswith("/move") and card["class"] == "deal-card"

    stages = sortable_lists(client.get("/deals/pipelines").text)
    assert [(s["data-sortable-name"], s["data-sortable-target"], s["data-sortable-handle"]) for s in stages] == [
        ("stage_ids", f"#pipeline-{pipeline.id}", ".drag-handle")]
    assert stages[0]["data-sortable"].endswith(f"/deals/pipelines/{pipeline.id}/stages/order")

    steps = sortable_lists(client.get(f"/funnels/{funnel.id}").text)
    assert [(s["data-sortable-name"], s["data-sortable-target"], s["data-sortable-handle"]) for s in steps] == [
        ("step_ids", "#steps", ".drag-handle")]
    assert all(s["data-sortable-src"] == SORTABLE_SRC for s in stages + steps)

    # The builder loads the same file the same way (app.js), from its root element.
    editor = Tags(client.get(f"/builder/{funnel.steps[0].page.id}").text)
    assert [a["data-sortable-src"] for a in editor.find("data-sortable-src")] == [SORTABLE_SRC]
    assert not [a for t, a in editor.tags if t == "script" and "Sortable" in a.get("src", "")]


def test_viewers_get_no_sortable_list(client, owner, login):
    user, account = owner
    viewer = factories.add_member(account, "viewer", email="viewer@example.com")
    factories.make_deal(account, factories.default_pipeline(account), title="Website")
    login(viewer, account)
    for path in ("/deals", "/deals/pipelines"):
        page = client.get(path).text
        assert not sortable_lists(page) and "Sortable.min.js" not in page


# ---- one CSRF-header helper, one toast helper -----------------------------------------------------------

def test_one_csrf_header_helper_and_one_toast_helper():
    app_js = script("app.js")
    assert "function csrfHeaders()" in app_js and "function toast(message, kind)" in app_js
    assert "window.Leadforge = { csrfHeaders: csrfHeaders, toast: toast" in app_js
    for path in sorted(SCRIPTS.glob("*.js")):
        if path.name == "app.js":
            continue
        source = path.read_text()
        assert not re.search(r"function (csrfHeaders|toast)\b", source), f"{path.name} has its own helper"
        assert "hx-headers" not in source and "leadforgeToast" not in source, path.name
    for name in ("assets.js", "builder.js"):
        assert "Leadforge.toast(" in script(name)


def test_the_csrf_token_travels_from_the_body_of_both_documents(client, owner, login):
    """base.html and the builder's editor write hx-headers with one macro; nothing else writes it."""
    for name, source in templates().items():
        if "X-CSRFToken" in source or "hx-headers" in source:
            assert name == "components/macros.html", f"{name} writes the CSRF header itself"
    assert "<body hx-boost=\"true\" {{ csrf_headers() }}>" in (TEMPLATES / "base.html").read_text()
    assert "{{ csrf_headers() }}>" in (TEMPLATES / "builder" / "editor.html").read_text()

    user, account = owner
    login(user, account)
    from app.funnels import services as funnels

    funnel = funnels.create_funnel(account, {"name": "Spring guide"}, user)
    for path in ("/", f"/builder/{funnel.steps[0].page.id}"):
        body = [attrs for tag, attrs in Tags(client.get(path).text).tags if tag == "body"][0]
        assert re.fullmatch(r'\{"X-CSRFToken": "[^"]+"\}', body["hx-headers"]), path


# ---- one icon macro -----------------------------------------------------------------------------------

def test_icons_are_drawn_only_by_the_icon_macro():
    for name, source in templates().items():
        if name != "components/macros.html":
            assert "<svg" not in source and "<path" not in source, f"{name} draws an icon itself"
    for path in sorted((ROOT / "app").rglob("*.py")):
        source = path.read_text()
        assert "<svg" not in source or path.name == "services.py" and "SVG_PATTERN" in source, path
        assert not re.search(r"""['"]<(path|rect|circle) """, source), f"{path} holds icon drawings"


def test_the_element_library_draws_each_type_with_the_icon_macro(app, client, owner, login):
    from app.funnels import services as funnels
    from app.pages.elements import TYPES

    icon = app.jinja_env.globals["icon"]
    square = str(icon("square"))
    assert str(icon("no-such-icon")) == square
    for element_type in TYPES.values():  # each type has a picture of its own in the macro
        assert element_type.icon == "square" or str(icon(element_type.icon)) != square, element_type.name

    user, account = owner
    login(user, account)
    funnel = funnels.create_funnel(account, {"name": "Spring guide"}, user)
    editor = client.get(f"/builder/{funnel.steps[0].page.id}").text
    tiles = re.findall(r'<div class="lf-tile" data-type="([a-z_]+)".*?<span class="lf-tile-icon">(<svg.*?</svg>)',
                       editor, re.S)
    assert {name for name, _ in tiles} == {t.name for t in TYPES.values() if t.group}
    for name, svg in tiles:
        assert svg == str(icon(TYPES[name].icon)), name
    for device in ("desktop", "tablet", "mobile"):  # the width switch too
        assert str(icon(device, 16)) in editor


# ---- no inline styles on the app's pages, and a CSP that refuses them --------------------------------------

# Templates that keep inline styles, and why (docs/architecture.md, "The UI's shared pieces", says the same).
INLINE_STYLES_KEPT = {
    "mail/": "e-mails: mail clients need inline styles; never served under the app's CSP",
    "elements/": "page elements with the styles people gave them: published pages and the builder's canvas, "
                 "documents that send their own CSP",
    "funnels/version_preview.html": "a version's page in a frame, with the site's stylesheet: its own CSP",
    "site/error.html": "the published site's error page, with the site's stylesheet: the site's CSP",
}
# Pages that show people's own styles, each with a Content-Security-Policy of its own that allows them.
OWN_POLICY = {
    "builder.editor": "the canvas shows each element with its own styles",
    "builder.preview": "the page as it will be published",
    "funnels.version_preview": "an old version of a page",
    "funnels.gallery_frame": "a template's page in the gallery",
    "funnels.gallery_workspace_frame": "a workspace template's page in the gallery",
}
INLINE_STYLE = re.compile(r"""<[a-zA-Z][^>]*?\sstyle\s*=|<style[\s>]""")


def test_no_inline_style_in_the_app_templates():
    for name, source in templates(exclude=INLINE_STYLES_KEPT).items():
        assert not INLINE_STYLE.search(source), f"{name}: {INLINE_STYLE.search(source).group(0)}"
    for path in sorted(SCRIPTS.glob("*.js")):  # CSSOM (el.style.x = ...) is allowed; markup with style= is not
        source = path.read_text()
        assert "style=" not in source and 'setAttribute("style"' not in source, path.name
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path.name in ("render.py", "screenshots.py"):  # page elements; the gallery's screenshot maker
            continue
        assert not re.search(r"""style=\\?["']""", path.read_text()), f"{path} writes an inline style"


def test_htmx_adds_no_style_of_its_own(client, owner, login):
    css = (ROOT / "static" / "css" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator, .htmx-request.htmx-indicator {" in css
    user, account = owner
    login(user, account)
    from app.funnels import services as funnels

    funnel = funnels.create_funnel(account, {"name": "Spring guide"}, user)
    for path in ("/", f"/builder/{funnel.steps[0].page.id}"):
        page = client.get(path).text
        config = """<meta name="htmx-config" content='{"includeIndicatorStyles": false,"""
        assert config + """ "attributesToSettle": ["class", "width", "height"]}'>""" in page
        assert page.index('name="htmx-config"') < page.index("htmx.min.js")  # read when htmx starts


def test_the_progress_bar_is_a_progress_element(app):
    with app.test_request_context():
        html = str(app.jinja_env.globals["progress"](40, "running", "Export"))
    assert html == '<progress class="progress running" max="100" value="40" aria-label="Export">40%</progress>'


def style_src(response) -> str:
    policy = response.headers.get("Content-Security-Policy", "")
    return next((d.strip() for d in policy.split(";") if d.strip().startswith("style-src")), "")


def test_the_app_pages_refuse_inline_styles_and_have_none(app, client, owner, login):
    """Every page a GET reaches (the URL map walked with a populated workspace's ids, signed in and out)
    sends a CSP whose style-src has no 'unsafe-inline', and has no inline style; the pages that show
    people's own styles send a policy of their own."""
    from werkzeug.routing import AnyConverter, UUIDConverter

    user, account = owner
    ids = factories.populate_account(account, user)
    login(user, account)
    seen = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/v1", "/static", "/_site")):
            continue
        values = {}
        for name, converter in rule._converters.items():
            if isinstance(converter, UUIDConverter) and name in ids:
                values[name] = ids[name]
            elif isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0] if hasattr(converter, "items") else "lead-magnet"
            elif name == "token":
                values[name] = "no-such-token"
        if len(values) < len(rule._converters):
            continue
        path = rule.build(values, append_unknown=False)[1]
        for response in (client.get(path), app.test_client().get(path)):  # signed in, then signed out
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            seen.add(rule.endpoint)
            if rule.endpoint in OWN_POLICY:
                assert "'unsafe-inline'" in style_src(response), rule.endpoint
                continue
            assert style_src(response) == "style-src 'self'", (rule.endpoint, style_src(response))
            if rule.endpoint != "builder.canvas":  # parts of the canvas, swapped into the editor
                found = INLINE_STYLE.search(response.text)
                assert not found, f"{rule.endpoint}: {found and found.group(0)}"
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and style_src(missing) == "style-src 'self'"
    assert not INLINE_STYLE.search(missing.text)
    assert {"dashboard.index", "crm.board", "funnels.detail", "auth.login", *OWN_POLICY} <= seen
    assert len(seen) > 50, sorted(seen)


# ---- the stylesheet and the list macros -------------------------------------------------------------------

# Classes that the libraries add, not our markup.
LIBRARY_CLASSES = {"htmx-request": "htmx, on an element whose request runs",
                   "sortable-ghost": "SortableJS, the place a dragged item will drop",
                   "sortable-chosen": "SortableJS, the item held", "sortable-drag": "SortableJS, the copy that follows"}


def test_every_class_of_the_stylesheet_is_used():
    """Each class app.css styles is written by a template, a script or the Python that renders markup: as a
    word, or as the fixed start of a class a template or script completes (badge-{{ kind }}, "toast-" + kind)."""
    css = re.sub(r"/\*.*?\*/", "", (ROOT / "static" / "css" / "app.css").read_text(), flags=re.S)
    classes = set(re.findall(r"\.(-?[a-zA-Z_][\w-]*)", re.sub(r"url\([^)]*\)", "", css)))
    scripts = [p.read_text() for p in SCRIPTS.glob("*.js")]
    markup = "\n".join([*templates().values(), *scripts, *(p.read_text() for p in (ROOT / "app").rglob("*.py"))])
    prefixes = {start for value in re.findall(r'class="([^"]*)"', "\n".join(templates().values()))
                for start in re.findall(r"([a-z][\w-]*-)\{\{", value)}
    prefixes |= {start for line in "\n".join(scripts).splitlines() if "class" in line
                 for start in re.findall(r"""([a-z][\w-]*-)["']\s*\+""", line)}
    unused = sorted(name for name in classes - set(LIBRARY_CLASSES)
                    if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", markup)
                    and not name.startswith(tuple(prefixes)))
    assert not unused, f"app.css styles classes nothing has: {unused}"


def test_paginated_tables_are_data_tables():
    """A list's table and its pagination bar come from the data_table macro; the contact list's table sits
    in the bulk-selection form with the bar under the form, so it writes them itself."""
    for name, source in templates().items():
        if "table-wrap" in source and "pagination(" in source:
            assert name in ("components/macros.html", "crm/contacts/list.html"), name
