"""Severity: how much a drift matters to the person on call.

Rules are ``(kind, type glob, path glob, value regex) -> severity``; the first that matches wins. The user's
rules (``[[drift.severity]]`` in the config file) come before the built-in ones, so any default can be
overridden. A changed resource is as severe as its worst field; missing and unmanaged resources are rated by
type (an IAM role or a firewall outranks a log group).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.drift.model import (
    CHANGED,
    MISSING,
    ORPHANED,
    SEVERITIES,
    UNAPPLIED,
    UNMANAGED,
    Finding,
    worst,
)

_WORLD = r"(^|[^0-9])0\.0\.0\.0/0|::/0"
_SECURITY_TYPES = ("aws_security_group*", "aws_iam_*", "aws_kms_*", "aws_network_acl*", "azurerm_network_security_*",
                   "azurerm_key_vault*", "azurerm_role_*", "google_*iam*", "google_compute_firewall*",
                   "google_kms_*")
_DATA_TYPES = ("aws_s3_bucket", "aws_db_instance", "aws_rds_cluster", "aws_dynamodb_table", "aws_efs_file_system",
               "azurerm_storage_account", "azurerm_*sql*", "azurerm_cosmosdb_*", "google_sql_database_instance",
               "google_storage_bucket", "google_bigquery_dataset")


@dataclass(frozen=True)
class SeverityRule:
    severity: str
    kind: str = "*"
    type: str = "*"
    path: str = "*"
    value: str | None = None  # regex searched in the cloud-side value (JSON text)
    source: str = "built-in"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"{self.source}: severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if self.value is not None:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ConfigError(f"{self.source}: value pattern {self.value!r} is not a valid regex: {exc}") \
                    from None

    def to_json(self) -> dict[str, Any]:
        data = {"severity": self.severity, "kind": self.kind, "type": self.type, "path": self.path,
                "source": self.source}
        if self.value is not None:
            data["value"] = self.value
        return data


def _rules(severity: str, kind: str, types: Iterable[str], path: str = "*", value: str | None = None) \
        -> list[SeverityRule]:
    return [SeverityRule(severity, kind, t, path, value) for t in types]


DEFAULT_RULES: tuple[SeverityRule, ...] = (
    # changed: opening something to the whole internet is the worst thing drift can do
    SeverityRule("critical", CHANGED, "*", "ingress*", _WORLD),
    SeverityRule("critical", CHANGED, "*", "*public*", r"true|Enabled|\*"),
    SeverityRule("critical", CHANGED, "*", "*network_rule*", _WORLD),
    SeverityRule("high", CHANGED, "*", "ingress*"),
    SeverityRule("high", CHANGED, "*", "egress*"),
    SeverityRule("high", CHANGED, "*", "*policy*"),
    SeverityRule("high", CHANGED, "*", "*public*"),
    SeverityRule("high", CHANGED, "*", "*encrypt*"),
    SeverityRule("high", CHANGED, "*", "kms_key_id"),
    SeverityRule("high", CHANGED, "*", "security_rule*"),
    SeverityRule("high", CHANGED, "*", "vpc_security_group_ids"),
    SeverityRule("low", CHANGED, "*", "tags"),
    SeverityRule("low", CHANGED, "*", "tags.*"),
    SeverityRule("low", CHANGED, "*", "labels"),
    SeverityRule("low", CHANGED, "*", "labels.*"),
    SeverityRule("low", CHANGED, "*", "description"),
    *_rules("high", CHANGED, _SECURITY_TYPES),
    SeverityRule("medium", CHANGED),
    # missing: a deleted firewall, role or database is urgent
    *_rules("high", MISSING, _SECURITY_TYPES),
    *_rules("high", MISSING, _DATA_TYPES),
    SeverityRule("medium", MISSING),
    # unmanaged: credentials and firewalls nobody reviewed, then compute someone pays for
    *_rules("high", UNMANAGED, _SECURITY_TYPES),
    *_rules("medium", UNMANAGED, ("aws_instance", "aws_db_instance", "aws_rds_cluster", "aws_lambda_function",
                                  "aws_eks_cluster", "aws_s3_bucket", "azurerm_*virtual_machine*",
                                  "azurerm_storage_account", "google_compute_instance", "google_storage_bucket")),
    SeverityRule("low", UNMANAGED),
    SeverityRule("medium", ORPHANED),
    SeverityRule("low", UNAPPLIED),
)


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return str(value)


class SeverityRules:
    def __init__(self, user_rules: Iterable[SeverityRule] = ()) -> None:
        self.rules: tuple[SeverityRule, ...] = (*user_rules, *DEFAULT_RULES)
        self._by_kind: dict[str, list[SeverityRule]] = {}
        for kind in (CHANGED, MISSING, UNMANAGED, UNAPPLIED, ORPHANED):
            self._by_kind[kind] = [r for r in self.rules if r.kind in ("*", kind)]
        self._type_cache: dict[tuple[str, str], str] = {}

    def for_field(self, terraform_type: str, path: str, actual: Any) -> str:
        text: str | None = None
        for rule in self._by_kind[CHANGED]:
            if rule.type != "*" and not _glob(rule.type).match(terraform_type):
                continue
            if rule.path != "*" and not _glob(rule.path).match(path):
                continue
            if rule.value is not None:
                if text is None:
                    text = _json_text(actual)
                if not re.search(rule.value, text):
                    continue
            return rule.severity
        return "medium"

    def for_resource(self, kind: str, terraform_type: str) -> str:
        key = (kind, terraform_type)
        cached = self._type_cache.get(key)
        if cached is not None:
            return cached
        result = "medium"
        for rule in self._by_kind[kind]:
            if rule.path != "*" or rule.value is not None:
                continue
            if rule.type == "*" or _glob(rule.type).match(terraform_type):
                result = rule.severity
                break
        self._type_cache[key] = result
        return result

    def classify(self, finding: Finding) -> str:
        """Set the severity of ``finding`` (and of each of its field diffs); return it."""
        if finding.kind == CHANGED and finding.diffs:
            for d in finding.diffs:
                d.severity = self.for_field(finding.terraform_type, d.path, d.actual)
            finding.severity = worst(d.severity for d in finding.diffs)
        else:
            finding.severity = self.for_resource(finding.kind, finding.terraform_type)
        return finding.severity


def rules_from_config(entries: Iterable[Mapping[str, Any]], source: str) -> list[SeverityRule]:
    """``[[drift.severity]]`` tables -> rules; every problem is a ConfigError naming the entry."""
    rules = []
    for n, entry in enumerate(entries, start=1):
        where = f"{source}: drift.severity[{n}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a table with severity, kind, type, path, value")
        unknown = set(entry) - {"severity", "kind", "type", "path", "value"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} "
                              "(known: severity, kind, type, path, value)")
        if "severity" not in entry:
            raise ConfigError(f"{where}: severity is required ({', '.join(SEVERITIES)})")
        kind = entry.get("kind", "*")
        if kind not in ("*", CHANGED, MISSING, UNMANAGED, UNAPPLIED, ORPHANED):
            raise ConfigError(f"{where}: kind {kind!r} is not one of changed, missing, unmanaged, unapplied, "
                              "orphaned or *")
        for key in ("severity", "kind", "type", "path", "value"):
            if key in entry and not isinstance(entry[key], str):
                raise ConfigError(f"{where}: {key} must be a string")
        rules.append(SeverityRule(entry["severity"], kind, entry.get("type", "*"), entry.get("path", "*"),
                                  entry.get("value"), source=where))
    return rules
