"""Secrets in the OS keyring only: the API against a real (in-memory) keyring backend, every way the keyring
can be unavailable, and the canary: a webhook token that must appear nowhere but the keyring and the wire."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest
from click.testing import CliRunner
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import KeyringLocked

from driftmgr_tui.commands.alerts import alerts_group
from driftmgr_tui.core.db import open_database
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.secrets import (
    SERVICE,
    KeyringUnavailable,
    SecretNotFound,
    delete_secret,
    get_secret,
    new_ref,
    set_secret,
)
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import DetectionResult, Finding
from driftmgr_tui.services.alert_service import AlertService
from driftmgr_tui.services.drift_service import DriftService
from tests.alerts import MemoryKeyring, keyring_backend, webhook_receiver


@pytest.fixture
def kr() -> Iterator[MemoryKeyring]:
    with keyring_backend() as backend:
        yield backend


class LockedKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class PlaintextKeyring(MemoryKeyring):
    """Stands where keyrings.alt's file backend would: same qualified name, so the same refusal applies."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


def test_set_get_delete_round_trip(kr: MemoryKeyring) -> None:
    ref = new_ref("webhook")
    assert ref.startswith("webhook:") and len(ref) == len("webhook:") + 36
    assert new_ref("webhook") != ref
    set_secret(ref, "https://hooks.example.com/T/B/x")
    assert kr.secrets == {(SERVICE, ref): "https://hooks.example.com/T/B/x"}
    assert get_secret(ref) == "https://hooks.example.com/T/B/x"
    set_secret(ref, "https://hooks.example.com/T/B/y")  # replaces
    assert get_secret(ref) == "https://hooks.example.com/T/B/y"
    assert delete_secret(ref) is True
    assert delete_secret(ref) is False  # twice is harmless
    with pytest.raises(SecretNotFound) as caught:
        get_secret(ref)
    assert caught.value.ref == ref and ref in caught.value.message
    with pytest.raises(UsageError, match="empty secret"):
        set_secret(ref, "")
    with pytest.raises(ValueError, match="secret kind"):
        new_ref("Web Hook")


@pytest.mark.parametrize("call", [lambda: set_secret("webhook:1", "v"), lambda: get_secret("webhook:1"),
                                  lambda: delete_secret("webhook:1")])
def test_no_keyring_backend_is_a_clear_error(call) -> None:  # type: ignore[no-untyped-def]
    with keyring_backend(fail.Keyring()), pytest.raises(KeyringUnavailable) as caught:
        call()
    assert caught.value.message == "the OS keyring is unavailable: no keyring backend is available on this machine"
    assert "PYTHON_KEYRING_BACKEND" in (caught.value.hint or "")
    assert "Secret Service" in (caught.value.hint or "")
    assert caught.value.exit_code == 2


def test_a_locked_keyring_says_unlock_it() -> None:
    with keyring_backend(LockedKeyring()):
        with pytest.raises(KeyringUnavailable) as caught:
            set_secret("webhook:1", "v")
        assert "locked" in caught.value.message and "unlock" in (caught.value.hint or "")
        with pytest.raises(KeyringUnavailable, match="locked"):
            get_secret("webhook:1")


def test_the_null_keyring_is_refused_it_would_drop_the_secret() -> None:
    with keyring_backend(null.Keyring()), pytest.raises(KeyringUnavailable, match="keeps nothing"):
        set_secret("webhook:1", "v")


def test_plaintext_file_keyring_only_when_chosen_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(Path(load_settings().data_dir) / "xdg"))  # no keyringrc.cfg
    backend = PlaintextKeyring()
    with keyring_backend(backend):
        with pytest.raises(KeyringUnavailable) as caught:
            set_secret("webhook:1", "v")
        assert "plaintext" in caught.value.message
        assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in (caught.value.hint or "")
        assert backend.secrets == {}  # nothing written
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
        set_secret("webhook:1", "v")
        assert get_secret("webhook:1") == "v"


def test_a_broken_backend_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = keyring.core._keyring_backend
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module.Keyring")
    keyring.core._keyring_backend = None
    try:
        with pytest.raises(KeyringUnavailable, match="cannot be loaded"):
            get_secret("webhook:1")
    finally:
        keyring.core._keyring_backend = previous


def test_no_keyring_means_no_webhook_rule_and_nothing_stored() -> None:
    service = AlertService()
    with keyring_backend(fail.Keyring()), pytest.raises(KeyringUnavailable):
        service.add_rule("hook", "scan_failed", webhook_url="https://hooks.example.com/services/T/B/x")
    assert service.list_rules() == []
    result = CliRunner().invoke(alerts_group, ["rule", "add", "hook", "--kind", "scan_failed",
                                               "--webhook-url-stdin"], input="https://hooks.example.com/x\n")
    assert result.exit_code == 2
    assert "the OS keyring is unavailable" in result.output


# ---------------------------------------------------------------------------------------------- canary


CANARY = "CANARY0c4f1e9b77d2"


def test_the_webhook_token_appears_nowhere_but_the_keyring(kr: MemoryKeyring, isolated_dirs: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    settings.config_path.write_text('[environments.prod]\nstates = ["terraform.tfstate"]\n', encoding="utf-8")
    runner = CliRunner()
    outputs: list[str] = []

    def cli(*args: str, input: str | None = None, code: int = 0) -> str:
        result = runner.invoke(alerts_group, list(args), input=input)
        assert result.exit_code == code, result.output
        outputs.append(result.output)
        return result.output

    # first answer 500 (a logged, recorded retry), then 200
    with webhook_receiver([(500, {})]) as hook:
        url = f"{hook.base}/services/{CANARY}/hook?token={CANARY}q"
        cli("rule", "add", "canary-rule", "--kind", "drift_count", "--threshold", "0", "--env", "prod",
            "--channel", "app", "--channel", "bell", "--channel", "webhook", "--webhook-url-stdin", input=url + "\n")
        [rule] = json.loads(cli("rule", "list", "--json"))["rules"]
        assert rule["channels"] == ["app", "bell", "webhook"] and rule["webhook_ref"].startswith("webhook:")
        assert kr.secrets == {(SERVICE, rule["webhook_ref"]): url}

        engine = open_database(settings)
        delays: list[float] = []
        service = AlertService(settings, engine, sleep=delays.append)
        finding = Finding(kind="missing", terraform_type="aws_s3_bucket", terraform_id="logs", match_key="logs",
                          provider="aws", address="aws_s3_bucket.logs", severity="high")
        report_id = save_report(engine, DetectionResult(findings=[finding], missing=1, managed=3),
                                ReportMeta(environment="prod", engine="native"))
        [fired] = service.evaluate_report(DriftService(settings, engine).report(report_id))
        assert fired.action == "fired" and delays == [1.0]
        cli("test", str(rule["id"]))
        cli("list", "--json")
        cli("list")
        cli("rule", "list")
        cli("ack", str(fired.alert["id"]))

    # the token went over the wire, to the receiver only
    assert len(hook.received) == 3 and all(CANARY in r.path for r in hook.received)
    assert [d["status"] for d in service.get_alert(fired.alert["id"])["deliveries"] if d["channel"] == "webhook"] \
        == [500, 200]
    assert hook.base in caplog.text  # the logs name the target, redacted
    # and nowhere else: database (with its WAL), config file, every file under the data dir, logs, CLI output
    files = [p for p in isolated_dirs.rglob("*") if p.is_file()]
    assert any(p.name == "driftmgr.db" for p in files) and settings.config_path in files
    leaks = [str(p) for p in files if CANARY.encode() in p.read_bytes()]
    assert leaks == []
    assert CANARY not in caplog.text
    assert all(CANARY not in output for output in outputs)
