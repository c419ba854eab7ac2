"""Webinar registration: a registration page with the date, a countdown and the host, then a
confirmation page with the calendar links."""
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from app.funnels.system_templates import SystemTemplate
from app.funnels.system_templates.blocks import (
    Palette,
    announcement,
    benefits,
    bullets,
    button,
    call_to_action,
    column,
    email_field,
    eyebrow,
    faq,
    first_name_field,
    footer,
    form,
    headline,
    image,
    page,
    progress,
    row,
    section,
    single,
    step,
    subheadline,
    testimonials,
    text,
    video,
)
from app.pages.tree import new_element

KEY = "webinar"
BRAND = "Your Company"
PALETTE = Palette(dark="#134e4a", dark_text="#ffffff", dark_muted="#ccfbf1", light="#f0fdfa", text="#0f2e2c",
                  muted="#44615e", accent="#fb923c", accent_text="#1c1917", ink="#c2410c", line="#cdeee9")
VIDEO = "https://vimeo.com/76979871"
ROOM_URL = "https://example.com/live/masterclass"  # the webinar room: the marketer's own (Zoom, YouTube Live...)
FORM_ANCHOR = "register"
TITLE = "Fill your calendar with qualified sales calls"
LENGTH = timedelta(minutes=60)


def session_start(now: datetime | None = None) -> datetime:
    """The Thursday at 17:00 UTC at least a week away: a date that is never in the past."""
    now = now or datetime.now(UTC)
    start = (now + timedelta(days=7)).replace(hour=17, minute=0, second=0, microsecond=0)
    return start + timedelta(days=(3 - start.weekday()) % 7)


def _when(start: datetime) -> str:
    return f"{start:%A}, {start:%B} {start.day} · 17:00 UTC (12:00 New York, 18:00 London)"


def _calendar_url(start: datetime) -> str:
    end = start + LENGTH
    query = urlencode({"action": "TEMPLATE", "text": f"Live masterclass: {TITLE}",
                       "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
                       "details": f"Join here: {ROOM_URL}"})
    return "https://calendar.google.com/calendar/render?" + query


def _countdown(start: datetime, color: str, align: str = "center") -> dict:
    return new_element("countdown_timer", {"deadline": start.strftime("%Y-%m-%dT%H:%M"),
                                           "expired_text": "We're live! Join from the confirmation page."},
                       {"color": color, "font_size": 28, "margin_y": 16, "text_align": align})


def _registration(start: datetime) -> dict:
    p = PALETTE
    hero = section([row([
        column([
            eyebrow("FREE LIVE MASTERCLASS · 60 MINUTES", p.accent, "left"),
            headline(f"How to {TITLE.lower()}, without cold outreach", p.dark_text, "h1", 44, "left"),
            subheadline("The 3-step inbound system that books 15 to 30 qualified calls a month for coaches, "
                        "consultants and agencies. Live, with Q&A at the end.", p.dark_muted, 19, "left"),
            text(f"<p><strong>{_when(start)}</strong></p>", p.dark_text, 17),
            _countdown(start, p.dark_text, "left"),
        ], 7),
        column([
            form([first_name_field("Jordan"), email_field("Your e-mail", "jordan@company.com")],
                 "Save my free seat", ["webinar", "masterclass-registrant"], p),
            text("<p>Can't make it live? Register anyway: the replay goes up on your confirmation page.</p>",
                 p.dark_muted, 14, "center"),
        ], 5),
    ], 48)], p.dark, 72, FORM_ANCHOR)

    learn = benefits("What you'll learn in 60 minutes", [
        ("The magnet", "The one piece of content that pulls in buyers instead of browsers, and how to make "
                       "yours in a weekend."),
        ("The filter", "A three-question application that screens out tyre-kickers before they reach your "
                       "calendar."),
        ("The close", "The call structure our students use to turn 1 in 3 calls into clients, without "
                      "pressure or scripts."),
    ], p, "#ffffff", "Every attendee also gets the slide deck and the call checklist.", "The agenda")

    host = section([row([
        column([image("webinar-host.svg", "Portrait of Daniel Reyes, host of the masterclass", 320, 320, 100)], 4),
        column([
            eyebrow("YOUR HOST", p.ink, "left"),
            headline("Daniel Reyes", p.text, "h2", 32, "left"),
            text("<p>Daniel built his consultancy from zero to a 14-person team without a single cold e-mail. "
                 "Since 2019 he has taught the same system to 3,000+ coaches and agency owners, and he still "
                 "runs every masterclass live.</p>"
                 "<p>Featured in <em>Entrepreneur</em>, <em>Inc.</em> and on the <em>Agency Hour</em> podcast.</p>",
                 p.muted, 17),
        ], 8),
    ], 48)], p.light)

    proof = testimonials("Attendees booked calls the same week", [
        ("I set up the filter the day after the masterclass. Seven calls booked in five days, and they all "
         "knew my prices already.", "Hannah Schultz", "Business coach", "avatar-3.svg"),
        ("An hour with more useful detail than most $2,000 courses. We changed our call structure the next "
         "morning.", "Kwame Mensah", "Founder, Northbeam Agency", "avatar-2.svg"),
    ], p, "#ffffff", "2,700+ people attended last season · rated 4.9/5")

    questions = faq([
        ("Is it really free?", "Yes. The masterclass is free and so are the slides and checklist."),
        ("Will there be a replay?", "Yes, for 48 hours, on the confirmation page you see after registering."),
        ("Is there a pitch?", "At the end, for 5 minutes, Daniel mentions his coaching program. The 55 minutes "
                              "before that stand on their own."),
        ("What do I need to join?", "A browser. The link on your confirmation page opens the room; nothing "
                                    "to install."),
    ], p, p.light)

    closing = call_to_action("Seats are limited to 500 per session", _when(start), "Save my free seat", p,
                             url=f"#{FORM_ANCHOR}")
    return page([announcement(f"Live on {start:%A}, {start:%B} {start.day}: free, with a replay for registrants", p),
                 hero, learn, host, proof, questions, closing, footer(BRAND, p)], p)


def _confirmation(start: datetime) -> dict:
    p = PALETTE
    hero = single([
        progress(100, "Step 2 of 2: you're registered", p, on_dark=True),
        headline("You're in! Your seat is saved", p.dark_text, "h1", 44),
        subheadline(_when(start), p.dark_muted, 19),
        _countdown(start, p.dark_text),
        button("Join the masterclass", p, action="url", url=ROOM_URL),
        text("<p>Bookmark this page: the room opens from this button when we go live.</p>", p.dark_muted, 14,
             "center"),
    ], p.dark, 72)
    calendar = single([
        headline("Add it to your calendar now", p.text, "h2", 32),
        text("<p>People who add the masterclass to their calendar are three times more likely to show up. "
             "Google Calendar opens with everything filled in, the link to the room included.</p>",
             p.muted, 17, "center", 680),
        button("Add to Google Calendar", p, action="url", url=_calendar_url(start)),
    ], "#ffffff", 72)
    prepare = section([row([
        column([video(VIDEO, "A 2-minute message from Daniel before the masterclass")], 6),
        column([
            headline("Get the most out of the hour", p.text, "h2", 30, "left"),
            bullets(["Watch the 2-minute video: what to have ready before we start",
                     "Write down your offer and its price: we'll use them in the live exercise",
                     "Bookmark this page: the link to the room is here"], p.text, 17),
        ], 6),
    ], 48)], p.light)
    return page([hero, calendar, prepare, footer(BRAND, p)], p)


def build_steps() -> list[dict]:
    start = session_start()
    return [
        step(KEY, "register", "Registration", "page", f"Free live masterclass: {TITLE}",
             "A free 60-minute live masterclass: the 3-step inbound system that books qualified sales calls.",
             _registration(start)),
        step(KEY, "registered", "Confirmation", "thank_you", "You're registered for the masterclass",
             "Your seat is saved: add the masterclass to your calendar.", _confirmation(start)),
    ]


TEMPLATE = SystemTemplate(
    key=KEY, name="Webinar registration", funnel_name="Live masterclass",
    description="Fill a live webinar: a registration page with the date, a countdown, the agenda and the "
                "host's bio, then a confirmation page with an add-to-calendar button and a short video.",
    funnel_type="webinar", category="Run an event", build_steps=build_steps,
    checklist=("Both pages: your date and time in the text, the countdowns and the calendar button "
               "(the template is set for next Thursday, 17:00 UTC)",
               "Confirmation: the link to your webinar room (the Join button and the calendar event)",
               "Registration: the host's photo and bio", "Confirmation: the host's video"),
    cover="webinar-host.svg")
