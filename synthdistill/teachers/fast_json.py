"""JSON on the request path through orjson, about 5x the standard library here; stdlib for what orjson refuses.

orjson rejects lone surrogates ("\\ud83d", half an emoji, which some servers send for a partial token);
the standard library takes them, so nothing valid is turned into an error.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text; non-ASCII kept as is, or escaped where it cannot be encoded as UTF-8."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # a lone surrogate: escape it, so the text is valid UTF-8 for the cache and the wire
        return json.dumps(value, separators=(",", ":"))


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises json.JSONDecodeError (orjson's error is a subclass) or UnicodeDecodeError."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
