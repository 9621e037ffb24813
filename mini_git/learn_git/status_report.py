"""What ``status`` prints, from the lists it collected: the porcelain and the long format.

Reading order: with ``commands/status.py``.  Shared by the plain ``status``
(``commands/status.py``) and its fast path (``status_fast.py``), so both print
the same bytes; it imports nothing but ``paths.quote_path``.
"""

from __future__ import annotations

from .paths import quote_path as quote


def path_key(path: str) -> bytes:
    """git sorts paths as bytes."""
    return path.encode("utf-8", "surrogateescape")


# stages present for a conflicted path -> (porcelain code, long-format label), as git names them
UNMERGED = {(1, 2, 3): ("UU", "both modified:"), (2, 3): ("AA", "both added:"),
            (1, 2): ("UD", "deleted by them:"), (1, 3): ("DU", "deleted by us:"),
            (2,): ("AU", "added by us:"), (3,): ("UA", "added by them:"), (1,): ("DD", "both deleted:")}


def porcelain_lines(state: dict[str, list]) -> list[str]:
    codes: dict[str, list[str]] = {}
    for code, path in state["staged"]:
        codes.setdefault(path, [" ", " "])[0] = code
    for code, path in state["unstaged"]:
        codes.setdefault(path, [" ", " "])[1] = code
    for code, path in state["unmerged"]:
        codes[path] = list(code)
    ordered = sorted(codes.items(), key=lambda kv: path_key(kv[0]))
    lines = [f"{x}{y} {quote(p, quote_space=True)}" for p, (x, y) in ordered]
    return lines + [f"?? {quote(p, quote_space=True)}" for p in state["untracked"]]


def print_long(branch: str | None, head_oid: str | None, merging: bool, state: dict[str, list],
               unborn: str = "No commits yet") -> None:
    """The long format: ``branch`` None when HEAD is detached, ``head_oid`` None on an unborn
    branch (``unborn`` is git's wording there), ``merging`` when MERGE_HEAD exists."""
    print(f"On branch {branch}" if branch else f"HEAD detached at {(head_oid or '')[:7]}")
    if head_oid is None:
        print(f"\n{unborn}\n")
    if merging:
        print("You have unmerged paths.\n" if state["unmerged"] else
              "All conflicts fixed but you are still merging.\n")
    names = {"A": "new file:", "M": "modified:", "D": "deleted:", "T": "typechange:"}
    unmerged_names = {code: label for code, label in UNMERGED.values()}
    # git pads each label to the longest label of its section, plus one space
    sections = [("Changes to be committed:", state["staged"], names, 12),
                ("Unmerged paths:", state["unmerged"], unmerged_names, 17),
                ("Changes not staged for commit:", state["unstaged"], names, 12)]
    for title, items, labels, width in sections:
        if items:
            print(f"{title}")
            for code, path in items:
                print(f"\t{labels[code]:<{width}}{quote(path)}")
            print()
    if state["untracked"]:
        print("Untracked files:")
        for path in state["untracked"]:
            print(f"\t{quote(path)}")
        print()
    if state["staged"]:
        pass
    elif state["unstaged"] or state["unmerged"]:
        print("no changes added to commit")
    elif state["untracked"]:
        print("nothing added to commit but untracked files present")
    else:
        print("nothing to commit" + (", working tree clean" if head_oid else ""))
