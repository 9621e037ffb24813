"""proxy benchmark: requests/s and p99 through our proxy, through nginx, and direct, same run.

    make bench-proxy          (or: python bench/bench_proxy.py [--duration S] [--connections N])

The two backends (``learn_proxy.main_site``, ``learn_proxy.static_server``)
start once, quiet; in front of them our proxy (``learn_proxy.server -q``) and
nginx with ``learn_proxy/nginx/proxy.conf.template`` (the anchor,
bench/README.md: >= 0.5x nginx).  The load client is ``wrk`` (Debian), one
thread, N connections, ``--latency`` for the p99; "keep-alive off" sends
``Connection: close`` so wrk opens a connection per request.

Two paths: ``/`` (the FastAPI main site, passed through as is) and
``/blog/posts/hello-proxy/`` (a static page whose HTML both proxies rewrite).
Direct means the backend itself, without a proxy: the ceiling of the two.
Targets run one after another, keep-alive on then off, so the machine's drift
touches all of them alike.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

from learn_proxy.nginx_ref import render
from wirelab_common.bench_report import report
from wirelab_common.processes import ManagedProcess, start_process, start_server

PY = sys.executable
PATHS = [
    ("main /", "/", "/"),
    ("blog page (HTML rewritten)", "/blog/posts/hello-proxy/", "/posts/hello-proxy/"),
]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(
    wrk_path: str, url: str, duration: int, connections: int, keep_alive: bool
) -> tuple[float, float, int]:
    """(requests/s, p99 in ms, non-2xx/3xx count) from one wrk run."""
    argv = [wrk_path, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if not keep_alive:
        argv[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, float(value) * UNITS[unit], int(bad.group(1)) if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    args = parser.parse_args()
    wrk_path, nginx_path = (
        shutil.which("wrk"),
        shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin"),
    )
    if not wrk_path or not nginx_path:
        sys.exit("error: needs wrk and nginx (Debian: apt-get install wrk nginx-light, or make system-deps)")
    started: list[ManagedProcess] = []
    setup = None
    try:
        main_site = start_server(
            [PY, "-m", "learn_proxy.main_site", "--port", "0", "-q"], name="main", timeout=30
        )
        started.append(main_site)
        blog = start_server(
            [PY, "-m", "learn_proxy.static_server", "--port", "0", "-q"], name="blog", timeout=30
        )
        started.append(blog)
        routes = [
            "--route",
            f"/=main@127.0.0.1:{main_site.port}",
            "--route",
            f"/blog=blog@127.0.0.1:{blog.port}",
            "--seo",
            "/blog=http://blog.wirelab.test",
        ]
        ours = start_server(
            [PY, "-m", "learn_proxy.server", "--port", "0", "-q", *routes], name="proxy", timeout=30
        )
        started.append(ours)
        setup = render(("127.0.0.1", main_site.port), ("127.0.0.1", blog.port), nginx=nginx_path)
        started.append(start_process(setup.argv, name="nginx", ready_port=setup.port))
        print(
            f"# wrk -t1 -c{args.connections} -d{args.duration}s --latency;"
            " keep-alive off: -H 'Connection: close'"
        )
        print(f"{'path':28} {'keep-alive':10} {'target':7} {'req/s':>9} {'p99 ms':>8} {'vs nginx':>9}")
        for label, public, upstream_path in PATHS:
            direct = (main_site.url if public == "/" else blog.url) + upstream_path
            for keep_alive in (True, False):
                results = {}
                for target, url in (
                    ("direct", direct),
                    ("nginx", setup.url(public)),
                    ("ours", ours.url + public),
                ):
                    results[target] = wrk(wrk_path, url, args.duration, args.connections, keep_alive)
                for target, (rate, p99, bad) in results.items():
                    ratio = rate / results["nginx"][0] if results["nginx"][0] else 0.0
                    note = f"  ({bad} non-2xx/3xx!)" if bad else ""
                    print(
                        f"{label:28} {'on' if keep_alive else 'off':10} {target:7} {rate:9.0f} {p99:8.1f} "
                        f"{ratio:8.2f}x{note}",
                        flush=True,
                    )
                nginx_rate = results["nginx"][0]
                report("proxy", f"{label}, keep-alive {'on' if keep_alive else 'off'}",
                       results["ours"][0] / nginx_rate if nginx_rate else 0.0, 0.5, anchor="nginx, wrk")
    finally:
        for proc in reversed(started):
            proc.stop()
        if setup is not None:
            setup.remove()


if __name__ == "__main__":
    main()
