"""Webhook delivery against a real local HTTP server: the body, retries with backoff, Retry-After, and a URL
that never shows up in logs, results or the database."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftmgr_tui.alerts.notify import (
    MAX_RETRY_AFTER,
    _retry_after,
    post_webhook,
    redact_url,
    validate_webhook_url,
    webhook_body,
)
from driftmgr_tui.core.errors import UsageError
from tests.alerts import webhook_receiver

ALERT = {"id": 12, "rule_id": 3, "rule": "prod-drift", "environment": "prod", "status": "firing",
         "severity": "high", "title": "prod: 3 drifted resources (more than 0)",
         "message": 'high changed module.a["<x>"].aws_instance.web', "value": 3.0, "report_id": 41, "run_id": None,
         "created_at": "2026-11-22T10:00:00+00:00", "updated_at": "2026-11-22T10:00:00+00:00"}
TOKEN = "T000/B000/SECRETTOKEN"


def _recording_sleep() -> tuple[list[float], object]:
    delays: list[float] = []
    return delays, delays.append


def test_post_delivers_slack_compatible_json() -> None:
    with webhook_receiver() as hook:
        url = f"{hook.base}/services/{TOKEN}"
        delays, sleep = _recording_sleep()
        result = post_webhook(url, webhook_body(ALERT), sleep=sleep)
    assert result.delivered and result.error is None
    assert delays == []
    [request] = hook.received
    assert request.path == f"/services/{TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("driftmgr/")
    body = request.json()
    assert body["text"] == "[HIGH] prod: 3 drifted resources (more than 0)"
    assert [b["type"] for b in body["blocks"]] == ["section", "section", "context"]
    assert "&lt;x&gt;" in body["blocks"][1]["text"]["text"]  # Slack's escapes: shown, not parsed as a link
    assert body["driftmgr"]["event"] == "fired"
    assert {k: body["driftmgr"][k] for k in ("id", "rule", "environment", "severity", "value", "report_id")} == \
        {"id": 12, "rule": "prod-drift", "environment": "prod", "severity": "high", "value": 3.0, "report_id": 41}
    [attempt] = result.attempts
    assert attempt["ok"] is True and attempt["status"] == 200 and attempt["attempt"] == 1
    assert attempt["target"] == hook.base and attempt["duration"] >= 0


def test_5xx_is_retried_with_exponential_backoff_then_delivered() -> None:
    with webhook_receiver([(500, {}), (503, {})]) as hook:
        delays, sleep = _recording_sleep()
        result = post_webhook(f"{hook.base}/hook/{TOKEN}", webhook_body(ALERT), sleep=sleep, backoff=2.0)
    assert result.delivered
    assert len(hook.received) == 3
    assert delays == [2.0, 4.0]
    assert [(a["status"], a["ok"]) for a in result.attempts] == [(500, False), (503, False), (200, True)]
    assert result.attempts[0]["error"] == "HTTP 500: error 500"
    assert result.attempts[0]["retry_in"] == 2.0


def test_always_failing_endpoint_gives_up_after_n_attempts_and_reports() -> None:
    with webhook_receiver([(502, {})] * 10) as hook:
        delays, sleep = _recording_sleep()
        result = post_webhook(f"{hook.base}/hook/{TOKEN}", webhook_body(ALERT), sleep=sleep, backoff=1.0,
                              max_delay=3.0)
    assert not result.delivered
    assert len(hook.received) == 4  # the default: 4 attempts
    assert delays == [1.0, 2.0, 3.0]  # doubled, capped at max_delay, none after the last attempt
    assert [a["attempt"] for a in result.attempts] == [1, 2, 3, 4]
    assert result.error == "HTTP 502: error 502"


def test_429_honours_retry_after() -> None:
    with webhook_receiver([(429, {"Retry-After": "7"})]) as hook:
        delays, sleep = _recording_sleep()
        result = post_webhook(f"{hook.base}/hook/{TOKEN}", webhook_body(ALERT), sleep=sleep, backoff=1.0)
    assert result.delivered and len(hook.received) == 2
    assert delays == [7.0]


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert _retry_after("12", now) == 12.0
    assert _retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert _retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert _retry_after("86400", now) == MAX_RETRY_AFTER
    assert _retry_after("soon", now) is None and _retry_after(None, now) is None


def test_4xx_is_final_and_redirects_are_not_followed() -> None:
    with webhook_receiver([(404, {}), (302, {"Location": "http://127.0.0.1:1/elsewhere"})]) as hook:
        delays, sleep = _recording_sleep()
        first = post_webhook(f"{hook.base}/a/{TOKEN}", webhook_body(ALERT), sleep=sleep)
        second = post_webhook(f"{hook.base}/b/{TOKEN}", webhook_body(ALERT), sleep=sleep)
    assert not first.delivered and [a["status"] for a in first.attempts] == [404]
    assert not second.delivered and [a["status"] for a in second.attempts] == [302]
    assert delays == [] and len(hook.received) == 2


def test_connection_refused_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delays, sleep = _recording_sleep()
    result = post_webhook(f"http://127.0.0.1:{port}/hook/{TOKEN}", webhook_body(ALERT), attempts=3, sleep=sleep)
    assert not result.delivered
    assert len(result.attempts) == 3 and delays == [1.0, 2.0]
    assert all(a["status"] is None and "ConnectionRefusedError" in a["error"] for a in result.attempts)


def test_a_server_that_does_not_answer_times_out_and_is_retried() -> None:
    release = threading.Event()

    class Silent(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(10)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        delays, sleep = _recording_sleep()
        host, port = server.server_address[:2]
        result = post_webhook(f"http://{host}:{port}/hook/{TOKEN}", webhook_body(ALERT), attempts=2, timeout=0.2,
                              sleep=sleep)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()
    assert not result.delivered
    assert [a["error"] for a in result.attempts] == ["timed out", "timed out"]
    assert delays == [1.0]


def test_the_url_never_reaches_logs_or_results(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver([(500, {}), (429, {"Retry-After": "1"}), (500, {}), (500, {})]) as hook:
        url = f"{hook.base}/services/{TOKEN}?token=QUERYSECRET"
        _, sleep = _recording_sleep()
        result = post_webhook(url, webhook_body(ALERT), sleep=sleep)
    assert not result.delivered
    text = caplog.text + repr(result)
    assert "webhook" in caplog.text  # it did log, redacted
    assert TOKEN not in text and "SECRETTOKEN" not in text and "QUERYSECRET" not in text
    assert hook.base in caplog.text


def test_redaction_and_validation() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/XXX") == "https://hooks.slack.com"
    assert redact_url("https://user:pw@example.com:8443/x?token=1") == "https://example.com:8443"
    assert redact_url("https://[::1]:9000/x") == "https://[::1]:9000"
    assert redact_url("not a url") == "(invalid URL)"
    assert validate_webhook_url("  https://hooks.example.com/x  ") == "https://hooks.example.com/x"
    for bad, message in [("", "empty"), ("ftp://h/x", "must start with https://"), ("https:///path", "no host"),
                         ("https://h/a b", "spaces"), ("https://h:99999/x", "does not parse")]:
        with pytest.raises(UsageError) as caught:
            validate_webhook_url(bad)
        assert message in caught.value.message
        assert "/x" not in caught.value.message and "/path" not in caught.value.message  # never echoes the URL
