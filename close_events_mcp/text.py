"""Making CRM text safe to show a model: no markup, no control or invisible characters, capped.

Notes, emails and SMS are written by people outside our control. They are data, never
instructions: we strip what could hide or disguise content (ANSI escapes, control, zero-width
and bidi characters, HTML), collapse whitespace, cap the length and quote the result.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_HIDDEN_BLOCK = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BREAK = re.compile(r"<(?:br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(?:[\s/][^<>]{0,2000})?>|<![^<>]{0,2000}>")
"""An HTML tag or declaration; ``<rita@example.com>`` in an address is not one."""
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb]"
)
_SPACES = re.compile(r"\s+")
ELLIPSIS = "…"


def strip_markup(value: str) -> str:
    """Plain text from text that may hold HTML, ANSI escapes and invisible characters."""
    value = _ANSI.sub("", value)
    if "<" in value or "&" in value:
        value = _HIDDEN_BLOCK.sub(" ", value)
        value = _COMMENT.sub(" ", value)
        value = _BREAK.sub(" ", value)
        value = _TAG.sub("", value)
        value = html.unescape(value)
        value = _TAG.sub("", value)
    return _INVISIBLE.sub("", value)


def truncate(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = value[: max(limit - 1, 1)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + ELLIPSIS


def clean(value: str, limit: int = 200) -> str:
    """One line of plain text, at most ``limit`` characters."""
    return truncate(_SPACES.sub(" ", strip_markup(value)).strip(), limit)


def quote(value: str, limit: int = 120) -> str:
    """Cleaned user text in double quotes, so it reads as data, never as our own words."""
    return '"' + clean(value, limit).replace('"', "'") + '"'


def redact(value: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            value = value.replace(secret, "[redacted]")
    return value
