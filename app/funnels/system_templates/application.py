"""Application: a high-ticket offer sold on a call. A long-form application qualifies the lead (budget,
goals, biggest challenge), then a thank-you page says when the team will call."""
from app.funnels.system_templates import SystemTemplate
from app.funnels.system_templates.blocks import (
    Palette,
    benefits,
    bullets,
    button,
    card,
    column,
    email_field,
    eyebrow,
    faq,
    field,
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

KEY = "application"
BRAND = "Your Company"
PALETTE = Palette(dark="#1c1917", dark_text="#fafaf9", dark_muted="#d6d3d1", light="#faf7f2", text="#1c1917",
                  muted="#57534e", accent="#e9b949", accent_text="#1c1917", ink="#92400e", line="#e7e0d4")
VIDEO = "https://vimeo.com/76979871"
FORM_ANCHOR = "apply"


def _application_form() -> dict:
    p = PALETTE
    fields = [
        first_name_field("Jordan"),
        field("Last name", "last_name", "text", "Rivera"),
        email_field("Work e-mail", "jordan@company.com"),
        field("Phone (we'll call you on this number)", "phone", "tel", "+1 415 555 0132"),
        field("Company website", "custom:website", "url", "https://yourcompany.com", required=False),
        new_element("dropdown", {"label": "Monthly revenue today", "maps_to": "custom:monthly_revenue",
                                 "required": True, "options": ["Under $10,000", "$10,000 – $30,000",
                                                               "$30,000 – $100,000", "More than $100,000"]}),
        new_element("dropdown", {"label": "Budget you can invest in growth over 90 days",
                                 "maps_to": "custom:budget_range", "required": True,
                                 "options": ["Under $3,000", "$3,000 – $7,500", "$7,500 – $15,000",
                                             "More than $15,000"]}),
        new_element("checkbox_group", {"label": "What do you want from the next 90 days?", "maps_to": "custom:goals",
                                       "required": True,
                                       "options": ["More qualified leads", "A higher close rate on sales calls",
                                                   "Launch a new offer", "Automate follow-up",
                                                   "Build a team that sells without me"]}),
        new_element("textarea", {"label": "What is the one thing holding your growth back right now?",
                                 "maps_to": "custom:challenge", "required": True, "rows": 5,
                                 "placeholder": "A few sentences are plenty: the more honest, the better the call."}),
    ]
    return form(fields, "Submit my application", ["applicant", "growth-accelerator"], p, max_width=680)


def _apply() -> dict:
    p = PALETTE
    hero = single([
        eyebrow("BY APPLICATION ONLY · 8 CLIENTS PER QUARTER", p.accent),
        headline("Double your qualified leads in 90 days, with a team that builds it with you", p.dark_text,
                 "h1", 48),
        subheadline("The Growth Accelerator is a done-with-you program for service businesses doing $10k+ a "
                    "month: we build your funnel, your follow-up and your sales process alongside you.",
                    p.dark_muted, 20),
        button("Start my application", p, action="url", url=f"#{FORM_ANCHOR}"),
        text("<p>Takes about 4 minutes. We reply to every application within 2 business days.</p>", p.dark_muted, 14,
             "center"),
    ], p.dark, 96)

    fit = section([row([
        column([card([
            headline("This is for you if…", p.text, "h3", 22, "left", "700"),
            bullets(["You sell a service or program worth $2,000 or more",
                     "Referrals got you here, but they don't arrive on a schedule",
                     "You can give the project 3 hours a week for 90 days"], p.text, 16),
        ], p)], 6),
        column([card([
            headline("It's not for you if…", p.text, "h3", 22, "left", "700"),
            bullets(["You're still looking for your first paying client",
                     "You want a quick hack rather than a system",
                     "You'd rather hand everything off and never look at it"], p.muted, 16),
        ], p, p.light)], 6),
    ], 24)], "#ffffff")

    how = benefits("How the 90 days work", [
        ("Weeks 1–2: Diagnose", "We audit your offer, your numbers and your last 50 leads, then agree one "
                                "growth target you can measure."),
        ("Weeks 3–8: Build", "Together we build the funnel, the nurture e-mails and the qualifying call "
                             "script. Weekly calls, shared workspace, real deadlines."),
        ("Weeks 9–12: Scale", "We run traffic, read the numbers every week and fix what leaks, until the "
                              "system runs without us."),
    ], p, p.light, kicker="The program")

    proof = testimonials("Results from recent clients", [
        ("We went from 9 to 31 qualified calls a month. Honestly the follow-up e-mails alone paid for the "
         "program.", "Rachel Kim", "Founder, Clearpath Physio", "avatar-3.svg"),
        ("They didn't hand us a template; they sat in our numbers with us. Revenue is up 2.4x since we "
         "started.", "Luis Fernández", "Managing partner, Alto Legal", "avatar-2.svg"),
    ], p, "#ffffff", "62 businesses accepted since 2023 · average 2.1x more qualified leads")

    application = section([
        row([column([
            eyebrow("THE APPLICATION", p.ink),
            headline("Tell us about your business", p.text, "h2", 34),
            subheadline("Answer honestly: there are no wrong answers, only a better first call.", p.muted, 18),
            progress(50, "Step 1 of 2: your application", p),
        ])]),
        row([column([_application_form()])]),
    ], p.light, 80, FORM_ANCHOR)

    questions = faq([
        ("How much does it cost?", "Investment depends on the scope we agree on the call, and starts at $6,000 "
                                   "for the 90 days. We'll give you an exact figure before you commit."),
        ("What happens after I apply?", "We read every application ourselves. If it's a fit, we call you within "
                                        "2 business days to book a 45-minute strategy session."),
        ("What if I'm not accepted?", "We'll tell you why and point you to resources that fit your stage "
                                      "better. No pitch, no hard feelings."),
    ], p, "#ffffff")
    return page([hero, fit, how, proof, application, questions, footer(BRAND, p)], p)


def _thank_you() -> dict:
    p = PALETTE
    hero = single([
        progress(100, "Step 2 of 2: application received", p, on_dark=True),
        headline("Thank you. We'll call you within 2 business days.", p.dark_text, "h1", 44),
        subheadline("A strategist is reading your answers now. Keep your phone close: the call comes from a "
                    "US number and lasts about 15 minutes.", p.dark_muted, 19),
        button("Prefer to pick a time? Book your call", p, action="url",
               url="https://example.com/book-a-strategy-call"),
        text("<p>Or keep your phone close: we'll ring you either way.</p>", p.dark_muted, 14, "center"),
    ], p.dark, 88)
    steps = benefits("What happens next", [
        ("1. We review", "Within 24 hours we read your application and look at your website and offer."),
        ("2. A short call", "If it's a fit, we call to book your 45-minute strategy session at a time that "
                            "suits you."),
        ("3. Your growth plan", "On the session you get a 90-day plan, whether or not you join the program."),
    ], p, "#ffffff")
    meet = section([row([
        column([video(VIDEO, "Meet the team that will review your application")], 7),
        column([
            headline("Meet the team", p.text, "h2", 30, "left"),
            text("<p>While you wait, watch how we work with clients, and who you'll be talking to.</p>", p.muted, 17),
            image("application-team.svg", "Illustration of the growth team around a results chart", 360, 240, 12),
        ], 5),
    ], 48)], p.light)
    return page([hero, steps, meet, footer(BRAND, p)], p)


def build_steps() -> list[dict]:
    return [
        step(KEY, "apply", "Application", "page", "Apply for the Growth Accelerator",
             "A 90-day done-with-you program for service businesses. Apply in 4 minutes.", _apply()),
        step(KEY, "application-received", "Thank you", "thank_you", "Application received",
             "We'll call you within 2 business days.", _thank_you()),
    ]


TEMPLATE = SystemTemplate(
    key=KEY, name="Application", funnel_name="Growth Accelerator application",
    description="Qualify leads for a high-ticket offer before the sales call: a long-form application with "
                "revenue, budget, goals and their biggest challenge, then a thank-you page that says when "
                "you'll call.",
    funnel_type="application", category="Book calls", build_steps=build_steps,
    checklist=("Thank you: the “Book your call” button's link (your booking page)",
               "Application: the budget and revenue ranges that fit your offer"),
    cover="application-team.svg")
