"""The lessons name only what exists: files, modules and classes in READMEs and docstrings.

A README's file table, a module's "Reading order" line and a docstring's
``module.Class`` are what a learner follows through the code; when one names a
file, module or class that moved or never was, the reader is lost.  These
checks keep that class of drift out:

- every relative link in a Markdown file points at a file or folder that exists;
- every ``name.py`` (or ``dir/name.py``) a README or a module docstring names exists;
- every module named in an arrow chain of a "Reading order" line exists, and the
  module in bold is the module itself;
- every ``module.Class`` a docstring names is defined in that module.
"""

from __future__ import annotations

import ast
import re
import sysconfig
from pathlib import Path

import pytest

from wirelab_common.patterns import PATTERNS

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", ".git", ".cache", "node_modules", "build"}
# Words in reading-order chains that name a group of modules rather than one.
GROUP_WORDS = {"transports"}


def markdown_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.md") if not SKIP.intersection(p.relative_to(ROOT).parts))


def package_modules(pattern_folder: str, package: str) -> list[Path]:
    return sorted((ROOT / pattern_folder / package).rglob("*.py"))


def known_files(folder: Path) -> set[str]:
    """Every file name and every path relative to the folder (and to the repository)."""
    names = set()
    for path in folder.rglob("*"):
        if path.is_file() and not SKIP.intersection(path.parts):
            names.add(path.name)
            names.add(str(path.relative_to(folder)))
    return names


REPO_FILES = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
              if p.is_file() and not SKIP.intersection(p.relative_to(ROOT).parts)}
# A lesson may point into a dependency's source (the MCP SDK's ``mcp/server/stdio.py``).
SITE = Path(sysconfig.get_paths()["purelib"])
SITE_FILES = {str(p.relative_to(SITE)) for p in SITE.rglob("*.py")}


def file_exists(reference: str, folder: Path) -> bool:
    """A file reference resolves from the folder, from the repository root, or from common/."""
    if reference in known_files(folder) | REPO_FILES | SITE_FILES or f"common/{reference}" in REPO_FILES:
        return True
    return any(name.endswith("/" + reference) for name in REPO_FILES | SITE_FILES)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_in_markdown_point_at_something(path):
    text = path.read_text()
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        target = target.split("#", 1)[0]
        if not (path.parent / target).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


@pytest.mark.parametrize("folder", [p.folder for p in PATTERNS])
def test_every_python_file_a_pattern_readme_names_exists(folder):
    base = ROOT / folder
    missing = []
    for md in sorted(base.glob("*.md")):
        for reference in re.findall(r"`([\w./-]+\.py)`", md.read_text()):
            if not file_exists(reference, base):
                missing.append(f"{md.name}: {reference}")
    assert not missing, f"{folder}: READMEs name files that do not exist: {missing}"


def reading_order(docstring: str) -> str | None:
    """The reading-order sentence: from "Reading order:" to the end of its first sentence."""
    match = re.search(r"Reading order:(.*?)(?:\n\s*\n|$)", docstring, re.S)
    return re.split(r"\.\s+(?=[A-Z])", match.group(1))[0] if match else None


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.folder)
def test_reading_order_lines_name_modules_that_exist(pattern):
    modules = package_modules(pattern.folder, pattern.package)
    known = {m.stem for m in modules} | {m.parent.name for m in modules}
    base = ROOT / pattern.folder
    problems = []
    for path in modules:
        order = reading_order(ast.get_docstring(ast.parse(path.read_text())) or "")
        if order is None:
            continue
        rel = path.relative_to(ROOT)
        for reference in re.findall(r"``([\w/.-]+\.py)``", order):
            if not file_exists(reference, base):
                problems.append(f"{rel}: names {reference}, which does not exist")
        if "->" in order:
            chain = re.sub(r"\([^)]*\)", "", order)  # "worker (fetch, run, retry)": steps, not modules
            for part in re.split(r"->|/|\+|,", chain):
                word = part.strip().strip("*`.").strip()
                if re.fullmatch(r"[a-z_][a-z0-9_]*", word) and word not in known | GROUP_WORDS:
                    problems.append(f"{rel}: reading order names module {word!r}, which does not exist")
        for bold in re.findall(r"\*\*(\w+)\*\*", order):
            if bold != path.stem and not (path.stem == "__init__" and bold == path.parent.name):
                problems.append(f"{rel}: reading order marks **{bold}** as itself")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.folder)
def test_module_dot_class_in_a_docstring_is_defined_there(pattern):
    modules = {m.stem: m for m in package_modules(pattern.folder, pattern.package)}
    problems = []
    for path in modules.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            docstring = ast.get_docstring(node) or ""
            for module, name in re.findall(r"`([a-z_][a-z0-9_]*)\.([A-Z]\w*)`", docstring):
                if module in modules and name not in top_level_names(modules[module]):
                    problems.append(f"{path.relative_to(ROOT)}: {module}.{name} is not in {module}.py")
    assert not problems, "\n".join(problems)
