"""Lead magnet: a free guide in exchange for an e-mail address, then a thank-you page with the download."""
from app.funnels.system_templates import SystemTemplate
from app.funnels.system_templates.blocks import (
    Palette,
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
    not_on_phones,
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

KEY = "lead-magnet"
BRAND = "Your Company"
PALETTE = Palette(dark="#0f172a", dark_text="#ffffff", dark_muted="#cbd5e1", light="#f1f5f9", text="#0f172a",
                  muted="#475569", accent="#f59e0b", accent_text="#111827", ink="#b45309", line="#e2e8f0")
FORM_ANCHOR = "get-the-playbook"
VIDEO = "https://vimeo.com/76979871"


def _opt_in() -> dict:
    p = PALETTE
    hero_copy = column([
        eyebrow("FREE 32-PAGE PLAYBOOK", p.accent, "left"),
        headline("Turn new subscribers into paying customers in 7 e-mails", p.dark_text, "h1", 46, "left"),
        subheadline("The exact welcome sequence that lifted first-week sales by 38% for 200+ small businesses. "
                    "Every e-mail written out, ready to copy, paste and send.", p.dark_muted, 20, "left"),
        # On a phone the columns stack: there the form comes right after the promise, without these bullets
        # (the next section, "What's inside", says the same) and the cover picture.
        not_on_phones(bullets(["The 3-part welcome arc: what to send on days 1, 3 and 5 (and why the order matters)",
                               "21 subject lines: with the open rates they earned in real campaigns",
                               "The soft pitch: one e-mail that sells without sounding like a sales e-mail"],
                              p.dark_text, 17)),
        social_proof("Downloaded by 14,200+ founders and marketers", p.dark_muted, 5, "left"),
    ], 7)
    hero_form = column([
        not_on_phones(image("lead-magnet-guide.svg", "Cover of the Inbox-to-Income Playbook, a 32-page guide",
                            420, 300, 12)),
        form([first_name_field("Jordan"), email_field("Your best e-mail", "jordan@company.com")],
             "Send me the free playbook", ["lead-magnet", "inbox-to-income"], p),
        text("<p>Free, instant access. No credit card.</p>", p.dark_muted, 13, "center"),
    ], 5)
    hero = section([row([hero_copy, hero_form], 48)], p.dark, 72, FORM_ANCHOR)

    inside = benefits("What's inside the playbook", [
        ("The welcome arc", "Three e-mails that turn a stranger into a fan: the story, the quick win and the "
                            "proof. Templates included, with notes on what to change for your business."),
        ("Subject lines that get opened", "21 tested subject lines, sorted by goal, with the open rate each one "
                                          "earned. Swap in your topic and send."),
        ("The day-5 soft pitch", "How to make your first offer without a hard sell, so readers who are ready "
                                 "buy and everyone else stays subscribed."),
    ], p, p.light, "Short, practical and written for people who would rather sell than write.", "Inside")

    author = section([row([
        column([image("author-portrait.svg", "Portrait of Maya Brooks, author of the playbook", 320, 320, 100)], 4),
        column([
            eyebrow("WHO WROTE IT", p.ink, "left"),
            headline("Hi, I'm Maya Brooks", p.text, "h2", 32, "left"),
            text("<p>I've written e-mail campaigns for 12 years, for one-person shops and for brands with a million "
                 "subscribers. The playbook is everything I wish someone had handed me on day one: no theory, only "
                 "the e-mails that worked, and the reasons they worked.</p>"
                 "<p>Read it in an evening. Send your first new e-mail tomorrow morning.</p>", p.muted, 17),
        ], 8),
    ], 48)], "#ffffff")

    proof = testimonials("What readers did with it", [
        ("I rewrote our welcome e-mails over a weekend. Sales from new subscribers went from 2% to 5.5% in the "
         "first month.", "Priya Raman", "Founder, Fernleaf Candles", "avatar-1.svg"),
        ("The subject-line list alone paid for my whole year of e-mail software. Our opens went up by a third.",
         "Daniel Okafor", "Marketing lead, Tidewater Coffee", "avatar-2.svg"),
        ("Finally a guide that shows the actual e-mails. I copied three of them almost word for word.",
         "Sofia Marin", "Yoga teacher and studio owner", "avatar-3.svg"),
    ], p, p.light, "Rated 4.9 out of 5 by 1,100+ readers")

    questions = faq([
        ("Is it really free?", "Yes. Enter your e-mail and the playbook is yours: no trial, no card, no catch."),
        ("Who is it for?", "Anyone who sells online and has (or wants) an e-mail list: coaches, shop owners, "
                           "consultants, SaaS founders. It works whether you have 50 subscribers or 50,000."),
        ("How do I get it?", "Right after you sign up, the download is on the next page: save the PDF and it's "
                             "yours to keep."),
        ("Will you spam me?", "No. Your e-mail is only used to write to you about the playbook, and you can ask us "
                              "to remove it at any time."),
    ], p, "#ffffff")

    closing = call_to_action("Your next subscriber could be your next customer",
                             "Get the 7 e-mails that make it happen, free.", "Send me the free playbook", p,
                             url=f"#{FORM_ANCHOR}", note="Takes 10 seconds. Your e-mail is never shared.")
    return page([hero, inside, author, proof, questions, closing,
                 footer(BRAND, p, "Privacy: we never share your e-mail.")], p)


def _thank_you() -> dict:
    p = PALETTE
    hero = single([
        progress(100, "Step 2 of 2: you're in!", p, on_dark=True),
        headline("Your playbook is ready", p.dark_text, "h1", 44),
        subheadline("Download it now, and save it somewhere you'll find it again:", p.dark_muted, 20),
        button("Download the playbook (PDF)", p, action="url",
               url="https://example.com/downloads/inbox-to-income-playbook.pdf"),
        text("<p>Bookmark this page: the download stays here.</p>", p.dark_muted, 14, "center"),
    ], p.dark, 80)
    watch = single([
        eyebrow("BEFORE YOU START READING", p.ink),
        headline("Watch this 4-minute walkthrough first", p.text, "h2", 34),
        subheadline("Maya shows which chapter to read first for your kind of business, and the one mistake "
                    "that makes welcome e-mails flop.", p.muted, 18),
        video(VIDEO, "A 4-minute walkthrough of the playbook"),
    ], "#ffffff")
    next_steps = benefits("Your next three steps", [
        ("1. Save the playbook", "Download the PDF above and keep it with your marketing notes: you'll come "
                                 "back to the subject lines often."),
        ("2. Read chapter 2 tonight", "It takes 15 minutes and gives you the first welcome e-mail to send "
                                      "tomorrow. Small start, fast result."),
        ("3. Send your first e-mail", "Copy the day-1 e-mail, change three details for your business and "
                                      "send it to your list tomorrow morning."),
    ], p, p.light)
    share = single([
        headline("Know someone who needs this?", p.text, "h3", 24),
        text("<p>Forward them this page: the playbook is free for them too.</p>", p.muted, 17, "center"),
    ], "#ffffff", 56)
    return page([hero, watch, next_steps, share, footer(BRAND, p)], p)


def build_steps() -> list[dict]:
    return [
        step(KEY, "free-playbook", "Opt-in page", "page",
             "Free playbook: 7 e-mails that turn subscribers into customers",
             "Download the free 32-page playbook: the welcome sequence that lifted first-week sales by 38%.",
             _opt_in()),
        step(KEY, "thank-you", "Thank you", "thank_you", "Your playbook is ready",
             "Download your free playbook and watch the 4-minute walkthrough.", _thank_you()),
    ]


TEMPLATE = SystemTemplate(
    key=KEY, name="Lead magnet", funnel_name="Free playbook",
    description="Give away a guide, checklist or cheat sheet in exchange for an e-mail: an opt-in page with "
                "the offer, benefits, author and testimonials, then a thank-you page with the download, "
                "a welcome video and next steps.",
    funnel_type="lead_generation", category="Grow your list", build_steps=build_steps,
    checklist=("Thank you: the download button's link (your PDF)", "Thank you: the walkthrough video",
               "Opt-in page: the author's photo and bio"),
    cover="lead-magnet-guide.svg")
