"""Handler registry: apps subscribe to event kinds in their AppConfig.ready().

Only kinds declared in the catalogue can be subscribed to: a handler for an
unknown kind raises at import time instead of silently never running."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from csplatform.events.catalogue import declared

if TYPE_CHECKING:
    from csplatform.events.models import DomainEvent

Handler = Callable[["DomainEvent"], None]

_handlers: dict[str, dict[str, Handler]] = defaultdict(dict)


def subscribe(kind: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register `fn` for `kind`. The name is the idempotence key: keep it stable."""
    declared(kind)

    def decorator(fn: Handler) -> Handler:
        _handlers[kind][name or f"{fn.__module__}.{fn.__qualname__}"] = fn
        return fn

    return decorator


def unsubscribe(kind: str, name: str) -> None:
    _handlers[kind].pop(name, None)


def subscribed_kinds() -> list[str]:
    return sorted(kind for kind, handlers in _handlers.items() if handlers)


def handlers_for(kind: str) -> list[tuple[str, Handler]]:
    return sorted(_handlers.get(kind, {}).items())
