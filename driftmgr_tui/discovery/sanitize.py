"""Cloud answers as plain JSON: datetimes as ISO strings, bytes dropped, SDK objects as their text."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def json_safe(value: Any, *, _depth: int = 0) -> Any:
    """A deep copy of ``value`` that ``orjson`` can write and that reads back equal."""
    if _depth > 64:
        return "(nested too deep)"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, _depth=_depth + 1) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, _depth=_depth + 1) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return "base64:" + base64.b64encode(bytes(value)).decode() if len(value) <= 4096 else "(binary)"
    return str(value)
