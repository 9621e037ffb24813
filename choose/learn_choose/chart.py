"""The lab's chart as a hand-written SVG: one panel of horizontal bars per measure.

No plotting library: a bar is a ``<rect>`` whose width is the value over the
panel's largest value.  Each panel names its unit; the footer says when and
where the figures were made.
"""

from __future__ import annotations

from html import escape

WIDTH, LABEL, BAR, ROW, GAP = 760, 110, 520, 18, 34
COLOURS = {"short-poll": "#c0392b", "long-poll": "#e67e22", "sse": "#27ae60", "websocket": "#2980b9",
           "webhook": "#8e44ad", "chunked": "#16a085"}


def panels(rows) -> list[tuple[str, list[tuple[str, float | None]]]]:
    biggest = max((n for row in rows for n in row.scale), default=None)
    found = [
        ("latency p50, event to client (ms)", [(r.method, r.p50_ms) for r in rows]),
        ("latency p99, event to client (ms)", [(r.method, r.p99_ms) for r in rows]),
        ("bytes on the wire per event (both ways, at the socket)",
         [(r.method, r.bytes_per_event) for r in rows]),
        ("requests per minute by one idle client", [(r.method, r.idle_rpm) for r in rows]),
    ]
    if biggest:
        found.append((f"server memory per connected client at {biggest:,} clients (KiB RSS)",
                      [(r.method, r.scale[biggest]["rss_kib"]) for r in rows]))
    return found


def svg(rows, made: str) -> str:
    parts, y = [], 28
    parts.append('<text x="10" y="18" font-size="15" font-weight="bold">One price feed, six deliveries: '
                 'what each costs</text>')
    for title, values in panels(rows):
        top = max((v for _, v in values if v is not None), default=0) or 1
        parts.append(f'<text x="10" y="{y + 14}" font-size="12" font-weight="bold">{escape(title)}</text>')
        y += 20
        for name, value in values:
            width = 0 if value is None else max(1.0, BAR * value / top)
            text = "-" if value is None else f"{value:,.1f}"
            parts.append(f'<text x="{LABEL - 6}" y="{y + 12}" font-size="11" text-anchor="end">{name}</text>')
            parts.append(f'<rect x="{LABEL}" y="{y + 2}" width="{width:.1f}" height="{ROW - 5}" '
                         f'fill="{COLOURS.get(name, "#555")}"/>')
            parts.append(f'<text x="{LABEL + width + 4:.1f}" y="{y + 12}" font-size="11">{text}</text>')
            y += ROW
        y += GAP - 20
    y += 10
    parts.append(f'<text x="10" y="{y}" font-size="10" fill="#555">made {escape(made)}</text>')
    parts.append(f'<text x="10" y="{y + 14}" font-size="10" fill="#555">by python -m learn_choose.lab '
                 '(make choose-lab); choose/docs/lab.md has every figure</text>')
    height = y + 24
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n")
