"""The official MCP conformance suite (npm @modelcontextprotocol/conformance@0.1.13) against our HTTP server.

The server runs with ``--conformance-fixtures``: the suite calls tools, resources and
prompts of fixed names (``test_simple_text``, ``test://static-text``, ...), which
``learn_mcp/conformance_fixtures.py`` adds beside the lesson's notes tools.

It runs every server scenario, active and pending (``--suite all``: 30 + 2, the pending
ones being ``json-schema-2020-12`` and ``server-sse-polling``; all 32 must pass today),
then compares the failures with
``conformance_expected_failures.txt``: a failure not listed there is a regression, and a
listed scenario that passes means the list is stale.  Both fail the test.  Run it with
``-s`` to see the counts.  0.1.14 and later need Node 22 (PEERS.md), hence the pin.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.differential

EXPECTED = Path(__file__).with_name("conformance_expected_failures.txt")


def expected_failures() -> dict[str, str]:
    entries = {}
    for line in EXPECTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            entries[name] = reason.strip()
    return entries


def scenario_results(output: Path) -> dict[str, bool]:
    """scenario -> passed, from the suite's ``-o`` directory (one folder with checks.json per scenario)."""
    results = {}
    for checks_file in output.glob("*/checks.json"):
        folder = checks_file.parent.name  # server-<scenario>-<timestamp>
        scenario = re.sub(r"-\d{4}-\d{2}-\d{2}T[\d-]+Z$", "", folder.removeprefix("server-"))
        checks = json.loads(checks_file.read_text())
        # The suite counts WARNING as a failure too (its baseline logic does).
        results[scenario] = not any(c.get("status") in ("FAILURE", "WARNING") for c in checks)
    return results


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_conformance_server_scenarios(conformance_bin, wire, tmp_path):
    proc, url = wire.start_http_server("--conformance-fixtures")  # the suite's test_* tools etc.
    with proc:
        argv = [str(conformance_bin), "server", "--url", url, "--suite", "all", "-o", str(tmp_path)]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    results = scenario_results(tmp_path)
    assert results, f"the suite produced no results:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    expected = expected_failures()
    passed = sorted(s for s, ok in results.items() if ok)
    failed = sorted(s for s, ok in results.items() if not ok)
    print(f"\nconformance 0.1.13 --suite all: {len(results)} scenarios, {len(passed)} passed, "
          f"{len(failed)} failed "
          f"({len([s for s in failed if s in expected])} expected)\npassed: {', '.join(passed)}")
    assert len(results) == 32, "0.1.13's server suite has 30 active and 2 pending scenarios; some did not run"
    unexpected = [s for s in failed if s not in expected]
    stale = [s for s in passed if s in expected]
    assert not unexpected, f"regressions (not in {EXPECTED.name}): {unexpected}\n{run.stdout[-3000:]}"
    assert not stale, f"now passing, remove from {EXPECTED.name}: {stale}"
    # These protocol scenarios must keep passing: they exercise what this server implements.
    for core in ("server-initialize", "ping", "tools-list", "logging-set-level", "resources-list",
                 "prompts-list", "server-sse-multiple-streams", "dns-rebinding-protection",
                 "tools-call-with-progress", "tools-call-with-logging", "tools-call-error",
                 "resources-templates-read", "prompts-get-with-args", "completion-complete",
                 "resources-subscribe", "resources-unsubscribe", "tools-call-sampling",
                 "tools-call-elicitation", "elicitation-sep1034-defaults", "elicitation-sep1330-enums",
                 "json-schema-2020-12", "server-sse-polling"):
        assert results.get(core) is True, core
