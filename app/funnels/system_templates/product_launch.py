"""Product launch: a waitlist teaser with an evergreen countdown, the launch sales page (gallery, pricing,
testimonials) and a thank-you page."""
from app.funnels.system_templates import SystemTemplate
from app.funnels.system_templates.blocks import (
    IMAGES,
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
    social_proof,
    step,
    subheadline,
    testimonials,
    text,
    video,
)
from app.pages.tree import new_element

KEY = "product-launch"
BRAND = "Cadence Planners"
PALETTE = Palette(dark="#052e16", dark_text="#ffffff", dark_muted="#bbf7d0", light="#f7fee7", text="#14231a",
                  muted="#4b5d52", accent="#a3e635", accent_text="#052e16", ink="#3f6212", line="#d9f0c4")
VIDEO = "https://vimeo.com/76979871"
PRICING_ANCHOR = "editions"


def _waitlist() -> dict:
    p = PALETTE
    hero = section([row([
        column([
            eyebrow("COMING SOON · WAITLIST GETS 40% OFF", p.accent, "left"),
            headline("Plan less. Finish more.", p.dark_text, "h1", 56, "left"),
            subheadline("Cadence is the 12-week planner that turns big goals into one focused hour a day. "
                        "Join the waitlist to get launch-day access and the founding-member price.",
                        p.dark_muted, 20, "left"),
            text("<p><strong>Your founding-member price is reserved for:</strong></p>", p.dark_text, 16),
            new_element("countdown_evergreen", {"minutes": 4320, "expired_text": "Founding-member pricing has ended."},
                        {"color": p.dark_text, "font_size": 26, "text_align": "left", "margin_y": 8}),
            form([first_name_field("Jordan"), email_field("E-mail for your launch invite", "jordan@company.com")],
                 "Join the waitlist", ["waitlist", "cadence-launch"], p),
            social_proof("2,418 people are already on the list", p.dark_muted, 5, "left"),
        ], 6),
        column([image("launch-planner.svg", "The Cadence planner open on a desk next to a cup of coffee", 520, 480,
                      16)], 6),
    ], 48)], p.dark, 80)

    why = benefits("Built for people with more ideas than hours", [
        ("One goal, 12 weeks", "Pick the goal that matters. Cadence breaks it into weekly milestones you "
                               "can actually hit."),
        ("The focus hour", "Each page starts with the one task that moves the goal forward. Do it first; the "
                           "rest of the day is a bonus."),
        ("The Friday review", "Ten minutes each week to see what worked and plan the next one. No streaks, "
                              "no guilt."),
    ], p, "#ffffff", kicker="Why Cadence")

    closing = single([
        headline("Be first in line on launch day", p.text, "h2", 34),
        subheadline("Waitlist members get 40% off and a free digital edition. The first 500 planners ship "
                    "with a linen cover.", p.muted, 18),
        button("Join the waitlist", p, action="url", url="#top"),
    ], p.light, 72)
    hero["props"]["anchor"] = "top"
    return page([hero, why, closing, footer(BRAND, p)], p)


def _sales() -> dict:
    p = PALETTE
    hero = section([row([
        column([
            eyebrow("NOW AVAILABLE · LAUNCH WEEK PRICING", p.accent, "left"),
            headline("Cadence is here. Your next 12 weeks start now.", p.dark_text, "h1", 48, "left"),
            subheadline("The planner, the app and the weekly review that helped 2,000 beta testers finish the "
                        "project they kept postponing.", p.dark_muted, 20, "left"),
            button("Choose your edition", p, action="url", url=f"#{PRICING_ANCHOR}", align="left"),
            social_proof("4.9/5 from 600+ beta testers", p.dark_muted, 5, "left"),
        ], 6),
        column([image("launch-planner.svg", "The Cadence planner with its linen cover", 520, 480, 16)], 6),
    ], 48)], p.dark, 80)

    gallery = single([
        headline("A closer look", p.text, "h2", 34),
        subheadline("Lay-flat binding, 120 gsm paper that takes any pen, and an app that syncs your weekly "
                    "review.", p.muted, 18),
        new_element("image_gallery", {"columns": 4, "images": [
            {"src": IMAGES + "launch-gallery-cover.svg", "alt": "The closed planner in its linen cover with a lime "
                                                               "ribbon bookmark", "width": 600, "height": 450},
            {"src": IMAGES + "launch-gallery-spread.svg", "alt": "A weekly spread of the planner with the focus hour "
                                                                "marked", "width": 600, "height": 450},
            {"src": IMAGES + "launch-gallery-app.svg", "alt": "The Cadence app showing the Friday review on a phone",
             "width": 600, "height": 450},
            {"src": IMAGES + "launch-gallery-goals.svg", "alt": "The 12-week goal map page with milestones filled in",
             "width": 600, "height": 450},
        ]}, {"margin_y": 24}),
    ], "#ffffff")

    how = benefits("What's in every edition", [
        ("The 12-week goal map", "Turn one big goal into twelve weekly milestones, with room to adjust when "
                                 "life happens."),
        ("Daily focus pages", "One focus hour, three supporting tasks, a notes column. Nothing you won't use."),
        ("The Cadence app", "Reminders for your focus hour, the Friday review in 10 minutes, and your progress "
                            "over time."),
    ], p, p.light, kicker="Inside")

    pricing = single([
        eyebrow("LAUNCH WEEK PRICING", p.muted),
        headline("Choose your edition", p.text, "h2", 36),
        subheadline("Free shipping worldwide. 60-day money-back guarantee on every edition.", p.muted, 18),
        new_element("pricing_table", {"plans": [
            {"name": "Digital", "price": "$19", "period": "one-time",
             "features": ["Printable PDF planner", "The Cadence app, 1 year", "Weekly review templates"],
             "button_label": "Get Digital", "highlighted": False},
            {"name": "Planner + App", "price": "$39", "period": "one-time (regular $59)",
             "features": ["Hardcover planner, linen cover", "The Cadence app, lifetime", "Weekly review templates",
                          "Free worldwide shipping"], "button_label": "Get the planner", "highlighted": True},
            {"name": "Team 5-pack", "price": "$159", "period": "one-time",
             "features": ["5 hardcover planners", "5 app licences, lifetime", "Team goal board",
                          "A 45-minute team kick-off call"], "button_label": "Get the 5-pack", "highlighted": False},
        ]}, {"margin_y": 24}),
    ], "#ffffff", 88, PRICING_ANCHOR)

    proof = testimonials("From our beta testers", [
        ("I finished the book proposal I'd been 'starting' for two years. Twelve weeks, one focus hour a day.",
         "Grace Liu", "Author and designer", "avatar-3.svg"),
        ("The Friday review is the habit I didn't know I needed. My team now does it together.",
         "Ben Adeyemi", "Product lead, Loop Health", "avatar-2.svg"),
        ("Paper I love writing on, plus an app that nudges me at the right time. Finally both in one.",
         "Camille Roux", "Freelance photographer", "avatar-1.svg"),
    ], p, p.light, "Rated 4.9 out of 5 by 600+ beta testers")

    questions = faq([
        ("When will my planner ship?", "Launch-week orders ship within 5 business days."),
        ("Do I need the app?", "No. The planner works on its own; the app adds reminders and your weekly "
                               "progress."),
        ("Can I start mid-year?", "Yes. Cadence is undated: your 12 weeks start whenever you do."),
        ("What if it's not for me?", "Send it back within 60 days for a full refund, shipping included."),
    ], p, "#ffffff")

    closing = call_to_action("Twelve weeks from now, you could be done", "Launch week pricing ends soon.",
                             "Order Cadence now", p, note="60-day money-back guarantee · free shipping")
    return page([announcement("Launch week: save 33% on the planner + app edition", p), hero, gallery, how, pricing,
                 proof, questions, closing, footer(BRAND, p)], p)


def _thank_you() -> dict:
    p = PALETTE
    hero = single([
        progress(100, "You're in", p, on_dark=True),
        headline("Welcome to Cadence!", p.dark_text, "h1", 44),
        subheadline("Get the app now and set up your first 12 weeks: your planner joins you soon.", p.dark_muted,
                    19),
        button("Get the Cadence app", p, action="url", url="https://example.com/app"),
    ], p.dark, 80)
    start = section([row([
        column([video(VIDEO, "How to set up your first 12 weeks with Cadence")], 7),
        column([
            headline("Set up your first 12 weeks", p.text, "h2", 30, "left"),
            bullets(["Watch the 6-minute setup video",
                     "Pick one goal: the one that would make the biggest difference",
                     "Schedule your first focus hour for tomorrow morning"], p.text, 17),
        ], 5),
    ], 48)], "#ffffff")
    share = single([
        headline("Planning is easier with a friend", p.text, "h2", 30),
        text("<p>Share your personal link from the app: your friend gets 20% off, and you get the next "
             "quarter's refill pages free.</p>", p.muted, 17, "center", 640),
    ], p.light, 64)
    return page([hero, start, share, footer(BRAND, p)], p)


def build_steps() -> list[dict]:
    return [
        step(KEY, "waitlist", "Waitlist", "page", "Cadence: join the waitlist",
             "Join the Cadence waitlist: launch-day access and 40% off the 12-week planner.", _waitlist()),
        step(KEY, "launch", "Sales page", "page", "Cadence: the 12-week planner is here",
             "The planner, the app and the weekly review. Launch week pricing, free shipping.", _sales()),
        step(KEY, "welcome", "Thank you", "thank_you", "Welcome to Cadence",
             "Welcome to Cadence: get the app and set up your first 12 weeks.", _thank_you()),
    ]


TEMPLATE = SystemTemplate(
    key=KEY, name="Product launch", funnel_name="Product launch",
    description="Build anticipation, then sell: a waitlist page with an evergreen countdown, a launch sales "
                "page with a gallery, pricing table and testimonials, and a welcome page.",
    funnel_type="product_launch", category="Sell a product", build_steps=build_steps,
    checklist=("Payments: link the order buttons to an order form step (add one and choose its products), or to "
               "your own payment page",
               "Sales page: your editions and prices in the pricing table", "Every page: your product's pictures",
               "Thank you: the app button's link and the setup video"),
    cover="launch-planner.svg")
