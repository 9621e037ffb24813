"""How the pubsub modules hang together: the client and its command line, without an import cycle.

``python -m learn_pubsub.resp_client`` used to run the command line, which
imported ``resp_client`` again: two modules, two ``RespClient`` classes in one
process (``__main__.RespClient`` and ``learn_pubsub.resp_client.RespClient``),
and an ``isinstance`` or ``except`` on the one missing the other.  Now the
client imports nothing of its command line, and the program is ``resp_cli``.
Pure: the source is read, nothing is run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import learn_pubsub

pytestmark = pytest.mark.pure
PACKAGE = Path(learn_pubsub.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def runs_as_a_program(path: Path) -> bool:
    return any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
               for node in ast.parse(path.read_text()).body)


def test_the_client_does_not_import_its_command_line_nor_run_as_one():
    client = PACKAGE / "resp_client.py"
    assert not {".resp_cli", "learn_pubsub.resp_cli"} & imported_modules(client)
    assert not runs_as_a_program(client)
    assert runs_as_a_program(PACKAGE / "resp_cli.py")


def local_imports(name: str) -> set[str]:
    found = {n.lstrip(".").removeprefix("learn_pubsub.") for n in imported_modules(PACKAGE / f"{name}.py")}
    return {n for n in found if (PACKAGE / f"{n}.py").exists()}


def test_no_program_is_imported_back_by_what_it_imports():
    """Run as ``-m``, such a module would be loaded a second time: the cycle above."""
    for path in PACKAGE.glob("*.py"):
        if not runs_as_a_program(path):
            continue
        seen, todo = set(), local_imports(path.stem)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo |= local_imports(name)
        assert path.stem not in seen, f"{path.name} runs as a program and is imported back by {seen}"
