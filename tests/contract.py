"""The output contract every tool answer must meet (CONTRIBUTING.md, "Response style")."""

from __future__ import annotations

import json
import re
from typing import Any

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?>")
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def assert_clean_text(text: str) -> None:
    assert text.strip(), "empty answer"
    assert not _TAG.search(text), f"HTML in answer: {_TAG.search(text)}"
    assert not _HIDDEN.search(text), "control or invisible characters in answer"
    for token in ("null", "None", '{"', "\\n", "\\u"):
        assert token not in text, f"raw data ({token!r}) in answer"


def assert_clean_structured(data: Any) -> None:
    def walk(value: Any) -> None:
        assert value is not None, "null in structured content"
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            assert not _TAG.search(value), f"HTML in structured content: {value[:80]}"
            assert not _HIDDEN.search(value), "control or invisible characters in structured content"

    walk(data)
    dumped = json.dumps(data)
    for raw_key in ('"previous_data"', '"body_html"', '"organization_id"', '"note_html"'):
        assert raw_key not in dumped, f"raw payload field {raw_key} in structured content"
