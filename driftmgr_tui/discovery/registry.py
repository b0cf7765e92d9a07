"""The type registry: which cloud resource types driftmgr knows, the Terraform type each becomes, and the
exact ``id`` Terraform stores for it.

The registry is data. Each provider contributes a table of :class:`TypeMapping` entries (``aws/catalog.py``,
``azure/catalog.py``, ``gcp/catalog.py``, ``digitalocean/catalog.py``); an entry's ``id`` is either a template over the fields the cloud
API returned (``"{VpcId}"``, ``"{HostedZone.Id|basename}"``) or, where a template cannot say it, a small
function. Drift detection matches a state instance to a discovered resource by ``(terraform type,
match_key(id))``, so an id rule that is wrong by one character is a false "missing" *and* a false
"unmanaged": every mapping has a test.

Nothing here imports a cloud SDK.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from driftmgr_tui.core.errors import DriftmgrError, UsageError

IdRule = str | Callable[[Mapping[str, Any]], str]

# The clouds discovery knows: the one list the CLI's --provider choices, the config schema, the services and the
# TUI take their choices from.
PROVIDERS = ("aws", "azure", "gcp", "digitalocean")
TERRAFORM_PREFIX = {"aws": "aws_", "azure": "azurerm_", "gcp": "google_", "digitalocean": "digitalocean_"}


def providers_text(last: str = "or") -> str:
    """``"aws, azure, gcp or digitalocean"``, for messages naming the choices."""
    return f"{', '.join(PROVIDERS[:-1])} {last} {PROVIDERS[-1]}"


class MappingError(DriftmgrError):
    """A cloud answer lacks a field an id or name rule needs (an API change or a catalog bug)."""


@dataclass(frozen=True, kw_only=True)
class TypeMapping:
    """One cloud resource type and the Terraform resource type it is managed as.

    ``equivalents`` names other Terraform types that manage the same cloud object with the same id
    (``azurerm_linux_virtual_machine`` / ``azurerm_windows_virtual_machine``): a state instance of any of them
    matches a resource discovered as ``terraform_type``.
    """

    provider: str
    cloud_type: str
    terraform_type: str
    id: IdRule
    equivalents: tuple[str, ...] = ()
    note: str = ""

    def terraform_id(self, fields: Mapping[str, Any]) -> str:
        return render(self.id, fields, what=f"{self.terraform_type} id")

    @property
    def all_terraform_types(self) -> tuple[str, ...]:
        return (self.terraform_type, *self.equivalents)


_FIELD = re.compile(r"\{([^{}]+)\}")

_FILTERS: dict[str, Callable[[str], str]] = {
    "basename": lambda s: s.rstrip("/").rsplit("/", 1)[-1],
    "lower": str.lower,
    "strip_slash": lambda s: s.strip("/"),
    "after_colon": lambda s: s.split(":", 1)[-1],
}


def lookup(fields: Mapping[str, Any], path: str) -> Any:
    """``fields["A"]["B"]`` for ``path="A.B"``; ``tag:Name`` looks in the normalised tags. None if absent."""
    if path.startswith("tag:"):
        tags = fields.get("__tags__") or {}
        return tags.get(path[4:])
    value: Any = fields
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


def render(rule: IdRule, fields: Mapping[str, Any], *, what: str = "value") -> str:
    """Apply an id/name rule. Templates: ``{Path.To.Field}`` with optional ``|filter`` (basename, lower,
    strip_slash, after_colon). A missing field is a :class:`MappingError` naming it, never an empty id."""
    if callable(rule):
        result = rule(fields)
        if not result:
            raise MappingError(f"{what}: the rule produced an empty value")
        return result

    def substitute(match: re.Match[str]) -> str:
        path, *filters = match.group(1).split("|")
        value = lookup(fields, path.strip())
        if value is None or value == "":
            raise MappingError(f"{what}: the cloud answer has no {path.strip()!r}")
        text = str(value)
        for name in filters:
            try:
                text = _FILTERS[name.strip()](text)
            except KeyError:
                raise MappingError(f"{what}: unknown filter {name.strip()!r} in rule {rule!r}") from None
        return text

    return _FIELD.sub(substitute, rule)


def render_optional(rule: IdRule | None, fields: Mapping[str, Any]) -> str | None:
    """Like :func:`render` but None when the rule is None or a field is missing (names, ARNs)."""
    if rule is None:
        return None
    try:
        return render(rule, fields)
    except MappingError:
        return None


def normalize_tags(raw: Any) -> dict[str, str]:
    """Tags as a plain ``{key: value}`` dict from the shapes cloud APIs use: a dict, or a list of
    ``{"Key", "Value"}`` / ``{"key", "value"}`` / ``{"TagKey", "TagValue"}`` objects, or a list of plain
    strings (DigitalOcean's tags: each becomes a key with an empty value; ``env:prod`` stays one key)."""
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    tags: dict[str, str] = {}
    if isinstance(raw, list):
        if all(isinstance(item, str) for item in raw):
            return {item: "" for item in raw if item}
        for item in raw:
            if not isinstance(item, Mapping):
                continue
            key = item.get("Key", item.get("key", item.get("TagKey")))
            value = item.get("Value", item.get("value", item.get("TagValue")))
            if key is not None:
                tags[str(key)] = "" if value is None else str(value)
    return tags


M = TypeVar("M", bound=TypeMapping)


def select_types(catalog: Iterable[M], provider: str, types: Iterable[str]) -> list[M]:
    """The catalog entries a scope asks for (every entry when ``types`` is empty). A type filter that
    matches nothing is a UsageError naming the types, rather than a run that silently lists nothing."""
    wanted = set(types)
    selected = [m for m in catalog if not wanted or wanted & set(m.all_terraform_types)]
    if wanted and not selected:
        raise UsageError(f"{provider}: none of the types {sorted(wanted)} is in the {provider} catalog")
    return selected


class Registry:
    """Lookups over every provider's catalog. Built once per process (:func:`registry`)."""

    def __init__(self, mappings: Iterable[TypeMapping]) -> None:
        self.mappings: tuple[TypeMapping, ...] = tuple(mappings)
        self._by_cloud: dict[tuple[str, str], list[TypeMapping]] = {}
        self._by_terraform: dict[str, TypeMapping] = {}
        self._equivalence: dict[str, frozenset[str]] = {}
        for mapping in self.mappings:
            prefix = TERRAFORM_PREFIX.get(mapping.provider)
            if prefix is None:
                raise ValueError(f"unknown provider {mapping.provider!r} for {mapping.terraform_type}")
            for tf_type in mapping.all_terraform_types:
                if not tf_type.startswith(prefix):
                    raise ValueError(f"{tf_type}: a {mapping.provider} Terraform type must start with {prefix}")
            if mapping.terraform_type in self._by_terraform:
                raise ValueError(f"{mapping.terraform_type} is mapped twice")
            self._by_terraform[mapping.terraform_type] = mapping
            self._by_cloud.setdefault((mapping.provider, mapping.cloud_type.lower()), []).append(mapping)
            group = frozenset(mapping.all_terraform_types)
            for tf_type in group:
                self._equivalence[tf_type] = self._equivalence.get(tf_type, frozenset()) | group

    def by_terraform_type(self, terraform_type: str) -> TypeMapping | None:
        return self._by_terraform.get(terraform_type)

    def by_cloud_type(self, provider: str, cloud_type: str) -> list[TypeMapping]:
        """Every mapping of a cloud type (usually one; several when a discriminator such as Azure's
        ``kind`` picks between them)."""
        return list(self._by_cloud.get((provider, cloud_type.lower()), ()))

    def for_provider(self, provider: str) -> list[TypeMapping]:
        return [m for m in self.mappings if m.provider == provider]

    def terraform_types(self, provider: str | None = None) -> list[str]:
        """Every Terraform type covered (primary and equivalents), sorted."""
        types = {t for m in self.mappings if provider in (None, m.provider) for t in m.all_terraform_types}
        return sorted(types)

    def equivalent_types(self, terraform_type: str) -> frozenset[str]:
        return self._equivalence.get(terraform_type, frozenset({terraform_type}))


def match_key(terraform_type: str, terraform_id: str) -> str:
    """The form of an id drift detection compares. ARM ids are case-insensitive, so azurerm ids compare
    lower-cased; AWS and Google ids compare exactly as Terraform stores them."""
    if terraform_type.startswith("azurerm_"):
        return terraform_id.lower()
    return terraform_id


@functools.cache
def registry() -> Registry:
    """The registry of every provider's catalog (imported lazily: only data, no SDKs)."""
    from driftmgr_tui.discovery.aws.catalog import AWS_TYPES
    from driftmgr_tui.discovery.azure.catalog import AZURE_TYPES
    from driftmgr_tui.discovery.digitalocean.catalog import DIGITALOCEAN_TYPES
    from driftmgr_tui.discovery.gcp.catalog import GCP_TYPES

    return Registry([*AWS_TYPES, *AZURE_TYPES, *GCP_TYPES, *DIGITALOCEAN_TYPES])
