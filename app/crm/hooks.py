"""What other domains add to the CRM's pages, without the CRM knowing them (it imports no higher domain): they
register here, the CRM's views ask.

`contact_links(provider)`: `provider(account, contact)` returns (label, url) pairs shown on the contact's page
(analytics: the journeys of the visitor ids recorded on the contact's orders). A decorator."""
from collections.abc import Callable
from typing import Any

LinkProvider = Callable[[Any, Any], list[tuple[str, str]]]
_contact_links: list[LinkProvider] = []


def contact_links(provider: LinkProvider) -> LinkProvider:
    if provider not in _contact_links:
        _contact_links.append(provider)
    return provider


def links_for_contact(account, contact) -> list[tuple[str, str]]:
    """Every registered provider's links for the contact, in the order they registered."""
    return [link for provider in _contact_links for link in provider(account, contact)]
