"""Conventions of the repository, checked mechanically instead of by memory.

- Pattern folders (websocket/, dns/, queue/, ...) are never importable under
  their own names: those names belong to real modules (dnspython's ``dns``, the
  MCP SDK's ``mcp``, the standard library's ``queue``).  So no ``__init__.py``
  and no loose ``.py`` directly inside one.
- No module or package of ours is named like a standard-library module or a
  dependency's top-level module, anywhere in the tree.
- Every pattern package imports from any working directory.
- Every pattern folder has a lesson README with the template's sections.
- Every module opens with a docstring and stays within the size budget.
- The Makefile has a demo target for each pattern that exists and none for the rest.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every pattern folder the project plans; only those that exist are checked.
PATTERN_FOLDERS = ["websocket", "sse", "webhook", "pubsub", "queue", "webrtc", "dns", "mcp", "mini_git"]
EXISTING = [name for name in PATTERN_FOLDERS if (ROOT / name).is_dir()]
SKIP_DIRS = {".venv", ".git", ".cache", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
             "build"}
# The lesson template (shared/STYLE.md): each README has a heading for each.
README_SECTIONS = [
    "What problem",
    "Run it",
    "Sequence",
    "Files in reading order",
    "One request traced",
    "What to watch in the trace",
    "Spec references",
    "What production adds",
    "Benchmark",
    "Exercises",
]
MAX_MODULE_LINES = 400


def our_python_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            files.append(path)
    return files


def package_modules() -> list[Path]:
    """Modules inside our importable packages (pattern packages and common/)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dirs = pyproject["tool"]["setuptools"]["package-dir"].values()
    return [p for d in dirs for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts]


def taken_names() -> set[str]:
    """Top-level import names of the standard library and of installed dependencies."""
    names = set(sys.stdlib_module_names)
    for top, dists in importlib.metadata.packages_distributions().items():
        if set(dists) != {"wirelab"}:  # our own packages (listed once per metadata copy)
            names.add(top)
    return names


def test_there_is_at_least_one_pattern():
    assert EXISTING, "no pattern folder found"


@pytest.mark.parametrize("folder", EXISTING)
def test_pattern_folder_is_not_a_package(folder):
    loose = sorted(p.name for p in (ROOT / folder).glob("*.py"))
    assert not loose, (
        f"{folder}/ has {loose} directly inside: it would be importable as '{folder}', "
        f"shadowing the real module; move the code into {folder}'s uniquely named package"
    )


def test_no_module_is_named_like_stdlib_or_a_dependency():
    taken = taken_names()
    clashes = []
    for path in our_python_files():
        name = path.stem
        if name in {"__init__", "__main__", "conftest"} or name.startswith("test_"):
            continue
        if name in taken:
            clashes.append(str(path.relative_to(ROOT)))
    for path in our_python_files():
        if path.name == "__init__.py" and path.parent.name in taken:
            clashes.append(str(path.parent.relative_to(ROOT)) + "/")
    assert not clashes, f"named like a stdlib module or a dependency: {clashes}"


def test_pattern_packages_import_from_any_directory(tmp_path):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = list(pyproject["tool"]["setuptools"]["package-dir"])
    code = "import importlib, sys\nfor n in sys.argv[1:]: importlib.import_module(n)\n"
    result = subprocess.run([sys.executable, "-c", code, *packages], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_pattern_names_still_resolve_to_the_real_modules():
    """From the repository root, ``import queue`` (dns, mcp, ...) must not find our folder's code.

    A folder without ``__init__.py`` can at most become an empty namespace
    package, which loses to any real module of the same name.
    """
    code = (
        "import importlib.util, sys\n"
        "for name in sys.argv[1:]:\n"
        "    spec = importlib.util.find_spec(name)\n"
        "    print(name, spec.origin if spec else None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *PATTERN_FOLDERS], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        name, origin = line.split(" ", 1)
        assert not origin.startswith(str(ROOT / name)), f"import {name} finds our {origin}"


@pytest.mark.parametrize("folder", EXISTING)
def test_a_pattern_named_like_a_real_module_keeps_its_tests_in_tests(folder):
    """pytest (--import-mode=importlib) would import queue/tests/x.py as ``queue.tests.x``,
    putting a stand-in for ``queue`` over the real module; such tests go in tests/<folder>/."""
    if folder not in taken_names():
        return
    stray = sorted(str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("test_*.py"))
    assert not stray, f"move {stray} to tests/{folder}/: '{folder}' is a real module's name"


@pytest.mark.parametrize("folder", EXISTING)
def test_pattern_readme_has_the_lesson_sections(folder):
    readme = ROOT / folder / "README.md"
    assert readme.is_file(), f"{folder}/README.md is the lesson and is missing"
    text = readme.read_text()
    headings = [line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("#")]
    missing = [s for s in README_SECTIONS if not any(h.startswith(s.lower()) for h in headings)]
    assert not missing, f"{folder}/README.md lacks sections: {missing}"
    assert "```mermaid" in text and "sequenceDiagram" in text, "the lesson needs a mermaid sequence diagram"


def test_every_module_has_a_docstring_and_fits_the_size_budget():
    problems = []
    for path in package_modules():
        source = path.read_text()
        rel = path.relative_to(ROOT)
        if path.name != "__init__.py" or source.strip():
            if ast.get_docstring(ast.parse(source)) is None:
                problems.append(f"{rel}: no module docstring")
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            problems.append(f"{rel}: {lines} lines (budget {MAX_MODULE_LINES}: split it)")
    assert not problems, "\n".join(problems)


def test_makefile_has_a_demo_target_for_exactly_the_patterns_that_exist():
    makefile = (ROOT / "Makefile").read_text()
    declared = re.search(r"^PATTERNS\s*:=\s*(.*)$", makefile, re.M)
    assert declared, "Makefile must declare PATTERNS :="
    assert sorted(declared.group(1).split()) == sorted(EXISTING)
    for folder in PATTERN_FOLDERS:
        has_target = re.search(rf"^demo-{folder}\s*:", makefile, re.M) is not None
        assert has_target == (folder in EXISTING), f"demo-{folder} target vs folder mismatch"


def test_root_readme_gives_the_two_commands_and_lists_every_pattern():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    for folder in EXISTING:
        assert f"]({folder}/" in text, f"README catalog lacks a link to {folder}/"
