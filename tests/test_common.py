"""The shared helpers: trace format, free ports, process start/stop, throwaway Redis."""

from __future__ import annotations

import io
import socket
import subprocess
import sys

import pytest

from wirelab_common.errors import SetupError
from wirelab_common.ports import RESERVED_PORTS, ensure_port_free, free_port, port_is_open
from wirelab_common.processes import ProcessNotReady, start_process
from wirelab_common.redis_server import start_redis
from wirelab_common.wiretrace import Trace, hexdump, shorten


def test_trace_lines_start_with_the_three_marks_and_details_only_when_verbose():
    out = io.StringIO()
    quiet = Trace("alice", stream=out)
    quiet.sent("TEXT 'hi'", ["81 02 68 69"])
    quiet.received("TEXT 'yo'")
    quiet.state("OPEN -> CLOSING")
    quiet.child("bob").note("narration")
    Trace("srv", verbose=True, stream=out).sent("PING", ["89 00"])
    assert out.getvalue().splitlines() == [
        "> alice    TEXT 'hi'",
        "< alice    TEXT 'yo'",
        "= alice    OPEN -> CLOSING",
        "# bob      narration",
        "> srv      PING",
        "      89 00",
    ]


def test_shorten_keeps_one_line_and_says_how_much_was_cut():
    assert shorten("a\nb") == "a\\nb"
    assert shorten("x" * 100, limit=10) == "x" * 10 + "...(+90 chars)"
    assert hexdump(bytes(range(40)), limit=2) == "00 01 ...(+38 bytes)"


def test_free_port_is_bindable_and_never_a_service_port():
    port = free_port()
    assert port not in RESERVED_PORTS
    ensure_port_free("127.0.0.1", port)


def test_a_busy_port_gives_a_setup_error_with_a_hint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SetupError, match="--port"):
            ensure_port_free("127.0.0.1", port)
    with pytest.raises(SetupError, match="already running"):
        ensure_port_free("127.0.0.1", 6379)


def test_start_process_waits_for_the_ready_line_and_stops_by_pid():
    code = "import time; print('ready now', flush=True); time.sleep(60)"
    with start_process([sys.executable, "-c", code], name="sleeper", ready_line="ready") as proc:
        assert proc.alive()
    assert not proc.alive()
    assert proc.popen.returncode == -15  # SIGTERM


def test_a_process_that_dies_early_reports_its_output():
    code = "import sys; print('cannot start: boom'); sys.exit(3)"
    with pytest.raises(ProcessNotReady, match="boom"):
        start_process([sys.executable, "-c", code], name="dies", ready_line="ready", timeout=5)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored():
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(60)")
    proc = start_process([sys.executable, "-c", code], name="stubborn", ready_line="up")
    assert proc.stop(grace=0.5) == -9


def test_throwaway_redis_answers_and_is_gone_afterwards():
    pytest.importorskip("redis")
    proc, url = start_redis()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with proc:
        reply = subprocess.run(["redis-cli", "-p", str(port), "ping"],
                               capture_output=True, text=True, timeout=10)
        assert reply.stdout.strip() == "PONG"
    assert not port_is_open("127.0.0.1", port)


def test_nginx_template_is_filled_and_an_unfilled_placeholder_is_an_error(tmp_path):
    from wirelab_common.nginx_proxy import render_nginx_config

    template = tmp_path / "t.conf.template"
    template.write_text("pid {{prefix}}/nginx.pid;\nlisten 127.0.0.1:{{port}};\n{{upstream}}\n")
    setup = render_nginx_config(template, port=12345, prefix=tmp_path / "p", nginx="/bin/true",
                                upstream="server 127.0.0.1:1;")
    assert setup.conf_path.read_text() == (
        f"pid {tmp_path}/p/nginx.pid;\nlisten 127.0.0.1:12345;\nserver 127.0.0.1:1;\n")
    assert setup.argv[:3] == ["/bin/true", "-p", str(tmp_path / "p")]
    with pytest.raises(ValueError, match="unfilled"):
        render_nginx_config(template, prefix=tmp_path / "q", nginx="/bin/true")


def test_a_demo_banner_is_a_narration_line_between_two_rules():
    out = io.StringIO()
    Trace("demo", stream=out).banner("Act 1")
    assert out.getvalue() == f"\n{'-' * 72}\n# demo     Act 1\n{'-' * 72}\n"


def test_data_directory_is_a_temp_dir_unless_given(tmp_path):
    import contextlib

    from wirelab_common.asgi_server import data_directory

    with contextlib.ExitStack() as stack:
        temp = data_directory(None, stack, "t-")
        assert temp.is_dir()
        given = data_directory(tmp_path / "a" / "b", stack, "t-")
        assert given == tmp_path / "a" / "b" and given.is_dir()
    assert not temp.exists() and given.exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory should go
    with pytest.raises(SetupError, match="--data-dir"):
        data_directory(blocker / "sub", contextlib.ExitStack(), "t-")


# run_main and SIGTERM: a process manager's stop must still run the program's cleanup.
ASYNC_MAIN = """
import asyncio
from wirelab_common.errors import run_main

async def main():
    try:
        print('running', flush=True)
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0.01)  # an await in cleanup still works: the task was cancelled
        print('summary: cleaned up', flush=True)

run_main(main)
"""
SYNC_MAIN = """
import time
from wirelab_common.errors import run_main

def main():
    try:
        print('running', flush=True)
        time.sleep(60)
    finally:
        print('summary: cleaned up', flush=True)

run_main(main)
"""
OWN_HANDLER_MAIN = """
import asyncio, signal
from wirelab_common.errors import run_main

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print('running', flush=True)
    await stop.wait()
    print('own handler ran', flush=True)
    raise SystemExit(7)

run_main(main)
"""


@pytest.mark.parametrize("code", [ASYNC_MAIN, SYNC_MAIN], ids=["async", "sync"])
def test_run_main_on_sigterm_runs_cleanup_and_exits_0(code):
    import signal

    proc = start_process([sys.executable, "-c", code], name="main", ready_line="running")
    proc.signal(signal.SIGTERM)
    assert proc.popen.wait(10) == 0, proc.output()
    proc.stop()
    assert "summary: cleaned up" in proc.output()
    assert "Traceback" not in proc.output()


def test_run_main_on_sigint_still_exits_130_after_cleanup():
    import signal

    # A shell starts background jobs with SIGINT ignored, and Python then keeps ignoring it;
    # a terminal's Ctrl-C reaches a foreground program with the default handler, as here.
    ctrl_c = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    proc = start_process([sys.executable, "-c", ctrl_c + ASYNC_MAIN], name="main", ready_line="running")
    proc.signal(signal.SIGINT)
    assert proc.popen.wait(10) == 130, proc.output()
    proc.stop()
    assert "summary: cleaned up" in proc.output()


def test_run_main_leaves_a_programs_own_sigterm_handler_alone():
    import signal

    proc = start_process([sys.executable, "-c", OWN_HANDLER_MAIN], name="main", ready_line="running")
    proc.signal(signal.SIGTERM)
    assert proc.popen.wait(10) == 7, proc.output()
    proc.stop()
    assert "own handler ran" in proc.output()
