"""REQ-08: where visitors leave a funnel, how bad it is, why, and what to try.

All from the rollups: a step's drop-offs are its bounce and close exits (StepHour), its rate is drop-offs per
entry; the exit reasons and the devices are dimensions of `analytics_dimension_days`; the funnel of cumulative
drop-off uses the unique visitors of each step (sketches): at a step it is the share of the first step's
visitors who did not reach it, and the overall rate is that share at the last step.
A thank-you step ends the funnel: leaving it is no drop-off, so it is left out of the steps listed.
"""
from app.analytics.reports import (
    Period,
    cached,
    dimension_by_step,
    empty_counters,
    percentage,
    rate,
    step_figures,
    step_sums,
    uniques,
)

# Severity of a step's drop-off rate (drop-offs per entry). A landing page that keeps 70% of its visitors
# does well, so under 30% is "low"; from 30% to 60% a real share is lost and worth a look ("medium"); at 60%
# and above most visitors leave there ("high").
LOW_BELOW = 0.30
MEDIUM_BELOW = 0.60
REASONS_SHOWN = 5
# A device's drop-off rate is compared once it has this many entries, and called different beyond this gap.
DEVICE_MIN_ENTRIES = 10
DEVICE_GAP = 0.15
QUICK_EXIT_SECONDS = 10  # leaving before this: the page did not match what brought them
SLOW_EXIT_SECONDS = 120  # staying this long and leaving: the page asks too much or is unclear

STEP_ADVICE = {
    "page": "Say in the headline exactly what the visitor gets, and ask for as few form fields as you can "
            "(the e-mail address first).",
    "order_form": "Reassure at the moment of paying: show the guarantee, the secure payment and the total next to "
                  "the button, and drop every field not needed to charge the card.",
    "order_bump": "Keep the bump to one checkbox, priced well below the main product, saying in one line why it "
                  "helps.",
    "upsell": "Make the offer's value plain in the first screen and the “No thanks” link easy to find: visitors "
              "who feel trapped close the page.",
    "downsell": "Offer a clearly smaller commitment than the upsell (a lighter version, a lower price) and keep "
                "the decline link visible.",
}
REASON_ADVICE = {
    "form_abandoned": "Many start the form and give up: remove optional fields and show errors as they type.",
    "backward": "Many go back to the previous step: they may need more before deciding; repeat the main benefit "
                "and answer the usual objections here.",
    "bounce": "Many leave without doing anything: make the page's first screen load fast and show the call to "
              "action without scrolling.",
    "close": "Many close the page: remind them what they get, or offer something smaller before they go.",
}


def severity(drop_off_rate: float) -> str:
    if drop_off_rate < LOW_BELOW:
        return "low"
    return "medium" if drop_off_rate < MEDIUM_BELOW else "high"


def dropoffs(account, funnel, period: Period) -> dict:
    return cached("dropoffs", account, funnel.id, period.key(), lambda: _dropoffs(funnel, period))


def _device_advice(devices: list[dict]) -> str | None:
    rates = {row["value"]: rate(row["drop_offs"], row["entries"]) for row in devices
             if row["entries"] >= DEVICE_MIN_ENTRIES}
    if "mobile" in rates and "desktop" in rates:
        mobile, desktop = rates["mobile"], rates["desktop"]
        if mobile - desktop >= DEVICE_GAP:
            return (f"Visitors on phones leave far more often ({mobile:.0%}) than on computers ({desktop:.0%}): "
                    "try the page on a phone (loading time, text size, buttons and fields within thumb reach).")
        if desktop - mobile >= DEVICE_GAP:
            return (f"Visitors on computers leave far more often ({desktop:.0%}) than on phones ({mobile:.0%}): "
                    "check the page on a wide screen (layout, line length, where the button sits).")
    return None


def suggestions(step, figures: dict, level: str, reasons: list[dict], devices: list[dict]) -> list[str]:
    """Improvement ideas for a step, from rules: its type, a device that fares much worse, the time spent before
    leaving, and the most common exit reason. The first two only when the drop-off is medium or high."""
    found = []
    if level != "low" and step.step_type in STEP_ADVICE:
        found.append(STEP_ADVICE[step.step_type])
    device = _device_advice(devices)
    if device:
        found.append(device)
    seconds = figures["avg_time_seconds"]
    if level != "low" and figures["entries"] and 0 < seconds < QUICK_EXIT_SECONDS:
        found.append(f"Visitors spend {seconds} s on average here: the top of the page must confirm at once what "
                     "the ad, link or e-mail promised.")
    elif level != "low" and seconds >= SLOW_EXIT_SECONDS:
        found.append(f"Visitors spend {seconds // 60} min {seconds % 60} s on average before leaving: the page may "
                     "be unclear or ask too much; make the next action obvious.")
    if reasons:
        top = reasons[0]
        found.append(REASON_ADVICE.get(top["reason"]) or
                     f"The most common exit reason is “{top['reason']}” ({top['percentage']:g}% of exits): "
                     "look at what the page asks for at that point.")
    if not found:
        found.append("Drop-off is low here: test one change at a time (split test) rather than a redesign.")
    return found


def _dropoffs(funnel, period: Period) -> dict:
    sums = step_sums(funnel, period)
    unique = uniques(funnel, period, [step.id for step in funnel.steps])
    reasons_by_step = dimension_by_step(funnel, period, "exit_reason")
    devices_by_step = dimension_by_step(funnel, period, "device")
    listed, drop_funnel = [], []
    first_visitors = unique.get(funnel.steps[0].id, 0) if funnel.steps else 0
    for position, step in enumerate(funnel.steps):
        figures = step_figures(sums.get(step.id, empty_counters()), unique.get(step.id, 0))
        cumulative = 0.0 if position == 0 else max(0.0, 1 - rate(figures["visitors"], first_visitors))
        drop_funnel.append({"step_id": str(step.id), "step_name": step.name, "visitors": figures["visitors"],
                            "drop_offs": figures["drop_offs"],
                            "cumulative_drop_off_rate": round(cumulative, 4) if first_visitors else 0.0})
        if not figures["drop_offs"] or step.step_type == "thank_you":
            continue
        reasons = reasons_by_step.get(step.id, [])
        counted = sum(row["entries"] for row in reasons)
        common = [{"reason": row["value"], "count": row["entries"], "percentage": percentage(row["entries"], counted)}
                  for row in reasons[:REASONS_SHOWN] if row["entries"]]
        level = severity(figures["drop_off_rate"])
        listed.append((position, {
            "step_id": str(step.id), "step_name": step.name, "drop_offs": figures["drop_offs"],
            "drop_off_rate": figures["drop_off_rate"], "severity": level, "common_exit_reasons": common,
            "suggestions": suggestions(step, figures, level, common, devices_by_step.get(step.id, []))}))
    listed.sort(key=lambda pair: (-pair[1]["drop_off_rate"], pair[0]))  # the worst first
    return {"period": period.as_json(),
            "overall_drop_off_rate": drop_funnel[-1]["cumulative_drop_off_rate"] if drop_funnel else 0.0,
            "steps_with_drop_off": [row for _, row in listed], "drop_off_funnel": drop_funnel}
