"""Making CRM text safe to show a model: no markup, no control or invisible characters, capped.

Notes, emails and SMS are written by people outside our control. They are data, never
instructions: we strip what could hide or disguise content (ANSI escapes, control, zero-width
and bidi characters, HTML), collapse whitespace, cap the length and quote the result.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable

_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])"
    r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x1b\x9c]*(?:\x07|\x9c)?"
)
"""ANSI escape sequences: CSI and OSC (a terminal title, a hyperlink) in their 7-bit (ESC) and 8-bit forms."""
_HIDDEN_BLOCK = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BREAK = re.compile(r"<(?:br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(?:[\s/][^<>]{0,2000})?>|<![^<>]{0,2000}>")
"""An HTML tag or declaration; ``<rita@example.com>`` in an address is not one."""
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]"
)
"""Control characters, and characters that show nothing or reorder what follows: zero-width and filler
characters, bidi controls, and the Unicode tag characters, which can spell out text no reader sees."""
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
        # Escaped markup (&lt;script&gt;…) is markup once unescaped: drop it the same way.
        value = _HIDDEN_BLOCK.sub(" ", value)
        value = _TAG.sub("", value)
        value = _ANSI.sub("", value)  # &#27;[31m is an escape sequence once unescaped, too
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
    if _is_plain(value):
        return truncate(value.strip(), limit)
    return truncate(_SPACES.sub(" ", strip_markup(value)).strip(), limit)


def _is_plain(value: str) -> bool:
    """Printable ASCII with no markup and no runs of spaces: nothing for ``clean`` to strip (most IDs,
    field names and short texts), checked in C before any regular expression runs."""
    return (
        value.isascii()
        and value.isprintable()
        and "<" not in value
        and "&" not in value
        and "  " not in value
    )


def quote(value: str, limit: int = 120) -> str:
    """Cleaned user text in double quotes, so it reads as data, never as our own words."""
    return '"' + clean(value, limit).replace('"', "'") + '"'


_PLAIN_NAME = re.compile(r"[\w .,'&()@+-]{1,60}")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.?=&%:+-]{1,200}")


def name_text(value: str, limit: int = 80) -> str:
    """A name (a user's, a contact's, a custom field's) as shown: as it is when it reads as a plain name,
    else quoted like user text, since whoever typed it may have written an instruction instead."""
    cleaned = clean(value, limit)
    if _PLAIN_NAME.fullmatch(cleaned) and len(cleaned.split()) <= 5:
        return cleaned
    return quote(value, limit)


def path_text(method: str, path: str) -> str:
    """A request line: the path as it is when it is a plain URL path, else quoted."""
    shown = path if _PLAIN_PATH.fullmatch(path) else quote(path, 160)
    return clean(f"{method} {shown}", 200)


def secret_forms(secret: str) -> tuple[str, ...]:
    """How a credential may show up in text: as itself, and base64-encoded as HTTP Basic auth sends it
    (``key:``) or alone, with or without padding; longest first."""
    if not secret:
        return ()
    encoded = {base64.b64encode(raw.encode()).decode() for raw in (f"{secret}:", secret)}
    forms = {secret} | encoded | {form.rstrip("=") for form in encoded}
    return tuple(sorted(forms, key=len, reverse=True))


def redact(value: str, secrets: Iterable[str]) -> str:
    """``value`` with every form of every secret replaced by ``[redacted]``."""
    for secret in secrets:
        for form in secret_forms(secret):
            value = value.replace(form, "[redacted]")
    return value
