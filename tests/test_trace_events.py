"""Structured trace events: the same calls that print the trace write JSON Lines when asked."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from wirelab_common.processes import start_server
from wirelab_common.trace_events import ENV, read_events

pytestmark = pytest.mark.loopback

PROGRAM = textwrap.dedent('''
    import argparse
    from wirelab_common.server_cli import add_verbosity
    from wirelab_common.wiretrace import Trace

    parser = argparse.ArgumentParser()
    add_verbosity(parser)
    args = parser.parse_args()
    trace = Trace("alice", args.verbose, quiet=args.quiet, protocol="websocket")
    trace.sent("TEXT 'hi'", ["81 82 ab cd"], peer="s1", cid="m1")
    trace.received("TEXT 'hello'", peer="s1")
    trace.state("OPEN -> CLOSING")
    trace.banner("Act 2")
''')


def run(tmp_path, *args, env=None):
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=30,
                          env=env)


@pytest.mark.parametrize("quiet", [False, True])
def test_trace_file_gets_every_line_as_an_event_quiet_or_not(tmp_path, quiet):
    events_file = tmp_path / "events.jsonl"
    result = run(tmp_path, "--trace-file", str(events_file), *(["-q"] if quiet else []))
    assert result.returncode == 0, result.stderr
    assert (result.stdout == "") is quiet  # the terminal text follows -q; the events do not
    events = read_events(str(events_file))
    assert [(e["direction"], e["summary"]) for e in events] == [
        ("sent", "TEXT 'hi'"), ("received", "TEXT 'hello'"), ("state", "OPEN -> CLOSING"), ("note", "Act 2")]
    first = events[0]
    assert (first["actor"], first["peer"], first["cid"]) == ("alice", "s1", "m1")
    assert first["protocol"] == "websocket"
    assert first["detail"] == ["81 82 ab cd"]  # the detail is in the event even without -v
    assert "81 82" not in result.stdout


def test_the_environment_variable_reaches_every_process_of_a_run(tmp_path):
    """A demo sets WIRELAB_TRACE_FILE once; its servers and clients append to the same file."""
    events_file = tmp_path / "events.jsonl"
    env = {**__import__("os").environ, ENV: str(events_file)}
    server = tmp_path / "server.py"
    server.write_text(textwrap.dedent('''
        import asyncio
        from wirelab_common.server_cli import announce
        from wirelab_common.wiretrace import Trace

        async def main():
            srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
            announce(Trace("srv"), f"tcp://127.0.0.1:{srv.sockets[0].getsockname()[1]}")
            await asyncio.sleep(30)

        asyncio.run(main())
    '''))
    with start_server([sys.executable, str(server)], name="srv", env=env):
        assert run(tmp_path, env=env).returncode == 0
    events = read_events(str(events_file))
    assert {e["actor"] for e in events} == {"srv", "alice"}
    assert len({e["pid"] for e in events}) == 2
    assert events[0]["summary"].startswith("listening on tcp://127.0.0.1:")
