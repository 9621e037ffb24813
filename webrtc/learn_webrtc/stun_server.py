"""A STUN Binding server: tells each client the address its datagram came from (RFC 8489 §6.3).

Reading order: stun -> stun_attributes -> **stun_server** -> stun_client -> netns -> nat_relay
-> nat_peer -> nat_lab.

This is all a WebRTC peer needs from STUN to learn its *server-reflexive*
address: the public IP and port its NAT gave it.  :func:`answer` is the whole
protocol, pure (a datagram and its source in, the datagram to send back out);
:class:`StunServerProtocol` is the thin asyncio driver around it.

What it answers (§6.3, §6.3.1):

- a Binding request -> success response with XOR-MAPPED-ADDRESS, SOFTWARE,
  FINGERPRINT;
- a request with an unknown comprehension-required attribute -> 420 with
  UNKNOWN-ATTRIBUTES (§14);
- a request that is STUN (cookie in place) but malformed, or of another
  method -> 400 Bad Request with the reason;
- a response or indication (a Binding indication is a keepalive) -> nothing;
- anything that is not STUN at all -> nothing: never answer a stranger's
  garbage, or the server becomes a reflector for spoofed traffic.

Run it (one trace line per datagram; ``-v`` adds its bytes, ``-q`` shows only
the ready line, ``= stun     listening on udp://127.0.0.1:3478``)::

    python -m learn_webrtc.stun_server --host 127.0.0.1 --port 3478 -v
    turnutils_stunclient -p 3478 127.0.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from wirelab_common.errors import SetupError
from wirelab_common.event_loop import run_server
from wirelab_common.server_cli import add_server_options, announce
from wirelab_common.wiretrace import Trace, hexdump

from .stun import Message, MessageClass, Method, decode, encode, looks_like_stun, parse_header
from .stun_attributes import REASONS, ErrorCode, Software, StunError, UnknownAttributes, XorMappedAddress

SOFTWARE = "wirelab learn_webrtc stun_server"


def software_of(request: Message | None) -> str | None:
    """The client as it names itself, for the structured events: the first word of its
    SOFTWARE attribute (RFC 8489 §14.14), if it sent one (aioice and our client do not)."""
    software = request.get(Software) if request is not None else None
    words = software.text.split() if isinstance(software, Software) else []
    return words[0] if words else None


@dataclass
class Answer:
    """What :func:`answer` made of one datagram: the request, the reply (if any), and why."""

    request: Message | None
    response: Message | None
    data: bytes | None  # the datagram to send back, or None to stay silent
    why: str  # a few words for the trace


def _error(method: int, transaction_id: bytes, code: int, detail: str, extra: Sequence = ()) -> Message:
    reason = f"{REASONS.get(code, 'Error')}: {detail}"[:120]
    attributes = [ErrorCode(code, reason), *extra, Software(SOFTWARE)]
    return Message(method, MessageClass.ERROR_RESPONSE, transaction_id, attributes)


def answer(datagram: bytes, source: tuple[str, int], software: str = SOFTWARE) -> Answer:
    """The server's whole decision for one datagram from ``source`` (host, port)."""
    if not looks_like_stun(datagram):
        return Answer(None, None, None, "dropped: not STUN")
    try:
        request = decode(datagram)
    except StunError as exc:
        method, message_class, _, transaction_id = parse_header(datagram)  # looks_like_stun: cannot fail
        if message_class != MessageClass.REQUEST:
            return Answer(None, None, None, f"dropped: malformed {message_class.name.lower()} ({exc})")
        response = _error(method, transaction_id, 400, str(exc))
    else:
        if request.message_class != MessageClass.REQUEST:
            kind = request.message_class.name.lower().replace("_", " ")
            return Answer(request, None, None, f"dropped: a {kind} needs no answer")
        unknown = request.unknown_required()
        if request.method != Method.BINDING:
            response = _error(request.method, request.transaction_id, 400,
                              f"method 0x{request.method:03x} is not served here")
        elif unknown:
            names = ", ".join(f"0x{t:04X}" for t in unknown)
            response = _error(request.method, request.transaction_id, 420, names,
                              [UnknownAttributes(tuple(unknown))])
        else:
            # §14.2: the address the request came *from*, as seen after every NAT on the way.
            attributes = [XorMappedAddress(source[0], source[1]), Software(software)]
            response = Message(Method.BINDING, MessageClass.SUCCESS_RESPONSE, request.transaction_id,
                               attributes)
        return Answer(request, response, encode(response, fingerprint=True), "answered")
    return Answer(None, response, encode(response, fingerprint=True), "answered with an error")


def describe_response(response: Message) -> str:
    """``Binding success response ... 203.0.113.1:40000`` or ``... 400 Bad Request: ...``."""
    mapped = response.get(XorMappedAddress)
    error = response.get(ErrorCode)
    if mapped is not None:
        return f"{response.summary()}  mapped={mapped.address}:{mapped.port}"
    if error is not None:
        return f"{response.summary()}  {error.code} {error.reason}"
    return response.summary()


class StunServerProtocol(asyncio.DatagramProtocol):
    """The asyncio driver: every datagram goes through :func:`answer`; nothing can crash it."""

    def __init__(self, trace: Trace | None = None) -> None:
        self.trace = trace
        self.transport: asyncio.DatagramTransport | None = None
        self.answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        source = (addr[0], addr[1])
        try:
            result = answer(data, source)
        except Exception as exc:  # a bug in the codec must cost one datagram, not the server
            result = Answer(None, None, None, f"dropped: internal error {exc!r}")
        trace = self.trace
        if trace:
            what = result.request.summary() if result.request else f"{len(data)} bytes"
            tid = result.request.transaction_id.hex() if result.request else None
            trace.received(f"{what} from {source[0]}:{source[1]}  [{result.why}]", [hexdump(data, 48)],
                           peer=software_of(result.request), cid=tid)
        if result.data is None:
            return
        self.transport.sendto(result.data, addr)
        self.answered += 1
        if trace:
            response = decode(result.data)
            trace.sent(f"{describe_response(response)} to {source[0]}:{source[1]}",
                       [hexdump(result.data, 48)], peer=software_of(result.request),
                       cid=response.transaction_id.hex())

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable from a client that went away) arrive here.
        if self.trace:
            self.trace.state(f"socket error ignored: {exc}")


async def serve(host: str, port: int, trace: Trace, ready: asyncio.Future | None = None) -> None:
    """Serve until cancelled or SIGTERM; print the ready line once bound."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(lambda: StunServerProtocol(trace),
                                                           local_addr=(host, port))
    except OSError as exc:
        raise SetupError(f"cannot bind udp {host}:{port}: {exc.strerror}",
                         "pass another --port (0 picks a free one) or stop what uses it") from None
    bound = transport.get_extra_info("sockname")
    announce(trace, f"udp://{bound[0]}:{bound[1]}")
    if ready is not None:
        ready.set_result(bound)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        transport.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_server_options(parser, port=3478)
    args = parser.parse_args(argv)
    trace = Trace("stun", verbose=args.verbose, quiet=args.quiet)
    run_server(lambda: serve(args.host, args.port, trace), args.loop)


if __name__ == "__main__":
    main()
