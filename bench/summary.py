"""The end of ``make bench``: one table of every measured row against its target.

    python bench/summary.py begin RESULTS          empty RESULTS, note the start time and load
    python bench/summary.py crashed RESULTS NAME   note that bench-NAME failed
    python bench/summary.py end RESULTS [--readme bench/README.md] [--no-write]

The benchmarks append their rows to RESULTS (``wirelab_common.bench_report``,
with ``WIRELAB_BENCH_RESULTS`` pointing at it).  ``end`` prints one Markdown
table, one line per reported row: pattern, row, anchor, measured, target and
the verdict (met, missed, or reported when the row has no target).  Every row
of :data:`EXPECTED` that got no measurement in this run is listed too, as
"not measured", so a benchmark that crashed or forgot to report shows.  Then it
rewrites the part of bench/README.md between the two ``make bench summary``
markers with the date, the machine (CPU model, cores, kernel, load average
before and after), the total time and the table.

The exit status is 0 when targets are missed (benchmarks are not tests) and 1
when a benchmark crashed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))

from wirelab_common.bench_report import read, verdict  # noqa: E402

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- make bench summary -->", "<!-- end make bench summary -->"

Row = tuple[str, float | None, str, str]  # (row name, target, better, unit)
H, L = "higher", "lower"


def want(name: str, target: float | None, better: str = H, unit: str = "x") -> Row:
    return (name, target, better, unit)


# One entry per line of the targets table in bench/README.md, keyed by the start of
# its first column, holding the rows the benchmarks report for it: the one list of
# expected rows (``disagreements`` and tests/test_bench_summary.py check that each
# key starts exactly one line of the table and each line has exactly one key).
EXPECTED: dict[str, list[Row]] = {
    "websocket: echo": [
        want("echo, hand-rolled vs websockets", 1.2), want("echo vs asyncio TCP", 0.9),
        want("chat echo vs websockets", 1.0)],
    "websocket: broadcast": [want("broadcast, 1,000 clients", 1.0)],
    "websocket: codec": [want("codec vs wsproto", 3.0)],
    "sse: 1,000 subscribers": [want("1,000 subscribers x 100 events", 1.0)],
    "webhook: verify": [want("verify 1 KiB", 2.0)],
    "webhook: end to end": [
        want("end to end, fast", 1000.0, unit="/s"), want("end to end, readable", None, unit="/s")],
    "pubsub: publish -> deliver": [
        want("p99, fast path, 1 subscriber", 1.25, L), want("p99, fast path, 100 subscribers", 1.25, L),
        want("p99, lesson classes, 1 subscriber", None, L),
        want("p99, lesson classes, 100 subscribers", None, L)],
    "queue: no-op jobs": [
        want("fast worker vs arq, 1 worker", 2.0), want("fast worker vs RQ, 1 worker", 10.0),
        want("fast worker vs arq, 4 workers", None), want("fast worker vs RQ, 4 workers", None),
        want("lesson worker vs arq, 1 worker", None), want("lesson worker vs RQ, 1 worker", None)],
    "dns: authoritative": [
        want("authoritative qps, fast path", 1.0), want("authoritative qps, plain path", 0.25)],
    "dns: resolver": [want("resolver, hot cache", 1.0)],
    "mcp: `tools/call`": [
        want(f"tools/call, {transport}, {era}", 3.0)
        for transport in ("stdio", "Streamable HTTP") for era in ("2025-11-25", "2026-07-28")],
    "mini_git: add+commit": [
        want("add+commit 2,000 files", 1.5, L), want("status", 5.0, L)],
    "mini_git: clone served": [
        want("clone served to real git, 1,000 commits", 1.25, L),
        want("clone served to real git, 5,000 files x 300 commits", 1.25, L)],
    "mini_git: our client": [
        want("our client cloning, 1,000 commits", 3.0, L),
        want("our client cloning, 5,000 files x 300 commits", 3.0, L)],
    "webrtc: data channel": [
        want("data channel throughput", None), want("setup time", 1.5, L)],
    "graphql: events/s": [
        want("strawberry, graphql-transport-ws", 0.5), want("strawberry, graphql-sse", None),
        want("ours, shared execution", 0.5)],
    "tunnel: requests/s": [want("requests/s through the tunnel", 0.5)],
    "unix_socket: round trips": [want("round trips, 32 B", None), want("throughput, 64 KiB frames", None)],
    "proxy: requests/s": [
        want(f"{path}, keep-alive {state}", 0.5)
        for path in ("main /", "blog page (HTML rewritten)") for state in ("on", "off")],
    "streaming: segment": [
        want("top segment", 0.5), want("low segment", 0.5), want("media playlist", None),
        want("top segment, readable server", None), want("low segment, readable server", None)],
    "acme: certificates": [
        want("certificates issued/s end to end", 1.0), want("JWS verifications ES256 vs josepy", None),
        want("JWS verifications RS256 vs josepy", None)],
    # Reported per method, not as ratios: the lab's own table (choose/docs/lab.md).
    "choose: the six deliveries": [],
    # Not a benchmark: `make test` is timed on its own.
    "the test suite": [],
}
NO_ROWS = {"choose: the six deliveries": "per method, in choose/docs/lab.md (make bench-choose)",
           "the test suite": "not part of make bench (make test)"}


def disagreements(lines: list[str]) -> list[str]:
    """Where the table's lines and :data:`EXPECTED`'s keys do not pair off one for one."""
    found = []
    for line in lines:
        keys = [key for key in EXPECTED if line.startswith(key)]
        if len(keys) != 1:
            found.append(f"the line {line!r} of bench/README.md matches {len(keys)} keys of EXPECTED")
    found += [f"no line of bench/README.md starts with {key!r}"
              for key in EXPECTED if not any(line.startswith(key) for line in lines)]
    return found


def pattern_of(line: str) -> str:
    return line.split(":", 1)[0]


def readme_lines(readme: Path) -> list[str]:
    """The first column of every row of the targets table in bench/README.md."""
    text = readme.read_text().split("\n## Targets", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| pattern: path")]
    return [row.split("|")[1].strip() for row in rows]


def side(path: str) -> Path:
    return Path(path + ".run.json")


def begin(results: str) -> None:
    Path(results).parent.mkdir(parents=True, exist_ok=True)
    Path(results).write_text("")
    side(results).write_text(json.dumps({"start": time.time(), "load": os.getloadavg(), "crashed": []}))


def crashed(results: str, name: str) -> None:
    run = json.loads(side(results).read_text())
    run["crashed"].append(name)
    side(results).write_text(json.dumps(run))
    print(f"bench-{name} failed; going on with the others", file=sys.stderr)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:.3g} {unit}"


def target_text(target: float | None, better: str, unit: str) -> str:
    if target is None:
        return "report"
    return f"{'>=' if better == H else '<='} {number(target, unit)}"


def line(r: dict) -> str:
    """One measured row as a line of the Markdown table."""
    said = verdict(r["value"], r["target"], r["better"])
    shown = number(r["value"], r["unit"])
    if r["target"] is not None and r["value"] is not None and shown == number(r["target"], r["unit"]):
        shown = f"{r['value']:.4f}{r['unit']}"  # 2.9984x, not a "3.00x" beside ">= 3.00x: missed"
    return (f"| {r['pattern']} | {r['row']} | {r['anchor'] or '-'} | {shown} "
            f"| {target_text(r['target'], r['better'], r['unit'])} | {said} |")


def table(rows: list[dict], crashed_patterns: list[str]) -> tuple[list[str], list[str]]:
    """(Markdown lines of the table in the order of EXPECTED, notes on rows that do not match it)."""
    out = ["| pattern | row | anchor | measured | target | verdict |", "|---|---|---|---|---|---|"]
    notes = []
    listed = set()
    for key, expected in EXPECTED.items():
        pattern = pattern_of(key)
        for name, target, better, unit in expected:
            listed.add((pattern, name))
            measured = [r for r in rows if (r["pattern"], r["row"]) == (pattern, name)]
            out += [line(r) for r in measured]
            notes += [f"{pattern}: {name!r} reported target {r['target']}, the list says {target}"
                      for r in measured if r["target"] != target]
            if not measured:
                why = "not measured (crashed)" if pattern in crashed_patterns else "not measured"
                out.append(f"| {pattern} | {name} | - | - | {target_text(target, better, unit)} | {why} |")
        if key in NO_ROWS:
            out.append(f"| {pattern} | {key} | - | - | - | {NO_ROWS[key]} |")
    for r in rows:
        if (r["pattern"], r["row"]) not in listed:
            out.append(line(r))
            notes.append(f"{r['pattern']}: {r['row']!r} is not a row of bench/summary.py's EXPECTED list")
    return out, notes


def end(results: str, readme: Path, write: bool) -> int:
    run = json.loads(side(results).read_text()) if side(results).exists() else {
        "start": None, "load": None, "crashed": []}
    rows = read(results)
    lines, notes = table(rows, run["crashed"])
    notes += disagreements(readme_lines(readme))
    after = os.getloadavg()
    load = (f"{' '.join(f'{x:.2f}' for x in run['load'])} before, " if run["load"] else "") + \
        f"{' '.join(f'{x:.2f}' for x in after)} after"
    seconds = time.time() - run["start"] if run["start"] else None
    took = ("unknown time" if seconds is None else f"{seconds:.0f} s" if seconds < 120
            else f"{seconds / 60:.1f} min")
    counts = {v: sum(1 for r in rows if verdict(r["value"], r["target"], r["better"]) == v)
              for v in ("met", "missed", "reported")}
    head = [f"`make bench` on {datetime.date.today().isoformat()}: {cpu_model()}, {os.cpu_count()} cores, "
            f"Linux {platform.release()}; load average {load}; {took} in all.",
            f"{counts['met']} met, {counts['missed']} missed, {counts['reported']} reported without a target"
            + (f"; crashed: {', '.join('bench-' + c for c in run['crashed'])}" if run["crashed"] else "")
            + "."]
    body = [*head, "", *lines, *([""] + [f"- {n}" for n in notes] if notes else [])]
    print("\n".join(body))
    if write:
        text = readme.read_text()
        section = "\n".join([BEGIN, *body, END])
        if BEGIN in text and END in text:
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n## The last `make bench`\n\n" + section + "\n"
        readme.write_text(text)
    return 1 if run["crashed"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("begin", "crashed", "end"))
    parser.add_argument("results", help="the results file (WIRELAB_BENCH_RESULTS)")
    parser.add_argument("name", nargs="?", help="crashed: the pattern whose benchmark failed")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    parser.add_argument("--no-write", action="store_true", help="end: print the table, leave the README")
    args = parser.parse_args(argv)
    if args.step == "begin":
        begin(args.results)
    elif args.step == "crashed":
        crashed(args.results, args.name or "?")
    else:
        return end(args.results, args.readme, not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
