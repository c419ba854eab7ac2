"""Provider adapters, one module each; importing this package registers them all in `REGISTRY`.

Adding a provider means adding one module here with a `@register`ed `Provider` subclass.
"""
import importlib
import pkgutil

from app.integrations.providers.base import REGISTRY, Provider, ProviderError  # noqa: F401

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def get(key: str) -> type[Provider]:
    return REGISTRY[key]


def of_kind(kind: str) -> list[type[Provider]]:
    return sorted((cls for cls in REGISTRY.values() if cls.kind == kind), key=lambda cls: cls.name)
