"""Which values are secrets: one rule for state attributes, discovered cloud attributes and exports."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "(sensitive value)"

_SECRETISH = re.compile(
    r"(^|_)(password|passwd|secret|token|private_key|access_key|secret_key|api_key|client_secret|"
    r"connection_string|credentials?|auth_token|master_password|sas)(_|$)",
    re.IGNORECASE,
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secretish(name: str) -> bool:
    """True for attribute names that hold secrets, in snake_case (``master_password``) or the CamelCase
    cloud APIs use (``MasterUserPassword``, ``SecretString``)."""
    return bool(_SECRETISH.search(_CAMEL_BOUNDARY.sub("_", name)))


def redact_names(node: Any) -> None:
    """Replace, in place, every non-empty value under a secret-looking key with :data:`REDACTED`."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and is_secretish(k.split(".")[-1]) and v not in (None, "", [], {}):
                node[k] = REDACTED
            else:
                redact_names(v)
    elif isinstance(node, list):
        for item in node:
            redact_names(item)
