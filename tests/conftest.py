"""Fixtures shared by the integration suite.

Integration tests start real processes on free ports, wait until they are
ready, and stop them by PID; these fixtures make that one line each.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import NoReturn

import pytest

from wirelab_common.errors import SetupError
from wirelab_common.patterns import SYSTEM_COMMANDS, by_folder
from wirelab_common.processes import ManagedProcess, start_process
from wirelab_common.redis_server import start_redis
from wirelab_common.system_deps import find

PYTHON = sys.executable
IN_CI = os.environ.get("CI") == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def unavailable(message: str) -> NoReturn:
    """A peer or a facility the test needs is missing: in CI a failure, elsewhere a clear skip."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def need_binary(name: str, package: str) -> str:
    """Path of a peer binary; in CI its absence is a failure, elsewhere a clear skip."""
    path = find(name)
    if path is None:
        unavailable(f"{name} not installed (Debian package {package}: `make test` installs it when run as "
                    f"root, or: sudo apt-get install {package})")
    return path


def need_demo_commands(folder: str) -> None:
    """Every command the pattern's demo needs (wirelab_common.patterns), by the same rule."""
    for name in by_folder(folder).needs:
        need_binary(name, SYSTEM_COMMANDS[name].package)


def run_demo(module: str, *args: str, cwd, timeout: float = 80,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` in ``cwd``, to its end or ``timeout``, for the test to check."""
    return subprocess.run([PYTHON, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def assert_demo_failed(result: subprocess.CompletedProcess[str], message: str) -> str:
    """A demo run with its mechanism switched off must fail its check: exit 1, saying ``message``, and
    not by crashing (no traceback).  Returns the output (stdout then stderr) for further checks."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert message in output, output[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return output


class Processes:
    """Starts processes for one test and stops every one of them afterwards."""

    def __init__(self) -> None:
        self.started: list[ManagedProcess] = []

    def start(self, argv: list[str], **kwargs: object) -> ManagedProcess:
        proc = start_process(argv, **kwargs)  # type: ignore[arg-type]
        self.started.append(proc)
        return proc

    def python(self, module: str, *args: str, **kwargs: object) -> ManagedProcess:
        """Start ``python -m module args...`` with this interpreter."""
        kwargs.setdefault("name", module.rsplit(".", 1)[-1])
        return self.start([PYTHON, "-m", module, *args], **kwargs)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@pytest.fixture
def procs() -> Iterator[Processes]:
    processes = Processes()
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def private_redis() -> Iterator[tuple[ManagedProcess, str]]:
    """A throwaway redis-server on a free port: (process, url). Never the shared 6379."""
    need_binary("redis-server", "redis-server")
    try:
        proc, url = start_redis()
    except SetupError as exc:
        pytest.fail(str(exc))
    with proc:
        yield proc, url


@pytest.fixture
def nginx_path() -> str:
    """The nginx binary (Debian's nginx-light), by the same rule as every other peer."""
    return need_binary("nginx", "nginx-light")


@pytest.fixture
def chromium_page():
    """A page in headless Debian Chromium, driven by playwright (never `playwright install`)."""
    need_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            yield page
        finally:
            browser.close()


# tests/compose/ needs the whole docker-compose stack up on a Docker engine: `make compose-test`
# brings it up and sets WIRELAB_COMPOSE=1; plain `make test` leaves the folder out.
collect_ignore = [] if os.environ.get("WIRELAB_COMPOSE") == "1" else ["compose"]


# Nothing a test starts may outlive the run.  A process of ours (this interpreter running one of
# our modules) that is left orphaned (its parent gone, so adopted by PID 1) when the session ends
# leaked from a test or a demo that failed to stop it by PID: the run fails and names it.
# Only processes that inherited this session's mark count: another test run on the same
# machine (a second checkout, a colleague's run) has its own processes, not ours to kill.
_BEFORE: set[int] = set()
SESSION_MARK = "WIRELAB_TEST_SESSION"


def _our_orphans() -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in _BEFORE:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        command = " ".join(a.decode(errors="replace") for a in argv if a)
        if ppid == 1 and argv[0].decode(errors="replace") == PYTHON and " -m learn_" in f" {command}" \
                and _started_by_this_session(entry):
            found[int(entry)] = command
    return found


def _started_by_this_session(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"{SESSION_MARK}={os.getpid()}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    _BEFORE.update(int(p) for p in os.listdir("/proc") if p.isdigit())
    os.environ[SESSION_MARK] = str(os.getpid())  # inherited by what the tests start


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import signal
    import time

    deadline = time.monotonic() + 5  # a process stopped a moment ago may still be exiting
    leaked = _our_orphans()
    while leaked and time.monotonic() < deadline:
        time.sleep(0.2)
        leaked = _our_orphans()
    if not leaked:
        return
    for pid in leaked:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    lines = "\n".join(f"  {pid}: {command}" for pid, command in leaked.items())
    print(f"\nFAILED: processes outlived the tests that started them (now killed):\n{lines}", flush=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
