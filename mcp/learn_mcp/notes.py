"""Notes: the little application the MCP server exposes (tools change it, resources show it).

Reading order: jsonrpc -> lifecycle -> **notes** / calculator / schema -> tools / resources /
prompts -> server_core -> transports -> server.

Nothing here knows about MCP.  A note has an id, a title and a body; ids come
from ``new_id`` (a parameter, so tests and demos get ``n1``, ``n2``, ... and can
assert them).  The store lives in memory: one per server process, shared by
every client and session, which is why a note added over one HTTP session can
be read over another.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Note:
    id: str
    title: str
    body: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def counter_ids(prefix: str = "n") -> Callable[[], str]:
    """n1, n2, n3, ...: predictable ids (the default)."""
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers)}"


class NoteBook:
    def __init__(self, new_id: Callable[[], str] | None = None) -> None:
        self._new_id = new_id or counter_ids()
        self._notes: dict[str, Note] = {}

    def add(self, title: str, body: str) -> Note:
        note = Note(self._new_id(), title, body)
        self._notes[note.id] = note
        return note

    def get(self, note_id: str) -> Note | None:
        return self._notes.get(note_id)

    def delete(self, note_id: str) -> bool:
        return self._notes.pop(note_id, None) is not None

    def search(self, query: str) -> list[Note]:
        """Notes whose title or body contains ``query`` (case-insensitive); "" matches all."""
        needle = query.casefold()
        return [note for note in self._notes.values()
                if needle in note.title.casefold() or needle in note.body.casefold()]

    def all(self) -> list[Note]:
        return list(self._notes.values())
