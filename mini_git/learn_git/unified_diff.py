"""Line diffs (Myers' algorithm) and git's unified diff format (pure).

Reading order: after ``tree_diff.py``.  :func:`myers` finds a shortest edit
script between two lists of lines (Myers 1986, "An O(ND) Difference Algorithm");
:func:`unified` groups the edits into hunks with 3 lines of context and writes
them the way ``git diff`` does::

    @@ -<old start>,<old count> +<new start>,<new count> @@ <function context>

A count of 1 is omitted; an empty side is written ``<line before>,0``.  The
"function context" after the second ``@@`` is git's default: the nearest line
above the hunk that starts with a letter, ``_`` or ``$``.

A change can often be placed in several equally short ways (add a function
between two others: which blank line is "new"?).  git slides each run of
changed lines as far as it goes, and ``git diff`` then picks the position whose
two edges look most like the places a human would cut -- at blank lines, at
the same or a lower indentation -- its *indent heuristic* (``xdiff/xdiffi.c``,
on by default since git 2.14).  We do the same, with git's weights.  Merges
do not use it (git's merge does not either).
"""

from __future__ import annotations

NO_NEWLINE = b"\\ No newline at end of file\n"


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their ``\\n`` kept (the last one may lack it)."""
    return data.splitlines(keepends=True) if b"\r" in data else [
        line + b"\n" for line in data.split(b"\n")[:-1]] + ([data.rsplit(b"\n", 1)[-1]] if
                                                            not data.endswith(b"\n") and data else [])


def myers(a: list[bytes], b: list[bytes], indent_heuristic: bool = False) -> list[tuple[str, int, int]]:
    """The edit script as ("=", i, j) keep, ("-", i, -1) delete, ("+", -1, j) insert.

    Deletions come before insertions inside each change, and each run of changed lines is
    slid as git's ``xdl_change_compact`` slides it, so ambiguous diffs come out as git's do.
    """
    del_a, ins_b = changed_lines(a, b)
    compact(a, del_a, ins_b, indent_heuristic)
    compact(b, ins_b, del_a, indent_heuristic)
    edits, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        if i < len(a) and del_a[i]:
            edits.append(("-", i, -1))
            i += 1
        elif j < len(b) and ins_b[j]:
            edits.append(("+", -1, j))
            j += 1
        else:
            edits.append(("=", i, j))
            i, j = i + 1, j + 1
    return edits


def changed_lines(a: list[bytes], b: list[bytes]) -> tuple[list[bool], list[bool]]:
    """Myers' greedy forward search, then a walk back: which lines of ``a`` go and of ``b`` come."""
    del_a, ins_b = [False] * len(a), [False] * len(b)
    # Trim the common prefix and suffix first: most edits are small, and it keeps D small.
    pre = 0
    while pre < len(a) and pre < len(b) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < len(a) - pre and suf < len(b) - pre and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    a_mid, b_mid = a[pre:len(a) - suf], b[pre:len(b) - suf]
    n, m = len(a_mid), len(b_mid)
    trace, v = [], {1: 0}
    for d in range(n + m + 1):
        trace.append(dict(v))  # trace[d]: the furthest points reached with d - 1 edits
        for k in range(-d, d + 1, 2):
            x = v[k + 1] if k == -d or (k != d and v[k - 1] < v[k + 1]) else v[k - 1] + 1
            y = x - k
            while x < n and y < m and a_mid[x] == b_mid[y]:
                x, y = x + 1, y + 1
            v[k] = x
            if x >= n and y >= m:
                break
        else:
            continue
        break
    x, y = n, m
    for depth in range(len(trace) - 1, 0, -1):
        vd = trace[depth]
        k = x - y
        down = k == -depth or (k != depth and vd.get(k - 1, -1) < vd.get(k + 1, -1))
        prev_k = k + 1 if down else k - 1
        prev_x = vd[prev_k]
        prev_y = prev_x - prev_k
        x, y = prev_x, prev_y
        if down:
            ins_b[pre + y] = True
        else:
            del_a[pre + x] = True
    return del_a, ins_b


def compact(lines: list[bytes], rchg: list[bool], other: list[bool], indent_heuristic: bool = False) -> None:
    """Slide each group of changed lines as far down as it goes, then back up to line up
    with a change in the other file if one was passed, else (``indent_heuristic``) to the
    best-looking position (git's ``xdl_change_compact``)."""
    n, n_other = len(lines), len(other)

    def changed(flags: list[bool], i: int) -> bool:
        return 0 <= i < len(flags) and flags[i]

    def next_group(flags, start, end):
        if end >= len(flags):
            return None
        start = end + 1
        end = start
        while changed(flags, end):
            end += 1
        return start, end

    def prev_group(flags, start, end):
        end = start - 1
        start = end
        while changed(flags, start - 1):
            start -= 1
        return start, end

    def slide_down(start, end):
        if end < n and lines[start] == lines[end]:
            rchg[start], rchg[end] = False, True
            start, end = start + 1, end + 1
            while changed(rchg, end):
                end += 1
            return start, end
        return None

    def slide_up(start, end):
        if start > 0 and lines[start - 1] == lines[end - 1]:
            start, end = start - 1, end - 1
            rchg[start], rchg[end] = True, False
            while changed(rchg, start - 1):
                start -= 1
            return start, end
        return None

    gs = ge = 0
    while changed(rchg, ge):
        ge += 1
    os_ = oe = 0
    while changed(other, oe):
        oe += 1
    while True:
        if ge != gs:
            while True:
                size = ge - gs
                end_matching_other = -1
                while (up := slide_up(gs, ge)) is not None:
                    gs, ge = up
                    os_, oe = prev_group(other, os_, oe)
                earliest_end = ge
                if oe > os_:
                    end_matching_other = ge
                while (down := slide_down(gs, ge)) is not None:
                    gs, ge = down
                    os_, oe = next_group(other, os_, oe) or (os_, oe)
                    if oe > os_:
                        end_matching_other = ge
                if size == ge - gs:
                    break
            if ge == earliest_end:
                pass  # it could not slide at all
            elif end_matching_other != -1:
                while oe == os_:
                    gs, ge = slide_up(gs, ge)
                    os_, oe = prev_group(other, os_, oe)
            elif indent_heuristic:
                best = best_shift(lines, earliest_end, ge, ge - gs)
                while ge > best:
                    gs, ge = slide_up(gs, ge)
                    os_, oe = prev_group(other, os_, oe)
        nxt = next_group(rchg, gs, ge) if ge < n else None
        if nxt is None:
            break
        gs, ge = nxt
        if oe >= n_other:
            break
        os_, oe = next_group(other, os_, oe)


# git's indent heuristic weights (xdiff/xdiffi.c), tuned by its authors on real code
MAX_INDENT, MAX_BLANKS, MAX_SLIDING = 200, 20, 100
START_OF_FILE_PENALTY, END_OF_FILE_PENALTY = 1, 21
TOTAL_BLANK_WEIGHT, POST_BLANK_WEIGHT = -30, 6
RELATIVE_INDENT_PENALTY, RELATIVE_INDENT_WITH_BLANK_PENALTY = -4, 10
RELATIVE_OUTDENT_PENALTY, RELATIVE_OUTDENT_WITH_BLANK_PENALTY = 24, 17
RELATIVE_DEDENT_PENALTY, RELATIVE_DEDENT_WITH_BLANK_PENALTY = 23, 17
INDENT_WEIGHT = 60


def indent_of(line: bytes) -> int:
    """Columns of leading whitespace (tabs to multiples of 8); -1 for a blank line."""
    width = 0
    for c in line:
        if c not in b" \t\n\r\v\f":
            return width
        width += 1 if c == 32 else 8 - width % 8 if c == 9 else 0
        if width >= MAX_INDENT:
            return MAX_INDENT
    return -1


def split_score(lines: list[bytes], split: int) -> tuple[int, int]:
    """(indent, penalty) of cutting ``lines`` just before line ``split`` (git's measure_split
    + score_add_split): cuts before a blank line or at a lower indentation score better."""
    end_of_file = split >= len(lines)
    indent = -1 if end_of_file else indent_of(lines[split])
    pre_blank, pre_indent = 0, -1
    for i in range(split - 1, -1, -1):
        pre_indent = indent_of(lines[i])
        if pre_indent != -1:
            break
        pre_blank += 1
        if pre_blank == MAX_BLANKS:
            pre_indent = 0
            break
    post_blank, post_indent = 0, -1
    for i in range(split + 1, len(lines)):
        post_indent = indent_of(lines[i])
        if post_indent != -1:
            break
        post_blank += 1
        if post_blank == MAX_BLANKS:
            post_indent = 0
            break
    penalty = START_OF_FILE_PENALTY if pre_indent == -1 and pre_blank == 0 else 0
    penalty += END_OF_FILE_PENALTY if end_of_file else 0
    post_blank = 1 + post_blank if indent == -1 else 0
    total_blank = pre_blank + post_blank
    penalty += TOTAL_BLANK_WEIGHT * total_blank + POST_BLANK_WEIGHT * post_blank
    indent = indent if indent != -1 else post_indent
    blanks = total_blank != 0
    if indent == -1 or pre_indent == -1 or indent == pre_indent:
        pass
    elif indent > pre_indent:
        penalty += RELATIVE_INDENT_WITH_BLANK_PENALTY if blanks else RELATIVE_INDENT_PENALTY
    elif post_indent != -1 and post_indent > indent:
        penalty += RELATIVE_OUTDENT_WITH_BLANK_PENALTY if blanks else RELATIVE_OUTDENT_PENALTY
    else:
        penalty += RELATIVE_DEDENT_WITH_BLANK_PENALTY if blanks else RELATIVE_DEDENT_PENALTY
    return indent, penalty


def best_shift(lines: list[bytes], earliest_end: int, end: int, size: int) -> int:
    """Where a group of ``size`` changed lines that can end anywhere in ``earliest_end..end``
    should end: the position whose two cuts score lowest (the last one on a tie)."""
    best, best_end = (0, 0), -1
    for shift in range(max(earliest_end, end - size - 1, end - MAX_SLIDING), end + 1):
        (i1, p1), (i2, p2) = split_score(lines, shift), split_score(lines, shift - size)
        indent, penalty = i1 + i2, p1 + p2
        compared = INDENT_WEIGHT * ((indent > best[0]) - (indent < best[0])) + penalty - best[1]
        if best_end == -1 or compared <= 0:
            best, best_end = (indent, penalty), shift
    return best_end


def _func_context(a: list[bytes], before: int) -> bytes:
    for i in range(before - 1, -1, -1):
        line = a[i]
        if line[:1].isalpha() or line[:1] in (b"_", b"$"):
            return b" " + line.rstrip(b"\n")[:80].rstrip()
    return b""


def _range(start: int, count: int) -> str:
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


def unified(a_data: bytes, b_data: bytes, context: int = 3) -> bytes:
    """The hunks of a unified diff between two texts (no file header lines)."""
    a, b = split_lines(a_data), split_lines(b_data)
    edits = myers(a, b, indent_heuristic=True)
    changed = [i for i, e in enumerate(edits) if e[0] != "="]
    out = bytearray()
    group_start = 0
    while group_start < len(changed):
        group_end = group_start
        while (group_end + 1 < len(changed)
               and changed[group_end + 1] - changed[group_end] - 1 <= 2 * context):
            group_end += 1
        lo = max(0, changed[group_start] - context)
        hi = min(len(edits), changed[group_end] + context + 1)
        hunk = edits[lo:hi]
        a_start = next((e[1] for e in hunk if e[1] >= 0), None)
        b_start = next((e[2] for e in hunk if e[2] >= 0), None)
        a_count = sum(1 for e in hunk if e[0] != "+")
        b_count = sum(1 for e in hunk if e[0] != "-")
        if a_start is None:
            a_start = sum(1 for e in edits[:lo] if e[0] != "+")
        if b_start is None:
            b_start = sum(1 for e in edits[:lo] if e[0] != "-")
        header = f"@@ -{_range(a_start, a_count)} +{_range(b_start, b_count)} @@".encode()
        out += header + _func_context(a, a_start) + b"\n"
        for op, i, j in hunk:
            line = a[i] if op != "+" else b[j]
            out += {"=": b" ", "-": b"-", "+": b"+"}[op] + line
            if not line.endswith(b"\n"):
                out += b"\n" + NO_NEWLINE
        group_start = group_end + 1
    return bytes(out)


def is_binary(data: bytes) -> bool:
    """git's rule: a NUL byte in the first 8000 bytes makes a file binary."""
    return b"\0" in data[:8000]
