"""Our small schema checker beside the jsonschema package's Draft202012Validator: the same verdicts.

The tool ``add_notes`` uses two 2020-12 keywords (``$defs`` + ``$ref``, ``prefixItems`` with
``items: false``); each instance below is judged by both, valid and invalid alike.
"""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from learn_mcp.schema import validate
from learn_mcp.tools import ADD_NOTES_INPUT, TOOLS

pytestmark = pytest.mark.differential

INSTANCES = [
    {"notes": [["Milk", "2 litres"]]},
    {"notes": [["Milk", ""], ["Eggs", "a dozen"]]},
    {"notes": []},  # minItems 1
    {"notes": [["Milk"]]},  # a pair needs both
    {"notes": [["Milk", "x", "extra"]]},  # items: false after the prefix
    {"notes": [["", "empty title"]]},
    {"notes": [[1, "title not a string"]]},
    {"notes": [{"title": "Milk", "body": "x"}]},  # an object, not a tuple
    {"notes": "Milk"},
    {"notes": [["Milk", "x"]], "extra": 1},
    {},
    {"notes": [["t", "b"]] * 51},  # maxItems 50
    {"notes": [["t" * 201, "b"]]},
]


def test_the_schema_says_it_is_2020_12_and_is_valid_there():
    assert ADD_NOTES_INPUT["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(ADD_NOTES_INPUT)


@pytest.mark.parametrize("instance", INSTANCES, ids=range(len(INSTANCES)))
def test_our_verdict_matches_draft_2020_12(instance):
    reference = Draft202012Validator(ADD_NOTES_INPUT).is_valid(instance)
    assert (validate(instance, ADD_NOTES_INPUT) == []) is reference, validate(instance, ADD_NOTES_INPUT)


def test_every_tool_schema_is_a_valid_2020_12_schema():
    for tool in TOOLS.values():
        Draft202012Validator.check_schema(tool.input_schema)
        Draft202012Validator.check_schema(tool.output_schema)
