"""A Terraform-compatible HTTP state backend on 127.0.0.1 (port 0), modelled on GitLab's Terraform state API.

Terraform's http backend and driftmgr's talk to it over real HTTP (or HTTPS, with the certificates
``make_tls`` creates). Every state lives at ``/state/NAME``:

- ``GET`` answers 200 with the bytes and a ``Content-MD5`` header, or 404 (``missing_status``) when absent;
- ``POST`` / ``PUT`` store the body (a wrong ``Content-MD5`` is 400); while the state is locked the request
  must carry ``?ID=<lock id>``, else ``write_conflict_status`` (409, as GitLab) with the holder's lock info;
- ``DELETE`` removes the state;
- ``LOCK /state/NAME`` or ``POST /state/NAME/lock`` takes the lock (body: lock-info JSON): 200, or
  ``lock_conflict_status`` (423) with the holder's lock info; ``UNLOCK /state/NAME`` or
  ``DELETE /state/NAME/lock`` releases it when the body's ``ID`` matches (else 409 with the holder's info).

``users`` turns on basic auth (401 with ``WWW-Authenticate`` without valid credentials; ``readonly`` users
get 403 on anything but GET). ``fail_next`` makes the next matching requests fail with a status (500, 503,
429...) before they touch anything; ``hooks`` run before each request (a concurrent writer, say); the
request log records what the client sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 / localhost, and a client certificate."""

    ca_file: Path
    ca_pem: str
    server_cert: Path
    server_key: Path
    client_cert_pem: str
    client_key_pem: str
    other_ca_pem: str  # a CA that signed nothing here: trusting only it must fail


def make_tls(directory: Path) -> TlsFiles:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def key() -> Any:
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn: str) -> tuple[Any, Any]:
        k = key()
        cert = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
            .sign(k, hashes.SHA256())
        )
        return k, cert

    def leaf(ca_key: Any, ca_cert: Any, cn: str, usage: Any, sans: list[Any]) -> tuple[Any, Any]:
        k = key()
        builder = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return k, builder.sign(ca_key, hashes.SHA256())

    def pem(obj: Any) -> str:
        if hasattr(obj, "private_bytes"):
            return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return obj.public_bytes(serialization.Encoding.PEM).decode()

    ca_key, ca_cert = ca("driftmgr test CA")
    _, other_ca = ca("unrelated test CA")
    server_key, server_cert = leaf(
        ca_key, ca_cert, "127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key, client_cert = leaf(ca_key, ca_cert, "state-client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_file=directory / "ca.pem",
        ca_pem=pem(ca_cert),
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_cert_pem=pem(client_cert),
        client_key_pem=pem(client_key),
        other_ca_pem=pem(other_ca),
    )
    files.ca_file.write_text(files.ca_pem)
    files.server_cert.write_text(pem(server_cert))
    files.server_key.write_text(pem(server_key))
    return files


def server_ssl_context(tls: TlsFiles, *, require_client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls.server_cert), str(tls.server_key))
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=tls.ca_pem)
    return ctx


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class _Fault:
    status: int
    remaining: int
    method: str | None
    headers: dict[str, str]
    body: bytes


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that hung up, a TLS refusal
        pass


class LocalServer:
    """Lifecycle shared by the fake servers: a threaded server on 127.0.0.1:0, optionally over TLS."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], ssl_context: ssl.SSLContext | None) -> None:
        self._server = QuietThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        scheme = "http"
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True,
                                                          do_handshake_on_connect=False)
            scheme = "https"
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{scheme}://{self.host}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle + delayed ACK cost ~40 ms each
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(5)
            self.connection.do_handshake()  # in this request's thread, not the accepting one

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True

    def read_request(self) -> Request:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return Request(
            method=self.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={k: v for k, v in self.headers.items()},
            body=body,
        )

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


@dataclass
class _Slot:
    state: bytes | None = None
    lock: dict[str, Any] | None = None
    writes: int = 0


@dataclass
class HttpStateServer:
    users: dict[str, str] = field(default_factory=dict)
    readonly: frozenset[str] = frozenset()
    missing_status: int = 404
    lock_conflict_status: int = 423
    write_conflict_status: int = 409
    tls: TlsFiles | None = None
    require_client_cert: bool = False
    #: answer GETs with this Content-MD5 instead of the right one (a damaged download)
    wrong_md5: bool = False

    def __post_init__(self) -> None:
        self.slots: dict[str, _Slot] = {}
        self.requests: list[Request] = []
        self.hooks: list[Callable[[Request], None]] = []
        self._faults: list[_Fault] = []
        self._mutex = threading.RLock()
        ctx = server_ssl_context(self.tls, require_client_cert=self.require_client_cert) if self.tls else None
        self._local = LocalServer(_handler_for(self), ctx)
        self.url = self._local.url

    # -- lifecycle and helpers for tests ---------------------------------------------------------

    def start(self) -> HttpStateServer:
        self._local.start()
        return self

    def stop(self) -> None:
        self._local.stop()

    def address(self, name: str = "app") -> str:
        return f"{self.url}/state/{name}"

    def slot(self, name: str = "app") -> _Slot:
        with self._mutex:
            return self.slots.setdefault(name, _Slot())

    def put(self, data: bytes, name: str = "app") -> None:
        with self._mutex:
            self.slot(name).state = data

    def get(self, name: str = "app") -> bytes | None:
        return self.slot(name).state

    def lock_of(self, name: str = "app") -> dict[str, Any] | None:
        return self.slot(name).lock

    def fail_next(self, status: int, *, times: int = 1, method: str | None = None,
                  headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        with self._mutex:
            self._faults.append(_Fault(status, times, method, dict(headers or {}), body))

    def requests_of(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

    # -- the protocol ----------------------------------------------------------------------------

    def handle(self, req: Request) -> tuple[int, bytes, dict[str, str]]:
        for hook in list(self.hooks):
            hook(req)
        with self._mutex:
            self.requests.append(req)
            for fault in self._faults:
                if fault.remaining > 0 and fault.method in (None, req.method):
                    fault.remaining -= 1
                    return fault.status, fault.body, fault.headers
            denied = self._auth(req)
            if denied is not None:
                return denied
            return self._route(req)

    def _auth(self, req: Request) -> tuple[int, bytes, dict[str, str]] | None:
        if not self.users:
            return None
        raw = req.headers.get("Authorization", "")
        user = None
        if raw.startswith("Basic "):
            try:
                name, _, password = base64.b64decode(raw[6:]).decode().partition(":")
            except ValueError:
                name, password = "", ""
            if self.users.get(name) == password:
                user = name
        if user is None:
            return 401, b'{"message":"401 Unauthorized"}', {"WWW-Authenticate": 'Basic realm="terraform state"'}
        if user in self.readonly and req.method != "GET":
            return 403, b'{"message":"403 Forbidden"}', {}
        return None

    def _route(self, req: Request) -> tuple[int, bytes, dict[str, str]]:
        parts = req.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "state":
            return 404, b'{"message":"404 Not Found"}', {}
        name = parts[1]
        slot = self.slots.setdefault(name, _Slot())
        if len(parts) == 3 and parts[2] == "lock":
            if req.method == "POST":
                return self._lock(slot, req)
            if req.method == "DELETE":
                return self._unlock(slot, req)
            return 405, b"", {}
        if len(parts) != 2:
            return 404, b'{"message":"404 Not Found"}', {}
        if req.method == "GET":
            if slot.state is None:
                return self.missing_status, b"", {}
            md5 = _md5_b64(b"damaged" + slot.state) if self.wrong_md5 else _md5_b64(slot.state)
            return 200, slot.state, {"Content-Type": "application/json", "Content-MD5": md5}
        if req.method in ("POST", "PUT"):
            if slot.lock is not None and req.query.get("ID") != slot.lock.get("ID"):
                return self.write_conflict_status, json.dumps(slot.lock).encode(), {}
            given = req.headers.get("Content-MD5")
            if given is not None and given != _md5_b64(req.body):
                return 400, b'{"message":"Content-MD5 does not match the body"}', {}
            slot.state = req.body
            slot.writes += 1
            return 200, b"", {}
        if req.method == "DELETE":
            slot.state = None
            return 200, b"", {}
        if req.method == "LOCK":
            return self._lock(slot, req)
        if req.method == "UNLOCK":
            return self._unlock(slot, req)
        return 405, b"", {}

    def _lock(self, slot: _Slot, req: Request) -> tuple[int, bytes, dict[str, str]]:
        try:
            info = req.json()
        except ValueError:
            return 400, b'{"message":"lock info is not JSON"}', {}
        if not isinstance(info, dict) or not info.get("ID"):
            return 400, b'{"message":"lock info has no ID"}', {}
        if slot.lock is not None:
            return self.lock_conflict_status, json.dumps(slot.lock).encode(), {"Content-Type": "application/json"}
        slot.lock = info
        return 200, b"", {}

    def _unlock(self, slot: _Slot, req: Request) -> tuple[int, bytes, dict[str, str]]:
        if slot.lock is None:
            return 200, b"", {}
        try:
            info = req.json()
        except ValueError:
            info = None
        if not isinstance(info, dict) or info.get("ID") != slot.lock.get("ID"):
            return 409, json.dumps(slot.lock).encode(), {"Content-Type": "application/json"}
        slot.lock = None
        return 200, b"", {}


def _handler_for(server: HttpStateServer) -> type[BaseHandler]:
    class Handler(BaseHandler):
        def _dispatch(self) -> None:
            status, body, headers = server.handle(self.read_request())
            self.send(status, body, headers)

        do_GET = do_POST = do_PUT = do_DELETE = do_LOCK = do_UNLOCK = _dispatch

    return Handler
