"""The lesson has one reading order: the README's file table and every module's docstring agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "learn_webhook"
README = Path(__file__).parents[1] / "README.md"


def readme_order() -> list[str]:
    """The modules of the README's "Files in reading order" table, top to bottom."""
    return re.findall(r"^\| \[`learn_webhook/(\w+)\.py`\]", README.read_text(), re.MULTILINE)


def module_order(path: Path) -> tuple[list[str], list[str]]:
    """A module's "Reading order:" line: (every module in it, the ones in **bold**)."""
    found = re.search(r"^Reading order: (.+?)\.$", path.read_text(), re.MULTILINE | re.DOTALL)
    assert found, f"{path.name} has no 'Reading order: a -> b -> ... .' line"
    names = [" ".join(name.split()) for name in found.group(1).split("->")]
    return [name.strip("*") for name in names], [name.strip("*") for name in names if name.startswith("**")]


def test_the_readme_table_lists_every_module_once():
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert sorted(readme_order()) == sorted(modules)


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.stem)
def test_every_module_gives_the_readme_order_and_marks_itself(path):
    order, bold = module_order(path)
    assert order == readme_order()
    assert bold == ([] if path.stem == "__init__" else [path.stem])
