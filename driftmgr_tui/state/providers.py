"""Provider configuration addresses as Terraform stores them in a v4 state.

Modern form: ``provider["registry.terraform.io/hashicorp/aws"]``, optionally
prefixed by a module path and suffixed by ``.ALIAS``. Older (0.12-era) states
and upgraded v1-v3 states carry the legacy form ``provider.aws`` /
``module.child.provider.aws.west``. Terraform's reader accepts both and its
writer always emits the modern form, mapping legacy type names to the ``-``
namespace (``registry.terraform.io/-/null``) and ``terraform`` to the built-in
provider. ``normalize_provider`` does exactly that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "registry.terraform.io"
BUILTIN_TERRAFORM = "terraform.io/builtin/terraform"

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_MODULE_STEP = rf'module\s*\.\s*{_IDENT}(?:\s*\[\s*(?:\d+|"(?:[^"\\]|\\.)*")\s*\])?'
_MODERN = re.compile(
    rf'^(?P<module>(?:{_MODULE_STEP}\s*\.\s*)*)provider\s*\[\s*"(?P<source>[^"]+)"\s*\](?:\s*\.\s*(?P<alias>{_IDENT}))?$'
)
_LEGACY = re.compile(
    rf"^(?P<module>(?:{_MODULE_STEP}\s*\.\s*)*)provider\s*\.\s*(?P<type>{_IDENT})(?:\s*\.\s*(?P<alias>{_IDENT}))?$"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ProviderConfigAddress:
    module: str
    source: str
    alias: str | None = None

    @property
    def type(self) -> str:
        """The provider's type name (``aws`` for ``registry.terraform.io/hashicorp/aws``)."""
        return self.source.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        prefix = f"{self.module}." if self.module else ""
        suffix = f".{self.alias}" if self.alias else ""
        return f'{prefix}provider["{self.source}"]{suffix}'


def _normalize_source(source: str) -> str | None:
    parts = source.split("/")
    if len(parts) == 1:
        return f"{DEFAULT_REGISTRY}/hashicorp/{parts[0].lower()}" if parts[0] else None
    if len(parts) == 2:
        return f"{DEFAULT_REGISTRY}/{parts[0].lower()}/{parts[1].lower()}"
    if len(parts) == 3 and all(parts):
        return f"{parts[0].lower()}/{parts[1].lower()}/{parts[2].lower()}"
    return None


def parse_provider(text: str) -> ProviderConfigAddress | None:
    """Parse a stored provider address, modern or legacy; None when it is neither."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    match = _MODERN.match(text)
    if match:
        source = _normalize_source(match["source"])
        if source is None:
            return None
        return ProviderConfigAddress(_module(match["module"]), source, match["alias"])
    match = _LEGACY.match(text)
    if match:
        ptype = match["type"]
        source = BUILTIN_TERRAFORM if ptype == "terraform" else f"{DEFAULT_REGISTRY}/-/{ptype}"
        return ProviderConfigAddress(_module(match["module"]), source, match["alias"])
    return None


def _module(raw: str) -> str:
    return _SPACES.sub("", raw).rstrip(".")


_CACHE: dict[str, str | None] = {}


def normalize_provider(text: str) -> str | None:
    """The string Terraform writes for a stored provider address, or None if it is invalid. Cached:
    a state has few distinct providers and many resources."""
    try:
        return _CACHE[text]
    except KeyError:
        pass
    except TypeError:
        return None
    parsed = parse_provider(text)
    result = str(parsed) if parsed else None
    if len(_CACHE) < 4096:
        _CACHE[text] = result
    return result
