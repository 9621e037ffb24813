"""The lab's table in markdown, and the README embedding between two markers."""

from __future__ import annotations


def fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def table(rows: list) -> str:
    sizes = sorted({n for row in rows for n in row.scale})
    head = ["measure", *(row.method for row in rows)]
    lines = [
        ("events received / made", [f"{r.received} / {r.events}" for r in rows]),
        ("latency p50 event -> client", [fmt(r.p50_ms, " ms", 1) for r in rows]),
        ("latency p99 event -> client", [fmt(r.p99_ms, " ms", 1) for r in rows]),
        ("bytes on the wire per event", [fmt(r.bytes_per_event, " B") for r in rows]),
        ("requests / min, idle client", [fmt(r.idle_rpm, "", 1) for r in rows]),
        *((f"server RSS per client at {n:,}",
           [fmt(r.scale.get(n, {}).get("rss_kib"), " KiB", 1) for r in rows]) for n in sizes),
        *((f"server fds per client at {n:,}", [fmt(r.scale.get(n, {}).get("fds"), "", 2) for r in rows])
          for n in sizes),
        ("nginx, default settings", [r.nginx_default for r in rows]),
        ("nginx, tuned settings", [r.nginx_tuned for r in rows]),
        ("after a server restart", [r.restart for r in rows]),
        ("a browser can use it", [r.browser for r in rows]),
    ]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    # A row nobody measured (the quick lab's idle requests, every restart cell) is left out.
    out += ["| " + " | ".join([name, *cells]) + " |" for name, cells in lines
            if any(cell not in ("", "-") for cell in cells)]
    timeouts = [r.nginx_timeout for r in rows if r.nginx_timeout]
    if timeouts:
        out.append("\nlong poll through a default nginx whose proxy_read_timeout stands in for the 60 s "
                   f"default: {timeouts[0]}")
    return "\n".join(out)


def markdown(rows: list, made: str, seconds: float, command: str, schedule: str) -> str:
    return (f"# The lab's measurements\n\nMade {made} by `{command}` in {seconds:.0f} s.\n"
            f"Schedule: {schedule}; loopback, one client through a counting relay (latency, bytes) "
            f"or N bare idle clients (RSS, fds).\n\n{table(rows)}\n")


BEGIN, END = "<!-- lab table: begin (written by python -m learn_choose.lab) -->", "<!-- lab table: end -->"


def embed(readme: str, lab_md: str) -> str:
    """The README with the lab's latest table between its two markers (left alone without them)."""
    if BEGIN not in readme or END not in readme:
        return readme
    body = lab_md.split("\n", 2)[2].strip()  # without the "# The lab's measurements" heading
    head, rest = readme.split(BEGIN, 1)
    return f"{head}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}"
