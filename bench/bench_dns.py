"""dns benchmark: authoritative queries/s (dnsperf), ours beside unbound, dnsmasq and naive dnspython.

    python bench/bench_dns.py [--seconds 3] [--rounds 3] [--quick]

Every server answers the same records of example.com from the same query file
(``www A``, ``www AAAA``, ``mail A``, ``@ MX``, ``_validation-persist TXT``),
all running at once, measured in interleaved rounds by the same ``dnsperf``
(one client, up to 100 queries outstanding, UDP, no EDNS):

- **ours**: ``python -m learn_dns.authoritative`` as it runs by default, on
  uvloop (``--loop auto``; the rows name the loop with ``--loop uvloop`` so a
  missing uvloop fails loudly): dnsperf repeats
  the same five packets (but the ID), so every query after the first is a
  level-1 hit of ``wire_cache.py``: a dict lookup and a concatenation.  Three
  more rows price the parts: asyncio's own event loop (``--loop asyncio``);
  the question-key cache alone (``--cache question``: shape check, key,
  patch); the plain path, the lesson without ``wire_cache.py`` (``--cache
  off``: our codec decodes, ``answers.py`` looks up, our codec encodes, every
  time); every row with ``-q``, since a trace line per query would measure
  the terminal, not the server;
- **unbound** (``local-zone static`` + ``local-data``), the anchor of
  bench/README.md; **dnsmasq** (``--host-record`` etc.), another C server;
- **naive dnspython** (``bench_dns_naive.py``): decode, build, encode per query.

A second, in-process table compares the codecs alone: decode and encode of
one response, ours and dnspython's.

Targets (bench/README.md): the default (wire-cache) path >= 1.0x unbound, the plain
lesson path (``--cache off``) >= 0.25x unbound.
dnsperf must see 100% NOERROR for a row to count.  The machine is shared:
figures move 30-40% between runs; the ratios within one run are what matter.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_dns_peers import dnsperf, write_unbound_config

import learn_dns
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, start_process, start_server

HERE = Path(__file__).resolve().parent
ZONE = Path(learn_dns.__file__).parent / "zones" / "example.com.zone"
QUERIES = [
    "www.example.com A", "www.example.com AAAA", "mail.example.com A", "example.com MX",
    "_validation-persist.example.com TXT",
]
TXT = "letsencrypt.org; accounturi=https://acme.example/acct/123"
RECORDS = [  # what unbound and dnsmasq serve: the same data as the zone file
    "www.example.com. 5 IN A 192.0.2.10", "www.example.com. 5 IN AAAA 2001:db8::10",
    "mail.example.com. 5 IN A 192.0.2.25", "example.com. 5 IN MX 10 mail.example.com.",
    f'_validation-persist.example.com. 5 IN TXT "{TXT}"',
]


def unbound_body() -> str:
    # single quotes: the TXT record has double quotes of its own
    local_data = "\n".join(f"    local-data: '{record}'" for record in RECORDS)
    return f'    local-zone: "example.com." static\n{local_data}\n'


OURS = {  # row -> extra arguments of learn_dns.authoritative (all with -q: no trace line per query)
    "ours (default: uvloop)": ["--loop", "uvloop"],
    "ours, --loop asyncio": ["--loop", "asyncio"],
    "ours, uvloop, question-key cache only": ["--loop", "uvloop", "--cache", "question"],
    "ours, uvloop, plain path (--cache off)": ["--loop", "uvloop", "--cache", "off"],
}
DEFAULT = "ours (default: uvloop)"
PEERS = ["unbound", "dnsmasq", "naive dnspython"]


def start(kind: str, workdir: Path) -> ManagedProcess:
    """Start one server; its port is ``.port`` (ours: from the ready line of ``--port 0``)."""
    py = sys.executable
    if kind in OURS:
        argv = [py, "-m", "learn_dns.authoritative", "--port", "0", "-q", "--zone", str(ZONE), *OURS[kind]]
        return start_server(argv, name=kind)
    port = free_port()  # third-party servers cannot name the port they got
    proc = start_peer(kind, port, workdir)
    proc.port = port
    return proc


def start_peer(kind: str, port: int, workdir: Path) -> ManagedProcess:
    py = sys.executable
    if kind == "unbound":
        conf = write_unbound_config(workdir / "unbound.conf", "127.0.0.1", port, unbound_body())
        return start_process(["unbound", "-d", "-c", str(conf)], name=kind, ready_port=port)
    if kind == "dnsmasq":
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", f"--port={port}",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                "--pid-file=", "--user=root", "--local=/example.com/",
                "--host-record=www.example.com,192.0.2.10,2001:db8::10",
                "--host-record=mail.example.com,192.0.2.25", "--mx-host=example.com,mail.example.com,10",
                f"--txt-record=_validation-persist.example.com,{TXT}"]
        return start_process(argv, name=kind, ready_port=port)
    argv = [py, str(HERE / "bench_dns_naive.py"), str(port), str(ZONE)]
    return start_process(argv, name=kind, ready_line="ready on")


def codec_table(count: int) -> None:
    """In-process: decode and encode one referral-sized response, ours vs dnspython."""
    import dns.message
    import dns.rrset

    from learn_dns.message import Message

    response = dns.message.make_response(dns.message.make_query("www.example.com", "A", use_edns=0))
    response.answer.append(dns.rrset.from_text("www.example.com.", 5, "IN", "A", "192.0.2.10"))
    response.authority.append(dns.rrset.from_text("example.com.", 8, "IN", "NS", "ns1.example.com.",
                                                  "ns2.example.com."))
    response.additional.append(dns.rrset.from_text("ns1.example.com.", 8, "IN", "A", "127.53.0.3"))
    wire = response.to_wire()
    ours, theirs = Message.from_wire(wire), dns.message.from_wire(wire)
    rates = {}
    for name, fn in (("decode, ours", lambda: Message.from_wire(wire)),
                     ("decode, dnspython", lambda: dns.message.from_wire(wire)),
                     ("encode, ours", ours.to_wire), ("encode, dnspython", theirs.to_wire)):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        rates[name] = count / (time.perf_counter() - start)
    print(f"\ncodec, in-process, a {len(wire)}-byte response (1 answer, 2 NS, 1 glue), {count:,} times:\n")
    print("| operation | ours /s | dnspython /s | ratio |\n|---|---:|---:|---:|")
    for op in ("decode", "encode"):
        mine, other = rates[f"{op}, ours"], rates[f"{op}, dnspython"]
        print(f"| {op} | {mine:,.0f} | {other:,.0f} | {mine / other:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="dnsperf run length per server and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each measures every server once")
    parser.add_argument("--quick", action="store_true", help="one round of 2 s")
    args = parser.parse_args()
    seconds, rounds = (2.0, 1) if args.quick else (args.seconds, args.rounds)
    kinds = [*OURS, *PEERS]
    missing = [b for b in ("dnsperf", "unbound", "dnsmasq") if shutil.which(b) is None]
    if missing:
        sys.exit(f"missing {missing}: apt-get install -y dnsperf unbound dnsmasq")
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        query_file = workdir / "queries.txt"
        query_file.write_text("\n".join(QUERIES) + "\n")
        ports = {}
        for kind in kinds:  # all up at once: idle servers cost nothing, rounds can interleave
            ports[kind] = stack.enter_context(start(kind, workdir)).port
            dnsperf("127.0.0.1", ports[kind], query_file, 0.5)  # warm-up: caches filled, code paths hot
        for round_ in range(rounds):
            order = kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]  # rotate: spread the drift
            for kind in order:
                run = dnsperf("127.0.0.1", ports[kind], query_file, seconds)
                if not run.all_noerror:
                    sys.exit(f"{kind}: dnsperf saw {run.codes}: not a valid measurement")
                samples[kind].append(run.qps)
                print(f"  round {round_ + 1}  {kind:<40} {run.qps:>10,.0f} qps   {run.codes}, "
                      f"lost {run.lost}", flush=True)
    results = {kind: statistics.median(values) for kind, values in samples.items()}
    unbound, naive = results["unbound"], results["naive dnspython"]
    print(f"\ndnsperf: 1 client, 100 queries outstanding, UDP, {len(QUERIES)}-name query file; median of "
          f"{rounds} round(s) of {seconds:g} s per server, servers interleaved")
    print("(shared 2-core machine, noisy: compare ratios within this run)\n")
    print("| server | queries/s | x unbound | x naive dnspython |\n|---|---:|---:|---:|")
    for kind in kinds:
        qps = results[kind]
        print(f"| {kind} | {qps:,.0f} | {qps / unbound:.2f} | {qps / naive:.1f} |")
    best, plain = results[DEFAULT], results.get("ours, uvloop, plain path (--cache off)")
    print(f"\ntargets (bench/README.md): default path >= 1.0x unbound: {best / unbound:.2f}x "
          f"{'MET' if best >= unbound else 'NOT MET'}", end="")
    if plain is not None:
        print(f"; plain lesson path >= 0.25x unbound: {plain / unbound:.2f}x "
              f"{'MET' if plain >= 0.25 * unbound else 'NOT MET'}", end="")
    print()
    codec_table(5_000 if args.quick else 20_000)


if __name__ == "__main__":
    main()
