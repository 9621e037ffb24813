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

Like git's default ("zealous") level, lines the two sides agree on at the start
and end of a conflict are moved out of the markers.  git also splits a
conflict in two when the sides agree on lines in its *middle*; we do not, so
in such cases our markers enclose more than git's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .unified_diff import myers, split_lines

MARKER = 7


@dataclass
class MergeResult:
    data: bytes
    conflicts: int


def _matches(base: list[bytes], side: list[bytes]) -> dict[int, int]:
    """base line index -> side line index, for lines the side kept."""
    return {i: j for op, i, j in myers(base, side) if op == "="}


def merge_lines(base: bytes, ours: bytes, theirs: bytes, ours_label: str = "ours",
                theirs_label: str = "theirs") -> MergeResult:
    o, a, b = split_lines(base), split_lines(ours), split_lines(theirs)
    ma, mb = _matches(o, a), _matches(o, b)
    out: list[bytes] = []
    conflicts = 0
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
            out += chunk_b
        elif chunk_b == chunk_o or chunk_a == chunk_b:
            out += chunk_a
        else:
            conflicts += 1
            out += _conflict(chunk_a, chunk_b, ours_label, theirs_label)
        if sync is None:
            break
        out.append(o[sync])
        oi, ai, bi = sync + 1, a_end + 1, b_end + 1
    return MergeResult(b"".join(out), conflicts)


def _conflict(a: list[bytes], b: list[bytes], ours_label: str, theirs_label: str) -> list[bytes]:
    pre = 0
    while pre < len(a) and pre < len(b) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < len(a) - pre and suf < len(b) - pre and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    mid_a, mid_b = a[pre:len(a) - suf], b[pre:len(b) - suf]
    # A side whose last line lacks "\n" would glue itself to the marker; git adds one too.
    fix = [line if line.endswith(b"\n") else line + b"\n" for line in (mid_a[-1:] + mid_b[-1:])]
    if mid_a:
        mid_a = mid_a[:-1] + fix[:1]
    if mid_b:
        mid_b = mid_b[:-1] + fix[-1:]
    return (a[:pre] + [b"<" * MARKER + b" " + ours_label.encode() + b"\n"] + mid_a
            + [b"=" * MARKER + b"\n"] + mid_b
            + [b">" * MARKER + b" " + theirs_label.encode() + b"\n"] + a[len(a) - suf:])
