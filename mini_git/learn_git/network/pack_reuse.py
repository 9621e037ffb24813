"""Whole-pack reuse: answer a clone with the stored pack itself, beside the walk and pack writer.

Reading order: optional, after ``pack_write_ofs.py``.  The lesson answers every fetch the
same way: walk from the wants (``walk.objects_to_send``), then write a pack of what the walk
found.  A full clone of a freshly ``git gc``-ed repository asks for exactly the objects its
one pack already holds, so git's ``pack-objects`` copies that pack ("pack reuse") instead.
This module does the same, and stays correct without a bitmap:

* the answer depends only on the wants, the tags ``include-tag`` may add, and the pack's
  content (object ids name their content, so what is reachable from a given set of ids never
  changes; a pack file never changes once written);
* so the first time a request is answered, the server still walks and compares the walk's
  objects with the pack's (:func:`remember`); when they are the same set, every later request
  with the same wants, tags and pack gets the stored pack's bytes as they are
  (:func:`stored_pack`): no walk, no new pack, nothing hashed.

Only when: no haves in common (a clone, not a fetch), the client asked for ``ofs-delta``
(a stored pack's deltas may be OFS_DELTA), and the store has exactly one pack.
``upload_pack.py`` (v0) and ``upload_pack_v2.fetch`` use it;
``tests/mini_git/test_net_pack_reuse.py`` checks it against the walk and with real git.
"""

from __future__ import annotations

# (pack path, mtime, size, wants, tags) -> whether the walk's objects were exactly the pack's.
VERDICTS: dict[tuple, bool] = {}
VERDICTS_LIMIT = 64


def _packs(odb) -> list:
    return getattr(getattr(odb, "odb", odb), "packs", [])


def request_key(odb, wants: list[str], common: list[str], ofs_delta: bool,
                tags: tuple | None) -> tuple | None:
    """The key a verdict is kept under, or None when this request cannot be a whole-pack answer."""
    packs = _packs(odb)
    if common or not ofs_delta or len(packs) != 1:
        return None
    try:
        st = packs[0].pack_path.stat()
    except OSError:
        return None
    return (str(packs[0].pack_path), st.st_mtime_ns, st.st_size, frozenset(wants), tags)


def stored_pack(odb, key: tuple | None) -> tuple[int, bytes] | None:
    """(object count, the pack file's bytes) when ``key`` was seen to ask for exactly that pack."""
    if key is None or not VERDICTS.get(key):
        return None
    pack = _packs(odb)[0]
    return pack.index.count, pack.buf   # Pack.buf checks the header and the idx's checksum


def remember(odb, key: tuple | None, oids: list[str]) -> None:
    """Record whether the walk's ``oids`` are exactly the objects of the store's one pack."""
    if key is None:
        return
    index = _packs(odb)[0].index
    same = len(oids) == index.count and set(oids) == {name.hex() for name in index.names}
    if len(VERDICTS) >= VERDICTS_LIMIT:
        VERDICTS.clear()
    VERDICTS[key] = same
