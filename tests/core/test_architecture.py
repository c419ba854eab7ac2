"""The house rules of docs/architecture.md, read from the source with `ast` (nothing is imported or run).

- `app.core` imports no domain: it is what every domain uses.
- The domain packages (every package under app/ but core) import each other without a cycle, so each
  one can be read, tested and changed knowing only what is below it.
- A domain never imports another domain's views (or anything under them).
- No module imports another module's private names (those starting with "_").

Every import counts, those inside functions too: an import put off to run time is still a dependency.
"""
import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
CORE = "core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative import
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            names = [alias.name for alias in node.names]
            found.append((module, names, node.lineno))
            # `from app.crm import views` imports the module app.crm.views
            found += [(f"{module}.{name}", [], node.lineno) for name in names
                      if (APP.parent / Path(*f"{module}.{name}".split("."))).exists()
                      or (APP.parent / Path(*f"{module}.{name}".split("."))).with_suffix(".py").exists()]
    return found


def _domain(module: str) -> str | None:
    """The app package a module belongs to (app.crm.services.deals -> "crm"); None outside app/ or for
    app's own top-level modules (the factory, config, extensions, CLI, demo: they put the domains together)."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2 or not (APP / parts[1]).is_dir():
        return None
    return parts[1]


def _sources() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importing domain, imported domain) -> where, for every import between two app packages."""
    edges = defaultdict(list)
    for path in _sources():
        here = _domain(_module_name(path))
        if here is None:
            continue
        for module, _, line in _imports(path):
            there = _domain(module)
            if there is not None and there != here:
                edges[(here, there)].append(f"{path.relative_to(APP.parent)}:{line} imports {module}")
    return edges


def _cycles(edges) -> list[list[str]]:
    graph = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_the_rules_see_the_imports():
    """The checks below read real imports (a parser that found none would pass everything)."""
    edges = _edges()
    assert ("crm", CORE) in edges and ("api", "crm") in edges
    assert len({source for source, _ in edges}) >= 8


def test_core_imports_no_domain():
    wrong = [where for (source, target), places in _edges().items() if source == CORE for where in places]
    assert not wrong, "core must not import a domain:\n" + "\n".join(wrong)


def test_no_cycle_between_domains():
    edges = _edges()
    cycles = _cycles(edges)
    report = []
    for cycle in cycles:
        report.append(" -> ".join(cycle))
        for source, target in zip(cycle, cycle[1:]):
            report += [f"    {where}" for where in edges[(source, target)][:3]]
    assert not cycles, "domain packages import each other in a cycle:\n" + "\n".join(report)


def test_no_domain_imports_another_domains_views():
    wrong = []
    for path in _sources():
        here = _domain(_module_name(path))
        for module, _, line in _imports(path):
            there = _domain(module)
            if there is not None and there != here and ".views" in f".{module.partition('.')[2]}"[len(there) + 1:]:
                wrong.append(f"{path.relative_to(APP.parent)}:{line} imports {module}")
    assert not wrong, "a domain imports another's views:\n" + "\n".join(wrong)


def test_no_module_imports_private_names_of_another():
    wrong = []
    for path in _sources():
        for module, names, line in _imports(path):
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            if module.startswith("app") and private:
                wrong.append(f"{path.relative_to(APP.parent)}:{line} takes {', '.join(private)} from {module}")
    assert not wrong, "private names imported from another module:\n" + "\n".join(wrong)


# ---- the rooms of a domain ------------------------------------------------------------------------------

def _is_view_module(path: Path) -> bool:
    return path.name == "views.py" or path.parent.name == "views"


def _form_classes(path: Path) -> list[str]:
    """The classes of a module deriving from a form class (FlaskForm, or another *Form)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(getattr(base, "id", getattr(base, "attr", "")).endswith("Form") for base in node.bases)]


def test_forms_live_in_forms_modules():
    elsewhere = {str(path.relative_to(APP.parent)): names for path in _sources()
                 if path.name != "forms.py" and (names := _form_classes(path))}
    assert not elsewhere, f"Flask-WTF forms outside a forms.py: {elsewhere}"
    assert _form_classes(APP / "crm" / "forms.py") and _form_classes(APP / "core" / "forms.py")


def test_no_view_rolls_back_itself():
    """core.forms (apply_error, refusal, flashed_refusal) and the error handlers are where a refused
    operation's changes are discarded."""
    wrong = []
    for path in filter(_is_view_module, _sources()):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("rollback", "_discard_changes"):
                wrong.append(f"{path.relative_to(APP.parent)}:{node.lineno}")
    assert not wrong, "views that roll back themselves:\n" + "\n".join(wrong)
    assert any(_is_view_module(path) for path in _sources())


def test_background_jobs_are_functions_of_tasks_modules():
    """What core.jobs.enqueue runs is a function of a domain's tasks.py (take ids, load, call a service)."""
    wrong, seen = [], 0
    for path in _sources():
        if path.parts[-2:] in (("core", "jobs.py"), ("core", "schedule.py")):
            continue  # the queue itself, and the scheduler, which enqueues what tasks.py modules registered
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "enqueue":
                seen += 1
                job = ast.unparse(node.args[0]) if node.args else ""
                own = path.name == "tasks.py" and job.isidentifier()  # a tasks.py enqueues one of its own
                if not job.startswith("tasks.") and not own:
                    wrong.append(f"{path.relative_to(APP.parent)}:{node.lineno} enqueues {job}")
    assert seen >= 3 and not wrong, "jobs that are not tasks.py functions:\n" + "\n".join(wrong)
