"""What a user agent says: bot or not (at the door, cheaply), device type, browser and OS (in the worker).

ua-parser (the uap-core regexes) names the browser, OS and device; a parse costs about a millisecond, so
results are cached per user-agent string (a site's visitors share a few hundred strings).
"""
import re
from functools import lru_cache
from typing import NamedTuple

# Crawlers, link previewers, monitors and headless browsers: their hits are not visitors.
BOT_PATTERN = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|embedly|preview|lighthouse|pingdom|uptime|"
    r"headlesschrome|phantomjs|python-requests|python-urllib|go-http-client|curl/|wget/|scrapy|httpclient",
    re.IGNORECASE)
TABLET_HINTS = ("ipad", "tablet", "kindle", "silk/", "playbook")


class Agent(NamedTuple):
    device_type: str
    browser: str
    os: str


@lru_cache(maxsize=20_000)
def is_bot(user_agent: str) -> bool:
    return not user_agent or bool(BOT_PATTERN.search(user_agent))


@lru_cache(maxsize=20_000)
def describe(user_agent: str) -> Agent:
    from ua_parser import parse

    result = parse(user_agent or "")
    browser = (result.user_agent.family if result.user_agent else "Other")[:50]
    os_name = (result.os.family if result.os else "Other")[:50]
    device = result.device
    lowered = (user_agent or "").lower()
    if any(hint in lowered for hint in TABLET_HINTS) or (device and "tablet" in (device.brand or "").lower()):
        device_type = "tablet"
    elif os_name == "Android" and "mobile" not in lowered:
        device_type = "tablet"  # Android tablets leave "Mobile" out of their user agent
    elif "mobi" in lowered or os_name in ("iOS", "Android", "Windows Phone"):
        device_type = "mobile"
    else:
        device_type = "desktop"
    return Agent(device_type, browser, os_name)
