"""A small DNS internet on loopback: root, TLD, two providers, and our resolver, as processes.

Reading order: after the resolver modules; ``demo.py``, ``propagation.py`` and the
integration tests start everything through :class:`Hierarchy`.

    address       name                 serves
    127.53.0.1    a.root-servers.net   .
    127.53.0.2    a.gtld-servers.net   com. and net.
    127.53.0.3    ns1.example.com      example.com. (primary; NOTIFYs the secondary)
    127.53.0.4    ns2.example.com      example.com. (secondary: AXFR from .3)
    127.53.0.5    ns1.newdns.net       newdns.net. and the new provider's copy of example.com.
    127.53.0.53   the resolver         recursion for 127.0.0.0/8
    127.53.0.54   a second resolver    the demo's rate-limiting act only (:meth:`Hierarchy.add_resolver`)
    127.53.0.99   the demo's dig +trace  a client that asks the authoritative servers itself (act 2)

Every server of one run listens on the same free port P, each on its own
address: Linux answers on all of 127.0.0.0/8 without configuration, and a
referral carries addresses only, so the port has to be one run-wide setting
(the real internet uses 53 everywhere).  Zone files are copied to a temporary
directory so the propagation scenarios can edit them; :meth:`Hierarchy.edit_zone`
changes a copy, bumps the SOA serial and sends SIGHUP, which is how an operator
publishes a change.  The demo's switches use two more knobs: ``zone_edits``
(a change made to a zone file's copy before the servers start) and
``notify=False`` (the primary is started without ``--notify``).

Every server and resolver is told who sends from which address (``--peer-name``,
``peers.py``): the resolvers, and the ``clients`` a caller names (the demo names
itself at 127.0.0.1 and its dig +trace at 127.53.0.99), so that each end of a
message names the other in the structured events as that one names itself.
"""

from __future__ import annotations

import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from wirelab_common.errors import SetupError
from wirelab_common.ports import free_port
from wirelab_common.processes import ManagedProcess, ProcessNotReady
from wirelab_common.server_cli import READY_LINE

RESOLVER_ADDRESS = "127.53.0.53"
RRL_RESOLVER_ADDRESS = "127.53.0.54"
TRACE_ADDRESS = "127.53.0.99"
ROOT_ADDRESS = "127.53.0.1"


@dataclass(frozen=True)
class Server:
    name: str
    address: str
    zones: list[str]
    extra: list[str] = field(default_factory=list)


SERVERS = [
    Server("root", "127.53.0.1", ["root.zone"]),
    Server("gtld", "127.53.0.2", ["com.zone", "net.zone"]),
    Server("ns1.example", "127.53.0.3", ["example.com.zone"], ["--notify", "127.53.0.4"]),
    Server("newdns", "127.53.0.5", ["newdns.net.zone", "example.com.newdns.zone"]),
    # Started last: it copies example.com from ns1 by AXFR as soon as it runs.
    Server("ns2.example", "127.53.0.4", [], ["--secondary", "example.com.=127.53.0.3"]),
]

_SERIAL = re.compile(r"(\bSOA\s+\S+\s+\S+\s*\(?\s*)(\d+)")


def bump_serial(text: str) -> tuple[str, int]:
    """The zone text with its SOA serial plus one (RFC 1982 arithmetic ignored: we never wrap)."""
    match = _SERIAL.search(text)
    if match is None:
        raise ValueError("no SOA serial found in the zone text")
    serial = int(match.group(2)) + 1
    return text[:match.start(2)] + str(serial) + text[match.end(2):], serial


class Hierarchy:
    """Starts the servers (and the resolver) on one free port; stops them by PID."""

    def __init__(self, port: int | None = None, verbose: bool = False, echo: bool = False,
                 resolver_args: list[str] | None = None, with_resolver: bool = True,
                 authoritative: list[str] | None = None, notify: bool = True,
                 zone_edits: dict[str, Callable[[str], str]] | None = None,
                 clients: dict[str, str] | None = None) -> None:
        self.port = port or free_port("127.0.0.1")
        self.verbose = verbose
        self.echo = echo
        self.resolver_args = resolver_args or []
        self.with_resolver = with_resolver
        # The command of an authoritative server (a test may swap in a stand-in).
        self.authoritative = authoritative or [sys.executable, "-m", "learn_dns.authoritative"]
        self.stand_in = authoritative is not None  # a stand-in may not take our --peer-name
        self.clients = dict(clients or {})  # client address -> its actor name (--peer-name)
        self.notify = notify          # False: the primary never NOTIFYs (a demo switch)
        self.zone_edits = zone_edits or {}  # zone file -> change made to the copy before start
        self.zone_dir = Path(tempfile.mkdtemp(prefix="wirelab-dns-"))
        self.procs: dict[str, ManagedProcess] = {}

    # -- starting and stopping -------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Hierarchy:
        source = resources.files("learn_dns") / "zones"
        for entry in source.iterdir():
            if entry.name.endswith(".zone"):
                change = self.zone_edits.get(entry.name, lambda text: text)
                (self.zone_dir / entry.name).write_text(change(entry.read_text()))
        try:
            first = [s for s in SERVERS if "--secondary" not in s.extra]
            for server in first:
                self._spawn_server(server)
            self._wait_ready([s.name for s in first], timeout)
            later = [s for s in SERVERS if "--secondary" in s.extra]
            for server in later:
                self._spawn_server(server)
            if self.with_resolver:
                self._spawn(self.resolver_name, self.resolver_argv())
            self._wait_ready([s.name for s in later] + ([self.resolver_name] if self.with_resolver else []),
                             timeout)
        except ProcessNotReady as exc:
            self.stop_all()
            raise SetupError(str(exc), "is another run using 127.53.0.x on this port? "
                             "Loopback 127.0.0.0/8 must be routable (it is by default on Linux).") from None
        except BaseException:
            self.stop_all()  # never leave half a hierarchy running
            raise
        return self

    resolver_name = "resolver"

    def resolver_argv(self, address: str = RESOLVER_ADDRESS, extra: list[str] | None = None) -> list[str]:
        argv = [sys.executable, "-m", "learn_dns.recursive.server", "--host", address,
                "--port", str(self.port), "--root-hints", ROOT_ADDRESS, "--timeout", "1.5",
                "--max-stale", "72", "--stale-ttl", "1", *self.peer_names(self.clients)]
        return argv + (["-v"] if self.verbose else []) + (self.resolver_args if extra is None else extra)

    def add_resolver(self, name: str, address: str, args: list[str], timeout: float = 20.0) -> ManagedProcess:
        """One more resolver on this run's port, with its own ``args``; stopped with the rest."""
        self._spawn(name, self.resolver_argv(address, args))
        self._wait_ready([name], timeout)
        return self.procs[name]

    def _spawn_server(self, server: Server) -> None:
        argv = [*self.authoritative, "--port", str(self.port), "--host", server.address]
        if not self.stand_in:  # the resolvers ask the authoritative servers, and so may clients
            names = {RESOLVER_ADDRESS: "resolver", RRL_RESOLVER_ADDRESS: "resolver"}  # their trace actor
            argv += self.peer_names({**names, **self.clients})
        for zone in server.zones:
            argv += ["--zone", str(self.zone_dir / zone)]
        extra = server.extra if self.notify or "--notify" not in server.extra else []
        self._spawn(server.name, argv + extra)

    @staticmethod
    def peer_names(names: dict[str, str]) -> list[str]:
        return [arg for address, name in names.items() for arg in ("--peer-name", f"{address}={name}")]

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.procs[name] = ManagedProcess(argv, name, None, None, self.echo)

    def _wait_ready(self, names: list[str], timeout: float) -> None:
        for name in names:
            self.procs[name].wait_line(READY_LINE.pattern, timeout)

    def stop(self, name: str) -> None:
        """Stop one server (SIGTERM, by PID): a provider going down."""
        self.procs[name].stop()

    def restart_resolver(self, timeout: float = 20.0) -> ManagedProcess:
        """A fresh resolver with an empty cache (for a scenario that needs one)."""
        self.procs[self.resolver_name].stop()
        self._spawn(self.resolver_name, self.resolver_argv())
        self._wait_ready([self.resolver_name], timeout)
        return self.procs[self.resolver_name]

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        shutil.rmtree(self.zone_dir, ignore_errors=True)

    def __enter__(self) -> Hierarchy:
        return self if self.procs else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    # -- publishing changes ---------------------------------------------------------------------

    @property
    def resolver(self) -> ManagedProcess:
        return self.procs[self.resolver_name]

    def edit_zone(self, zone_file: str, server: str, change: Callable[[str], str]) -> int:
        """Edit the run's copy of ``zone_file``, bump its serial, SIGHUP ``server``; return the serial."""
        path = self.zone_dir / zone_file
        text, serial = bump_serial(change(path.read_text()))
        path.write_text(text)
        self.procs[server].signal(signal.SIGHUP)
        return serial
