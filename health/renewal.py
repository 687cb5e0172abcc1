"""Renewal likelihood: what a customer weighs before renewing, in three
parts, each 0-100 and shown separately.

- needs_met: is the product meeting today's needs (health score, stage outcomes);
- confidence: will it keep meeting them (usage trend, CSM engagement, no open
  escalation);
- winner: is it a winner they would stand behind (NPS, a champion, and what
  later apps register here, e.g. advocacy's reference willingness).

An input with no data is left out. A part whose health inputs all have no
data is unknown, never 100: a named champion or the absence of an escalation
says nothing alone. The likelihood is the mean of the known parts and says
how many it rests on; an account with no health score is "unknown risk",
never low. Apps add signals through `register_renewal_signal`, so health
never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

COMPONENTS = {
    "needs_met": "Meeting today's needs",
    "confidence": "Confidence it keeps meeting them",
    "winner": "A winner they stand behind",
}


@dataclass(frozen=True)
class RenewalSignal:
    key: str
    label: str
    component: str
    # account ids -> {account_id: 0-100}; accounts without data are left out.
    # Called once per list, so it must answer for all ids in a query or two.
    fetch: Callable[[list[int]], dict[int, float]]


_signals: dict[str, RenewalSignal] = {}


def register_renewal_signal(
    key: str, *, label: str, component: str, fetch: Callable[[list[int]], dict[int, float]]
) -> None:
    if component not in COMPONENTS:
        raise ValueError(f"unknown renewal component {component!r}")
    _signals[key] = RenewalSignal(key=key, label=label, component=component, fetch=fetch)


def unregister_renewal_signal(key: str) -> None:
    _signals.pop(key, None)


def renewal_signals() -> list[RenewalSignal]:
    return list(_signals.values())
