"""Every state table is drawn in its module's docstring, and the drawing matches the table.

A module that defines a :class:`~wirelab_common.state_table.StateTable` pastes
``TABLE.describe()`` into its docstring, so a reader sees every state and every
move without running anything.  This test keeps the picture true.
"""

from __future__ import annotations

import importlib

import pytest

from tests.test_repository import ROOT, package_modules
from wirelab_common.state_table import StateTable


def module_name(path) -> str:
    for package_dir in ROOT.glob("*/*/__init__.py"):
        base = package_dir.parent
        if base in path.parents or path.parent == base:
            rel = path.relative_to(base.parent).with_suffix("")
            return ".".join(p for p in rel.parts if p != "__init__")
    raise LookupError(path)


def tables() -> list[tuple[str, str, StateTable]]:
    found = []
    for path in package_modules():
        source = path.read_text()
        if "StateTable(" not in source or path.name == "state_table.py":
            continue
        name = module_name(path)
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, StateTable) and attr.isupper():
                found.append((name, attr, value))
    return found


@pytest.mark.parametrize(("module", "attr", "table"), tables(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_docstring_draws_the_table(module, attr, table):
    doc = importlib.import_module(module).__doc__ or ""
    missing = [line for line in table.describe() if f"    {line}\n" not in doc + "\n"]
    assert not missing, f"{module}.{attr}: the docstring lacks these lines of TABLE.describe():\n" + \
        "\n".join(missing)
