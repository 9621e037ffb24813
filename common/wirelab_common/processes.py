"""Start a server process, wait until it is ready, and stop it by PID.

Used by demos and integration tests alike, so that both start servers the
same way::

    with start_process([sys.executable, "-m", "learn_websocket.server", "--port", str(port)],
                       name="echo", ready_port=port) as server:
        ...                      # server.pid, server.output()
    # leaving the block sends SIGTERM, then SIGKILL if it does not exit

Readiness is either a line the process prints (``ready_line``, a regular
expression) or a TCP port that starts accepting (``ready_port``).  If the
process is not ready in time, or dies first, :class:`ProcessNotReady` carries
the tail of its output, which is almost always the explanation.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from .ports import port_is_open
from .server_cli import READY_LINE, parse_ready


class ProcessNotReady(RuntimeError):
    """The process died, or did not become ready in time."""


class ManagedProcess:
    """A child process whose combined stdout/stderr is collected line by line."""

    def __init__(self, argv: Sequence[str], name: str, env: dict[str, str] | None,
                 cwd: str | None, echo: bool) -> None:
        self.name = name
        self.argv = list(argv)
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._echo = echo
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, cwd=cwd, text=True, errors="replace", start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"read-{name}")
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            line = line.rstrip("\n")
            if self._echo:
                # One write per line: print() writes the text and the newline separately,
                # so another thread's output could land between them.
                sys.stdout.write(f"  [{self.name}] {line}\n")
                sys.stdout.flush()
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    url: str = ""  # from the ready line, for processes started by start_server()
    port: int = 0

    def output(self) -> str:
        """Everything the process printed so far."""
        with self._cond:
            return "\n".join(self._lines)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_line(self, pattern: str, timeout: float = 10.0, start: int = 0) -> re.Match[str]:
        """Wait for a printed line matching ``pattern`` (searched from line ``start``)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = start
        with self._cond:
            while True:
                for line in self._lines[seen:]:
                    match = regex.search(line)
                    if match:
                        return match
                seen = len(self._lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (not self.alive() and not self._reader.is_alive()):
                    break
                self._cond.wait(min(remaining, 0.1))
        raise ProcessNotReady(self._explain(f"no line matching {pattern!r} within {timeout:.0f}s"))

    def line_count(self) -> int:
        with self._cond:
            return len(self._lines)

    def wait_port(self, host: str, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ProcessNotReady(self._explain("exited before it was ready"))
            if port_is_open(host, port):
                return
            time.sleep(0.05)
        raise ProcessNotReady(self._explain(f"{host}:{port} not open within {timeout:.0f}s"))

    def _explain(self, what: str) -> str:
        code = self.popen.poll()
        status = f"exit code {code}" if code is not None else "still running"
        tail = "\n".join(self.output().splitlines()[-30:])
        return f"{self.name} ({' '.join(self.argv)}): {what} ({status}); its output:\n{tail}"

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, grace: float = 5.0) -> int:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                # The whole session: a server may have children of its own.
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._finish()
        return self.popen.returncode

    def kill(self) -> int:
        """SIGKILL at once: a crash, not a shutdown."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(5)
        self._finish()
        return self.popen.returncode

    def _finish(self) -> None:
        """Collect the last output and close our end of the pipe."""
        self._reader.join(2)
        if not self._reader.is_alive() and self.popen.stdout is not None:
            self.popen.stdout.close()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_process(argv: Sequence[str], *, name: str | None = None, ready_line: str | None = None,
                  ready_port: int | None = None, host: str = "127.0.0.1", timeout: float = 15.0,
                  env: dict[str, str] | None = None, cwd: str | None = None,
                  echo: bool = False) -> ManagedProcess:
    """Start ``argv`` and return once it is ready (see the module docstring)."""
    proc = ManagedProcess(argv, name or os.path.basename(argv[0]), env, cwd, echo)
    try:
        if ready_line is not None:
            proc.wait_line(ready_line, timeout)
        if ready_port is not None:
            proc.wait_port(host, ready_port, timeout)
    except BaseException:
        proc.stop(1.0)
        raise
    return proc


def start_server(argv: Sequence[str], *, name: str | None = None, timeout: float = 15.0,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 echo: bool = False) -> ManagedProcess:
    """Start a wirelab server (``--port 0`` in ``argv``) and wait for its ready line.

    The line ``= NAME listening on URL`` (``server_cli.announce``) gives the real
    URL and port, set on the returned process as ``.url`` and ``.port``.
    """
    proc = start_process(argv, name=name, ready_line=READY_LINE.pattern, timeout=timeout, env=env,
                         cwd=cwd, echo=echo)
    line = proc.wait_line(READY_LINE.pattern, 0).group(0)
    parsed = parse_ready(line)
    if parsed is None:
        proc.stop(1.0)
        raise ProcessNotReady(proc._explain(f"its ready line names no port: {line!r}"))
    _, proc.url, proc.port = parsed
    return proc
