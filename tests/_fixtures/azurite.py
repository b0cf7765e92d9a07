"""A real Azurite (Microsoft's Azure Storage emulator) on 127.0.0.1 for the azurerm backend tests.

Azurite is an npm package pinned in ``tests/emulators/package.json``; ``make test`` installs it with
``npm ci --prefix tests/emulators``. Where it is not installed the tests skip, saying what is missing (under
``CI`` they fail instead: CI must run them).

- ``azurite`` (session scope): one ``azurite-blob`` process per pytest process (so one per xdist worker), in
  memory, on a free port; stopped at the end of the session.
- ``azurite_container`` (function scope): a fresh, uniquely named container in it for one test, deleted after.
- ``FaultyProxy``: a loopback reverse proxy in front of Azurite that answers the next requests with an Azure
  Storage error (503 ServerBusy, 500 InternalError) before forwarding again, as a throttled account does.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

EMULATORS = Path(__file__).resolve().parents[1] / "emulators"
AZURITE_BLOB = EMULATORS / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key (public, documented by Microsoft)
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# A second account for Terraform: its SDK signs devstoreaccount1's requests for path-style URLs only, and
# Terraform addresses accounts production-style ({account}.blob.core.windows.net).
TF_ACCOUNT = "tfinterop"
TF_ACCOUNT_KEY = "dGhlIGRyaWZ0bWdyIHRlc3QgYWNjb3VudCBrZXkgZm9yIFRlcnJhZm9ybSBpbnRlcm9w"
_STARTUP_TIMEOUT = 30.0
_START_ATTEMPTS = 3


@dataclass
class Azurite:
    """A running Azurite blob service."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    scheme: str = "http"

    @property
    def host(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The blob service URL of the development account (what ``endpoint`` is set to)."""
        return f"{self.host}/{ACCOUNT}"

    def service(self, account: str = ACCOUNT) -> Any:
        """A plain azure-storage-blob client on an account, to set up and inspect what the backend does."""
        from azure.core.credentials import AzureNamedKeyCredential
        from azure.storage.blob import BlobServiceClient

        key = {ACCOUNT: ACCOUNT_KEY, TF_ACCOUNT: TF_ACCOUNT_KEY}[account]
        return BlobServiceClient(f"{self.host}/{account}", credential=AzureNamedKeyCredential(account, key))


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Azurite is required in CI: {reason}", pytrace=False)
    pytest.skip(f"Azurite tests skipped: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_azurite(server: Azurite) -> None:
    _stop(server.proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_azurite(workdir: Path, *extra: str, scheme: str = "http") -> Azurite:
    """Start ``azurite-blob`` (with ``extra`` options) on a free port (another one if a parallel worker
    took it first) and wait until it accepts connections."""
    log = workdir / "azurite.log"
    last = "not started"
    for _ in range(_START_ATTEMPTS):
        port = _free_port()
        command = [
            str(AZURITE_BLOB),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--loose",
            "--silent",
            *extra,
        ]
        env = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{ACCOUNT_KEY};{TF_ACCOUNT}:{TF_ACCOUNT_KEY}"}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last = f"exited with code {proc.returncode}"
                break
            if _accepting(port):
                return Azurite(port=port, proc=proc, log=log, scheme=scheme)
            time.sleep(0.05)
        else:
            last = f"not listening on port {port} within {_STARTUP_TIMEOUT:.0f}s"
        _stop(proc)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"azurite-blob did not start: {last}\n{tail}")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """An Azurite blob service private to this pytest process."""
    pytest.importorskip("azure.storage.blob")
    if shutil.which("node") is None:
        _missing("`node` is not on PATH (install Node.js and npm, then run `make test`)")
    if not os.access(AZURITE_BLOB, os.X_OK):
        _missing(
            f"{AZURITE_BLOB.relative_to(EMULATORS.parents[1])} is not installed "
            "(run `make test`, or `npm ci --prefix tests/emulators`)"
        )
    workdir = Path(tempfile.mkdtemp(prefix="driftmgr-azurite-"))
    server = start_azurite(workdir)
    try:
        yield server
    finally:
        _stop(server.proc)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def azurite_container(azurite: Azurite) -> Iterator[str]:
    """A new empty container for one test; its name."""
    name = f"tfstate-{uuid.uuid4().hex[:12]}"
    service = azurite.service()
    service.create_container(name)
    try:
        yield name
    finally:
        service.delete_container(name)


# -- a proxy that fails like a throttled storage account --------------------------------------------


_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


@dataclass
class _Failure:
    remaining: int
    status: int
    code: str
    match: Callable[[str, str], bool] | None


@dataclass
class FaultyProxy:
    """Forwards every request to ``target_port``, except those ``fail`` asks to answer with an Azure
    Storage error. ``seen`` lists ``(method, path)`` of every request, in order."""

    target_port: int
    seen: list[tuple[str, str]] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def fail(
        self,
        times: int,
        status: int = 503,
        code: str = "ServerBusy",
        match: Callable[[str, str], bool] | None = None,
    ) -> None:
        """Answer the next ``times`` requests for which ``match(method, path_and_query)`` holds (every
        request without ``match``) with ``status`` and the Azure Storage error ``code``."""
        with self._lock:
            self._failures.append(_Failure(times, status, code, match))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_failure(self, method: str, path: str) -> tuple[int, str] | None:
        with self._lock:
            for failure in self._failures:
                if failure.remaining > 0 and (failure.match is None or failure.match(method, path)):
                    failure.remaining -= 1
                    return failure.status, failure.code
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.seen.append((self.command, self.path.split("?")[0]))
                failure = proxy._next_failure(self.command, self.path)
                if failure is not None:
                    status, code = failure
                    payload = (
                        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>'
                        "Injected failure.</Message></Error>"
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("x-ms-error-code", code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    head = self.command == "HEAD"  # keeps the Content-Length of the body it describes
                    for k, v in resp.getheaders():
                        if k.lower() not in _HOP and (head or k.lower() != "content-length"):
                            self.send_header(k, v)
                    if not head:
                        self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if not head:
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler


# -- Terraform against Azurite: a TLS-terminating CONNECT proxy ----------------------------------------


def make_tls_files(directory: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it signs for ``hostname`` (a name or an IP address):
    (ca.pem, cert.pem, key.pem)."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        san = x509.DNSName(hostname)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftmgr test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class TlsConnectProxy:
    """An HTTPS proxy (``HTTPS_PROXY``) that answers ``CONNECT`` itself: it terminates TLS with a certificate
    for the requested host and pipes the plain HTTP to Azurite, which takes the account from the host name
    (``devstoreaccount1.blob.core.windows.net``). A client trusting ``ca`` (Go: ``SSL_CERT_FILE``) reaches
    Azurite while believing it talks to Azure."""

    def __init__(self, target_port: int, cert: Path, key: Path) -> None:
        import ssl

        self.target_port = target_port
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(cert, key)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            if not head.startswith(b"CONNECT "):
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            tls = self._tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        threading.Thread(target=_pipe, args=(upstream, tls), daemon=True).start()
        _pipe(tls, upstream)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
