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
- The one list of patterns (``wirelab_common.patterns``) matches the folders,
  and everything that names the patterns agrees with it.
- Runtime code imports only runtime dependencies; the two lock files agree.
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

from wirelab_common.patterns import PATTERNS

ROOT = Path(__file__).resolve().parent.parent
EXISTING = [p.folder for p in PATTERNS]
# Folders that name real modules; checked even before their pattern exists.
PATTERN_FOLDERS = sorted({*EXISTING, "graphql", "acme", "tunnel", "unix_socket", "proxy", "streaming"})
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


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_pattern_list_matches_the_folders():
    """A top-level folder with a learn_* package is a pattern, and every pattern has its folder."""
    on_disk = sorted(p.parent.parent.name for p in ROOT.glob("*/*/__init__.py")
                     if p.parent.name.startswith("learn_") and p.parent.parent.parent == ROOT)
    assert on_disk == sorted(EXISTING)
    for pattern in PATTERNS:
        assert (ROOT / pattern.folder / pattern.package / "__init__.py").is_file(), pattern
        for module in pattern.demos:
            path = ROOT / pattern.folder / (module.replace(".", "/") + ".py")
            assert path.is_file(), f"{pattern.folder}: demo module {module} not found"


def test_pyproject_maps_every_pattern_package_and_subpackage():
    setuptools = pyproject()["tool"]["setuptools"]
    expected_dirs = {"wirelab_common": "common/wirelab_common"}
    expected_dirs |= {p.package: f"{p.folder}/{p.package}" for p in PATTERNS}
    assert setuptools["package-dir"] == expected_dirs
    packages = set()
    for name, folder in expected_dirs.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            packages.add(".".join((name, *rel)))
    assert sorted(setuptools["packages"]) == sorted(packages)


def test_ruff_knows_every_package_as_first_party():
    first_party = pyproject()["tool"]["ruff"]["lint"]["isort"]["known-first-party"]
    assert sorted(first_party) == sorted(pyproject()["tool"]["setuptools"]["package-dir"])


def test_makefile_takes_the_patterns_from_the_one_list():
    makefile = (ROOT / "Makefile").read_text()
    derived = r"^PATTERNS := \$\(shell \$\(PYTHON\) common/wirelab_common/patterns.py names"
    assert re.search(derived, makefile, re.M)
    for folder in PATTERN_FOLDERS:  # an explicit target per pattern, and none for a planned one
        has_target = re.search(rf"^demo-{folder}\s*:", makefile, re.M) is not None
        assert has_target == (folder in EXISTING), f"demo-{folder} target vs the pattern list"
    names = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert " ".join(EXISTING) in names.stdout
    for folder in EXISTING:
        assert re.search(rf"^bench-{folder}\s*:", makefile, re.M), f"no bench-{folder} target"


def test_the_docker_image_copies_the_project_not_a_list_of_patterns():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in EXISTING:
        assert f"COPY {folder} " not in dockerfile, "copy the tree (.dockerignore trims it), not each pattern"
    assert "-r requirements.lock" in dockerfile and "-r requirements-dev.lock" not in dockerfile


def lock_pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==([^ \\]+)", line):
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def test_the_dev_lock_pins_what_runs_the_same_as_the_runtime_lock():
    runtime, dev = lock_pins("requirements.lock"), lock_pins("requirements-dev.lock")
    assert runtime and set(runtime) < set(dev)
    assert {name: dev[name] for name in runtime} == runtime
    for name in ("requirements.lock", "requirements-dev.lock"):
        lines = (ROOT / name).read_text().splitlines()
        for n, line in enumerate(lines):
            if "==" in line and not line.startswith("#"):
                assert lines[n + 1].lstrip().startswith("--hash="), f"{name}: {line} has no hash"


def imported_top_names(path: Path) -> set[str]:
    """Top-level names a module imports (absolute imports only: relative ones are our own)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_runtime_code_imports_only_runtime_dependencies():
    """What the demos and servers import must be in requirements.lock (the Docker image has only that);
    the one optional extra, playwright for learn_webrtc.browser, is in the 'browser' extra."""
    runtime = set(lock_pins("requirements.lock"))
    browser = pyproject()["project"]["optional-dependencies"]["browser"]
    extras = {re.split(r"[=<>\[]", d)[0].lower() for d in browser}
    ours = set(pyproject()["tool"]["setuptools"]["package-dir"])
    dists = importlib.metadata.packages_distributions()
    problems = []
    for path in package_modules():
        for name in imported_top_names(path) - ours - set(sys.stdlib_module_names):
            owners = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(name, [name])}
            if not owners & runtime and not owners & extras:
                problems.append(f"{path.relative_to(ROOT)} imports {name} ({', '.join(sorted(owners))})")
    assert not problems, "runtime code imports what only the tests install:\n" + "\n".join(problems)


def test_root_readme_gives_the_two_commands_and_lists_every_pattern():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    for folder in EXISTING:
        assert f"]({folder}/" in text, f"README catalog lacks a link to {folder}/"
