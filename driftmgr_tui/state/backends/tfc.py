"""HCP Terraform / Terraform Enterprise state: Terraform's ``cloud {}`` block and ``backend "remote"``.

Everything goes through the API v2 (JSON:API) at ``https://HOSTNAME/api/v2``, as go-tfe calls it:

- the workspace: ``GET /organizations/ORG/workspaces/NAME`` gives its ID. ``workspaces { name = .. }``
  is one workspace; ``tags`` / ``project`` (cloud) and ``prefix`` (remote) select several, listed with
  ``GET /organizations/ORG/workspaces?search[tags]=..`` / ``search[name]=..`` /
  ``filter[project][id]=..`` page by page (``page[number]``, ``page[size]``);
- read: ``GET /workspaces/ID/current-state-version`` (404: no state) then its
  ``hosted-state-download-url``; the version token is the state version's ID;
- lock: ``POST /workspaces/ID/actions/lock`` (409: locked; the holder comes from the workspace's
  ``locked-by``), unlock ``actions/unlock``, force ``actions/force-unlock``. The lock's ID, as Terraform
  prints it for ``force-unlock``, is ``ORG/WORKSPACE``;
- write: ``POST /workspaces/ID/state-versions`` with ``serial``, ``md5``, ``lineage``, the state in base64
  and ``json-state-outputs``. The API refuses (409 / 412 / 422) a serial that is not newer or a workspace
  not locked by this token; nothing is written then.

Beyond Terraform, a write is conditional: the current state version must still be the one read, else
StateConflictError and nothing is created. 429 (waiting for ``Retry-After`` / ``X-RateLimit-Reset``) and
5xx are retried a bounded number of times. The token: see ``tfc_api.find_token``; it never appears in a message.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, quote, unquote

from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    StateConflictError,
    StateLockedError,
)
from driftmgr_tui.state.backends.base import StateBackend, StateObject, retry_while_locked
from driftmgr_tui.state.backends.config import nested_block
from driftmgr_tui.state.backends.tfc_api import TfcApi, errors_of

log = logging.getLogger(__name__)

DEFAULT_HOSTNAME = "app.terraform.io"
DEFAULT_WORKSPACE = "default"
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?\Z")
_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
_PAGE_SIZE = 100


def _opt_str(kind: str, name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{kind}: attribute '{name}' must be a string, got {value!r}")
    return value


@dataclass
class TfcConfig:
    """Where one HCP Terraform workspace is: organization, host and how workspaces are selected."""

    organization: str
    hostname: str = DEFAULT_HOSTNAME
    #: "cloud" (the cloud block) or "remote" (backend "remote"): they map workspace names differently
    kind: str = "cloud"
    #: ``workspaces { name = .. }``: the one workspace
    name: str | None = None
    #: ``workspaces { prefix = .. }`` (remote): Terraform workspace ``dev`` is ``{prefix}dev``
    prefix: str | None = None
    tags: tuple[str, ...] = ()
    project: str | None = None
    #: the Terraform workspace selected (``terraform workspace select``, TF_WORKSPACE, --workspace)
    workspace: str = DEFAULT_WORKSPACE
    token: str | None = field(default=None, repr=False)
    retry_max: int = 5
    retry_wait_min: float = 0.7
    retry_wait_max: float = 30.0

    def __post_init__(self) -> None:
        what = self.what
        if not self.organization:
            raise ConfigError(
                f"{what}: missing required attribute 'organization'",
                hint="set it in the block" + (" or TF_CLOUD_ORGANIZATION" if self.kind == "cloud" else ""),
            )
        if not _NAME.match(self.organization):
            raise ConfigError(f"{what}: organization {self.organization!r} is not a valid organization name")
        self.hostname = self.hostname.lower()
        if not _HOSTNAME.match(self.hostname):
            raise ConfigError(
                f"{what}: hostname {self.hostname!r} is not a host name (no scheme, no path: app.terraform.io)"
            )
        if self.name and (self.prefix or self.tags):
            raise ConfigError(
                f"{what}: workspaces 'name' cannot be combined with '{'prefix' if self.prefix else 'tags'}'"
            )
        if self.kind == "remote" and not (self.name or self.prefix):
            raise ConfigError(f"{what}: the workspaces block needs 'name' or 'prefix'")
        self.workspace = self.workspace or DEFAULT_WORKSPACE

    @property
    def what(self) -> str:
        return 'backend "remote"' if self.kind == "remote" else "cloud block"

    @property
    def remote_name(self) -> str:
        """The HCP Terraform workspace the selected Terraform workspace is, or ConfigError."""
        ws = self.workspace
        if self.name:
            if ws in (DEFAULT_WORKSPACE, self.name):
                return self.name
            raise ConfigError(
                f"{self.what}: workspace '{ws}' is not available: the configuration names one workspace, "
                f"'{self.name}'"
            )
        if ws == DEFAULT_WORKSPACE:
            selector = f"prefix '{self.prefix}'" if self.prefix else self._selector() or "the organization"
            raise ConfigError(
                f"{self.what} for {self.organization}: no workspace selected among the workspaces of {selector}",
                hint="name one with --workspace or TF_WORKSPACE (`driftmgr state workspaces` lists them)",
            )
        return f"{self.prefix}{ws}" if self.prefix else ws

    def _selector(self) -> str:
        parts = []
        if self.tags:
            parts.append(f"tags {', '.join(self.tags)}")
        if self.project:
            parts.append(f"project '{self.project}'")
        return " and ".join(parts)

    @property
    def location(self) -> str:
        host = "" if self.hostname == DEFAULT_HOSTNAME else f"?hostname={self.hostname}"
        try:
            name = self.remote_name
        except ConfigError:
            name = "*"
        return f"tfc://{self.organization}/{name}{host}"

    @classmethod
    def from_terraform(
        cls, kind: str, cfg: Mapping[str, Any], workspace: str, env: Mapping[str, str] | None = None
    ) -> TfcConfig:
        """A ``cloud`` block or ``backend "remote"`` (or the backend cache's config of either).

        For the cloud block TF_CLOUD_ORGANIZATION, TF_CLOUD_HOSTNAME and TF_CLOUD_PROJECT fill what the
        block leaves unset, as in Terraform."""
        env = os.environ if env is None else env
        what = 'backend "remote"' if kind == "remote" else "cloud block"
        c = {k: v for k, v in cfg.items() if v is not None}
        known = {"organization", "hostname", "token", "workspaces"}
        unknown = sorted(set(c) - known)
        if unknown:
            raise ConfigError(f"{what}: unsupported attribute(s) {', '.join(repr(u) for u in unknown)}")
        ws = nested_block(what, "workspaces", c.get("workspaces"))
        allowed = {"name", "prefix"} if kind == "remote" else {"name", "tags", "project"}
        for extra in sorted(set(ws) - allowed):
            raise ConfigError(f"{what}: workspaces attribute '{extra}' is not supported here")
        organization = _opt_str(what, "organization", c.get("organization"))
        hostname = _opt_str(what, "hostname", c.get("hostname"))
        project = _opt_str(what, "workspaces.project", ws.get("project"))
        if kind == "cloud":
            organization = organization or env.get("TF_CLOUD_ORGANIZATION") or None
            hostname = hostname or env.get("TF_CLOUD_HOSTNAME") or None
            project = project or env.get("TF_CLOUD_PROJECT") or None
        tags_value = ws.get("tags")
        if isinstance(tags_value, dict):
            raise ConfigError(
                f"{what}: key/value workspace tags are not supported yet",
                hint="select the workspace by name, or by a list of tag names",
            )
        if tags_value is not None and (
            not isinstance(tags_value, list) or not all(isinstance(t, str) and t for t in tags_value)
        ):
            raise ConfigError(f"{what}: workspaces 'tags' must be a list of tag names, got {tags_value!r}")
        return cls(
            organization=organization or "",
            hostname=hostname or DEFAULT_HOSTNAME,
            kind=kind,
            name=_opt_str(what, "workspaces.name", ws.get("name")),
            prefix=_opt_str(what, "workspaces.prefix", ws.get("prefix")),
            tags=tuple(tags_value or ()),
            project=project,
            workspace=workspace or DEFAULT_WORKSPACE,
            token=_opt_str(what, "token", c.get("token")),
        )


# -- the backend ---------------------------------------------------------------------------------

_UNKNOWN = object()
_ABSENT = object()


def _state_meta(data: bytes, location: str) -> tuple[int, str | None, dict[str, Any]]:
    """(serial, lineage, outputs) of the state bytes about to be written."""
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    serial = doc.get("serial") if isinstance(doc, dict) else None
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        raise BackendError(f"refusing to write {location}: the state is not JSON with a numeric serial")
    lineage = doc.get("lineage") if isinstance(doc.get("lineage"), str) else None
    outputs = doc.get("outputs") if isinstance(doc.get("outputs"), dict) else {}
    return serial, lineage or None, outputs


def _json_outputs(outputs: Mapping[str, Any]) -> bytes:
    """Terraform's jsonstate.MarshalOutputs: ``{name: {sensitive, value, type}}``."""
    out: dict[str, Any] = {}
    for name, output in outputs.items():
        if isinstance(output, dict):
            out[name] = {
                "sensitive": bool(output.get("sensitive", False)),
                "value": output.get("value"),
                "type": output.get("type"),
            }
    return json.dumps(out, separators=(",", ":")).encode()


class TfcBackend(StateBackend):
    """One HCP Terraform workspace's state. The API is reached on first use."""

    kind = "tfc"

    def __init__(self, config: TfcConfig) -> None:
        self.config = config
        self.lock_timeout = 0.0
        self.lock_retry_interval = 1.0
        self.api = TfcApi(config)
        self._workspace_id: str | None = None
        self._project_id: str | None = None
        # lock ID -> the workspace's locked-by (type, id) when this client took it
        self._held: dict[str, tuple[str, str]] = {}
        self._observed: object = _UNKNOWN

    def __repr__(self) -> str:
        return f"TfcBackend({self.location!r})"

    @property
    def location(self) -> str:
        return self.config.location

    def for_workspace(self, workspace: str) -> TfcBackend:
        return TfcBackend(dataclasses.replace(self.config, workspace=workspace or DEFAULT_WORKSPACE))

    @property
    def lock_id(self) -> str:
        """The lock's ID as Terraform shows it and ``force-unlock`` takes it: ``ORG/WORKSPACE``."""
        return f"{self.config.organization}/{self.config.remote_name}"

    # -- the workspace -------------------------------------------------------------------------

    def _ws_path(self) -> str:
        name = self.config.remote_name
        return f"/organizations/{quote(self.config.organization, safe='')}/workspaces/{quote(name, safe='')}"

    def workspace_id(self) -> str:
        if self._workspace_id is None:
            cfg = self.config
            status, doc, _ = self.api.call(
                "GET", self._ws_path(), what=f"looking up workspace {self.location}", allow=(404,)
            )
            if status == 404:
                raise BackendError(
                    f"workspace '{cfg.remote_name}' not found in organization '{cfg.organization}' on "
                    f"{cfg.hostname} (or token from {self.api.token.source} may not read it)",
                    hint="check the organization and workspace names, and the token's access",
                )
            self._workspace_id = str(doc["data"]["id"])
        return self._workspace_id

    def _workspace(self) -> tuple[dict[str, Any], list[Any]]:
        _, doc, _ = self.api.call(
            "GET",
            f"/workspaces/{self.workspace_id()}",
            what=f"reading workspace {self.location}",
            params={"include": "locked_by"},
        )
        return doc["data"], doc.get("included") or []

    def _holder(self) -> tuple[LockInfo, tuple[str, str]] | None:
        """The workspace's lock as LockInfo (who from ``locked-by``) and the raw holder, or None."""
        data, included = self._workspace()
        attrs = data.get("attributes") or {}
        if not attrs.get("locked"):
            return None
        ref = ((data.get("relationships") or {}).get("locked-by") or {}).get("data") or {}
        kind, ident = str(ref.get("type") or ""), str(ref.get("id") or "")
        who = ident or "unknown"
        for item in included:
            if isinstance(item, dict) and item.get("type") == kind and item.get("id") == ident:
                a = item.get("attributes") or {}
                who = str(a.get("username") or a.get("name") or ident)
        if kind == "runs":
            who = f"run {ident}"
        elif kind == "teams":
            who = f"team {who}"
        info = LockInfo(
            id=self.lock_id,
            info=str(attrs.get("locked-reason") or ""),
            who=who,
            path=self.location,
        )
        return info, (kind, ident)

    # -- read ----------------------------------------------------------------------------------

    def _current_version(self) -> dict[str, Any] | None:
        status, doc, _ = self.api.call(
            "GET",
            f"/workspaces/{self.workspace_id()}/current-state-version",
            what=f"reading the current state version of {self.location}",
            allow=(404,),
        )
        return None if status == 404 else doc["data"]

    def read(self) -> StateObject | None:
        current = self._current_version()
        if current is None:
            self._observed = _ABSENT
            return None
        version = str(current["id"])
        attrs = current.get("attributes") or {}
        url = attrs.get("hosted-state-download-url")
        if not url:
            raise BackendError(
                f"state version {version} of {self.location} has no state to download yet "
                f"(status {attrs.get('status', 'unknown')})",
                hint="a run may still be uploading it: try again in a moment",
            )
        data = self.api.download(str(url), f"downloading state version {version} of {self.location}")
        self._observed = version
        if not data:
            return None
        return StateObject(data, version)

    # -- write ---------------------------------------------------------------------------------

    def _check_current(self, expected_version: str | None) -> None:
        expected: object = expected_version if expected_version is not None else self._observed
        if expected is _UNKNOWN:
            return
        current = self._current_version()
        if expected is _ABSENT:
            if current is not None:
                raise StateConflictError(
                    f"state {self.location} not written: state version {current['id']} was created by someone "
                    "else after the workspace was found empty; nothing was written",
                    hint="read the state again and redo the change",
                )
            return
        if current is None or str(current["id"]) != expected:
            now = "no state version" if current is None else (
                f"state version {current['id']} (serial {(current.get('attributes') or {}).get('serial')})"
            )
            raise StateConflictError(
                f"state {self.location} not written: it changed after state version {expected} was read "
                f"(now {now}); nothing was written",
                hint="read the state again and redo the change",
            )

    def _verify_lock_held(self, lock: LockInfo) -> None:
        held = self._holder()
        if held is None:
            raise BackendError(
                f"refusing to write {self.location}: lock {lock.id} is no longer held (was it force-unlocked?)",
                hint="take the lock again, re-read the state and redo the change",
            )
        mine = self._held.get(lock.id)
        if mine is not None and held[1] != mine:
            raise StateLockedError(self.location, held[0])

    def write(
        self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None
    ) -> StateObject:
        """Create a state version (serial and lineage from the bytes), if the state is still the one read."""
        serial, lineage, outputs = _state_meta(data, self.location)
        ws_id = self.workspace_id()
        if lock is not None:
            self._verify_lock_held(lock)
        self._check_current(expected_version)
        attributes: dict[str, Any] = {
            "serial": serial,
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "state": base64.b64encode(data).decode("ascii"),
            "json-state-outputs": base64.b64encode(_json_outputs(outputs)).decode("ascii"),
        }
        if lineage:
            attributes["lineage"] = lineage
        payload: dict[str, Any] = {"data": {"type": "state-versions", "attributes": attributes}}
        run_id = os.environ.get("TFE_RUN_ID")
        if run_id:
            payload["data"]["relationships"] = {"run": {"data": {"type": "runs", "id": run_id}}}
        status, doc, resp = self.api.call(
            "POST",
            f"/workspaces/{ws_id}/state-versions",
            what=f"creating a state version of {self.location}",
            body=payload,
            ok=(200, 201),
            allow=(409, 412, 422),
        )
        if status in (200, 201):
            version = str(doc["data"]["id"])
            self._observed = version
            return StateObject(data, version)
        self._observed = _UNKNOWN
        detail = errors_of(resp)
        refused = f"not written: HCP Terraform refused state version serial {serial} (HTTP {status}: {detail})"
        if status == 409 and "lock" in detail.lower():
            held = self._holder()
            raise StateLockedError(self.location, held[0] if held else None, detail=f"{refused}; nothing was written")
        if status in (409, 412) or re.search(r"serial|lineage", detail, re.I):
            raise StateConflictError(
                f"state {self.location} {refused}; nothing was written",
                hint="read the state again and redo the change",
            )
        raise BackendError(f"state {self.location} {refused}; nothing was written")

    # -- locking -------------------------------------------------------------------------------

    def lock(self, info: LockInfo) -> LockInfo:
        """Lock the workspace (``actions/lock``), retrying for ``lock_timeout`` seconds while it is held."""
        info = dataclasses.replace(info, id=info.id or str(uuid.uuid4()), path=self.location)
        ws_id = self.workspace_id()
        reason = f"Locked by driftmgr for {info.operation or 'a state change'} ({info.who})".strip()

        def attempt() -> LockInfo:
            status, doc, _ = self.api.call(
                "POST",
                f"/workspaces/{ws_id}/actions/lock",
                what=f"locking {self.location}",
                body={"reason": reason[:255]},
                allow=(409,),
            )
            if status != 200:
                held = self._holder()
                raise StateLockedError(
                    self.location,
                    held[0] if held else None,
                    detail=None if held else "the workspace was locked, and released again; try again",
                )
            ref = ((doc["data"].get("relationships") or {}).get("locked-by") or {}).get("data") or {}
            self._held[info.id] = (str(ref.get("type") or ""), str(ref.get("id") or ""))
            return info

        return retry_while_locked(attempt, self.lock_timeout, first_delay=self.lock_retry_interval)

    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Release the lock this client took under ``lock_id`` (``actions/unlock``), or with ``force`` or the
        workspace's lock ID ``ORG/WORKSPACE`` whoever holds it (``actions/force-unlock``)."""
        ws_id = self.workspace_id()
        if lock_id in self._held and not force:
            action = "unlock"
        elif force or lock_id == self.lock_id:
            action = "force-unlock"
        else:
            raise BackendError(
                f"lock ID {lock_id!r} does not match the lock of {self.location} (its lock ID is {self.lock_id})",
                hint="release a lock left by a dead operation with that ID",
            )
        status, _, resp = self.api.call(
            "POST", f"/workspaces/{ws_id}/actions/{action}", what=f"unlocking {self.location}", allow=(409,)
        )
        if status == 409:
            raise BackendError(f"cannot unlock {self.location}: {errors_of(resp)}")
        self._held.pop(lock_id, None)

    def current_lock(self) -> LockInfo | None:
        held = self._holder()
        return held[0] if held else None

    # -- workspaces ----------------------------------------------------------------------------

    def project_id(self) -> str:
        if self._project_id is None:
            cfg = self.config
            _, doc, _ = self.api.call(
                "GET",
                f"/organizations/{quote(cfg.organization, safe='')}/projects",
                what=f"looking up project '{cfg.project}' in {cfg.organization}",
                params={"filter[names]": cfg.project or ""},
            )
            found = [p for p in doc.get("data") or [] if (p.get("attributes") or {}).get("name") == cfg.project]
            if not found:
                raise BackendError(f"project '{cfg.project}' not found in organization '{cfg.organization}' "
                                   f"on {cfg.hostname}")
            self._project_id = str(found[0]["id"])
        return self._project_id

    def workspaces(self) -> list[str]:
        """Terraform's workspace names here: the named one, or those the prefix / tags / project select."""
        cfg = self.config
        if cfg.name:
            return [DEFAULT_WORKSPACE] if cfg.kind == "remote" else [cfg.name]
        params: dict[str, str | int] = {"page[size]": _PAGE_SIZE}
        if cfg.prefix:
            params["search[name]"] = cfg.prefix
        if cfg.tags:
            params["search[tags]"] = ",".join(cfg.tags)
        if cfg.project:
            params["filter[project][id]"] = self.project_id()
        names: set[str] = set()
        page = 1
        while True:
            params["page[number]"] = page
            _, doc, _ = self.api.call(
                "GET",
                f"/organizations/{quote(cfg.organization, safe='')}/workspaces",
                what=f"listing the workspaces of {cfg.organization} on {cfg.hostname}",
                params=params,
            )
            for item in doc.get("data") or []:
                name = str((item.get("attributes") or {}).get("name") or "")
                if cfg.prefix:
                    if name.startswith(cfg.prefix) and len(name) > len(cfg.prefix):
                        names.add(name[len(cfg.prefix) :])
                elif name:
                    names.add(name)
            pagination = (doc.get("meta") or {}).get("pagination") or {}
            following = pagination.get("next-page")
            if not following or int(following) <= page:
                break
            page = int(following)
        return sorted(names)


# -- how backends/config.py builds this backend --------------------------------------------------

_SPEC_PARAMS = frozenset({"hostname", "tags", "project"})


def build_cloud(config: Mapping[str, Any], *, workspace: str, **_: Any) -> TfcBackend:
    """A ``cloud {}`` block (or the backend cache's ``cloud`` config) for ``workspace``."""
    return TfcBackend(TfcConfig.from_terraform("cloud", config, workspace))


def build_remote(config: Mapping[str, Any], *, workspace: str, **_: Any) -> TfcBackend:
    """A ``backend "remote"`` block (or the backend cache's config) for ``workspace``."""
    return TfcBackend(TfcConfig.from_terraform("remote", config, workspace))


def build_from_spec(spec: str, parts: SplitResult, params: dict[str, str]) -> TfcBackend:
    """``tfc://ORGANIZATION/WORKSPACE?hostname=HOST``, or ``tfc://ORGANIZATION?tags=a,b&project=P`` with
    the workspace chosen by ``--workspace`` among those."""
    from driftmgr_tui.state.backends.config import check_spec_params

    check_spec_params(spec, params, _SPEC_PARAMS)
    organization = unquote(parts.netloc)
    path = unquote(parts.path).strip("/")
    if not organization or "/" in path or "@" in parts.netloc:
        raise ConfigError(f"state spec {spec!r}: expected tfc://ORGANIZATION/WORKSPACE")
    tags = tuple(t.strip() for t in params.get("tags", "").split(",") if t.strip())
    if path and (tags or params.get("project")):
        raise ConfigError(f"state spec {spec!r}: give a workspace name or tags/project, not both")
    try:
        return TfcBackend(
            TfcConfig(
                organization=organization,
                hostname=params.get("hostname") or DEFAULT_HOSTNAME,
                tags=tags,
                project=params.get("project") or None,
                workspace=path or DEFAULT_WORKSPACE,
            )
        )
    except ConfigError as exc:
        raise ConfigError(f"state spec {spec!r}: {exc.message}", hint=exc.hint) from None
