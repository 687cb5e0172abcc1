"""Panels that apps below lifecycle add to the account page.

lifecycle may not import them (DESIGN.md's layer order), so they register
here from their AppConfig.ready() and the page renders whatever is
registered, in `order`. A panel's `context(request, account)` runs on every
account page view: keep it free of queries (load the content lazily with
htmx) or at least constant in the amount of data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PanelContext = Callable[..., dict]


@dataclass(frozen=True)
class AccountPanel:
    key: str
    title: str
    order: int
    template: str
    context: PanelContext


_panels: dict[str, AccountPanel] = {}


def register_account_panel(
    key: str, *, title: str, template: str, context: PanelContext, order: int = 100
) -> None:
    """Add (or replace, so a repeated ready() is harmless) the panel `key`."""
    _panels[key] = AccountPanel(
        key=key, title=title, order=order, template=template, context=context
    )


def account_panels() -> list[AccountPanel]:
    return sorted(_panels.values(), key=lambda panel: (panel.order, panel.key))


def render_context(request, account) -> list[dict]:
    """What the page's template loops over: each panel with its own data."""
    return [
        {
            "key": panel.key,
            "title": panel.title,
            "template": panel.template,
            "data": panel.context(request, account),
        }
        for panel in account_panels()
    ]
