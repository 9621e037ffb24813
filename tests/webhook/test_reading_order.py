"""The lesson's text against its code: one reading order, and the retry formula as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import learn_webhook.retry_schedule as retry_schedule
from learn_webhook.retry_schedule import RetryPolicy

pytestmark = pytest.mark.memory  # reads the README and the modules' source files

PACKAGE = Path(__file__).parents[2] / "webhook" / "learn_webhook"
README = Path(__file__).parents[2] / "webhook" / "README.md"


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


def written_formulas(text: str) -> set[str]:
    """Every ``uniform(0, <ceiling>)`` written in ``text``, as its ceiling expression."""
    return set(re.findall(r"uniform\(0, (min\(cap, .+?\))\)(?:`|$)", text, re.MULTILINE))


@pytest.mark.parametrize("where", ["README.md", "retry_schedule.py docstring"])
def test_the_written_formula_gives_the_schedules_bounds(where):
    # The formula as the lesson writes it (retry k from 0, after attempt n = k + 1 failed),
    # evaluated as written: it must give the ceilings the code uses, retry by retry.
    text = ((Path(__file__).parents[2] / "webhook" / "README.md").read_text() if where == "README.md"
            else retry_schedule.__doc__ or "")
    [formula] = written_formulas(text)
    for max_attempts, base, cap in ((6, 0.5, 30.0), (9, 0.25, 5.0), (4, 2.0, 1.0)):
        policy = RetryPolicy(max_attempts, base, cap)
        bounds = [eval(formula, {"__builtins__": {}}, {"min": min, "cap": cap, "base": base, "k": k})
                  for k in range(max_attempts - 1)]
        assert policy.schedule(Ceiling()) == bounds
        assert [policy.ceiling(n) for n in range(1, max_attempts)] == bounds  # attempt n -> retry n - 1
    assert RetryPolicy(6, 0.5, 30).ceiling(1) == 0.5  # the first retry's ceiling is base itself


class Ceiling:
    """A generator that always draws the top of the range: the schedule's ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b
