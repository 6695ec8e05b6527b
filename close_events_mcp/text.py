"""Making CRM text safe to show a model: no markup, no control or invisible characters, capped.

Notes, emails and SMS are written by people outside our control. They are data, never
instructions: we strip what could hide or disguise content (ANSI escapes, control, zero-width
and bidi characters, HTML), collapse whitespace, cap the length and quote the result.

Cleaning takes time in proportion to the text, whatever the text. Every pattern here starts at a
``<``, ``&`` or escape character and either matches, and the search goes on after the match, or fails
by the next such character or within a bounded number of characters. An element whose end is searched
for (a comment, a script) ends where that end is found or, unclosed, hides the rest of the text, as a
browser shows it: no end is searched for twice over the same characters. And ``clean`` reads only
a bounded prefix of a huge text, since its answer is short anyway.
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
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]"
)
"""Control characters, and characters that show nothing or reorder what follows: zero-width and filler
characters, bidi controls, and the Unicode tag characters, which can spell out text no reader sees."""
_BLOCK = re.compile(r"<(?=[!sStT])(?:!--|((?i:script|style|title))\b)")
"""Where a comment starts, or an element whose content is never shown: a script, a style sheet, a
title. Its content runs to its end tag; with none it runs to the end of the text, as in a browser."""
_BLOCK_END = {name: re.compile(rf"</{name}\s*+>", re.IGNORECASE) for name in ("script", "style", "title")}
_RAW_TEXT = re.compile(r"<(?=[sStT])(?i:script|style|title)\b")
_COMMENT = re.compile(r"<!--(?:>|->|.*?-->)", re.DOTALL)
"""A comment, ending at the first ``-->`` from its third character on (``<!-->`` is an empty one)."""
_BREAK = re.compile(r"<(?=[bB/])(?i:br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^<>]{0,2000}+>")
_TAG = re.compile(
    r"<(?=[/A-Za-z!?])(?:/?[A-Za-z][A-Za-z0-9-]{0,30}+(?:[\s/][^<>]{0,2000}+)?|[!?][^<>]{0,2000}+)>"
)
"""An HTML tag, declaration or processing instruction; ``<rita@example.com>`` in an address is not one.
A tag holds no ``<``, so matching one never reads past the next ``<``."""
_LONG_CHARREF = re.compile(r"&#(?:[xX][0-9a-fA-F]{8,}|[0-9]{8,});?")
"""A numeric character reference with so many digits that ``html.unescape`` would refuse to convert
them (Python caps integer conversions at 4,300 digits)."""
_ASCII_CONTROL = dict.fromkeys([*range(0x09), *range(0x0B, 0x20), 0x7F])
"""What ``_INVISIBLE`` matches in ASCII text, for ``str.translate``: many times faster there."""
_SPACES = re.compile(r"\s+")
ELLIPSIS = "…"
INPUT_PER_CHARACTER = 8
INPUT_SLACK = 32_768
"""``clean(value, limit)`` reads at most ``limit * INPUT_PER_CHARACTER + INPUT_SLACK`` characters of
``value``: room for markup around the text it shows, and for a long head or style block before it."""
LONGEST_TAG = 2_040
"""The most characters ``_TAG`` and ``_BREAK`` match."""


def _hide_blocks(text: str) -> str:
    """Comments and script, style and title elements, each as one space."""
    if _RAW_TEXT.search(text) is None:
        return _hide_comments(text) if "<!--" in text else text
    return _hide_blocks_scan(text)


def _hide_comments(text: str) -> str:
    """Comments, each as one space, in a text without script, style or title elements: done in C. A
    comment that starts before the last ``-->`` ends at or before it, so ``_COMMENT`` finds the end of
    each in one pass; the first that starts after it is unclosed and hides the rest."""
    last = text.rfind("-->")
    unclosed = text.find("<!--", max(last - 1, 0))
    if unclosed < 0:
        return _COMMENT.sub(" ", text)
    return _COMMENT.sub(" ", text[:unclosed]) + " "


def _hide_blocks_scan(text: str) -> str:
    """Comments and script, style and title elements, each as one space. Every search for an end either
    finds it, and the scan goes on after it, or ends the text: no character is searched twice."""
    found = _BLOCK.search(text)
    if found is None:
        return text
    parts: list[str] = []
    at = 0
    while found is not None:
        parts.append(text[at : found.start()])
        parts.append(" ")
        name = found.group(1)
        if name is None:
            end = text.find("-->", found.start() + 2)  # <!--> and <!---> are empty comments
            if end < 0:
                return "".join(parts)
            at = end + 3
        else:
            opened = text.find(">", found.end())
            closing = _BLOCK_END[name.lower()].search(text, opened + 1) if opened >= 0 else None
            if closing is None:
                return "".join(parts)
            at = closing.end()
        found = _BLOCK.search(text, at)
    parts.append(text[at:])
    return "".join(parts)


def _tags(text: str) -> str:
    return _TAG.sub("", _BREAK.sub(" ", _hide_blocks(text)))


def _bounded_charref(found: re.Match[str]) -> str:
    ref = found.group(0).rstrip(";")
    hexadecimal = ref[2] in "xX"
    digits = ref[3 if hexadecimal else 2 :].lstrip("0") or "0"
    if len(digits) > 7:  # past U+10FFFF in either base: not a character
        return "\ufffd"
    return ("&#x" if hexadecimal else "&#") + digits + ";"


def _unescape(text: str) -> str:
    """``html.unescape(text)``, with the commonest references replaced in C first (escaped markup is
    mostly ``&lt;`` and ``&gt;``), and numeric ones too long to convert made harmless. ``&amp;`` stands
    as NUL meanwhile, which ``_visible`` removed before: no reference is made by a replacement."""
    if "&#" in text:
        text = _LONG_CHARREF.sub(_bounded_charref, text)
    text = text.replace("&amp;", "\x00").replace("&lt;", "<").replace("&gt;", ">")
    if "&" in text:
        text = html.unescape(text)
    return text.replace("\x00", "&")


def _visible(text: str) -> str:
    """``text`` without escape sequences, control and invisible characters."""
    text = _ANSI.sub("", text)
    return text.translate(_ASCII_CONTROL) if text.isascii() else _INVISIBLE.sub("", text)


def strip_markup(value: str) -> str:
    """Plain text from text that may hold HTML, ANSI escapes and invisible characters.

    Escapes and invisible characters go first, so that none can split a tag name and smuggle the tag
    through (``<scr\\u200bipt>``); markup and entities go next; and escaped markup (``&lt;script&gt;``),
    an escape (``&#27;[31m``) or an invisible character (``&#x202e;``) written as an entity goes the
    same way once unescaped, as does markup that removing other markup put together."""
    value = _visible(value)
    if "<" not in value and "&" not in value:
        return value
    stripped = _tags(value) if "<" in value else value
    changed = stripped != value
    if "&" in stripped:
        unescaped = _unescape(stripped)
        if unescaped != stripped:
            stripped, changed = _visible(unescaped), True
    return _tags(stripped) if changed and "<" in stripped else stripped


def truncate(value: str, limit: int, *, more: bool = False) -> str:
    """``value`` in at most ``limit`` characters, cut at a word with an ellipsis when it is longer, or
    when ``more`` says that it is the start of a longer text."""
    if len(value) <= limit and not more:
        return value
    if len(value) < limit:
        return value.rstrip(" ,;:.") + ELLIPSIS
    cut = value[: max(limit - 1, 1)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + ELLIPSIS


def input_budget(limit: int) -> int:
    """How much of a text ``clean(text, limit)`` reads."""
    return max(limit, 0) * INPUT_PER_CHARACTER + INPUT_SLACK


def _without_open_tag(text: str) -> str:
    """A prefix cut from a longer text, without a tag the cut left open (it would read as text)."""
    start = text.rfind("<", max(len(text) - LONGEST_TAG, 0))
    return text[:start] if start >= 0 and text.find(">", start) < 0 else text


def clean(value: str, limit: int = 200) -> str:
    """One line of plain text, at most ``limit`` characters. Of a text longer than ``input_budget(limit)``
    only that much is read, and the line ends with an ellipsis."""
    cut = len(value) > input_budget(limit)
    if cut:
        value = value[: input_budget(limit)]
    if _is_plain(value):
        return truncate(value.strip(), limit, more=cut)
    text = _SPACES.sub(" ", strip_markup(value)).strip()
    if cut:
        text = _without_open_tag(text).rstrip()
    return truncate(text, limit, more=cut)


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


def escaped(value: str) -> str:
    """``value`` with every control, invisible or non-printing character written as an escape
    (``\\u0000``, ``\\u202e``) and backslashes doubled: what it holds, all of it visible."""
    if value.isascii() and value.isprintable() and "\\" not in value:
        return value
    return "".join(_escape(char) for char in value)


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char.isprintable() and not _INVISIBLE.match(char):
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def quote(value: str, limit: int = 120) -> str:
    """Cleaned user text in double quotes, so it reads as data, never as our own words."""
    return '"' + clean(value, limit).replace('"', "'") + '"'


def quote_whole(value: str) -> str:
    """A value cleaned (and capped) before, in double quotes, whole: how the text shows user text that
    structured content carries plain. Cleaned again on the way, which leaves clean text as it is."""
    return quote(value, max(len(value), 1))


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.?=&%:+-]{1,200}")
_METHOD = re.compile(r"[A-Z]{1,12}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")
CLOSE_ID = re.compile(r"[a-z][a-z0-9]{0,19}_[A-Za-z0-9]{1,100}")
"""A Close ID: a type prefix, an underscore, letters and digits (``lead_…``, ``ev_…``, ``api_…``)."""
NOT_AN_ID = " (not a Close ID)"

# What Close sends (names, IDs, keys) is carried plain, only cleaned, in structured content, where JSON
# delimits it; the functions below are how the text shows it, so that none of it reads as our words.


def name_text(value: str, limit: int = 80) -> str:
    """A name (a user's, a contact's, a custom field's, an organization's) as shown: always quoted like
    user text, since whoever typed it may have written an instruction instead (``"Gob Bluth"``)."""
    return quote(value, limit)


def key_text(value: str, limit: int = 60) -> str:
    """A field key, object type or action from Close as shown: as it is when it is one identifier
    (``status_label``, ``custom.cf_…``, ``activity.email``), else quoted like user text."""
    return value if _KEY.fullmatch(value) else quote(value, limit)


def id_text(value: str) -> str:
    """An ID from Close as shown: as it is when it is shaped like a Close ID, else quoted and marked
    (``"IGNORE PREVIOUS…" (not a Close ID)``), never as an ID of ours."""
    return value if CLOSE_ID.fullmatch(value) else quote(value, 40) + NOT_AN_ID


def path_text(method: str, path: str) -> str:
    """A request line: the method as it is when it is one, the path when it is a plain URL path; else
    each quoted."""
    shown_method = method if _METHOD.fullmatch(method) else quote(method, 40)
    shown = path if _PLAIN_PATH.fullmatch(path) else quote(path, 160)
    return clean(f"{shown_method} {shown}", 200)


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
