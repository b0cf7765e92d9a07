"""A small real HTTP server on 127.0.0.1 serving canned cloud API answers, for the Azure and Google clients.

The cloud SDKs under test (azure-mgmt-resource, google-cloud-asset over REST) make real HTTP requests to it:
nothing is patched in-process. A test registers routes (a path and a JSON body, or a function of the request
returning one), can make the next matching requests fail with a status (401, 403, 429, 500...), and reads
the request log afterwards to see exactly what the client asked for.

Helpers build the two paging styles: Azure's absolute ``nextLink`` (``azure_pages``) and Google's
``nextPageToken`` (``gcp_pages``).

Use it through the ``cloudapi`` fixture (function scope: a fresh server per test, ~1 ms to start).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest


@dataclass
class RecordedRequest:
    method: str
    path: str  # unquoted, without the query
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, list[str]] = field(default_factory=dict)  # every value of each parameter

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RecordedRequest], Any]  # returns a JSON body or a Reply


@dataclass
class _Fault:
    match: Callable[[RecordedRequest], bool]
    reply: Reply
    remaining: int
    skip: int


class FakeCloudApi:
    """Routes, injected faults and a request log. Thread-safe: the SDKs may call from worker threads."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, Handler]] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.hooks: list[Callable[[RecordedRequest], None]] = []  # called for every request, before replying
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-cloud-api", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> FakeCloudApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- configuration ----------------------------------------------------------------------------------------

    def route(self, path: str, body: Any = None, *, method: str = "GET", status: int = 200,
              handler: Handler | None = None) -> None:
        """Answer ``method path`` (exact, unquoted, no query) with ``body`` or ``handler(request)``."""
        if handler is None:
            reply = Reply(status=status, body=body)

            def handler(_request: RecordedRequest, _reply: Reply = reply) -> Reply:
                return _reply

        with self._lock:
            self._routes.append((method.upper(), path, handler))

    def fail(self, status: int, *, path: str | None = None, times: int = 1, skip: int = 0,
             body: Any = None, headers: Mapping[str, str] | None = None,
             when: Callable[[RecordedRequest], bool] | None = None) -> None:
        """Answer the next ``times`` matching requests (after letting ``skip`` of them through) with
        ``status``. Matching: ``path`` (exact) and/or ``when(request)``; neither means every request."""

        def match(request: RecordedRequest) -> bool:
            return (path is None or request.path == path) and (when is None or when(request))

        reply = Reply(status=status, body=body if body is not None else {"error": {"code": status}},
                      headers=dict(headers or {}))
        with self._lock:
            self._faults.append(_Fault(match=match, reply=reply, remaining=times, skip=skip))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # --- serving ----------------------------------------------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            hooks = list(self.hooks)
        for hook in hooks:
            hook(request)
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.match(request):
                    if fault.skip > 0:
                        fault.skip -= 1
                        break
                    fault.remaining -= 1
                    return fault.reply
            routes = list(self._routes)
        for method, path, handler in routes:
            if method == request.method and path == request.path:
                result = handler(request)
                return result if isinstance(result, Reply) else Reply(body=result)
        return Reply(status=404, body={"error": {"code": "NotFound",
                                                 "message": f"no route for {request.method} {request.path}"}})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One buffered write per response (flushed by the handler after each request) and no Nagle:
            # headers and body in separate small writes would wait on delayed ACKs, ~40 ms a request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                params = parse_qs(parts.query, keep_blank_values=True)
                request = RecordedRequest(method=self.command, path=unquote(parts.path),
                                          query={k: v[0] for k, v in params.items()},
                                          headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                                          params=params)
                reply = api._answer(request)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler


# --- paging helpers -----------------------------------------------------------------------------------------------

def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)] or [[]]


def azure_pages(api: FakeCloudApi, items: Sequence[Any], *, per_page: int, key: str = "value") -> Handler:
    """ARM paging: page N answers ``{"value": [...], "nextLink": "<absolute url>?...&$skiptoken=N+1"}``."""
    pages = chunks(items, per_page)

    def handler(request: RecordedRequest) -> Any:
        index = int(request.query.get("$skiptoken") or 0)
        body: dict[str, Any] = {key: pages[index]}
        if index + 1 < len(pages):
            body["nextLink"] = f"{api.url}{request.path}?api-version=2025-04-01&$skiptoken={index + 1}"
        return body

    return handler


def gcp_pages(items: Sequence[Any], *, per_page: int, key: str = "results") -> Handler:
    """Google paging: the request's ``pageToken`` picks the page; ``nextPageToken`` names the next one."""
    pages = chunks(items, per_page)

    def handler(request: RecordedRequest) -> Any:
        token = request.query.get("pageToken") or ""
        index = int(token.removeprefix("page-")) if token else 0
        body: dict[str, Any] = {key: pages[index]}
        if index + 1 < len(pages):
            body["nextPageToken"] = f"page-{index + 1}"
        return body

    return handler


@pytest.fixture
def cloudapi() -> Iterator[FakeCloudApi]:
    """A fresh fake cloud API server on a free loopback port, stopped after the test."""
    api = FakeCloudApi().start()
    try:
        yield api
    finally:
        api.stop()
