"""State machines from one table of moves.

A model's allowed moves are listed once, as `Move`s; `transitions()` turns
the list into django-fsm-2 `@transition` methods (a mixin the model inherits),
with the move's conditions and its `custom` data, which django-fsm keeps on
each transition. Services, pages and the API read the model's transitions
(`get_all_<field>_transitions()`) or the table itself, never a second list of
which state may go where.

django-fsm calls a condition with the instance only, so a move that may skip
its guard (a leader forcing a stage change) is a separate move without the
condition, not a flag set on the instance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django_fsm import transition


@dataclass(frozen=True)
class Move:
    name: str  # the transition method's name
    sources: tuple[str, ...]
    target: str
    conditions: tuple[Callable[[Any], bool], ...] = ()
    custom: Mapping[str, Any] = field(default_factory=dict)


def transitions(name: str, field_name: str, moves: Iterable[Move]) -> type:
    """A mixin named `name` with one `@transition` method on `field_name` per move."""
    namespace: dict[str, Any] = {"__doc__": f"The transitions of {field_name}, from its table."}
    for move in moves:
        if move.name in namespace:
            raise ValueError(f"{name}: two moves named {move.name}")
        namespace[move.name] = _method(name, field_name, move)
    return type(name, (), namespace)


def _method(owner: str, field_name: str, move: Move):
    # The transition changes only the state; services do the rest.
    def method(self) -> None:
        pass

    method.__name__ = move.name
    method.__qualname__ = f"{owner}.{move.name}"  # django-fsm tells transitions apart by it
    return transition(
        field=field_name,
        source=list(move.sources),
        target=move.target,
        conditions=list(move.conditions),
        custom=dict(move.custom),
    )(method)
