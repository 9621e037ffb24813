"""A STUN Binding client: "what address does the world see me as?" (RFC 8489 §6.2.1, RFC 4787 §4.1).

Reading order: stun -> stun_attributes -> stun_server -> **stun_client** -> netns -> nat_relay
-> nat_peer -> nat_lab.

One UDP socket sends a Binding request to each server given and prints the
XOR-MAPPED-ADDRESS each one saw.  Asking two servers (two ports are enough)
*from the same socket* tells what kind of NAT is in the way (RFC 4787 §4.1):

- the same mapped address both times: **endpoint-independent mapping**; a
  peer that learns this address from us can reach us there once we have sent
  it a packet: hole punching works;
- a different port each time: **address(-and-port)-dependent mapping**, a
  "symmetric NAT": the address STUN reports is useless to anyone else, and
  only a TURN relay gets through.

UDP loses datagrams, so requests are retransmitted after RTO, 2*RTO, 4*RTO ...
(§6.2.1; the RFC's defaults are RTO 500 ms and 7 requests; ``--attempts``
makes the schedule shorter for the lab).

Run it::

    python -m learn_webrtc.stun_client --url udp://127.0.0.1:3478 --url udp://127.0.0.1:3479 -v
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Sequence

from wirelab_common.errors import CheckFailed, SetupError, run_main
from wirelab_common.server_cli import add_verbosity
from wirelab_common.wiretrace import Trace, hexdump

from .stun import Message, MessageClass, Method, decode, encode
from .stun_attributes import ErrorCode, StunError, XorMappedAddress
from .stun_server import describe_response

STUN_ACTOR = "stun"  # the STUN server's actor name in its own trace (stun_server.py)

Address = tuple[str, int]


def retransmission_delays(rto: float, attempts: int) -> list[float]:
    """§6.2.1: how long to wait after each request before sending the next (the last: give up)."""
    return [rto * 2**n for n in range(attempts)]


class BindingClient(asyncio.DatagramProtocol):
    """One socket; each :meth:`request` is one transaction, matched by transaction id."""

    def __init__(self, trace: Trace | None = None,
                 new_transaction_id: Callable[[], bytes] = lambda: os.urandom(12)) -> None:
        self.trace = trace
        self.new_transaction_id = new_transaction_id  # injected: tests can fix it
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[bytes, asyncio.Future[Message]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            message = decode(data)
        except StunError as exc:
            if self.trace:
                self.trace.received(f"{len(data)} bytes from {addr[0]}:{addr[1]} ignored: {exc}",
                                    peer=STUN_ACTOR)
            return
        waiter = self.pending.get(message.transaction_id)
        if self.trace:
            self.trace.received(f"{describe_response(message)} from {addr[0]}:{addr[1]}", [hexdump(data, 48)],
                                peer=STUN_ACTOR, cid=message.transaction_id.hex())
        if waiter is not None and not waiter.done():
            waiter.set_result(message)

    def error_received(self, exc: Exception) -> None:
        if self.trace:
            self.trace.state(f"socket error: {exc}")

    async def request(self, server: Address, rto: float = 0.5, attempts: int = 7) -> XorMappedAddress:
        """Send a Binding request to ``server`` until it answers; return the mapped address."""
        transaction_id = self.new_transaction_id()
        request = Message(Method.BINDING, MessageClass.REQUEST, transaction_id)
        data = encode(request, fingerprint=True)
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.pending[transaction_id] = waiter
        try:
            for attempt, delay in enumerate(retransmission_delays(rto, attempts), 1):
                self.transport.sendto(data, server)
                if self.trace:
                    again = f" (attempt {attempt})" if attempt > 1 else ""
                    self.trace.sent(f"{request.summary()} to {server[0]}:{server[1]}{again}",
                                    [hexdump(data, 48)], peer=STUN_ACTOR, cid=transaction_id.hex())
                try:
                    response = await asyncio.wait_for(asyncio.shield(waiter), delay)
                    break
                except TimeoutError:
                    continue
            else:
                raise CheckFailed(f"no answer from STUN server {server[0]}:{server[1]} "
                                  f"after {attempts} requests")
        finally:
            del self.pending[transaction_id]
        mapped = response.get(XorMappedAddress)
        if response.message_class != MessageClass.SUCCESS_RESPONSE or mapped is None:
            error = response.get(ErrorCode)
            raise CheckFailed(f"STUN server {server[0]}:{server[1]} refused: "
                              f"{error.code if error else '?'} {error.reason if error else ''}")
        return mapped


def mapping_behaviour(mapped: Sequence[Address]) -> str:
    """RFC 4787 §4.1 in one word, from what several servers saw of one local socket."""
    if len(set(mapped)) == 1:
        return "endpoint-independent"
    return "address-and-port-dependent (symmetric NAT)"


async def discover(servers: Sequence[Address], bind: Address = ("0.0.0.0", 0), trace: Trace | None = None,
                   attempts: int = 7) -> tuple[Address, list[Address]]:
    """(local address, mapped address per server), all from one socket."""
    loop = asyncio.get_running_loop()
    try:
        transport, client = await loop.create_datagram_endpoint(lambda: BindingClient(trace), local_addr=bind)
    except OSError as exc:
        raise SetupError(f"cannot bind udp {bind[0]}:{bind[1]}: {exc.strerror}",
                         "pass another --bind") from None
    try:
        mapped = []
        for server in servers:
            answer = await client.request(server, attempts=attempts)
            mapped.append((answer.address, answer.port))
        return transport.get_extra_info("sockname")[:2], mapped
    finally:
        transport.close()


def parse_address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def url_parser(scheme: str) -> Callable[[str], Address]:
    """An argparse type for ``SCHEME://HOST:PORT`` (a server's ready line names it so)."""

    def parse(text: str) -> Address:
        if not text.startswith(f"{scheme}://"):
            raise argparse.ArgumentTypeError(f"{text!r} is not {scheme}://HOST:PORT")
        return parse_address(text[len(scheme) + 3:])

    return parse


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", dest="servers", action="append", required=True, type=url_parser("udp"),
                        metavar="udp://HOST:PORT", help="a STUN server (repeat: two tell the NAT's mapping)")
    parser.add_argument("--bind", type=parse_address, default=("0.0.0.0", 0), metavar="HOST:PORT")
    parser.add_argument("--attempts", type=int, default=7, help="requests per server before giving up")
    add_verbosity(parser)
    args = parser.parse_args(argv)
    trace = Trace("client", verbose=args.verbose, quiet=args.quiet)

    async def run() -> None:
        local, mapped = await discover(args.servers, args.bind, trace, args.attempts)
        for server, address in zip(args.servers, mapped, strict=True):
            trace.state(f"local {local[0]}:{local[1]} is seen by {server[0]}:{server[1]} "
                        f"as {address[0]}:{address[1]}")
        if len(mapped) > 1:
            trace.state(f"mapping: {mapping_behaviour(mapped)}")

    run_main(run)


if __name__ == "__main__":
    main()
