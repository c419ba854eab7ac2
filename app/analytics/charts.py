"""What the analytics pages' charts draw, from a report: plain data that static/js/analytics.js hands to Chart.js.

A chart is {"labels": [...], "datasets": [{"label", "data", "type": "bar"|"line", "axis": "y"|"y2"}],
"axes": {"y": format, "y2": format}, "horizontal": bool, "currency": code}; formats are "number", "money" (data
in major units), "percent" (data from 0 to 100) and "seconds". Labels are written here, in the workspace's time
(the report's timestamps carry its offset), so the script only draws.
"""
from datetime import datetime


def _label(timestamp: str, granularity: str) -> str:
    moment = datetime.fromisoformat(timestamp)
    if granularity == "hour":
        return moment.strftime("%b %-d %H:%M")
    if granularity == "week":
        return "Week of " + moment.strftime("%b %-d")
    return moment.strftime("%b %-d")


def _series(label, data, kind="bar", axis="y") -> dict:
    return {"label": label, "data": data, "type": kind, "axis": axis}


def _chart(labels, datasets, y="number", y2=None, horizontal=False, currency="USD") -> dict:
    axes = {"y": y, **({"y2": y2} if y2 else {})}
    return {"labels": labels, "datasets": datasets, "axes": axes, "horizontal": horizontal, "currency": currency}


def _percent(values) -> list:
    return [round(value * 100, 2) for value in values]


def traffic(rows: list[dict], granularity: str) -> dict:
    """Visits and conversions over time (the overview)."""
    return _chart([_label(row["timestamp"], granularity) for row in rows],
                  [_series("Visits", [row["visits"] for row in rows]),
                   _series("Conversions", [row["conversions"] for row in rows], "line", "y2")], y2="number")


def steps_funnel(steps: list[dict], key: str = "visitors") -> dict:
    """Unique visitors of each step, the funnel drawn as horizontal bars, with the cumulative drop-off when the
    rows have it (the drop-off report)."""
    datasets = [_series("Unique visitors", [step[key] for step in steps])]
    y2 = None
    if steps and "cumulative_drop_off_rate" in steps[0]:
        datasets.append(_series("Lost so far (%)", _percent(step["cumulative_drop_off_rate"] for step in steps),
                                "line", "y2"))
        y2 = "percent"
    return _chart([step["step_name"] for step in steps], datasets, y2=y2, horizontal=y2 is None)


def step_over_time(rows: list[dict], granularity: str) -> dict:
    return _chart([_label(row["timestamp"], granularity) for row in rows],
                  [_series("Page views", [row["visitors"] for row in rows]),
                   _series("Entries", [row["entries"] for row in rows], "line"),
                   _series("Drop-off rate (%)", _percent(row["drop_off_rate"] for row in rows), "line", "y2")],
                  y2="percent")


def shares(rows: list[dict], name: str, label: str) -> dict:
    """Visitors by source, device or browser."""
    return _chart([row[name] for row in rows], [_series(label, [row["visitors"] for row in rows])], horizontal=True)


def conversions_over_time(rows: list[dict], granularity: str, currency: str) -> dict:
    return _chart([_label(row["timestamp"], granularity) for row in rows],
                  [_series("Conversions", [row["conversions"] for row in rows]),
                   _series("Conversion rate (%)", _percent(row["rate"] for row in rows), "line", "y2")],
                  y2="percent", currency=currency)


def by_type(rows: list[dict]) -> dict:
    return _chart([row["conversion_type"].replace("_", " ") for row in rows],
                  [_series("Conversions", [row["count"] for row in rows])])


def revenue_over_time(rows: list[dict], granularity: str, currency: str) -> dict:
    return _chart([_label(row["timestamp"], granularity) for row in rows],
                  [_series(f"Net revenue ({currency})", [row["revenue_cents"] / 100 for row in rows]),
                   _series("Orders", [row["orders"] for row in rows], "line", "y2")],
                  y="money", y2="number", currency=currency)


def revenue_by_source(rows: list[dict], currency: str) -> dict:
    return _chart([row["source"] for row in rows],
                  [_series(f"Net revenue ({currency})", [row["revenue_cents"] / 100 for row in rows])],
                  y="money", horizontal=True, currency=currency)


def active_by_step(rows: list[dict]) -> dict:
    return _chart([row["step_name"] for row in rows], [_series("Active visitors", [row["visitors"] for row in rows])],
                  horizontal=True)
