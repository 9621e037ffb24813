"""One line per measured row, so ``make bench`` can end with one table of every target.

Every benchmark prints its own table as it always did, and then calls
:func:`report` once for each row of the targets table in ``bench/README.md``
that it measured::

    from wirelab_common.bench_report import report

    report("dns", "resolver, hot cache", 0.93, 1.0, anchor="unbound 1.17")
    report("mini_git", "status", 4.8, 5, better="lower")
    report("webrtc", "data channel throughput", 10.1, None, unit="MiB/s")

``report`` appends one JSON object, on one line, to the file named by the
environment variable ``WIRELAB_BENCH_RESULTS``; when that variable is unset
(a benchmark run on its own) it does nothing at all.  ``make bench`` sets it
to a fresh file before the benchmarks and reads it afterwards with
``bench/summary.py``.

A line holds ``pattern``, ``row``, ``value``, ``target``, ``better``,
``unit``, ``anchor`` and ``time`` (when it was written, seconds since the
epoch).  ``target`` is ``None`` for a row that is reported without a verdict.
The file is opened in append mode and each line written with one ``write``
call, so benchmarks that run one after another (or a benchmark's separate
processes) add to the same file without reading it.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

ENV = "WIRELAB_BENCH_RESULTS"
BETTER = ("higher", "lower")


def report(
    pattern: str,
    row: str,
    value: float,
    target: float | None,
    *,
    better: str = "higher",
    unit: str = "x",
    anchor: str = "",
) -> None:
    """Append one measured row to ``$WIRELAB_BENCH_RESULTS`` (nothing when unset).

    ``better="higher"``: the target is met when ``value >= target``;
    ``better="lower"``: when ``value <= target``.  ``unit`` is ``"x"`` for a
    ratio to the anchor, or a unit such as ``"/s"`` or ``"MiB/s"``.
    ``anchor`` names what the row was measured beside.
    """
    if better not in BETTER:
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    path = os.environ.get(ENV)
    if not path:
        return
    measured = float(value)
    row_record = {
        "pattern": pattern,
        "row": row,
        "value": measured if math.isfinite(measured) else None,  # JSON has no inf or nan
        "target": None if target is None else float(target),
        "better": better,
        "unit": unit,
        "anchor": anchor,
        "time": time.time(),
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row_record) + "\n")


def verdict(value: float | None, target: float | None, better: str) -> str:
    """``"met"``, ``"missed"``, or ``"reported"`` when there is no target."""
    if target is None:
        return "reported"
    if value is None:
        return "missed"
    met = value >= target if better == "higher" else value <= target
    return "met" if met else "missed"


def read(path: str) -> list[dict[str, Any]]:
    """Every row in a results file, in the order written (no file: no rows)."""
    try:
        with open(path, encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []
