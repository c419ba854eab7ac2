"""Domain events: publish/subscribe inside the process.

A domain publishes `events.publish("contact.created", account_id=..., contact_id=...)` after it
commits; automation and webhooks subscribe with `@events.subscribe("contact.created")`. Payloads
carry ids, never model instances, so a subscriber may hand them to a background job as they are.
The event names are the ones webhooks and automation rules offer to users.
"""
import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger(__name__)

_subscribers: dict[str, list[Callable]] = defaultdict(list)
ALL = "*"


def subscribe(name: str):
    """Decorator: call the function with (name, payload) whenever `name` (or any, for "*") is published."""

    def decorator(func: Callable) -> Callable:
        if func not in _subscribers[name]:
            _subscribers[name].append(func)
        return func

    return decorator


def unsubscribe(name: str, func: Callable) -> None:
    if func in _subscribers.get(name, []):
        _subscribers[name].remove(func)


def publish(name: str, **payload) -> int:
    """Deliver the event to its subscribers; a failing subscriber is logged, not raised.

    Returns how many subscribers received it.
    """
    payload = {key: (str(value) if hasattr(value, "hex") else value) for key, value in payload.items()}
    delivered = 0
    for func in list(_subscribers.get(name, [])) + list(_subscribers.get(ALL, [])):
        try:
            func(name, payload)
            delivered += 1
        except Exception:  # one broken subscriber must not break the publisher
            log.exception("event subscriber failed", extra={"event": name})
    return delivered
