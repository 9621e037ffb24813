"""One shape for every state machine: a table, ``fire()``, and a picture drawn from the table.

A protocol's states are easiest to read as a table of moves::

    TABLE = StateTable("delivery", {
        ("pending", "claim"): "in_flight",
        ("in_flight", "succeeded"): "delivered",
        ("in_flight", "failed"): "pending",
    })

- ``TABLE.next(state, event)`` is the pure step: the state after ``event``, or
  :class:`BadTransition`, which names the state, the event that came and the
  events that state accepts (the error a reader wants when a peer misbehaves);
- ``TABLE.describe()`` draws the table as lines such as
  ``pending    --claim-->     in_flight``: a module pastes them into its
  docstring, and ``tests/test_state_tables.py`` checks that the picture and
  the table agree, so the diagram cannot drift from the code;
- :class:`Machine` is one running instance: its ``state``, and ``fire(event)``.

States and events are strings, or enums (their ``name`` is drawn), so a
pattern can keep the names its specification uses.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import Enum


def _label(value: Hashable) -> str:
    return value.name if isinstance(value, Enum) else str(value)


class BadTransition(Exception):
    """An event that the current state does not accept."""

    def __init__(self, machine: str, state: Hashable, event: Hashable, expected: list[Hashable]) -> None:
        self.machine, self.state, self.event, self.expected = machine, state, event, expected
        accepted = ", ".join(_label(e) for e in expected) or "nothing (a final state)"
        super().__init__(f"{machine}: {_label(event)!r} is not allowed in state {_label(state)} "
                         f"(expected: {accepted})")


class StateTable:
    """The moves of one state machine: (state, event) -> next state."""

    def __init__(self, name: str, moves: Mapping[tuple[Hashable, Hashable], Hashable]) -> None:
        self.name = name
        self.moves = dict(moves)

    @property
    def states(self) -> list[Hashable]:
        seen: dict[Hashable, None] = {}
        for (state, _), target in self.moves.items():
            seen.setdefault(state)
            seen.setdefault(target)
        return list(seen)

    def expected(self, state: Hashable) -> list[Hashable]:
        """The events ``state`` accepts, in table order."""
        return [event for (source, event) in self.moves if source == state]

    def next(self, state: Hashable, event: Hashable) -> Hashable:
        """The state after ``event`` (pure), or :class:`BadTransition`."""
        try:
            return self.moves[(state, event)]
        except KeyError:
            raise BadTransition(self.name, state, event, self.expected(state)) from None

    def describe(self) -> list[str]:
        """The table as aligned lines, ``STATE --event--> STATE``, for a docstring."""
        width_state = max(len(_label(s)) for s, _ in self.moves)
        width_event = max(len(_label(e)) for _, e in self.moves) + 5
        return [f"{_label(s):<{width_state}} {'--' + _label(e) + '-->':<{width_event}} {_label(t)}"
                for (s, e), t in self.moves.items()]


class Machine:
    """One instance of a :class:`StateTable`: where it is now, and how it moves."""

    def __init__(self, table: StateTable, initial: Hashable) -> None:
        if initial not in table.states:
            raise ValueError(f"{table.name}: {initial!r} is not a state of the table")
        self.table = table
        self.state = initial

    def fire(self, event: Hashable) -> Hashable:
        """Move on ``event`` and return the new state; a bad event changes nothing."""
        self.state = self.table.next(self.state, event)
        return self.state

    def accepts(self, event: Hashable) -> bool:
        return (self.state, event) in self.table.moves
