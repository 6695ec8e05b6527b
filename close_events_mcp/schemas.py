"""Output schemas in the form clients check fastest, saying exactly what the answers hold.

Clients validate every structured answer against the tool's output schema (the MCP Python client
with ``jsonschema``, for each call), and for a page of 50 events that costs more than the rest of
the call. Pydantic's schema makes it slower than it needs to be: nested models sit behind
``$ref``, each resolved on every use, and a field that defaults to null is ``anyOf: [T, null]``,
a second schema tried for every value. Our answers leave such fields out instead of sending null
(``results.dump`` drops defaults), so here the references are inlined and those fields are plain
``T``: the same answers validate, the schema is more precise, and checking it is about twice as fast.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every local ``$ref`` inlined and never-sent nulls dropped from field types."""
    definitions = schema.get("$defs", {})
    compacted: dict[str, Any] = _compact({k: v for k, v in schema.items() if k != "$defs"}, definitions, ())
    return compacted


def _compact(node: Any, definitions: dict[str, Any], expanding: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_compact(item, definitions, expanding) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        name = reference.removeprefix("#/$defs/")
        if name in definitions and name not in expanding:  # a recursive model keeps its reference
            rest = {key: value for key, value in node.items() if key != "$ref"}
            inlined = _compact(definitions[name], definitions, (*expanding, name))
            return {**inlined, **_compact(rest, definitions, expanding)}
    compacted = {key: _compact(value, definitions, expanding) for key, value in node.items()}
    properties = compacted.get("properties")
    if isinstance(properties, dict):
        compacted["properties"] = {name: _never_null(field) for name, field in properties.items()}
    return compacted


def _never_null(field: Any) -> Any:
    """``anyOf: [T, null]`` with ``default: null`` → ``T``: such a field is left out, never null."""
    if not isinstance(field, dict) or "default" not in field or field["default"] is not None:
        return field
    choices = field.get("anyOf")
    if not isinstance(choices, list) or len(choices) != 2 or _NULL not in choices:
        return field
    (kept,) = [choice for choice in choices if choice != _NULL]
    rest = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
    return {**kept, **rest}
