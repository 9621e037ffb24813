"""`make demo` (wirelab_common.tour) and the install step (wirelab_common.system_deps).

The tour runs real demo processes; here they are tiny modules written by the
test, so that passing, failing, missing and hanging demos can each be shown.
Every real demo is run by its pattern's own demo test.
"""

from __future__ import annotations

import sys

import pytest

from wirelab_common import system_deps, tour
from wirelab_common.patterns import SYSTEM_COMMANDS, Pattern, SystemCommand

DEMOS = {
    "demo_ok": "print('all checks passed')\n",
    "demo_fails": "import sys\nprint('act 1', flush=True)\nsys.exit('FAILED: the echo did not come back')\n",
    "demo_setup": "import sys\nprint('error: redis-server not found', file=sys.stderr)\nsys.exit(2)\n",
    "demo_hangs": "import time\ntime.sleep(60)\n",
}


@pytest.fixture
def demo_modules(tmp_path, monkeypatch):
    for name, code in DEMOS.items():
        (tmp_path / f"{name}.py").write_text(code)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))


@pytest.fixture
def fake_command(monkeypatch):
    """A command that exists on no machine, as if its Debian package were missing."""
    monkeypatch.setitem(SYSTEM_COMMANDS, "wirelab-no-such-command",
                        SystemCommand("wirelab-fake-pkg", "the fake demo"))
    return "wirelab-no-such-command"


def test_a_passing_demo_passes(demo_modules):
    result = tour.run_pattern(Pattern("ok", "x", ("demo_ok",)), [], timeout=30)
    assert (result.status, result.why) == ("passed", "")


def test_a_failing_demo_is_reported_with_its_last_error_line(demo_modules):
    result = tour.run_pattern(Pattern("bad", "x", ("demo_ok", "demo_fails")), [], timeout=30)
    assert result.status == "FAILED"
    assert result.why == "demo_fails exit 1: FAILED: the echo did not come back"


def test_a_demo_that_exits_2_did_not_run_here(demo_modules):
    result = tour.run_pattern(Pattern("setup", "x", ("demo_setup",)), [], timeout=30)
    assert result.status == "not run" and "redis-server not found" in result.why


def test_a_demo_whose_command_is_missing_is_not_started(demo_modules, fake_command):
    result = tour.run_pattern(Pattern("needy", "x", ("demo_hangs",), (fake_command,)), [], timeout=30)
    assert result.status == "not run" and result.seconds == 0
    assert "sudo make system-deps" in result.why and "apt-get install wirelab-fake-pkg" in result.why


def test_a_hanging_demo_is_stopped_at_its_time_limit(demo_modules):
    result = tour.run_pattern(Pattern("slow", "x", ("demo_hangs",)), [], timeout=1)
    assert result.status == "timed out" and result.seconds < 15


def test_the_tour_goes_on_after_a_failure_and_ends_with_a_table(demo_modules, fake_command, monkeypatch,
                                                                 capsys):
    patterns = (Pattern("first", "x", ("demo_fails",)), Pattern("second", "x", ("demo_ok",)),
                Pattern("third", "x", ("demo_ok",), (fake_command,)))
    monkeypatch.setattr(tour, "PATTERNS", patterns)
    assert tour.main([]) == 1
    out = capsys.readouterr().out
    table = out[out.index("the tour:"):]
    assert "1 of 3 demos passed" in table
    assert [line.split()[:2] for line in table.splitlines()[3:]] == [
        ["first", "FAILED"], ["second", "passed"], ["third", "not"]]


def test_only_runs_one_pattern_and_exits_with_its_result(demo_modules, monkeypatch):
    monkeypatch.setattr(tour, "PATTERNS", (Pattern("bad", "x", ("demo_fails",)),))
    monkeypatch.setattr(tour, "by_folder", lambda name: tour.PATTERNS[0])
    assert tour.main(["--only", "bad"]) == 1


def test_an_unknown_pattern_is_named_with_the_real_ones(capsys):
    assert tour.main(["--only", "nope"]) == 2
    assert "no pattern 'nope'; the patterns are: websocket sse" in capsys.readouterr().err


def test_install_step_with_installing_turned_off_says_what_to_run_and_goes_on(fake_command, monkeypatch,
                                                                              capsys):
    monkeypatch.setenv(system_deps.NO_INSTALL, "1")
    assert system_deps.main(["--auto"]) == 0
    err = capsys.readouterr().err
    assert "WIRELAB_NO_INSTALL=1 is set" in err
    install_line = next(line for line in err.splitlines() if "to install them:" in line)
    assert "sudo apt-get install -y " in install_line and " wirelab-fake-pkg" in install_line
    assert "wirelab-no-such-command the fake demo" in err
    assert system_deps.main([]) == 2  # make system-deps on its own does fail


def test_check_lists_what_is_missing_and_installs_nothing(fake_command, capsys):
    assert system_deps.main(["--check"]) == 2
    assert "wirelab-no-such-command" in capsys.readouterr().err


def test_every_command_a_demo_needs_has_a_debian_package():
    from wirelab_common.patterns import PATTERNS

    for pattern in PATTERNS:
        for command in pattern.needs:
            assert command in SYSTEM_COMMANDS, f"{pattern.folder} needs {command}: add it to SYSTEM_COMMANDS"


def test_patterns_py_runs_with_no_third_party_package():
    """The Makefile runs it with the system Python (-I: no site-packages, no PYTHONPATH)."""
    import subprocess
    from pathlib import Path

    path = Path(tour.__file__).with_name("patterns.py")
    result = subprocess.run([sys.executable, "-I", str(path), "names"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0 and result.stdout.split()[0] == "websocket"
