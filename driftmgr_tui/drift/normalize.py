"""Normalizers: the named rules that make "the same value, written differently" compare equal.

A clean estate must report zero drift. Terraform state and a cloud API describe the same object in different
words: ``tags`` next to ``tags_all``, a policy document as a JSON string on one side and parsed (and reordered)
on the other, ``10.0.0.0/16`` and ``10.0.0.0/16`` with host bits, ARM ids in two casings, a set in another
order, ``null`` where the other side says ``{}``. Each rule here has a name and a reason (``driftmgr drift
normalizers`` lists them, the docs explain them) and its own tests; :func:`diff` applies them and reports only
what is left: field-level differences as path, expected (state), actual (cloud).

Two levels:

- *value* normalizers shape one value into a canonical, hashable form (:func:`canonical`); two values are
  equal when their canonical forms are.
- *attribute* normalizers rewrite a whole attribute dict before comparison (:func:`effective_tags`,
  :func:`apply_provider_defaults`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from driftmgr_tui.core.redaction import is_secretish
from driftmgr_tui.drift.model import FieldDiff

SENSITIVE = "(sensitive)"


@dataclass(frozen=True)
class Normalizer:
    name: str
    level: str  # "value" | "attributes" | "resources"
    reason: str


NORMALIZERS: dict[str, Normalizer] = {}


def _register(name: str, level: str, reason: str) -> None:
    NORMALIZERS[name] = Normalizer(name, level, reason)


# ------------------------------------------------------------------------------------------- value level

_register("empty_values", "value",
          "null, \"\", [] and {} mean the same thing: the provider writes null where the API returns an empty "
          "map (after a refresh, tags: null becomes tags: {})")
_register("json_documents", "value",
          "strings holding JSON (policies, container definitions) are compared as data, not as text: key order "
          "and whitespace do not matter")
_register("iam_policy_documents", "value",
          "IAM policy documents in AWS's canonical form: a single Statement/Action/Resource is a list of one, "
          "lists are unordered, an account id principal is arn:aws:iam::ID:root, an empty Sid is no Sid")
_register("cidr_forms", "value",
          "CIDR blocks compared as networks: host bits, IPv6 zero compression and case do not matter")
_register("azure_id_case", "value",
          "Azure resource ids are case-insensitive (ARM returns resourceGroups as resourcegroups at times)")
_register("number_forms", "value",
          "a number and its decimal string are the same value (\"3600\" and 3600)")
_register("set_ordering", "value",
          "lists are compared as sets: the API returns set members in its own order")
_register("tags_vs_tags_all", "attributes",
          "the cloud has the effective tags (the resource's tags merged with the provider's default_tags), "
          "which the state records as tags_all: compare tags_all, reported as tags")
_register("provider_defaults", "attributes",
          "an attribute absent from the state equals the provider's default (an IAM role's path \"/\", "
          "max_session_duration 3600)")
_register("sensitive_values", "attributes",
          "values marked sensitive in the state, or with secret-looking names, are compared but never shown")


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY = _Empty()

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?\Z")
_CIDR = re.compile(r"[0-9a-fA-F:.]+/\d{1,3}\Z")
_ACCOUNT_ID = re.compile(r"\d{12}\Z")
_POLICY_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def canonical_cidr(text: str) -> str | None:
    """``10.0.0.1/16`` -> ``10.0.0.0/16``; ``2001:DB8:0::/32`` -> ``2001:db8::/32``; None if not a CIDR."""
    if not _CIDR.match(text):
        return None
    try:
        return ipaddress.ip_network(text, strict=False).compressed
    except ValueError:
        return None


def _sort_key(value: Any) -> str:
    return repr(value)


def canonical_policy(doc: Any) -> Any:
    """An IAM policy document in a canonical shape (see the ``iam_policy_documents`` normalizer)."""
    if not isinstance(doc, Mapping) or "Statement" not in doc:
        return doc
    out = dict(doc)
    statements = doc["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    canon = []
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, Mapping):
            canon.append(st)
            continue
        item = {k: v for k, v in st.items() if not (k == "Sid" and v == "")}
        for key in _POLICY_LIST_KEYS:
            if isinstance(item.get(key), str):
                item[key] = [item[key]]
        principal = item.get("Principal")
        if isinstance(principal, Mapping):
            fixed = {}
            for kind, who in principal.items():
                members = [who] if isinstance(who, str) else list(who or ())
                if kind == "AWS":
                    members = [f"arn:aws:iam::{m}:root" if isinstance(m, str) and _ACCOUNT_ID.match(m) else m
                               for m in members]
                fixed[kind] = members
            item["Principal"] = fixed
        condition = item.get("Condition")
        if isinstance(condition, Mapping):
            item["Condition"] = {
                op: {k: [v] if isinstance(v, str | int | float | bool) else v for k, v in (body or {}).items()}
                if isinstance(body, Mapping) else body
                for op, body in condition.items()
            }
        canon.append(item)
    out["Statement"] = canon
    return out


def _parse_json_text(text: str) -> Any:
    stripped = text.lstrip()
    if stripped[:3].upper() in ("%7B", "%5B"):  # IAM's URL-encoded documents
        from urllib.parse import unquote

        stripped = unquote(stripped)
        text = stripped
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def canonical(value: Any) -> Any:
    """The hashable canonical form of ``value`` under every value normalizer."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return ("n", value)
    if isinstance(value, float):
        return ("n", int(value) if value.is_integer() else value)
    if isinstance(value, str):
        if value == "":
            return EMPTY
        first = value[0]
        if first in "{[" or first == "%":
            parsed = _parse_json_text(value)
            if parsed is not None:
                return canonical(canonical_policy(parsed))
        if first == "/" and value[:15].lower() == "/subscriptions/":
            return value.lower()
        if first.isdigit() or first == "-":
            if _NUMBER.match(value):
                return ("n", float(value) if "." in value else int(value))
            cidr = canonical_cidr(value)
            if cidr is not None:
                return cidr
        elif ":" in value and "/" in value:
            cidr = canonical_cidr(value)
            if cidr is not None:
                return cidr
        return value
    if isinstance(value, Mapping):
        if "Statement" in value:
            value = canonical_policy(value)
        items = []
        for key, item in value.items():
            canon = canonical(item)
            if canon is not EMPTY:
                items.append((key, canon))
        if not items:
            return EMPTY
        items.sort()
        return ("d", tuple(items))
    if isinstance(value, list | tuple | set | frozenset):
        if not value:
            return EMPTY
        members = [canonical(v) for v in value]
        members.sort(key=_sort_key)
        return ("l", tuple(members))
    return value


def same(expected: Any, actual: Any) -> bool:
    """Equal under the value normalizers (fast when they are plainly equal)."""
    return expected == actual or canonical(expected) == canonical(actual)


# --------------------------------------------------------------------------------------- attributes level


def effective_tags(attrs: Mapping[str, Any]) -> dict[str, str] | None:
    """The tags the cloud should have: ``tags_all`` (tags + default_tags) when recorded, else ``tags``.
    None when the resource has no tags attribute at all (a type that cannot be tagged)."""
    has_tags = "tags" in attrs
    has_all = "tags_all" in attrs
    if not has_tags and not has_all:
        return None
    merged: dict[str, str] = {}
    tags_all = attrs.get("tags_all")
    tags = attrs.get("tags")
    if type(tags_all) is dict and (not tags or tags.items() <= tags_all.items()):
        return tags_all  # the usual case: tags_all already holds tags
    if isinstance(tags_all, Mapping):
        merged.update(tags_all)
    if isinstance(tags, Mapping):
        merged.update(tags)
    return merged


# (terraform type, attribute) -> the value an absent/null attribute stands for
PROVIDER_DEFAULTS: dict[tuple[str, str], Any] = {
    ("aws_iam_role", "path"): "/",
    ("aws_iam_role", "max_session_duration"): 3600,
    ("aws_iam_user", "path"): "/",
    ("aws_iam_policy", "path"): "/",
    ("aws_vpc", "instance_tenancy"): "default",
    ("aws_subnet", "map_public_ip_on_launch"): False,
    ("aws_instance", "source_dest_check"): True,
    ("aws_instance", "ebs_optimized"): False,
    ("aws_db_instance", "publicly_accessible"): False,
    ("aws_db_instance", "storage_encrypted"): False,
    ("aws_db_instance", "multi_az"): False,
    ("aws_db_instance", "deletion_protection"): False,
    ("aws_lambda_function", "description"): "",
    ("aws_lambda_function", "memory_size"): 128,
    ("aws_lambda_function", "timeout"): 3,
    ("aws_security_group", "description"): "Managed by Terraform",
}


_DEFAULTS_BY_TYPE: dict[str, list[tuple[str, Any]]] = {}
for (_type, _key), _default in PROVIDER_DEFAULTS.items():
    _DEFAULTS_BY_TYPE.setdefault(_type, []).append((_key, _default))


def apply_provider_defaults(terraform_type: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` with null/absent attributes replaced by the provider's default (a new dict when changed)."""
    changed = None
    for key, default in _DEFAULTS_BY_TYPE.get(terraform_type, ()):
        if key in attrs and attrs[key] is None:
            if changed is None:
                changed = dict(attrs)
            changed[key] = default
    return changed if changed is not None else attrs


def sensitive_path(path: str, sensitive: frozenset[str]) -> bool:
    """Whether a diff at ``path`` would show a secret: marked sensitive in the state (the path or a parent of
    it), or a secret-looking attribute name anywhere on the path."""
    if sensitive:
        parts = path.split(".")
        for end in range(1, len(parts) + 1):
            if ".".join(parts[:end]) in sensitive:
                return True
    return any(is_secretish(part) for part in path.split("."))


def sensitive_paths_of(instance: Mapping[str, Any]) -> frozenset[str]:
    """Dotted paths from a v4 state instance's ``sensitive_attributes`` (lists of steps)."""
    paths = set()
    for steps in instance.get("sensitive_attributes") or ():
        parts = []
        for step in steps if isinstance(steps, list) else ():
            if isinstance(step, Mapping):
                value = step.get("value")
                if isinstance(value, Mapping):  # an index step: {"type": "index", "value": {"value": 0, ...}}
                    value = value.get("value")
                if isinstance(value, str | int):
                    parts.append(str(value))
        if parts:
            paths.add(".".join(parts))
    return frozenset(paths)


# ----------------------------------------------------------------------------------------------- diffing


def _show(value: Any) -> Any:
    """A value as a diff shows it: parsed when it is a JSON document (so a policy diff reads as data)."""
    if isinstance(value, str) and value[:1] in "{[%":
        parsed = _parse_json_text(value)
        if parsed is not None:
            return parsed
    return value


def _set_delta(expected: list[Any], actual: list[Any]) -> tuple[list[Any], list[Any]]:
    """Members only in ``expected`` and only in ``actual`` (multiset difference, by canonical form)."""
    remaining: dict[Any, int] = {}
    for item in actual:
        key = canonical(item)
        remaining[key] = remaining.get(key, 0) + 1
    only_expected = []
    for item in expected:
        key = canonical(item)
        if remaining.get(key):
            remaining[key] -= 1
        else:
            only_expected.append(item)
    only_actual = []
    seen: dict[Any, int] = {}
    for item in expected:
        key = canonical(item)
        seen[key] = seen.get(key, 0) + 1
    for item in actual:
        key = canonical(item)
        if seen.get(key):
            seen[key] -= 1
        else:
            only_actual.append(item)
    return only_expected, only_actual


def diff(expected: Any, actual: Any, path: str = "", *, sensitive: frozenset[str] = frozenset(),
         ordered: Callable[[str], bool] | None = None) -> list[FieldDiff]:
    """Field-level differences between a state value and a cloud value, after normalization.

    Maps recurse per key (a key empty on both sides is no difference). A list of one map on each side (how
    Terraform stores a nested block) recurses into it as ``path.0``. Other lists are sets unless ``ordered``
    says otherwise; a set difference shows only the members that differ (expected: only in state, actual: only
    in the cloud). Sensitive paths keep their diff but show :data:`SENSITIVE` instead of the values.
    """
    out: list[FieldDiff] = []
    _diff(expected, actual, path, out, ordered)
    if out:
        for item in out:
            if sensitive_path(item.path, sensitive) or _holds_secret(item, sensitive):
                item.expected = SENSITIVE if not is_empty(item.expected) else item.expected
                item.actual = SENSITIVE if not is_empty(item.actual) else item.actual
    return out


def _holds_secret(item: FieldDiff, sensitive: frozenset[str]) -> bool:
    """Whether a diff reported at a parent path (a set of blocks) carries a sensitive or secret-named leaf."""
    prefix = item.path + "."
    if any(p.startswith(prefix) for p in sensitive):
        return True
    return _secret_key_in(item.expected) or _secret_key_in(item.actual)


def _secret_key_in(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(is_secretish(str(k)) or _secret_key_in(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_secret_key_in(v) for v in value)
    return False


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _diff(expected: Any, actual: Any, path: str, out: list[FieldDiff],
          ordered: Callable[[str], bool] | None) -> None:
    if expected == actual:
        return
    if isinstance(expected, str) and isinstance(actual, str | Mapping | list):
        parsed = _show(expected)
        if parsed is not expected and isinstance(parsed, Mapping | list):
            expected = canonical_policy(parsed)
    if isinstance(actual, str) and isinstance(expected, Mapping | list):
        parsed = _show(actual)
        if parsed is not actual and isinstance(parsed, Mapping | list):
            actual = canonical_policy(parsed)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        if "Statement" in expected or "Statement" in actual:
            expected, actual = canonical_policy(expected), canonical_policy(actual)
        for key in sorted(set(expected) | set(actual), key=str):
            a, b = expected.get(key), actual.get(key)
            if is_empty(a) and is_empty(b):
                continue
            _diff(a, b, _join(path, key), out, ordered)
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if ordered is not None and ordered(path):
            if len(expected) != len(actual) or not all(same(a, b) for a, b in zip(expected, actual, strict=True)):
                out.append(FieldDiff(path or ".", expected, actual))
            return
        if canonical(expected) == canonical(actual):
            return
        if len(expected) == 1 and len(actual) == 1 and isinstance(expected[0], Mapping) \
                and isinstance(actual[0], Mapping):
            _diff(expected[0], actual[0], _join(path, 0), out, ordered)
            return
        only_expected, only_actual = _set_delta(expected, actual)
        out.append(FieldDiff(path or ".", only_expected, only_actual))
        return
    if is_empty(expected) and is_empty(actual):
        return
    if canonical(expected) == canonical(actual):
        return
    out.append(FieldDiff(path or ".", _show(expected), _show(actual)))


def describe_normalizers() -> list[dict[str, str]]:
    return [{"name": n.name, "level": n.level, "reason": n.reason} for n in NORMALIZERS.values()]
