"""tunnel benchmark: requests/s and latency through the tunnel vs direct to the app, and one large body.

    make bench-tunnel          (or: python bench/bench_tunnel.py [--duration S] [--connections N])

Starts the local app (``learn_tunnel.app``), the relay and one agent, all quiet.
The load client is ``wrk`` (Debian), one thread, N keep-alive connections,
``--latency``; it asks for ``/headers`` directly from the app (the anchor, the
ceiling) and through the relay with ``Host: bench.localhost``.  The large body
is ``/download?size=100000000`` fetched by curl, direct and through the
tunnel.  Targets (bench/README.md): >= 0.5x direct requests/s; the added p50
latency is reported.  Direct and tunnel runs alternate, twice, so the
machine's drift touches both alike.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

from wirelab_common.bench_report import report
from wirelab_common.processes import start_process, start_server

PY = sys.executable
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
BODY = 100_000_000


def wrk(url: str, duration: int, connections: int, host: str | None) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx count) from one wrk run."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if host:
        argv[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = [float(v) * UNITS[u] for v, u in re.findall(r"50%\s+([\d.]+)(us|ms|s)", out)][0]
    p99 = [float(v) * UNITS[u] for v, u in re.findall(r"99%\s+([\d.]+)(us|ms|s)", out)][0]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, p50, p99, int(bad.group(1)) if bad else 0


def download(url: str, host: str | None) -> float:
    """MB/s of one large body fetched by curl."""
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url]
    if host:
        argv[1:1] = ["-H", f"Host: {host}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True)
    size, seconds = result.stdout.split()
    assert int(size) == BODY, f"short body: {size} B"
    return int(size) / float(seconds) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("curl"):
        sys.exit("error: needs wrk and curl (Debian: apt-get install wrk curl, or make system-deps)")
    app = start_server([PY, "-m", "learn_tunnel.app", "--port", "0", "-q"], name="app")
    relay = start_server([PY, "-m", "learn_tunnel.relay", "--port", "0", "--agent-port", "0", "-q",
                          "--token", "bench"], name="relay")
    agent_port = relay.wait_line(r"agents connect to ws://127\.0\.0\.1:(\d+)/", 0).group(1)
    agent = start_process([PY, "-m", "learn_tunnel.agent", "--relay", f"ws://127.0.0.1:{agent_port}",
                           "--name", "bench", "--to", app.url, "--token", "bench", "-q"], name="agent",
                          ready_line="registered as")
    host = f"bench.localhost:{relay.port}"
    targets = {"direct": (f"{app.url}/headers", None),
               "tunnel": (f"http://127.0.0.1:{relay.port}/headers", host)}
    try:
        print(f"# wrk -t1 -c{args.connections} -d{args.duration}s --latency /headers; "
              f"curl of a {BODY // 1_000_000} MB body; two rounds")
        best: dict[str, tuple[float, float, float, int]] = {}
        for _ in range(2):
            for name, (url, hdr) in targets.items():
                result = wrk(url, args.duration, args.connections, hdr)
                if name not in best or result[0] > best[name][0]:
                    best[name] = result
        for name, (rate, p50, p99, bad) in best.items():
            print(f"{name:8} {rate:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  non-2xx {bad}")
        ratio = best["tunnel"][0] / best["direct"][0]
        verdict = "met" if ratio >= 0.5 else "MISSED"
        print(f"through the tunnel: {ratio:.2f}x direct requests/s (target >= 0.5x: {verdict}); "
              f"added p50 {best['tunnel'][1] - best['direct'][1]:.2f} ms")
        report("tunnel", "requests/s through the tunnel", ratio, 0.5, anchor="direct to the app, wrk")
        direct_mb = download(f"{app.url}/download?size={BODY}", None)
        tunnel_mb = download(f"http://127.0.0.1:{relay.port}/download?size={BODY}", host)
        print(f"one {BODY // 1_000_000} MB body: direct {direct_mb:.1f} MB/s, tunnel {tunnel_mb:.1f} MB/s "
              f"({tunnel_mb / direct_mb:.2f}x)")
    finally:
        for proc in (agent, relay, app):
            proc.stop()


if __name__ == "__main__":
    main()
