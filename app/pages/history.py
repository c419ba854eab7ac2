"""A page's undo history, kept with the page so that it survives a reload: save, undo, redo and restore
as changes of a page's state, and nothing else.

A page here is any object with `tree`, `history` (the ways back, newest last), `future` (the ways
forward after an undo), `revision` (grows with each change of the tree, so that a stale tab cannot
overwrite it) and, for `restore`, the text fields of TEXT_FIELDS. These functions change those
attributes only: no version, no commit. The caller records and saves (app.builder.services for an
edit, app.funnels.versions for a restore).

Each entry is the way back, as small as the change: either a whole tree (type "page") or
{"patch": element_id, "old": that element as it was}, the smallest subtree that differs. Editing one
headline of a 150-element page keeps a few hundred bytes, not the page, so 50 entries stay small and
every edit stays fast. Entries are applied to the very tree they were taken from (history and future
move in step), so the element is always there.
"""
from app.core.errors import ConflictError, ValidationError
from app.pages import tree as trees

HISTORY_LIMIT = 50
# The text fields of a page a snapshot carries, with the most characters each may hold (their columns').
TEXT_FIELDS = {"title": 200, "seo_title": 200, "seo_description": 320}


def check_revision(page, revision) -> None:
    """Refuse a change made on an older copy of the page (another tab or person saved since).
    No revision given: nothing to check."""
    if revision in (None, ""):
        return
    try:
        revision = int(revision)
    except (TypeError, ValueError):
        raise ValidationError("The revision must be a whole number.", field="revision") from None
    if revision != page.revision:
        raise ConflictError("This page was changed somewhere else since you opened it: reload to get the "
                            "latest version (your last change was not saved).")


def change_back(current: dict, previous: dict) -> dict:
    """The entry that turns `current` back into `previous`."""
    node, old = current, previous
    while True:
        kids, old_kids = node.get("children") or [], old.get("children") or []
        same_self = all(node.get(key) == old.get(key) for key in ("id", "type", "props", "style", "hide_on"))
        if not same_self or [kid["id"] for kid in kids] != [kid["id"] for kid in old_kids]:
            break
        differing = [index for index, (kid, old_kid) in enumerate(zip(kids, old_kids)) if kid != old_kid]
        if len(differing) != 1:
            break
        node, old = kids[differing[0]], old_kids[differing[0]]
    if node is current:
        return trees.clone(previous)
    return {"patch": node["id"], "old": trees.clone(old)}


def apply_change(tree: dict, entry: dict) -> dict:
    """The tree with one history entry applied (a new tree: the one given is left as it was)."""
    if entry.get("type") == "page":
        return trees.clone(entry)
    chain = trees.path(tree, entry["patch"])
    if chain is None:  # cannot happen with entries made here; refuse rather than guess
        raise ConflictError("The edit history does not match this page any more: undo is not possible.")
    return trees.replace_at(chain, trees.clone(entry["old"]))


def save(page, new_tree: dict) -> bool:
    """`new_tree` (already validated) becomes the page's tree, the way back goes on the history and the
    redo list is emptied. False, and nothing changed, when the tree is the same."""
    if new_tree == page.tree:
        return False
    page.history = _capped(page.history, change_back(new_tree, page.tree))
    page.future = []
    _set_tree(page, new_tree)
    return True


def undo(page) -> None:
    """Back one change; ConflictError when there is nothing to undo."""
    _step(page, "history", "future", "There is nothing to undo.")


def redo(page) -> None:
    """Forward again after an undo; ConflictError when there is nothing to redo."""
    _step(page, "future", "history", "There is nothing to redo.")


def _step(page, source: str, target: str, nothing: str) -> None:
    """Apply the newest entry of one list (history or future) and keep the way back on the other."""
    entries = list(getattr(page, source) or [])
    if not entries:
        raise ConflictError(nothing)
    tree = apply_change(page.tree, entries.pop())
    setattr(page, target, _capped(getattr(page, target), change_back(tree, page.tree)))
    setattr(page, source, entries)
    _set_tree(page, tree)


def restore(page, snapshot: dict) -> bool:
    """A snapshot's content put back (a page version, or one page of a funnel version): the title and SEO
    fields, cut to their lengths, and the tree, validated again (a stored snapshot is trusted no more
    than a posted one). The tree it replaces goes on the history like any edit, so the restore can be
    undone in the builder. The snapshot's images are the caller's (they need the account's asset check).
    True when anything changed."""
    tree = trees.validate(snapshot.get("tree") or trees.empty_page())  # first: refused, nothing changes
    changed = False
    for key, limit in TEXT_FIELDS.items():
        value = (snapshot.get(key) or "")[:limit]
        if getattr(page, key) != value:
            setattr(page, key, value)
            changed = True
    return save(page, tree) or changed


def _capped(entries, entry: dict) -> list:
    return (list(entries or []) + [entry])[-HISTORY_LIMIT:]


def _set_tree(page, tree: dict) -> None:
    page.tree = tree
    page.revision = (page.revision or 0) + 1
