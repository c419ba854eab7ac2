"""One way to paginate a SELECT, for pages and for the JSON API alike."""
import math
from dataclasses import dataclass

from sqlalchemy import Select, func, select

from app.extensions import db

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000  # keeps OFFSET far inside PostgreSQL's bigint


class PageParamError(ValueError):
    """A page or page_size that is not a positive whole number within limits."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class Page:
    items: list
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.page_size)


def parse_page_args(args, strict: bool = False, page_field: str = "page") -> tuple[int, int]:
    """Read page and page_size from query args.

    strict (the JSON API): a bad value or a page_size above the maximum raises PageParamError.
    Not strict (pages): bad values fall back to the defaults and the size is capped.
    page_field: the name of the page argument, when one page shows two lists.
    """
    values = {}
    for field, default in ((page_field, 1), ("page_size", DEFAULT_PAGE_SIZE)):
        raw = args.get(field)
        if raw in (None, ""):
            values[field] = default
            continue
        try:
            number = int(raw)
        except (TypeError, ValueError):
            if strict:
                raise PageParamError(field, f"{field} must be a whole number.") from None
            number = default
        if number < 1:
            if strict:
                raise PageParamError(field, f"{field} must be 1 or more.")
            number = default
        values[field] = number
    if values[page_field] > MAX_PAGE:
        if strict:
            raise PageParamError(page_field, f"{page_field} must be at most {MAX_PAGE:,}.")
        values[page_field] = 1
    if values["page_size"] > MAX_PAGE_SIZE:
        if strict:
            raise PageParamError("page_size", f"page_size must be at most {MAX_PAGE_SIZE}.")
        values["page_size"] = MAX_PAGE_SIZE
    return values[page_field], values["page_size"]


def paginate(query: Select, page: int, page_size: int, scalars: bool = True) -> Page:
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    result = db.session.execute(query.limit(page_size).offset((page - 1) * page_size))
    items = list(result.scalars() if scalars else result)
    return Page(items=items, page=page, page_size=page_size, total=total)
