"""Tool schemas in the form clients check fastest and models read cheapest, saying exactly what the
tools take and answer.

Output schemas: clients validate every structured answer against the tool's output schema (the MCP
Python client with ``jsonschema``, for each call), and for a page of 50 events that costs more than
the rest of the call. Pydantic's schema makes it slower than it needs to be: nested models sit
behind ``$ref``, each resolved on every use, and a field that defaults to null is
``anyOf: [T, null]``, a second schema tried for every value. Our answers leave such fields out
instead of sending null (``results.dump`` drops defaults), so here the references are inlined and
those fields are plain ``T``: the same answers validate, the schema is more precise, and checking it
is about twice as fast. An output schema carries what a client needs to check an answer and no
more: types, ``required``, bounds; no ``title`` (pydantic's generated "Lead Id" repeats the name
beside it) and no ``description``, which no client checks (the models in ``results`` keep them, as
documentation for the code). That is about half its size.

Input schemas are what a model reads of every tool in every conversation, so they carry only what
it needs: an optional argument is plain ``{"type": "string"}`` (it is left out, not sent as null),
with its description, real default and bounds, without ``default: null`` or generated titles.
Arguments are still checked against the tool's signature on the server, not against this schema.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}
_NAMED = frozenset({"properties", "patternProperties", "$defs", "definitions"})
"""Keywords whose value maps names (of fields, not keywords) to schemas."""
_DATA = frozenset({"default", "enum", "const", "examples", "required"})
"""Keywords whose value is data, not a schema: taken as it is."""


_TITLE = frozenset({"title"})
_TITLE_AND_DESCRIPTION = frozenset({"title", "description"})


def compact_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """What a client needs to check an answer: every local ``$ref`` inlined, never-sent nulls dropped
    from field types, no titles or descriptions."""
    return _compacted(schema, _TITLE_AND_DESCRIPTION)


def compact_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's arguments as a model needs them: optional ones as their plain type, no ``default:
    null``, no generated titles; descriptions, real defaults, bounds and ``required`` kept."""
    return _compacted(schema, _TITLE)


def _compacted(schema: dict[str, Any], dropped: frozenset[str]) -> dict[str, Any]:
    definitions = schema.get("$defs", {})
    top = {k: v for k, v in schema.items() if k != "$defs"}
    compacted: dict[str, Any] = _compact(top, definitions, (), dropped)
    if definitions and _refers(compacted):  # a recursive model: its definition stays
        compacted["$defs"] = {
            name: _compact(d, definitions, (name,), dropped) for name, d in definitions.items()
        }
    return compacted


def _compact(
    node: Any, definitions: dict[str, Any], expanding: tuple[str, ...], dropped: frozenset[str]
) -> Any:
    if isinstance(node, list):
        return [_compact(item, definitions, expanding, dropped) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        name = reference.removeprefix("#/$defs/")
        if name in definitions and name not in expanding:  # a recursive model keeps its reference
            rest = {key: value for key, value in node.items() if key != "$ref"}
            inlined = _compact(definitions[name], definitions, (*expanding, name), dropped)
            return {**inlined, **_compact(rest, definitions, expanding, dropped)}
    compacted: dict[str, Any] = {}
    for key, value in node.items():
        if key in dropped:
            continue
        if key in _DATA:
            compacted[key] = value
        elif key in _NAMED and isinstance(value, dict):
            compacted[key] = {
                name: _compact(field, definitions, expanding, dropped) for name, field in value.items()
            }
        else:
            compacted[key] = _compact(value, definitions, expanding, dropped)
    properties = compacted.get("properties")
    if isinstance(properties, dict):
        compacted["properties"] = {name: _never_null(field) for name, field in properties.items()}
    return compacted


def _refers(node: Any) -> bool:
    if isinstance(node, list):
        return any(_refers(item) for item in node)
    if isinstance(node, dict):
        return isinstance(node.get("$ref"), str) or any(_refers(value) for value in node.values())
    return False


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
