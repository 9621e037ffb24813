"""The common skeleton: server options and ready line, state tables, bounded waits."""

from __future__ import annotations

import argparse
import io
import socket
import sys
import textwrap

import pytest

from wirelab_common.processes import start_server
from wirelab_common.server_cli import add_server_options, announce, parse_ready
from wirelab_common.state_table import BadTransition, Machine, StateTable
from wirelab_common.waiting import NotInTime, eventually, eventually_async
from wirelab_common.wiretrace import Trace

SERVER = textwrap.dedent('''
    import argparse, asyncio
    from wirelab_common.server_cli import add_server_options, announce
    from wirelab_common.wiretrace import Trace

    async def main():
        parser = argparse.ArgumentParser()
        add_server_options(parser, port=8123)
        args = parser.parse_args()
        trace = Trace("tiny", args.verbose, quiet=args.quiet)
        server = await asyncio.start_server(lambda r, w: w.close(), args.host, args.port)
        trace.state("a line that -q hides")
        announce(trace, f"tcp://{args.host}:{server.sockets[0].getsockname()[1]}")
        await asyncio.sleep(30)

    asyncio.run(main())
''')


@pytest.mark.parametrize("quiet", [False, True])
def test_a_server_on_port_0_says_its_port_in_the_ready_line(tmp_path, quiet):
    script = tmp_path / "tiny_server.py"
    script.write_text(SERVER)
    argv = [sys.executable, str(script), "--port", "0"] + (["-q"] if quiet else [])
    with start_server(argv, name="tiny") as proc:
        assert proc.url == f"tcp://127.0.0.1:{proc.port}" and proc.port > 0
        socket.create_connection(("127.0.0.1", proc.port), timeout=5).close()
        assert ("a line that -q hides" in proc.output()) is not quiet


def test_the_options_are_spelled_the_same_everywhere():
    parser = argparse.ArgumentParser()
    add_server_options(parser, port=8000)
    args = parser.parse_args(["--host", "127.0.0.2", "--port", "0", "--loop", "asyncio", "-v"])
    assert (args.host, args.port, args.loop) == ("127.0.0.2", 0, "asyncio")
    assert (args.verbose, args.quiet) == (True, False)
    with pytest.raises(SystemExit):
        parser.parse_args(["-v", "-q"])


def test_the_ready_line_is_printed_through_the_trace_even_when_quiet():
    out = io.StringIO()
    announce(Trace("s1", stream=out, quiet=True), "http://127.0.0.1:8000")
    assert out.getvalue() == "= s1       listening on http://127.0.0.1:8000\n"
    assert parse_ready(out.getvalue().strip()) == ("s1", "http://127.0.0.1:8000", 8000)
    assert parse_ready("= s1 listening on stdio") is None


TABLE = StateTable("door", {("closed", "open"): "opened", ("opened", "close"): "closed",
                            ("closed", "lock"): "locked", ("locked", "unlock"): "closed"})


def test_a_state_table_moves_and_names_what_it_expected():
    machine = Machine(TABLE, "closed")
    assert machine.fire("lock") == "locked"
    with pytest.raises(BadTransition) as caught:
        machine.fire("open")
    assert str(caught.value) == "door: 'open' is not allowed in state locked (expected: unlock)"
    assert machine.state == "locked"  # a refused event changes nothing
    assert (caught.value.state, caught.value.event, caught.value.expected) == ("locked", "open", ["unlock"])


def test_a_state_table_draws_itself():
    assert TABLE.describe() == [
        "closed --open-->   opened",
        "opened --close-->  closed",
        "closed --lock-->   locked",
        "locked --unlock--> closed",
    ]


def test_eventually_returns_the_value_or_says_what_it_waited_for():
    values = iter([0, 0, 7])
    assert eventually(lambda: next(values), 5, "a value", interval=0.01) == 7
    with pytest.raises(NotInTime, match=r"the door opened: not within 0.1 s \(last seen: False\)"):
        eventually(lambda: False, 0.1, "the door opened", interval=0.01)


async def test_eventually_async_awaits_coroutine_predicates():
    calls = []

    async def ready():
        calls.append(1)
        return len(calls) >= 3

    assert await eventually_async(ready, 5, "three calls", interval=0.01) is True
    with pytest.raises(NotInTime):
        await eventually_async(lambda: None, 0.05, "nothing", interval=0.01)
