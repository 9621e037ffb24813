"""A small JSON Schema checker: enough of draft 2020-12 for the tools' inputs and outputs.

Reading order: jsonrpc -> lifecycle -> notes / calculator / **schema** -> tools -> ...

MCP describes every tool's arguments with a JSON Schema (``inputSchema``) and,
optionally, its structured result (``outputSchema``); 2025-11-25 server/tools
§Tool says servers MUST validate structured results against the output schema
and clients SHOULD validate too.  This module checks the keywords our schemas
use: ``type``, ``properties``, ``required``, ``additionalProperties: false``,
``items``, ``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength``,
``minItems``/``maxItems``, and two that are new in 2020-12 (the dialect MCP
assumes when a schema names no ``$schema``): ``prefixItems`` (a tuple: one schema
per position; ``items`` then covers only the positions after them, and
``items: false`` forbids any) and ``$ref`` to ``#/$defs/<name>`` (``$defs`` is
2020-12's name for reusable parts; only references inside the same schema are
followed).  Any other keyword is ignored, which is what a validator must do with
unknown keywords anyway.  Production would use the ``jsonschema`` package
(``tests/mcp/test_mcp_schema.py`` checks we agree with its ``Draft202012Validator``).

Errors name the failing place as a JSON Pointer (``/steps``), so a tool error
tells a model exactly what to fix.
"""

from __future__ import annotations

from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # JSON has one number type; bool is an int subclass in Python, so exclude it.
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


def validate(value: Any, schema: dict[str, Any] | bool, path: str = "",
             root: dict[str, Any] | None = None) -> list[str]:
    """Every way ``value`` breaks ``schema``, as "``/path``: reason" strings ([] when valid)."""
    where = path or "/"
    if isinstance(schema, bool):  # true accepts anything, false nothing
        return [] if schema else [f"{where}: not allowed here"]
    root = schema if root is None else root
    if "$ref" in schema:
        errors = validate(value, _resolve(root, schema["$ref"]), path, root)
        rest = {k: v for k, v in schema.items() if k != "$ref"}  # 2020-12: $ref sits beside siblings
        return errors + (validate(value, rest, path, root) if rest else [])
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES[name](value) for name in names if name in _TYPES):
            return [f"{where}: expected {' or '.join(names)}, got {_json_type(value)}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: must be one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']} characters")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: must be <= {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}/{name}: required property missing")
        for name, item in value.items():
            if name in properties:
                errors.extend(validate(item, properties[name], f"{path}/{name}", root))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}/{name}: unexpected property")
    if isinstance(value, list):
        errors.extend(_array(value, schema, path, root))
    return errors


def _array(value: list[Any], schema: dict[str, Any], path: str, root: dict[str, Any]) -> list[str]:
    where, errors = path or "/", []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{where}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{where}: more than {schema['maxItems']} items")
    prefix = schema.get("prefixItems", [])
    for index, item in enumerate(value):
        if index < len(prefix):
            errors.extend(validate(item, prefix[index], f"{path}/{index}", root))
        elif "items" in schema:  # 2020-12: items applies only after the prefix
            errors.extend(validate(item, schema["items"], f"{path}/{index}", root))
    return errors


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any] | bool:
    """``#/$defs/name`` (or any JSON Pointer into the same schema); other references are not followed."""
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, not {ref!r}")
    target: Any = root
    for part in filter(None, ref[1:].split("/")):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__
