"""Who is at an address: the name a server gives the other end of a message in its events.

Reading order: beside ``nameserver.py`` and ``recursive/server.py``, which use it.

A DNS message names no sender; a server knows only the packet's source address.
The structured trace events (``wirelab_common.trace_events``) want the other end
as that end names itself in its own trace, so that a viewer can draw the arrow
between the right two lifelines.  In the loopback internet (``hierarchy.py``)
every actor has its own address, and an authoritative server started without
``--name`` names itself by its address: so an address is its own name, and
``--peer-name ADDR=NAME`` (repeatable) names the rest, such as the resolver at
127.53.0.53 (``resolver``).  The text trace keeps showing addresses.
"""

from __future__ import annotations

import argparse


def parse_peer_name(text: str) -> tuple[str, str]:
    """``ADDR=NAME`` -> (address, name)."""
    address, sep, name = text.partition("=")
    if not sep or not address or not name:
        raise argparse.ArgumentTypeError(f"expected ADDR=NAME, got {text!r}")
    return address, name


def add_peer_names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--peer-name", action="append", default=[], type=parse_peer_name, metavar="ADDR=NAME",
                        help="the actor name of whoever sends from ADDR, in the structured events "
                             "(repeatable; default: the address itself)")


class PeerNames(dict[str, str]):
    """address -> actor name; an address nobody named is its own name."""

    def __call__(self, address: str) -> str:
        return self.get(address, address)
