"""A loopback reverse proxy in front of moto that behaves like a real, imperfect AWS.

It forwards every request unchanged and can
- add latency to every request (real AWS APIs answer in tens to hundreds of milliseconds),
- answer a fraction of requests with a throttling error in the request's own wire protocol (EC2 XML,
  query XML, JSON, REST-JSON, S3) or with a 500/503, as AWS does under load,
- fail every request signed for given regions (a region that is down or not enabled).

Decisions are drawn from a seeded RNG, so a failing run can be replayed. ``stats`` counts what happened.
Used by the discovery tests and by ``python -m benchmarks discovery``.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_SIGNED_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
STATS_PATH = "/__faultproxy/stats"
_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


@dataclass
class FaultPlan:
    latency: float = 0.0
    fault_rate: float = 0.0
    failing_regions: frozenset[str] = frozenset()
    seed: int = 7
    stats: Counter[str] = field(default_factory=Counter)


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 256
    return (bytes([0x60 + len(data)]) if len(data) < 24 else bytes([0x78, len(data)])) + data


def _cbor_error(code: str, message: str) -> bytes:
    """``{"__type": code, "message": message}`` in CBOR (smithy rpc-v2-cbor, e.g. CloudWatch)."""
    return b"\xa2" + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)


def _error(service: str, target: str | None, content_type: str, status_kind: str,
           smithy_protocol: str = "") -> tuple[int, dict[str, str], bytes]:
    """An AWS-shaped error answer in the request's own protocol (``status_kind``: throttle | 500 | 503 |
    region-down), so botocore reads the error code and decides about retrying as it would with AWS."""
    if status_kind in ("500", "503"):
        code = "InternalError" if status_kind == "500" else "ServiceUnavailable"
        body = f"<ErrorResponse><Error><Code>{code}</Code><Message>injected</Message></Error></ErrorResponse>"
        return int(status_kind), {"Content-Type": "text/xml"}, body.encode()
    if status_kind == "region-down":
        status, code, message = 401, "AuthFailure", "AWS was not able to validate the provided credentials (region unavailable)"
    else:
        status, code, message = 400, "Throttling", "Rate exceeded"
    json_code = {"Throttling": "ThrottlingException", "AuthFailure": "UnrecognizedClientException"}[code]
    if "cbor" in smithy_protocol:
        return status, {"Content-Type": "application/cbor", "Smithy-Protocol": "rpc-v2-cbor"}, _cbor_error(
            json_code, message)
    if target:  # JSON protocols (DynamoDB, KMS, Logs, SQS, tagging API ...)
        body = json.dumps({"__type": json_code, "message": message})
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body.encode()
    if service == "ec2":
        ec2_code = "RequestLimitExceeded" if code == "Throttling" else code
        status = 503 if code == "Throttling" else status
        body = (f"<Response><Errors><Error><Code>{ec2_code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>injected</RequestID></Response>")
        return status, {"Content-Type": "text/xml"}, body.encode()
    if service == "s3":
        s3_code = "SlowDown" if code == "Throttling" else "AccessDenied"
        status = 503 if code == "Throttling" else 403
        body = f"<Error><Code>{s3_code}</Code><Message>{message}</Message></Error>"
        return status, {"Content-Type": "application/xml"}, body.encode()
    if "x-www-form-urlencoded" not in content_type and service not in ("route53", "cloudfront"):
        # REST-JSON (Lambda, EKS, API Gateway, EFS ...): the code travels in a header
        error_type = {"Throttling": "TooManyRequestsException" if service == "lambda" else "ThrottlingException",
                      "AuthFailure": "UnrecognizedClientException"}[code]
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}
        body = json.dumps({"message": message}).encode()
        return (429 if code == "Throttling" else status), headers, body
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>injected</RequestId></ErrorResponse>")
    return status, {"Content-Type": "text/xml"}, body.encode()


class FaultProxy:
    """``with FaultProxy(upstream_url, plan) as proxy: ... proxy.url``."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._rng = random.Random(self.plan.seed)
        self._rng_lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        class Server(ThreadingHTTPServer):
            request_queue_size = 512  # boto3 opens many connections at once; a backlog of 5 drops SYNs
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, region: str) -> str | None:
        if region in self.plan.failing_regions:
            return "region-down"
        with self._rng_lock:
            roll = self._rng.random()
            kind = self._rng.choice(("throttle", "throttle", "500", "503"))
        return kind if roll < self.plan.fault_rate else None

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self._upstream, timeout=60)
            self._local.conn = conn
        return conn

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if request.path == STATS_PATH:  # for a proxy running in another process
            self._reply(request, 200, [("Content-Type", "application/json")], json.dumps(self.plan.stats).encode())
            return
        match = _SIGNED_REGION.search(request.headers.get("Authorization", ""))
        region, service = (match.group(1), match.group(2)) if match else ("", "")
        self.plan.stats["requests"] += 1
        if self.plan.latency:
            time.sleep(self.plan.latency)  # simulated network round trip
        fault = self._decide(region)
        if fault is not None:
            self.plan.stats[f"fault:{fault}"] += 1
            status, headers, payload = _error(service, request.headers.get("X-Amz-Target"),
                                              request.headers.get("Content-Type", ""), fault,
                                              request.headers.get("Smithy-Protocol", ""))
            self._reply(request, status, list(headers.items()), payload)
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request(request.command, request.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        out_headers = [(k, v) for k, v in response.getheaders()
                       if k.lower() not in _HOP_HEADERS and k.lower() != "content-length"]
        self._reply(request, response.status, out_headers, payload)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        request.send_response(status)
        for key, value in headers:
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)


def serve_in_process(upstream: str, plan: FaultPlan, ready: Any) -> None:
    """Run a proxy in this (child) process until killed; send its URL through ``ready`` (a Pipe end). Used by
    the benchmark so the proxy's threads do not share the measured process's GIL."""
    with FaultProxy(upstream, plan) as proxy:
        ready.send(proxy.url)
        threading.Event().wait()
