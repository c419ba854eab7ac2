"""The system funnel templates: Python data, the same snapshot shape as `funnels.versions.snapshot_of`.

    all_templates() -> [SystemTemplate, ...]     get("lead-magnet") -> SystemTemplate (KeyError if none)

A snapshot is built on each call: element ids are fresh and dates (a webinar's, a countdown's) are
counted from today, so a funnel made from a template never starts out of date.

To add a template: a module here with `build_steps()` (pages made of the sections in `blocks.py`, in
one `Palette`) and a `TEMPLATE`, listed in `all_templates()`; its pictures go in static/img/templates/.
tests/funnels/test_templates.py then checks that every page validates and passes the checks before
publishing. Run `python -m app.funnels.system_templates.screenshots` for the gallery's thumbnail.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from app.funnels.models import FUNNEL_TYPES

STATIC_IMAGES = Path(__file__).resolve().parents[3] / "static" / "img" / "templates"


@dataclass(frozen=True)
class StepOutline:
    name: str
    step_type: str


@dataclass(eq=False)
class SystemTemplate:
    key: str
    name: str
    description: str
    funnel_type: str
    category: str
    build_steps: Callable[[], list[dict]] = field(repr=False)
    cover: str = ""  # an illustration of the template (static/img/templates/), until there is a screenshot
    funnel_name: str = ""  # what "use template" proposes to call the new funnel
    checklist: tuple[str, ...] = ()  # what to make your own before publishing (links, videos, prices)

    def snapshot(self) -> dict:
        return {"funnel": {"name": self.funnel_name or self.name, "funnel_type": self.funnel_type,
                           "description": self.description, "slug": self.key},
                "steps": self.build_steps()}

    @cached_property
    def outline(self) -> list[StepOutline]:
        """The steps' names and types (for the gallery's cards, without building every page again)."""
        return [StepOutline(step["name"], step["step_type"]) for step in self.build_steps()]

    @property
    def step_count(self) -> int:
        return len(self.outline)

    @property
    def type_label(self) -> str:
        return FUNNEL_TYPES.get(self.funnel_type, self.funnel_type)

    @property
    def thumbnail(self) -> str:
        """The static path of the card's picture: the screenshot when there is one."""
        if (STATIC_IMAGES / f"{self.key}.png").exists():
            return f"img/templates/{self.key}.png"
        return f"img/templates/{self.cover}"


def all_templates() -> list[SystemTemplate]:
    from app.funnels.system_templates import application, lead_magnet, product_launch, tripwire, webinar

    return [lead_magnet.TEMPLATE, tripwire.TEMPLATE, webinar.TEMPLATE, application.TEMPLATE, product_launch.TEMPLATE]


def get(key: str) -> SystemTemplate:
    for template in all_templates():
        if template.key == key:
            return template
    raise KeyError(key)
