"""``dig +trace`` in the wirelab trace format: one resolution, every step printed.

Reading order: after ``upstream.py``; it is the resolver's loop with an
empty cache and this process as the client, so nothing is hidden by caching::

    python -m learn_dns.recursive.trace_dig www.example.com A --url udp://127.53.0.1:P [-v | -q]
    = trace    resolving www.example.com A from the root hints 127.53.0.1, port P
    > trace    127.53.0.1   www.example.com. A (zone ., id 4711, udp from port 40213)
    < trace    127.53.0.1   NOERROR ns=[com. NS] ar=[a.gtld-servers.net. A] (udp)
    = trace    referral to com. (1 NS, 1 with glue)
    > trace    127.53.0.2   www.example.com. A (zone com., ...)
    ...
    = trace    answer: www.example.com. 5 IN A 192.0.2.10

``>`` a query sent, ``<`` what came back (``-v``: the whole response), ``=`` what
the resolver concluded.  Exit status 1 if the name could not be resolved (SERVFAIL).

Like ``dig +trace`` it starts at the root hints and follows each referral
itself (RFC 1034 §5.3.3); unlike ``dig +trace`` it does not first ask a local
resolver for the root's NS set ("priming", RFC 8109): the hints are addresses.
(Not named ``trace.py``: that is a standard-library module.)
"""

from __future__ import annotations

import argparse
import time
from urllib.parse import urlsplit

import dns.name
import dns.rcode
import dns.rdatatype

from wirelab_common.errors import CheckFailed, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace

from .cache import Cache
from .resolver import Finished
from .upstream import Recursor


async def trace_resolution(name: str, rdtype: str, port: int, root_hints: list[str], trace: Trace,
                           local_address: str = "127.0.0.1") -> Finished:
    """Resolve ``name`` from the root with a fresh cache, printing every step on ``trace``."""
    recursor = Recursor(Cache(time.monotonic), root_hints, port, local_address=local_address, trace=trace)
    trace.state(f"resolving {name} {rdtype} from the root hints {', '.join(root_hints)}, port {port}")
    result = await recursor.resolve(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
    for rrset in result.answer:
        for line in rrset.to_text().splitlines():
            trace.state(f"answer: {line}")
    for rrset in result.authority:
        trace.state(f"authority: {rrset.to_text()}")
    trace.state(f"{dns.rcode.to_text(result.rcode)} after {recursor.upstream_queries} queries")
    return result


def root_url(text: str) -> tuple[str, int]:
    """``udp://ADDRESS:PORT`` of a root server: (its address, the run-wide port)."""
    url = urlsplit(text)
    if url.scheme != "udp" or not url.hostname or not url.port:
        raise argparse.ArgumentTypeError(f"expected udp://ADDRESS:PORT, got {text!r}")
    return url.hostname, url.port


def main() -> None:
    parser = argparse.ArgumentParser(description="iterative resolution from the root, step by step")
    parser.add_argument("name", help="the name to resolve, as dig takes it")
    parser.add_argument("type", nargs="?", default="A")
    parser.add_argument("--url", type=root_url, default=("127.53.0.1", 5300), metavar="URL",
                        help="the root server to start at; its port is every server's port "
                             "(default udp://127.53.0.1:5300)")
    add_verbosity(parser)
    args = parser.parse_args()
    trace = Trace("trace", verbose=args.verbose, quiet=args.quiet)
    root, port = args.url

    async def run() -> None:
        result = await trace_resolution(args.name, args.type, port, [root], trace)
        if result.rcode == dns.rcode.SERVFAIL:
            raise CheckFailed(f"could not resolve {args.name}: {result.reason}")

    run_main(run)


if __name__ == "__main__":
    main()
