"""Alerting tests: shared helpers (an in-memory keyring backend, a local webhook receiver, synthetic reports)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import keyring
import keyring.core
from keyring.backend import KeyringBackend


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict (the process's own, per test)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@contextmanager
def keyring_backend(backend: KeyringBackend | None = None) -> Iterator[Any]:
    """Make ``backend`` (default: a fresh MemoryKeyring) keyring's backend; restore the previous one after."""
    previous = keyring.core._keyring_backend
    backend = backend if backend is not None else MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.core._keyring_backend = previous


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A local HTTP server: answers each POST with the next scripted (status, headers), then 200."""

    server: ThreadingHTTPServer
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def webhook_receiver(script: list[tuple[int, dict[str, str]]] | None = None) -> Iterator[WebhookReceiver]:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers = receiver.script.pop(0) if receiver.script else (200, {})
            payload = b"ok" if status < 300 else f"error {status}".encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read `received`
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server, list(script or []))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def report(environment: str = "prod", *, items: list[dict[str, Any]] | None = None, coverage: float = 100.0,
           report_id: int = 1, runs: list[int] | None = None, **totals: int) -> dict[str, Any]:
    """A drift report as DriftService.report returns it (only the fields evaluation reads)."""
    items = items or []
    summary = {f"total_{k}": 0 for k in ("changed", "missing", "unmanaged", "unapplied", "orphaned")}
    for item in items:
        summary[f"total_{item['kind']}"] += 1
    summary.update({f"total_{k}": v for k, v in totals.items()})
    by_severity = dict.fromkeys(("critical", "high", "medium", "low", "info"), 0)
    for item in items:
        by_severity[item["severity"]] += 1
    summary.update(coverage=coverage, by_severity=by_severity, total_managed=10)
    return {"id": report_id, "environment": environment, "status": "complete", "summary": summary,
            "items": items, "config_drift": [], "sources": {"discovery_runs": runs or []}}


def item(kind: str, severity: str, n: int = 0, rtype: str = "aws_security_group") -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "terraform_type": rtype, "terraform_id": f"sg-{n:04d}",
            "address": f"{rtype}.r{n}" if kind != "unmanaged" else None}
