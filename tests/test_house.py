"""One house: every pattern has the same skeleton, and its tests the same layout.

- Servers take their options from ``wirelab_common.server_cli`` (no hand-made
  ``--port``, no ``--address``), and ``--help`` shows them spelled the same.
- No program prints its own "listening on" line: the ready line goes through
  ``server_cli.announce`` (or ``asgi_server``), so every one has one format.
- Tests live in ``tests/<pattern>/`` only, and each test module names its layer
  (pure, memory, loopback or differential), so ``pytest -m pure`` is quick.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from tests.test_repository import ROOT, package_modules
from wirelab_common.patterns import PATTERNS

LAYERS = {"pure", "memory", "loopback", "differential"}
# Launchers that render a config and exec nginx: nginx's config decides where it listens and
# nginx prints no ready line, so they take only --port and say what nginx will serve.
NGINX_LAUNCHERS = {"proxy.py"}
SKELETON_OPTIONS = ["--host", "--port", "-v, --verbose", "-q, --quiet"]


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(p for p in parts[1:] if p != "__init__")


def server_modules() -> list[str]:
    return sorted(module_name(p) for p in package_modules()
                  if "add_server_options(" in p.read_text() and p.name != "server_cli.py")


def test_no_program_spells_its_own_server_options():
    problems = []
    for path in package_modules():
        if path.name == "server_cli.py" or path.name in NGINX_LAUNCHERS:
            continue
        for match in re.finditer(r"add_argument\(\s*\"(--port|--host|--address|--trace|--signaling)\"",
                                 path.read_text()):
            problems.append(f"{path.relative_to(ROOT)}: add_argument({match.group(1)!r}) by hand")
    assert not problems, "use server_cli.add_server_options / add_verbosity:\n" + "\n".join(problems)


def test_no_program_prints_its_own_ready_line():
    problems = []
    for path in package_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
                text = ast.unparse(node)
                if "listening on" in text:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:80]}")
    assert not problems, "print the ready line with server_cli.announce:\n" + "\n".join(problems)


@pytest.mark.parametrize("module", server_modules())
def test_every_server_shows_the_same_options(module):
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    missing = [option for option in SKELETON_OPTIONS if option not in result.stdout]
    assert not missing, f"python -m {module} --help lacks {missing}"


def test_tests_live_in_tests_only():
    stray = sorted(f"{p.folder}/tests" for p in PATTERNS if (ROOT / p.folder / "tests").is_dir())
    assert not stray, f"move these into tests/<pattern>/: {stray}"


def test_every_test_module_of_a_pattern_names_one_layer():
    problems = []
    for pattern in PATTERNS:
        for path in sorted((ROOT / "tests" / pattern.folder).rglob("test_*.py")):
            source = path.read_text()
            declared = set(re.findall(r"^pytestmark\s*=\s*.*?pytest\.mark\.(\w+)", source, re.M)) & LAYERS
            if len(declared) != 1:
                problems.append(f"{path.relative_to(ROOT)}: layers {sorted(declared) or 'none'}")
    assert not problems, "each test module declares exactly one of pure/memory/loopback/differential:\n" + \
        "\n".join(problems)
