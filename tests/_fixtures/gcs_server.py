"""A local Google Cloud Storage, over real HTTP on 127.0.0.1, for the real storage clients.

It implements the calls the clients under test send, the way GCS answers them: the JSON API (object
metadata ``GET /storage/v1/b/B/o/O``, media ``GET /download/storage/v1/b/B/o/O?alt=media`` or
``?alt=media`` on the metadata path, multipart upload ``POST /upload/storage/v1/b/B/o?uploadType=multipart``,
``DELETE``, listing with ``prefix``/``delimiter``/paging, bucket metadata) and the XML API object read
``GET /B/O`` that Go's client uses. Generations and metagenerations, the preconditions
``ifGenerationMatch``/``ifGenerationNotMatch``/``ifMetagenerationMatch``/``ifMetagenerationNotMatch`` (query
parameters, or ``x-goog-if-generation-match`` headers on XML reads) answered with GCS's 412 body, 404s
that tell a missing bucket from a missing object, ``X-Goog-Generation``/``X-Goog-Hash`` headers on
downloads, CRC32C/MD5 checks of uploads, customer-supplied encryption keys (CSEK) and ``kmsKeyName``.

Authentication is off until ``require_token`` is called; then a request without a known bearer token gets
GCS's 401 and a read-only token gets 403 on a write. ``POST /token`` is an OAuth token endpoint
(JWT-bearer grants signed by registered service-account keys, checked with the public key), and
``POST /v1/projects/-/serviceAccounts/SA:generateAccessToken`` the IAM Credentials
call of service-account impersonation.

Faults (``fail``) answer the next matching requests with a GCS error (503, 429, ...) before anything is
done; ``hooks`` run before each request is served (to act as a concurrent writer at an exact moment).
Resumable uploads are refused with 501: the client sends small objects as multipart uploads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

READ, WRITE = "read", "write"
_PRECONDITION = "At least one of the pre-conditions you specified did not hold."


@dataclass
class Request:
    method: str
    path: str  # raw path, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def object_name(self) -> str | None:
        """The object a JSON-API object request is about (decoded), if any."""
        m = re.match(r"^(?:/download)?/storage/v1/b/[^/]+/o/(.+)$", self.path)
        if m:
            return unquote(m.group(1))
        if self.path.startswith("/upload/"):
            if "name" in self.query:
                return self.query["name"]
            meta = multipart_parts(self)
            if meta:
                try:
                    return json.loads(meta[0][1]).get("name")
                except ValueError:
                    return None
        return None


@dataclass
class StoredObject:
    name: str
    data: bytes
    generation: int
    metageneration: int = 1
    content_type: str = "application/octet-stream"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    key_sha256: str | None = None  # CSEK: base64 SHA-256 of the key it was written with
    kms_key_name: str | None = None

    @property
    def md5(self) -> str:
        return base64.b64encode(hashlib.md5(self.data, usedforsecurity=False).digest()).decode()

    @property
    def crc32c(self) -> str:
        import google_crc32c

        return base64.b64encode(google_crc32c.value(self.data).to_bytes(4, "big")).decode()


@dataclass
class _Fault:
    match: Callable[[Request], bool]
    status: int
    remaining: int


class GcsError(Exception):
    def __init__(self, status: int, message: str, reason: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason, **extra}],
            }
        }


_FAULT_MESSAGES = {
    429: (
        "The rate of change requests to the object exceeds the rate limit. Please reduce the rate of "
        "create, update, and delete requests.",
        "rateLimitExceeded",
    ),
    500: ("Internal Error", "backendError"),
    502: ("Bad Gateway", "backendError"),
    503: ("We encountered an internal error. Please try again.", "backendError"),
    504: ("Gateway Timeout", "backendError"),
}


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def multipart_parts(req: Request) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related body: (headers, content)."""
    ctype = req.headers.get("content-type", "")
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.startswith("multipart/related") or not m:
        return []
    delimiter = b"--" + m.group(1).encode()
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in req.body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


class FakeGcs:
    """Buckets of objects behind a threaded HTTP server. Thread-safe."""

    def __init__(self, *, page_size: int = 1000) -> None:
        self.page_size = page_size
        self.buckets: dict[str, dict[str, StoredObject]] = {}
        self.requests: list[Request] = []
        self.hooks: list[Callable[[Request], None]] = []
        self.issued_tokens: list[str] = []
        self._tokens: dict[str, str] | None = None  # token -> READ / WRITE; None: no auth required
        self._service_keys: dict[str, Any] = {}  # client_email -> public key
        self._impersonation: dict[str, str] = {}  # target service account -> permission
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._generation = int(time.time() * 1_000_000)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-gcs", daemon=True
        )

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> FakeGcs:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- test set-up and inspection -------------------------------------------------------------------------

    def create_bucket(self, name: str) -> None:
        with self._lock:
            self.buckets.setdefault(name, {})

    def put(self, bucket: str, name: str, data: bytes, *, content_type: str = "application/json") -> int:
        """Store an object directly (as another client would), returning its new generation."""
        with self._lock:
            obj = StoredObject(name, data, self._next_generation(), content_type=content_type)
            self.buckets[bucket][name] = obj
            return obj.generation

    def get(self, bucket: str, name: str) -> StoredObject | None:
        with self._lock:
            return self.buckets.get(bucket, {}).get(name)

    def remove(self, bucket: str, name: str) -> None:
        with self._lock:
            self.buckets[bucket].pop(name, None)

    def names(self, bucket: str) -> list[str]:
        with self._lock:
            return sorted(self.buckets[bucket])

    def require_token(self, token: str, permission: str = WRITE) -> None:
        """Demand a bearer token from now on; ``token`` is accepted (READ: reads only)."""
        with self._lock:
            if self._tokens is None:
                self._tokens = {}
            self._tokens[token] = permission

    def add_service_account(self, email: str, public_key: Any, permission: str = WRITE) -> None:
        """A service-account key: JWT-bearer grants signed by its private key get a token."""
        with self._lock:
            self._service_keys[email] = (public_key, permission)

    def allow_impersonation(self, target: str, permission: str = WRITE) -> None:
        """Holders of a writable token may get tokens of service account ``target``."""
        with self._lock:
            self._impersonation[target] = permission

    def fail(self, status: int, *, times: int = 1, when: Callable[[Request], bool] | None = None) -> None:
        """Answer the next ``times`` requests matching ``when`` (None: every request) with a GCS error
        of ``status``, before doing anything."""
        with self._lock:
            self._faults.append(_Fault(when or (lambda _r: True), status, times))

    def requests_for(self, name: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.object_name == name]

    # --- internals ------------------------------------------------------------------------------------------

    def _next_generation(self) -> int:
        self._generation = max(self._generation + 1, int(time.time() * 1_000_000))
        return self._generation

    def _issue(self, permission: str) -> str:
        token = f"ya29.fake-{len(self.issued_tokens)}-{time.monotonic_ns()}"
        self.issued_tokens.append(token)
        if self._tokens is None:
            self._tokens = {}
        self._tokens[token] = permission
        return token

    def _resource(self, bucket: str, obj: StoredObject, base: str) -> dict[str, Any]:
        name = quote(obj.name, safe="")
        res: dict[str, Any] = {
            "kind": "storage#object",
            "id": f"{bucket}/{obj.name}/{obj.generation}",
            "selfLink": f"{base}/storage/v1/b/{bucket}/o/{name}",
            "mediaLink": (
                f"{base}/download/storage/v1/b/{bucket}/o/{name}?generation={obj.generation}&alt=media"
            ),
            "name": obj.name,
            "bucket": bucket,
            "generation": str(obj.generation),
            "metageneration": str(obj.metageneration),
            "contentType": obj.content_type,
            "storageClass": "STANDARD",
            "size": str(len(obj.data)),
            "crc32c": obj.crc32c,
            "etag": base64.b64encode(obj.generation.to_bytes(8, "big")).decode().rstrip("="),
            "timeCreated": _rfc3339(obj.created),
            "updated": _rfc3339(obj.created),
            "timeStorageClassUpdated": _rfc3339(obj.created),
        }
        if obj.key_sha256:
            res["customerEncryption"] = {"encryptionAlgorithm": "AES256", "keySha256": obj.key_sha256}
        else:
            res["md5Hash"] = obj.md5  # GCS gives no MD5 of a CSEK object
        if obj.kms_key_name:
            res["kmsKeyName"] = obj.kms_key_name + "/cryptoKeyVersions/1"
        return res

    def _authorize(self, req: Request, permission: str, what: str) -> None:
        if self._tokens is None or req.path in ("/token",) or req.path.endswith(":generateAccessToken"):
            return
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        if token is None:
            raise GcsError(
                401,
                f"Anonymous caller does not have storage.objects.{what} access to the Google "
                f"Cloud Storage object. Permission 'storage.objects.{what}' denied on resource "
                "(or it may not exist).",
                "required",
                locationType="header",
                location="Authorization",
            )
        granted = self._tokens.get(token)
        if granted is None:
            raise GcsError(
                401, "Invalid Credentials", "authError", locationType="header", location="Authorization"
            )
        if permission == WRITE and granted != WRITE:
            raise GcsError(
                403,
                f"caller does not have storage.objects.{what} access to the Google Cloud "
                f"Storage object. Permission 'storage.objects.{what}' denied on resource "
                "(or it may not exist).",
                "forbidden",
            )

    def _bucket(self, name: str) -> dict[str, StoredObject]:
        bucket = self.buckets.get(name)
        if bucket is None:
            raise GcsError(404, "The specified bucket does not exist.", "notFound")
        return bucket

    @staticmethod
    def _check_conditions(conditions: dict[str, str], obj: StoredObject | None) -> None:
        gen = obj.generation if obj else 0
        meta = obj.metageneration if obj else None
        for name, value in conditions.items():
            try:
                want = int(value)
            except ValueError:
                raise GcsError(400, f"Invalid argument for {name}: {value}", "invalid") from None
            ok = {
                "ifGenerationMatch": gen == want,
                "ifGenerationNotMatch": gen != want,
                "ifMetagenerationMatch": meta == want,
                "ifMetagenerationNotMatch": meta is not None and meta != want,
            }.get(name, True)
            if not ok:
                raise GcsError(
                    412, _PRECONDITION, "conditionNotMet", locationType="header", location="If-Match"
                )

    @staticmethod
    def _conditions(req: Request) -> dict[str, str]:
        names = (
            "ifGenerationMatch",
            "ifGenerationNotMatch",
            "ifMetagenerationMatch",
            "ifMetagenerationNotMatch",
        )
        found = {n: req.query[n] for n in names if n in req.query}
        for header, name in (
            ("x-goog-if-generation-match", "ifGenerationMatch"),
            ("x-goog-if-metageneration-match", "ifMetagenerationMatch"),
        ):
            if header in req.headers:
                found[name] = req.headers[header]
        return found

    @staticmethod
    def _csek(req: Request) -> str | None:
        """The base64 SHA-256 of the customer-supplied key the request carries, checked."""
        key = req.headers.get("x-goog-encryption-key")
        if key is None:
            return None
        raw = base64.b64decode(key)
        digest = base64.b64encode(hashlib.sha256(raw).digest()).decode()
        if len(raw) != 32 or req.headers.get("x-goog-encryption-key-sha256") != digest:
            raise GcsError(
                400,
                "Missing a SHA256 hash of the encryption key, or it is not base64 encoded, or it "
                "does not match the encryption key.",
                "customerEncryptionKeySha256IsInvalid",
            )
        return digest

    def _live(self, req: Request, bucket: str, name: str) -> StoredObject:
        obj = self._bucket(bucket).get(name)
        if obj is None or ("generation" in req.query and int(req.query["generation"]) != obj.generation):
            raise GcsError(404, f"No such object: {bucket}/{name}", "notFound")
        return obj

    def _media(self, req: Request, bucket: str, name: str) -> tuple[int, dict[str, str], bytes]:
        self._authorize(req, READ, "get")
        with self._lock:
            obj = self._live(req, bucket, name)
            self._check_conditions(self._conditions(req), obj)
            key = self._csek(req)
            if obj.key_sha256 and key is None:
                raise GcsError(
                    400,
                    "The target object is encrypted by a customer-supplied encryption key.",
                    "resourceIsEncryptedWithCustomerEncryptionKey",
                )
            if obj.key_sha256 and key != obj.key_sha256:
                raise GcsError(
                    400, "The provided encryption key is incorrect.", "customerEncryptionKeyIsIncorrect"
                )
            if key and not obj.key_sha256:
                raise GcsError(
                    400,
                    "The target object is not encrypted by a customer-supplied encryption key.",
                    "resourceNotEncryptedWithCustomerEncryptionKey",
                )
            hashes = f"crc32c={obj.crc32c}" + ("" if obj.key_sha256 else f",md5={obj.md5}")
            headers = {
                "Content-Type": obj.content_type,
                "X-Goog-Generation": str(obj.generation),
                "X-Goog-Metageneration": str(obj.metageneration),
                "X-Goog-Hash": hashes,
                "X-Goog-Stored-Content-Length": str(len(obj.data)),
                "X-Goog-Stored-Content-Encoding": "identity",
                "X-Goog-Storage-Class": "STANDARD",
                "Last-Modified": obj.created.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            }
            return 200, headers, obj.data

    def _upload(self, req: Request, bucket: str, base: str) -> dict[str, Any]:
        kind = req.query.get("uploadType")
        if kind != "multipart":
            raise GcsError(501, f"uploadType={kind} is not implemented by this fake", "notImplemented")
        parts = multipart_parts(req)
        if len(parts) != 2:
            raise GcsError(400, "Metadata part is too large or the multipart body is malformed.", "invalid")
        meta = json.loads(parts[0][1] or b"{}")
        data = parts[1][1]
        name = meta.get("name") or req.query.get("name")
        if not name:
            raise GcsError(400, "Required", "required")
        self._authorize(req, WRITE, "create")
        probe = StoredObject(name, data, 0)
        if "crc32c" in meta and meta["crc32c"] != probe.crc32c:
            raise GcsError(
                400,
                f'Provided CRC32C "{meta["crc32c"]}" doesn\'t match calculated CRC32C "{probe.crc32c}".',
                "invalid",
            )
        if "md5Hash" in meta and meta["md5Hash"] != probe.md5:
            raise GcsError(
                400,
                f'Provided MD5 hash "{meta["md5Hash"]}" doesn\'t match calculated MD5 hash "{probe.md5}".',
                "invalid",
            )
        key = self._csek(req)
        with self._lock:
            objects = self._bucket(bucket)
            self._check_conditions(self._conditions(req), objects.get(name))
            obj = StoredObject(
                name,
                data,
                self._next_generation(),
                content_type=meta.get("contentType")
                or parts[1][0].get("content-type")
                or "application/octet-stream",
                key_sha256=key,
                kms_key_name=req.query.get("kmsKeyName") or meta.get("kmsKeyName"),
            )
            objects[name] = obj
            return self._resource(bucket, obj, base)

    def _list(self, req: Request, bucket: str, base: str) -> dict[str, Any]:
        self._authorize(req, READ, "list")
        prefix, delimiter = req.query.get("prefix", ""), req.query.get("delimiter", "")
        size = min(int(req.query.get("maxResults") or self.page_size), self.page_size)
        with self._lock:
            names = sorted(n for n in self._bucket(bucket) if n.startswith(prefix))
            entries: list[tuple[str, str]] = []  # (sort key, "o"/"p")
            seen: set[str] = set()
            for n in names:
                rest = n[len(prefix) :]
                if delimiter and delimiter in rest:
                    p = prefix + rest.split(delimiter, 1)[0] + delimiter
                    if p not in seen:
                        seen.add(p)
                        entries.append((p, "p"))
                else:
                    entries.append((n, "o"))
            start = int(req.query.get("pageToken") or 0)
            page = entries[start : start + size]
            body: dict[str, Any] = {"kind": "storage#objects"}
            items = [self._resource(bucket, self.buckets[bucket][n], base) for n, k in page if k == "o"]
            prefixes = [n for n, k in page if k == "p"]
            if items:
                body["items"] = items
            if prefixes:
                body["prefixes"] = prefixes
            if start + size < len(entries):
                body["nextPageToken"] = str(start + size)
            return body

    def _delete(self, req: Request, bucket: str, name: str) -> None:
        self._authorize(req, WRITE, "delete")
        with self._lock:
            obj = self._live(req, bucket, name)
            self._check_conditions(self._conditions(req), obj)
            del self.buckets[bucket][name]

    def _token(self, req: Request) -> dict[str, Any]:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        grant = form.get("grant_type")
        with self._lock:
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                permission = self._check_jwt(form.get("assertion", ""))
            else:
                raise _OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant}")
            return {"access_token": self._issue(permission), "expires_in": 3599, "token_type": "Bearer"}

    def _check_jwt(self, assertion: str) -> str:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(part: str) -> bytes:
            return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

        try:
            header, payload, signature = assertion.split(".")
            claims = json.loads(b64(payload))
        except ValueError:
            raise _OAuthError("invalid_grant", "Invalid JWT: malformed") from None
        entry = self._service_keys.get(claims.get("iss", ""))
        if entry is None:
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.")
        public_key, permission = entry
        try:
            public_key.verify(
                b64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.") from None
        if claims.get("exp", 0) < time.time():
            raise _OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token")
        return permission

    def _generate_access_token(self, req: Request, target: str) -> dict[str, Any]:
        auth = req.headers.get("authorization", "")
        with self._lock:
            caller = (self._tokens or {}).get(auth[7:]) if auth.lower().startswith("bearer ") else None
            if caller is None:
                raise GcsError(401, "Request had invalid authentication credentials.", "authError")
            if caller != WRITE or target not in self._impersonation:
                raise GcsError(
                    403,
                    "Permission 'iam.serviceAccounts.getAccessToken' denied on resource "
                    "(or it may not exist).",
                    "forbidden",
                )
            expire = datetime.now(UTC) + timedelta(hours=1)
            return {
                "accessToken": self._issue(self._impersonation[target]),
                "expireTime": expire.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }

    def _fault(self, req: Request) -> GcsError | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.match(req):
                    fault.remaining -= 1
                    message, reason = _FAULT_MESSAGES.get(fault.status, ("Injected failure", "backendError"))
                    return GcsError(fault.status, message, reason)
        return None

    def _serve(self, req: Request, base: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(req)
            hooks = list(self.hooks)
        for hook in hooks:
            hook(req)
        fault = self._fault(req)
        if fault is not None:
            raise fault
        path, m = req.path, None
        if req.method == "POST" and path == "/token":
            return 200, {}, json.dumps(self._token(req)).encode()
        if req.method == "POST" and (
            m := re.match(r"^/v1/projects/-/serviceAccounts/(.+):generateAccessToken$", path)
        ):
            return 200, {}, json.dumps(self._generate_access_token(req, unquote(m.group(1)))).encode()
        if req.method == "POST" and (m := re.match(r"^/upload/storage/v1/b/([^/]+)/o$", path)):
            return 200, {}, json.dumps(self._upload(req, unquote(m.group(1)), base)).encode()
        if req.method == "GET" and (m := re.match(r"^/storage/v1/b/([^/]+)/o$", path)):
            return 200, {}, json.dumps(self._list(req, unquote(m.group(1)), base)).encode()
        if m := re.match(r"^(/download)?/storage/v1/b/([^/]+)/o/(.+)$", path):
            bucket, name = unquote(m.group(2)), unquote(m.group(3))
            if req.method == "GET" and (m.group(1) or req.query.get("alt") == "media"):
                return self._media(req, bucket, name)
            if req.method == "GET":
                self._authorize(req, READ, "get")
                with self._lock:
                    obj = self._live(req, bucket, name)
                    self._check_conditions(self._conditions(req), obj)
                    return 200, {}, json.dumps(self._resource(bucket, obj, base)).encode()
            if req.method == "DELETE":
                self._delete(req, bucket, name)
                return 204, {}, b""
        if req.method == "GET" and (m := re.match(r"^/storage/v1/b/([^/]+)$", path)):
            self._authorize(req, READ, "get")
            with self._lock:
                self._bucket(unquote(m.group(1)))
            return (
                200,
                {},
                json.dumps(
                    {
                        "kind": "storage#bucket",
                        "name": unquote(m.group(1)),
                        "location": "US",
                        "storageClass": "STANDARD",
                    }
                ).encode(),
            )
        if req.method == "GET" and (m := re.match(r"^/([^/]+)/(.+)$", path)):  # XML API object read
            try:
                return self._media(req, unquote(m.group(1)), unquote(m.group(2)))
            except GcsError as exc:
                if exc.status != 404:
                    raise
                code = "NoSuchBucket" if "bucket" in str(exc) else "NoSuchKey"
                text = (
                    "The specified bucket does not exist."
                    if code == "NoSuchBucket"
                    else "The specified key does not exist."
                )
                xml = (
                    "<?xml version='1.0' encoding='UTF-8'?>"
                    f"<Error><Code>{code}</Code><Message>{text}</Message></Error>"
                )
                return 404, {"Content-Type": "application/xml; charset=UTF-8"}, xml.encode()
        raise GcsError(404, f"Not Found: {req.method} {path}", "notFound")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                if (
                    self.headers.get("Transfer-Encoding", "").lower() == "chunked"
                ):  # Go's client streams uploads
                    body = b""
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        body += self.rfile.read(size)
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                req = Request(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                base = f"http://{self.headers.get('Host') or api.url.removeprefix('http://')}"
                try:
                    status, headers, payload = api._serve(req, base)
                    headers.setdefault("Content-Type", "application/json; charset=UTF-8")
                except GcsError as exc:
                    status, payload = exc.status, json.dumps(exc.body).encode()
                    headers = {"Content-Type": "application/json; charset=UTF-8"}
                except _OAuthError as exc:
                    status, payload = (
                        400,
                        json.dumps({"error": exc.error, "error_description": exc.description}).encode(),
                    )
                    headers = {"Content-Type": "application/json; charset=UTF-8"}
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        return Handler


class _OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@pytest.fixture
def gcs() -> Iterator[FakeGcs]:
    """A fresh fake GCS on a free loopback port, stopped after the test."""
    server = FakeGcs().start()
    try:
        yield server
    finally:
        server.stop()
