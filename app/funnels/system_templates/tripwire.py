"""Tripwire sale: a low-priced first offer, then an order bump, an upsell and a downsell."""
from app.funnels.system_templates import SystemTemplate
from app.funnels.system_templates.blocks import (
    Palette,
    announcement,
    benefits,
    bullets,
    button,
    call_to_action,
    card,
    column,
    email_field,
    eyebrow,
    faq,
    field,
    first_name_field,
    footer,
    headline,
    image,
    offer_buttons,
    order_form,
    page,
    progress,
    row,
    section,
    single,
    social_proof,
    step,
    step_id,
    subheadline,
    testimonial,
    testimonials,
    text,
    video,
)
from app.pages.tree import new_element

KEY = "tripwire"
BRAND = "Your Company"
PALETTE = Palette(dark="#1e1b4b", dark_text="#ffffff", dark_muted="#c7d2fe", light="#f5f3ff", text="#1e1b4b",
                  muted="#4b5563", accent="#facc15", accent_text="#1e1b4b", ink="#a16207", line="#ddd6fe")
VIDEO = "https://vimeo.com/76979871"
OFFER_ANCHOR = "get-it"


def _sales() -> dict:
    p = PALETTE
    hero = section([row([
        column([
            eyebrow("THE SCROLL-STOPPER SWIPE FILE", p.accent, "left"),
            headline("101 Facebook and Instagram ads that made money. Yours for $7.", p.dark_text, "h1", 46, "left"),
            subheadline("Stop staring at a blank ad manager. Copy the hooks, angles and layouts behind $4.2 million "
                        "in tracked sales, and launch your next ad this afternoon.", p.dark_muted, 20, "left"),
            button("Yes! Send me the swipe file for $7", p, align="left"),
            social_proof("4,300+ marketers bought it this year", p.dark_muted, 5, "left"),
        ], 7),
        column([image("tripwire-swipe-file.svg", "The swipe file: a stack of ad examples with their results",
                      480, 400, 16)], 5),
    ], 48)], p.dark, 80)

    why = benefits("Why the swipe file works", [
        ("Steal the hook", "Every ad is tagged by hook type (question, bold claim, story, before/after) so you "
                           "find one for your offer in seconds."),
        ("See the numbers", "Each ad comes with its spend, click rate and cost per sale, so you copy what "
                            "performed, not what merely looked good."),
        ("Adapt in 10 minutes", "A one-page worksheet turns any ad in the file into yours: your product, your "
                                "words, the same proven structure."),
    ], p, p.light, "Not a folder of screenshots: a library you can search, sorted by what you want to sell.",
        "Inside")

    offer = section([row([
        column([
            headline("Everything you get today", p.text, "h2", 34, "left"),
            bullets(["101 annotated ads: the copy, the creative and why it worked",
                     "The hook finder: a one-page index by industry and offer type",
                     "The adaptation worksheet: make any ad yours in 10 minutes",
                     "Lifetime updates: new winning ads added every quarter, free"], p.text, 17),
        ], 7),
        column([card([
            eyebrow("TODAY ONLY", p.muted),
            headline("$7", p.text, "h2", 64, weight="800", margin=0),
            text("<p><s>$49</s> regular price · one payment, instant access</p>", p.muted, 15, "center"),
            button("Get instant access for $7", p, action="step", step_id=step_id(KEY, "checkout"), width=100),
            text("<p>30-day money-back guarantee. No questions asked.</p>", p.muted, 14, "center"),
        ], p)], 5),
    ], 48)], "#ffffff", 80, OFFER_ANCHOR)

    proof = testimonials("Marketers who stopped guessing", [
        ("I used ad #37 almost word for word for our spring sale. Cost per sale dropped from $31 to $12.",
         "Marcus Lee", "Owner, Summit Outdoor Supply", "avatar-2.svg"),
        ("Seven dollars. I've paid agencies thousands for less. The hook index alone is worth it.",
         "Elena Petrova", "Freelance media buyer", "avatar-1.svg"),
        ("We run one new ad a week from the file. Two of them are still our best performers.",
         "Tom Whitaker", "Co-founder, Brightpaw Treats", "avatar-4.svg"),
    ], p, p.light, "4.8 out of 5 from 900+ reviews")

    guarantee = single([
        image("guarantee-badge.svg", "30-day money-back guarantee badge", 140, 140, 0),
        headline("Our 30-day, no-questions guarantee", p.text, "h2", 30),
        text("<p>Use the swipe file for a month. If it doesn't give you at least three ad ideas worth testing, "
             "e-mail us and we'll refund every cent. You keep the file.</p>", p.muted, 17, "center", 640),
    ], "#ffffff", 72)

    questions = faq([
        ("How do I get the swipe file?", "Right after you order, the download is on the last page. It's a "
                                         "searchable PDF plus a spreadsheet of every ad."),
        ("Does it work for my industry?", "The file covers e-commerce, coaching, local services, SaaS and "
                                          "info products. The structures work anywhere people scroll."),
        ("Is this a subscription?", "No. One payment of $7, and updates are free for life."),
        ("What if I'm new to ads?", "Start with the worksheet: it walks you through your first ad step by "
                                    "step, from the hook to the call to action."),
    ], p, p.light)

    closing = call_to_action("Your next winning ad is already written", "Get all 101 for less than a sandwich.",
                             "Send me the swipe file for $7", p, note="One payment · instant access · 30-day guarantee")
    return page([announcement("Launch price: $7 today (regular price $49)", p), hero, why, offer, proof, guarantee,
                 questions, closing, footer(BRAND, p)], p)


def _order_form() -> dict:
    p = PALETTE
    header = single([
        progress(50, "Step 1 of 2: your details", p, on_dark=True),
        headline("You're one step away from the swipe file", p.dark_text, "h1", 38),
        subheadline("Enter your details below, choose your extras, and your download is on the last page.",
                    p.dark_muted, 18),
    ], p.dark, 56)
    checkout = section([row([
        column([order_form([
            first_name_field("Jordan"),
            field("Last name", "last_name", "text", "Rivera"),
            email_field("E-mail for your download", "jordan@company.com"),
            field("Phone (optional)", "phone", "tel", "+1 415 555 0132", required=False),
        ], "Complete my order", ["customer", "tripwire-buyer"], p)], 7),
        column([card([
            headline("Your order", p.text, "h3", 22, "left", "700"),
            text("<p><strong>Scroll-Stopper Swipe File</strong><br>101 ads, hook index, worksheet</p>"
                 "<p>Regular price: <s>$49</s><br><strong>Today: $7</strong></p>", p.text, 16),
            new_element("divider", {"thickness": 1}, {"border_color": p.line, "margin_y": 8}),
            text("<ul><li>Instant download</li><li>Lifetime updates</li><li>30-day money-back guarantee</li></ul>",
                 p.muted, 15),
        ], p, p.light), testimonial("Best seven dollars I've spent on my business this year.", "Aisha Bello",
                                    "Founder, Kin & Clay Ceramics", p, "avatar-3.svg")], 5),
    ], 40)], "#ffffff", 56)
    return page([header, checkout, footer(BRAND, p, "Your details are only used for your order.")], p)


def _upsell() -> dict:
    p = PALETTE
    offer = single([
        eyebrow("ONE-TIME OFFER FOR NEW CUSTOMERS", p.accent),
        headline("Turn the swipe file into a profitable ad campaign in 7 days", p.dark_text, "h1", 44),
        subheadline("Join the Ad Launch Masterclass: 6 short video lessons, the campaign planner and a live "
                    "Q&A every month.", p.dark_muted, 20),
        new_element("countdown_evergreen", {"minutes": 15, "expired_text": "This one-time price has ended."},
                    {"color": p.dark_text, "font_size": 28, "margin_y": 16}),
        text("<p>This price is only available for the next 15 minutes.</p>", p.dark_muted, 15, "center"),
    ], p.dark, 72)
    details = section([row([
        column([video(VIDEO, "A look inside the Ad Launch Masterclass")], 6),
        column([
            headline("What the masterclass adds", p.text, "h2", 30, "left"),
            bullets(["Day 1 to 7: a campaign plan from first ad to first sale",
                     "Targeting made simple: the 3 audiences to test first",
                     "Budget rules: when to scale, when to stop an ad",
                     "Live Q&A: bring your ads, get them reviewed"], p.text, 17),
            text("<p><s>$297</s> <strong>$97 today, one payment</strong></p>", p.text, 20),
        ], 6),
    ], 48)], "#ffffff", 72)
    decide = single([
        offer_buttons("Yes! Add the masterclass for $97", "No thanks, I'll figure out the campaign on my own", p),
    ], p.light, 56)
    return page([offer, details, decide, footer(BRAND, p)], p)


def _downsell() -> dict:
    p = PALETTE
    offer = single([
        eyebrow("BEFORE YOU GO", p.accent),
        headline("Not ready for the whole masterclass? Start with the workshop.", p.dark_text, "h1", 40),
        subheadline("The 90-minute recorded workshop covers the campaign plan and the budget rules: the two "
                    "lessons students say made the biggest difference.", p.dark_muted, 19),
    ], p.dark, 72)
    details = section([row([
        column([image("tripwire-masterclass.svg", "The recorded Ad Launch workshop playing on a laptop",
                      460, 320, 16)], 5),
        column([
            bullets(["90 minutes, recorded: watch at your own pace",
                     "The 7-day campaign plan, as a printable checklist",
                     "Lifetime access, upgrade to the full masterclass any time"], p.text, 17),
            text("<p><strong>Only $37</strong>, one payment</p>", p.text, 20),
            offer_buttons("Yes, add the workshop for $37", "No thanks, take me to my purchase", p),
        ], 7),
    ], 48)], "#ffffff", 72)
    return page([offer, details, footer(BRAND, p)], p)


def _thank_you() -> dict:
    p = PALETTE
    hero = single([
        progress(100, "Step 2 of 2: your download", p, on_dark=True),
        headline("Thank you! Your swipe file is ready", p.dark_text, "h1", 44),
        subheadline("Everything is right here: download the swipe file and bookmark this page.", p.dark_muted, 19),
        button("Download the swipe file", p, action="url",
               url="https://example.com/downloads/scroll-stopper-swipe-file.pdf"),
    ], p.dark, 80)
    start = single([
        headline("Start here: your first ad in 20 minutes", p.text, "h2", 32),
        video(VIDEO, "How to turn the swipe file into your first ad"),
    ], "#ffffff")
    next_steps = benefits("What to do next", [
        ("1. Open the hook index", "Find your industry and pick three hooks that fit your offer."),
        ("2. Fill in the worksheet", "Rewrite the best of the three for your product. It takes 10 minutes."),
        ("3. Launch and measure", "Run it for three days with a small budget, then keep the winner."),
    ], p, p.light)
    return page([hero, start, next_steps,
                 footer(BRAND, p, "Questions about your order? Write to hello@example.com.")], p)


def build_steps() -> list[dict]:
    return [
        step(KEY, "swipe-file", "Sales page", "page", "The Scroll-Stopper Swipe File: 101 ads that made money",
             "101 proven Facebook and Instagram ads with their results, the hook index and a worksheet. $7 today.",
             _sales()),
        step(KEY, "checkout", "Order form", "order_form", "Complete your order",
             "Complete your order for the Scroll-Stopper Swipe File.", _order_form()),
        step(KEY, "masterclass", "Upsell", "upsell", "One-time offer: the Ad Launch Masterclass",
             "A one-time offer for new customers: the Ad Launch Masterclass for $97.", _upsell()),
        step(KEY, "workshop", "Downsell", "downsell", "Start with the recorded workshop",
             "The recorded 90-minute Ad Launch workshop for $37.", _downsell()),
        step(KEY, "thank-you", "Thank you", "thank_you", "Thank you for your order",
             "Your swipe file is ready to download.", _thank_you()),
    ]


TEMPLATE = SystemTemplate(
    key=KEY, name="Tripwire sale", funnel_name="Swipe file offer",
    description="Sell a low-priced first product, then raise the order value: a sales page, an order form "
                "that takes the card next to the order summary, with an order bump, a one-click upsell with a "
                "countdown, a one-click downsell and a thank-you page with the download.",
    funnel_type="sales", category="Sell a product", build_steps=build_steps,
    checklist=("Products: choose what the order form, its order bump, the upsell and the downsell sell (each "
               "step's Products page)",
               "Every page: your product, prices and guarantee",
               "Thank you: the download button's link (your product)", "Upsell and thank you: the videos"),
    cover="tripwire-swipe-file.svg")
