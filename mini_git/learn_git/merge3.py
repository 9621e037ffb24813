"""Three-way line merge (pure): combine two edits of one base text, or mark where they clash.

Reading order: after ``unified_diff.py``; ``merging.py`` applies it file by file.
The idea is diff3's: diff the base against each side, then walk the base.
Stretches of base lines that *both* sides kept unchanged are "sync" regions;
between two sync regions each side either left the base alone (take the
other side), made the same change (take it once) or made different changes
(a conflict)::

    <<<<<<< ours-label
    our lines
    =======
    their lines
    >>>>>>> their-label

Then two clean-ups that git's default level (``XDL_MERGE_ZEALOUS`` in
``xdiff/xmerge.c``) makes, so our markers enclose the same lines as git's:

1. **refine**: the two sides of a conflict are diffed against each other, and
   lines they agree on become ordinary lines, splitting the conflict in pieces
   (``xdl_refine_conflicts``; skipped when one side is empty);
2. **simplify**: two conflicts separated by 3 or fewer unchanged lines are
   joined into one, lines between included, because that reads more easily
   than two tiny conflicts (``xdl_simplify_non_conflicts``).  A change taken
   cleanly from one side sits between them as a barrier: no joining across it.

One difference stays: git's merge pairs lines with the *histogram* diff, we use
Myers' (``unified_diff.myers``).  They agree unless a text repeats lines, and
then only sometimes (4 of 1,600 random merges differed in our fuzzing).
"""

from __future__ import annotations

from dataclasses import dataclass

from .unified_diff import myers, split_lines

MARKER = 7
JOIN_GAP = 3  # git joins conflicts separated by at most this many unchanged lines


@dataclass
class MergeResult:
    data: bytes
    conflicts: int


@dataclass
class _Conflict:
    ours: list[bytes]
    theirs: list[bytes]


# A merged text is built as a list of pieces: ``bytes`` (an unchanged line), a ``_Conflict``,
# or a ``list`` of lines one side changed cleanly (a barrier for joining conflicts).
Piece = bytes | _Conflict | list


def _matches(base: list[bytes], side: list[bytes]) -> dict[int, int]:
    """base line index -> side line index, for lines the side kept."""
    return {i: j for op, i, j in myers(base, side) if op == "="}


def merge_lines(base: bytes, ours: bytes, theirs: bytes, ours_label: str = "ours",
                theirs_label: str = "theirs") -> MergeResult:
    o, a, b = split_lines(base), split_lines(ours), split_lines(theirs)
    ma, mb = _matches(o, a), _matches(o, b)
    pieces: list[Piece] = []
    oi = ai = bi = 0
    while True:
        # Find the next base line kept by both sides at the places we have reached.
        sync = None
        for k in range(oi, len(o)):
            if k in ma and k in mb and ma[k] >= ai and mb[k] >= bi:
                sync = k
                break
        o_end = sync if sync is not None else len(o)
        a_end = ma[sync] if sync is not None else len(a)
        b_end = mb[sync] if sync is not None else len(b)
        chunk_o, chunk_a, chunk_b = o[oi:o_end], a[ai:a_end], b[bi:b_end]
        if chunk_a == chunk_o:
            pieces.extend(chunk_b) if chunk_b == chunk_o else pieces.append(chunk_b)
        elif chunk_b == chunk_o or chunk_a == chunk_b:
            pieces.append(chunk_a)
        else:
            pieces += _refine(chunk_a, chunk_b)
        if sync is None:
            break
        pieces.append(o[sync])
        oi, ai, bi = sync + 1, a_end + 1, b_end + 1
    return _render(_simplify(pieces), ours_label, theirs_label)


def _refine(a: list[bytes], b: list[bytes]) -> list[Piece]:
    """One conflict -> conflicts and agreed lines, by diffing the two sides against each other."""
    if not a or not b:
        return [_Conflict(a, b)]
    out: list[Piece] = []
    current: _Conflict | None = None
    for op, i, j in myers(a, b):
        if op == "=":
            current = None
            out.append(a[i])
            continue
        if current is None:
            current = _Conflict([], [])
            out.append(current)
        (current.ours if op == "-" else current.theirs).append(a[i] if op == "-" else b[j])
    return out


def _simplify(pieces: list[Piece]) -> list[Piece]:
    """Join conflicts that only a few unchanged lines keep apart (the lines go inside)."""
    out: list[Piece] = []
    last_conflict = -1  # where in ``out`` the latest conflict is, if only unchanged lines follow it
    for piece in pieces:
        if isinstance(piece, _Conflict):
            between = out[last_conflict + 1:]
            if last_conflict >= 0 and len(between) <= JOIN_GAP:
                joined = out[last_conflict]
                joined.ours += between + piece.ours
                joined.theirs += between + piece.theirs
                del out[last_conflict + 1:]
                continue
            out.append(piece)
            last_conflict = len(out) - 1
        elif isinstance(piece, list):
            out.extend(piece)
            last_conflict = -1  # a clean change from one side: never join across it
        else:
            out.append(piece)
    return out


def _render(pieces: list[Piece], ours_label: str, theirs_label: str) -> MergeResult:
    out: list[bytes] = []
    conflicts = 0
    for piece in pieces:
        if not isinstance(piece, _Conflict):
            out.append(piece)
            continue
        conflicts += 1
        # A side whose last line lacks "\n" would glue itself to the marker; git adds one too.
        ours = [line if line.endswith(b"\n") else line + b"\n" for line in piece.ours]
        theirs = [line if line.endswith(b"\n") else line + b"\n" for line in piece.theirs]
        out += ([b"<" * MARKER + b" " + ours_label.encode() + b"\n"] + ours + [b"=" * MARKER + b"\n"]
                + theirs + [b">" * MARKER + b" " + theirs_label.encode() + b"\n"])
    return MergeResult(b"".join(out), conflicts)
