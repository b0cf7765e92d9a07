"""A local HCP Terraform (API v2, JSON:API) serving the calls a state backend makes, over HTTPS on 127.0.0.1.

What it implements, as the real service answers:

- bearer-token auth on every ``/api/v2`` call (401 with a JSON:API error object without a known token);
- ``GET /api/v2/organizations/ORG/workspaces/NAME`` and ``GET .../workspaces`` with ``search[name]``
  (substring), ``search[tags]`` (every tag), ``filter[project][id]``, ``page[number]`` / ``page[size]`` and
  ``meta.pagination``; ``GET .../projects?filter[names]=``;
- ``GET /api/v2/workspaces/ID`` (``?include=locked_by`` adds the user/team/run in ``included``);
- ``POST /api/v2/workspaces/ID/actions/lock|unlock|force-unlock``: 409 when already locked / not locked /
  locked by someone else ("... is locked by User alice");
- ``GET /api/v2/workspaces/ID/current-state-version`` (404 with no state) with ``hosted-state-download-url``
  on this server (``/_archivist/v1/object/..``, a signed URL needing no token);
- ``POST /api/v2/workspaces/ID/state-versions``: 409 unless the workspace is locked by the caller; 422
  when md5 / serial do not match the state or attributes are missing; 409 when the serial is not greater
  than the current one or the lineage differs; 201 with the new state version.

``fail_next`` makes the next matching requests answer a status (429 with ``X-RateLimit-Reset``, 503...),
``hooks`` run before each request, and ``requests`` logs what the client sent.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests._fixtures.http_backend_server import (
    BaseHandler,
    LocalServer,
    Request,
    TlsFiles,
    server_ssl_context,
)

JSONAPI = "application/vnd.api+json"
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids):06d}{secrets.token_hex(4)}"


@dataclass
class User:
    id: str
    username: str


@dataclass
class StateVersion:
    id: str
    serial: int
    lineage: str | None
    md5: str
    state: bytes
    download_token: str
    created_by: str


@dataclass
class Workspace:
    id: str
    name: str
    org: str
    tags: list[str] = field(default_factory=list)
    project_id: str | None = None
    locked_by: tuple[str, str] | None = None  # ("users", id) / ("runs", id) / ("teams", id)
    lock_reason: str = ""
    versions: list[StateVersion] = field(default_factory=list)

    @property
    def current(self) -> StateVersion | None:
        return self.versions[-1] if self.versions else None


def _error(status: int, title: str, detail: str | None = None, pointer: str | None = None) -> bytes:
    item: dict[str, Any] = {"status": str(status), "title": title}
    if detail:
        item["detail"] = detail
    if pointer:
        item["source"] = {"pointer": pointer}
    return json.dumps({"errors": [item]}).encode()


@dataclass
class _Fault:
    status: int
    remaining: int
    path_part: str | None
    headers: dict[str, str]
    body: bytes


class TfcServer:
    def __init__(self, tls: TlsFiles) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> user id
        self.orgs: set[str] = set()
        self.projects: dict[str, tuple[str, str]] = {}  # id -> (org, name)
        self.workspaces: dict[str, Workspace] = {}
        self.requests: list[Request] = []
        self.hooks: list[Callable[[Request], None]] = []
        self.last_outputs: str | None = None  # json-state-outputs of the last state version created
        self.redirect_downloads = False  # answer a download URL with a 307 to where the bytes are
        self._faults: list[_Fault] = []
        self._mutex = threading.RLock()
        self._local = LocalServer(_handler_for(self), server_ssl_context(tls))
        self.url = self._local.url
        self.hostname = self._local.host

    def start(self) -> TfcServer:
        self._local.start()
        return self

    def stop(self) -> None:
        self._local.stop()

    # -- set-up helpers ---------------------------------------------------------------------------

    def add_user(self, username: str) -> str:
        """A user and a token for them; returns the token."""
        user = User(_id("user"), username)
        token = f"{secrets.token_hex(7)}.atlasv1.{secrets.token_hex(30)}"
        self.users[user.id] = user
        self.tokens[token] = user.id
        return token

    def add_project(self, org: str, name: str) -> str:
        pid = _id("prj")
        self.orgs.add(org)
        self.projects[pid] = (org, name)
        return pid

    def add_workspace(self, org: str, name: str, *, tags: list[str] | None = None,
                      project_id: str | None = None) -> Workspace:
        self.orgs.add(org)
        ws = Workspace(_id("ws"), name, org, list(tags or []), project_id)
        self.workspaces[ws.id] = ws
        return ws

    def workspace(self, org: str, name: str) -> Workspace:
        return next(w for w in self.workspaces.values() if w.org == org and w.name == name)

    def add_version(self, ws: Workspace, state: bytes, *, by: str = "system") -> StateVersion:
        doc = json.loads(state)
        sv = StateVersion(_id("sv"), int(doc["serial"]), doc.get("lineage"),
                          hashlib.md5(state, usedforsecurity=False).hexdigest(), state,
                          secrets.token_urlsafe(24), by)
        with self._mutex:
            ws.versions.append(sv)
        return sv

    def user_of(self, token: str) -> str:
        return self.tokens[token]

    def fail_next(self, status: int, *, times: int = 1, path_part: str | None = None,
                  headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        with self._mutex:
            self._faults.append(_Fault(status, times, path_part, dict(headers or {}), body))

    # -- JSON:API documents -----------------------------------------------------------------------

    def _ws_doc(self, ws: Workspace) -> dict[str, Any]:
        rel: dict[str, Any] = {
            "organization": {"data": {"id": ws.org, "type": "organizations"}},
            "locked-by": {"data": {"id": ws.locked_by[1], "type": ws.locked_by[0]}} if ws.locked_by else {},
            "current-state-version": {"data": {"id": ws.current.id, "type": "state-versions"}}
            if ws.current else {"data": None},
        }
        if ws.project_id:
            rel["project"] = {"data": {"id": ws.project_id, "type": "projects"}}
        return {
            "id": ws.id,
            "type": "workspaces",
            "attributes": {
                "name": ws.name,
                "locked": ws.locked_by is not None,
                "locked-reason": ws.lock_reason if ws.locked_by else "",
                "tag-names": list(ws.tags),
                "execution-mode": "local",
                "terraform-version": "1.11.0",
            },
            "relationships": rel,
            "links": {"self": f"/api/v2/organizations/{ws.org}/workspaces/{ws.name}"},
        }

    def _sv_doc(self, ws: Workspace, sv: StateVersion) -> dict[str, Any]:
        download = f"{self.url}/_archivist/v1/object/{sv.download_token}"
        return {
            "id": sv.id,
            "type": "state-versions",
            "attributes": {
                "serial": sv.serial,
                "size": len(sv.state),
                "status": "finalized",
                "hosted-state-download-url": download,
                "hosted-json-state-download-url": None,
                "resources-processed": True,
                "state-version": 4,
            },
            "relationships": {"workspace": {"data": {"id": ws.id, "type": "workspaces"}}},
            "links": {"self": f"/api/v2/state-versions/{sv.id}"},
        }

    # -- dispatch ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> tuple[int, bytes, dict[str, str]]:
        for hook in list(self.hooks):
            hook(req)
        with self._mutex:
            self.requests.append(req)
            for fault in self._faults:
                if fault.remaining > 0 and (fault.path_part is None or fault.path_part in req.path):
                    fault.remaining -= 1
                    return fault.status, fault.body, {"Content-Type": JSONAPI, **fault.headers}
            if req.path.startswith("/_archivist/v1/object/"):
                if self.redirect_downloads:
                    return 307, b"", {"Location": f"/_blob/{req.path.rsplit('/', 1)[-1]}"}
                return self._archivist(req.path.rsplit("/", 1)[-1])
            if req.path.startswith("/_blob/"):
                return self._archivist(req.path.rsplit("/", 1)[-1])
            if not req.path.startswith("/api/v2/"):
                return 404, _error(404, "not found"), {"Content-Type": JSONAPI}
            auth = req.headers.get("Authorization", "")
            user_id = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if user_id is None:
                return 401, _error(401, "unauthorized"), {"Content-Type": JSONAPI}
            status, doc = self._route(req, req.path[len("/api/v2/"):].strip("/").split("/"), user_id)
            return status, doc if isinstance(doc, bytes) else json.dumps(doc).encode(), {"Content-Type": JSONAPI}

    def _archivist(self, token: str) -> tuple[int, bytes, dict[str, str]]:
        for ws in self.workspaces.values():
            for sv in ws.versions:
                if sv.download_token == token:
                    return 200, sv.state, {"Content-Type": "application/octet-stream"}
        return 404, b"not found", {}

    def _route(self, req: Request, parts: list[str], user_id: str) -> tuple[int, Any]:
        nf = (404, _error(404, "not found"))
        if parts[0] == "organizations" and len(parts) >= 3:
            org = parts[1]
            if org not in self.orgs:
                return nf
            if parts[2] == "workspaces" and len(parts) == 4 and req.method == "GET":
                ws = next((w for w in self.workspaces.values() if w.org == org and w.name == parts[3]), None)
                return (200, {"data": self._ws_doc(ws)}) if ws else nf
            if parts[2] == "workspaces" and len(parts) == 3 and req.method == "GET":
                return self._list_workspaces(org, req.query)
            if parts[2] == "projects" and len(parts) == 3 and req.method == "GET":
                names = set(filter(None, req.query.get("filter[names]", "").split(",")))
                data = [{"id": pid, "type": "projects", "attributes": {"name": name}}
                        for pid, (o, name) in self.projects.items() if o == org and (not names or name in names)]
                return 200, {"data": data}
            return nf
        if parts[0] == "workspaces" and len(parts) >= 2:
            ws = self.workspaces.get(parts[1])
            if ws is None:
                return nf
            rest = parts[2:]
            if not rest and req.method == "GET":
                doc: dict[str, Any] = {"data": self._ws_doc(ws)}
                if "locked_by" in req.query.get("include", "").split(",") and ws.locked_by:
                    doc["included"] = [self._included(ws.locked_by)]
                return 200, doc
            if rest == ["current-state-version"] and req.method == "GET":
                return (200, {"data": self._sv_doc(ws, ws.current)}) if ws.current else nf
            if len(rest) == 2 and rest[0] == "actions" and req.method == "POST":
                return self._action(ws, rest[1], req, user_id)
            if rest == ["state-versions"] and req.method == "POST":
                return self._create_version(ws, req, user_id)
        return nf

    def _included(self, ref: tuple[str, str]) -> dict[str, Any]:
        kind, ident = ref
        if kind == "users":
            return {"id": ident, "type": "users", "attributes": {"username": self.users[ident].username}}
        if kind == "teams":
            return {"id": ident, "type": "teams", "attributes": {"name": "owners"}}
        return {"id": ident, "type": kind, "attributes": {}}

    def _holder_words(self, ws: Workspace) -> str:
        kind, ident = ws.locked_by or ("", "")
        if kind == "users":
            return f"User {self.users[ident].username}"
        return {"runs": f"Run {ident}", "teams": "Team owners"}.get(kind, "someone")

    def _action(self, ws: Workspace, action: str, req: Request, user_id: str) -> tuple[int, Any]:
        if action == "lock":
            if ws.locked_by is not None:
                return 409, _error(409, "conflict", "Unable to lock workspace. The workspace is already locked.")
            try:
                reason = (req.json() or {}).get("reason", "")
            except ValueError:
                return 400, _error(400, "bad request", "request body is not JSON")
            ws.locked_by, ws.lock_reason = ("users", user_id), str(reason or "")
            return 200, {"data": self._ws_doc(ws)}
        if action in ("unlock", "force-unlock"):
            if ws.locked_by is None:
                return 409, _error(409, "conflict", "Unable to unlock workspace. The workspace is not locked.")
            if action == "unlock" and ws.locked_by != ("users", user_id):
                return 409, _error(409, "conflict",
                                   f"Unable to unlock workspace. The workspace is locked by {self._holder_words(ws)}.")
            ws.locked_by, ws.lock_reason = None, ""
            return 200, {"data": self._ws_doc(ws)}
        return 404, _error(404, "not found")

    def _list_workspaces(self, org: str, query: dict[str, str]) -> tuple[int, Any]:
        found = [w for w in self.workspaces.values() if w.org == org]
        if query.get("search[name]"):
            found = [w for w in found if query["search[name]"] in w.name]
        if query.get("search[tags]"):
            wanted = set(query["search[tags]"].split(","))
            found = [w for w in found if wanted <= set(w.tags)]
        if query.get("filter[project][id]"):
            found = [w for w in found if w.project_id == query["filter[project][id]"]]
        found.sort(key=lambda w: w.name)
        size = max(1, min(int(query.get("page[size]", 20)), 100))
        number = max(1, int(query.get("page[number]", 1)))
        total_pages = max(1, -(-len(found) // size))
        page = found[(number - 1) * size: number * size]
        pagination = {
            "current-page": number,
            "page-size": size,
            "prev-page": number - 1 if number > 1 else None,
            "next-page": number + 1 if number < total_pages else None,
            "total-pages": total_pages,
            "total-count": len(found),
        }
        return 200, {"data": [self._ws_doc(w) for w in page], "meta": {"pagination": pagination}}

    def _create_version(self, ws: Workspace, req: Request, user_id: str) -> tuple[int, Any]:
        if ws.locked_by != ("users", user_id):
            return 409, _error(409, "conflict", "The workspace must be locked by the current user to create a "
                               "state version")
        try:
            data = (req.json() or {}).get("data") or {}
        except ValueError:
            return 400, _error(400, "bad request", "request body is not JSON")
        if data.get("type") != "state-versions":
            return 422, _error(422, "invalid attribute", "type must be state-versions", "/data/type")
        attrs = data.get("attributes") or {}
        for name in ("serial", "md5", "state"):
            if name not in attrs:
                return 422, _error(422, "invalid attribute", f"{name.capitalize()} can't be blank",
                                   f"/data/attributes/{name}")
        try:
            raw = base64.b64decode(attrs["state"], validate=True)
            doc = json.loads(raw)
        except ValueError:
            return 422, _error(422, "invalid attribute", "State is not base64-encoded state JSON",
                               "/data/attributes/state")
        if hashlib.md5(raw, usedforsecurity=False).hexdigest() != attrs["md5"]:
            return 422, _error(422, "invalid attribute", "Md5 does not match the state", "/data/attributes/md5")
        if doc.get("serial") != attrs["serial"]:
            return 422, _error(422, "invalid attribute", "Serial does not match the state's serial",
                               "/data/attributes/serial")
        if attrs.get("lineage") is not None and doc.get("lineage") != attrs["lineage"]:
            return 422, _error(422, "invalid attribute", "Lineage does not match the state's lineage",
                               "/data/attributes/lineage")
        current = ws.current
        if current is not None and not attrs.get("force"):
            if attrs["serial"] <= current.serial:
                return 409, _error(409, "conflict", f"Serial {attrs['serial']} must be greater than the current "
                                   f"state version's serial {current.serial}")
            if current.lineage and attrs.get("lineage") and attrs["lineage"] != current.lineage:
                return 409, _error(409, "conflict", "Lineage does not match the current state version")
        if "json-state-outputs" in attrs:
            try:
                json.loads(base64.b64decode(attrs["json-state-outputs"], validate=True) or b"{}")
            except ValueError:
                return 422, _error(422, "invalid attribute", "Json state outputs is invalid",
                                   "/data/attributes/json-state-outputs")
        sv = StateVersion(_id("sv"), int(attrs["serial"]), attrs.get("lineage"), attrs["md5"], raw,
                          secrets.token_urlsafe(24), user_id)
        ws.versions.append(sv)
        self.last_outputs = attrs.get("json-state-outputs")
        return 201, {"data": self._sv_doc(ws, sv)}


def _handler_for(server: TfcServer) -> type[BaseHandler]:
    class Handler(BaseHandler):
        def _dispatch(self) -> None:
            status, body, headers = server.handle(self.read_request())
            self.send(status, body, headers)

        do_GET = do_POST = _dispatch

    return Handler
