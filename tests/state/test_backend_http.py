"""HttpBackend against a Terraform-compatible HTTP state server over real HTTP(S) (tests/_fixtures)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    ProviderAuthError,
    StateConflictError,
    StateFormatError,
    StateLockedError,
    TransientError,
)
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.config import backend_from_chdir, backend_from_spec
from driftmgr_tui.state.backends.http import HttpBackend, HttpBackendConfig
from driftmgr_tui.state.codec import read_state, write_state
from driftmgr_tui.state.model import new_state
from tests._fixtures.http_backend_server import HttpStateServer, TlsFiles, make_tls

LINEAGE = "6f1c2a9e-0000-4000-8000-000000000001"


def state_bytes(*addresses: str, serial: int = 1, lineage: str = LINEAGE) -> bytes:
    state = new_state(lineage)
    for n, address in enumerate(addresses):
        ops.import_instance(state, address, {"id": f"i-{n:04d}"})
    state.serial = serial
    state.reindex()
    return write_state(state)


def lock_as(who: str, operation: str = "OperationTypeApply") -> LockInfo:
    info = new_lock_info(operation, "")
    info.who = who
    return info


@pytest.fixture(autouse=True)
def _no_tf_http_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("TF_HTTP_")] + ["TF_WORKSPACE", "TF_DATA_DIR"]:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def make_server() -> Iterator[Callable[..., HttpStateServer]]:
    started: list[HttpStateServer] = []

    def make(**kw: Any) -> HttpStateServer:
        server = HttpStateServer(**kw).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., HttpStateServer]) -> HttpStateServer:
    return make_server()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


def backend(server: HttpStateServer, name: str = "app", *, locking: bool = True, **kw: Any) -> HttpBackend:
    address = server.address(name)
    if locking:
        kw.setdefault("lock_address", address)
        kw.setdefault("unlock_address", address)
    kw.setdefault("retry_wait_min", 0)
    kw.setdefault("retry_wait_max", 0)
    return HttpBackend(HttpBackendConfig(address=address, **kw))


# -- configuration --------------------------------------------------------------------------------


def test_config_maps_attributes_env_fallbacks_and_defaults() -> None:
    env = {
        "TF_HTTP_ADDRESS": "https://ignored.example.com/state",
        "TF_HTTP_LOCK_ADDRESS": "https://state.example.com/s/lock",
        "TF_HTTP_USERNAME": "ci",
        "TF_HTTP_PASSWORD": "s3cret",
        "TF_HTTP_RETRY_MAX": "5",
        "TF_HTTP_UNLOCK_METHOD": "",  # empty counts as unset, as Terraform's GetAttrEnvDefaultFallback
    }
    cfg = HttpBackendConfig.from_terraform_config(
        {"address": "https://state.example.com/s", "update_method": "PUT", "unlock_address": None,
         "retry_wait_min": 2, "skip_cert_verification": True, "lock_method": None},
        env,
    )
    assert cfg.address == "https://state.example.com/s"  # the block wins over TF_HTTP_ADDRESS
    assert cfg.lock_address == "https://state.example.com/s/lock" and cfg.unlock_address is None
    assert (cfg.update_method, cfg.lock_method, cfg.unlock_method) == ("PUT", "LOCK", "UNLOCK")
    assert (cfg.username, cfg.password) == ("ci", "s3cret")
    assert (cfg.retry_max, cfg.retry_wait_min, cfg.retry_wait_max) == (5, 2.0, 30.0)
    assert cfg.skip_cert_verification is True
    assert "s3cret" not in repr(cfg)
    only_env = HttpBackendConfig.from_terraform_config({}, {"TF_HTTP_ADDRESS": "http://127.0.0.1:1/x"})
    assert only_env.address == "http://127.0.0.1:1/x" and only_env.lock_address is None


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({}, "address argument is required"),
        ({"address": "ftp://h/x"}, "address must be HTTP or HTTPS"),
        ({"address": "http://h:99999/x"}, "failed to parse address URL"),
        ({"address": "http://h/x", "lock_address": "h/lock"}, "lock_address must be HTTP or HTTPS"),
        ({"address": "http://h/x", "update_method": "PO ST"}, "'update_method' must be an HTTP method"),
        ({"address": "http://h/x", "retry_max": "many"}, "'retry_max' must be a number"),
        ({"address": "http://h/x", "retry_max": 1.5}, "whole number"),
        ({"address": "http://h/x", "retry_wait_min": -1}, "0 or more"),
        ({"address": "http://h/x", "skip_cert_verification": "yes please"}, "must be true or false"),
        ({"address": "http://h/x", "client_certificate_pem": "x"}, "client_private_key_pem is not"),
        ({"address": "http://h/x", "adress": "http://h/y"}, "unsupported attribute"),
    ],
)
def test_config_rejects_bad_attributes(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HttpBackendConfig.from_terraform_config(cfg, {})


def test_spec_parameters_query_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_HTTP_PASSWORD", "from-env")
    monkeypatch.setenv("TF_HTTP_LOCK_ADDRESS", "http://elsewhere.example.com/lock")  # not for specs
    be = backend_from_spec(
        "http+https://ci@state.example.com/api/state/prod?update_method=PUT&lock_method=POST"
        "&lock_address=https%3A%2F%2Fstate.example.com%2Fapi%2Fstate%2Fprod%2Flock&unlock_method=DELETE"
        "&query=project%3D42%26env%3Dprod&retry_max=4&skip_cert_verification=false"
    )
    assert isinstance(be, HttpBackend)
    cfg = be.config
    assert cfg.address == "https://state.example.com/api/state/prod?project=42&env=prod"
    assert cfg.lock_address == "https://state.example.com/api/state/prod/lock" and cfg.unlock_address is None
    assert (cfg.update_method, cfg.lock_method, cfg.unlock_method) == ("PUT", "POST", "DELETE")
    assert (cfg.username, cfg.password, cfg.retry_max) == ("ci", "from-env", 4)
    assert be.location == "https://state.example.com/api/state/prod?project=42&env=prod"
    assert backend_from_spec("http+http://127.0.0.1:8080/s").config.address == "http://127.0.0.1:8080/s"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("http+https://u:pw@h/x", "a password does not belong in a spec"),
        ("http+https://h/x?lock=true", "unknown parameter 'lock'"),
        ("http+ftp://h/x", "scheme 'http\\+ftp://' is not supported"),
        ("http+https:///x", "expected http\\+https://HOST/PATH"),
        ("http+https://h/x?retry_max=-1", "0 or more"),
        ("http+https://h/x?skip_cert_verification=maybe", "must be true or false"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        backend_from_spec(spec)
    assert "pw" not in str(caught.value)


def test_spec_password_from_the_keyring() -> None:
    from driftmgr_tui.core.secrets import new_ref, set_secret
    from tests.alerts import keyring_backend

    with keyring_backend():
        ref = new_ref("http")
        set_secret(ref, "kr-pass")
        be = backend_from_spec(f"http+https://h/x?username=bob&password_secret={ref}")
    assert (be.config.username, be.config.password) == ("bob", "kr-pass")


def test_workspaces_are_not_supported(server: HttpStateServer) -> None:
    be = backend(server)
    assert be.workspaces() == ["default"] and be.for_workspace("default") is be
    with pytest.raises(ConfigError, match="workspaces not supported"):
        be.for_workspace("dev")


def test_importing_does_not_import_urllib3() -> None:
    code = (
        "import sys, driftmgr_tui.state.backends.http, driftmgr_tui.state.backends.config;"
        "sys.exit('urllib3 imported at import time' if 'urllib3' in sys.modules else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- read / write ---------------------------------------------------------------------------------


def test_round_trip_sends_content_md5_and_reads_it_back(server: HttpStateServer) -> None:
    be = backend(server, locking=False)
    assert be.read() is None
    data = state_bytes("aws_instance.web")
    written = be.write(data, lock=None)
    assert written.version == hashlib.md5(data).hexdigest()
    post = server.requests_of("POST")[-1]
    assert post.headers["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert post.headers["Content-Type"] == "application/json" and "ID" not in post.query
    assert server.get() == data
    got = be.read()
    assert got is not None and got.data == data and got.version == written.version


@pytest.mark.parametrize("status", [204, 404])
def test_no_content_and_not_found_mean_no_state(make_server: Callable[..., HttpStateServer], status: int) -> None:
    assert backend(make_server(missing_status=status)).read() is None


def test_empty_body_means_no_state(server: HttpStateServer) -> None:
    server.put(b"")
    assert backend(server).read() is None


def test_content_md5_mismatch_is_refused(make_server: Callable[..., HttpStateServer]) -> None:
    server = make_server(wrong_md5=True)
    server.put(state_bytes())
    with pytest.raises(BackendError, match="does not match its Content-MD5 header"):
        backend(server).read()


def test_update_method_put(server: HttpStateServer) -> None:
    backend(server, update_method="PUT").write(state_bytes(), lock=None)
    assert len(server.requests_of("PUT")) == 1 and server.get() == state_bytes()


def test_malformed_state_is_a_clear_error_naming_the_url(server: HttpStateServer) -> None:
    server.put(b'{"version": 4, "serial": "one", ')
    with pytest.raises(StateFormatError) as caught:
        StateService().load(StateSource(backend=f"http+http://{server.address()[7:]}"))
    assert server.address() in str(caught.value)


# -- auth ------------------------------------------------------------------------------------------


def test_basic_auth_from_attributes_and_env(make_server: Callable[..., HttpStateServer],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server(users={"alice": "pw1"})
    server.put(state_bytes())
    assert backend(server, username="alice", password="pw1").read() is not None
    assert server.requests[-1].headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pw1").decode()
    monkeypatch.setenv("TF_HTTP_USERNAME", "alice")
    monkeypatch.setenv("TF_HTTP_PASSWORD", "pw1")
    cfg = HttpBackendConfig.from_terraform_config({"address": server.address(), "retry_wait_min": 0})
    assert HttpBackend(cfg).read() is not None


def test_401_and_403_are_auth_errors_naming_the_url(make_server: Callable[..., HttpStateServer]) -> None:
    server = make_server(users={"alice": "pw1", "reader": "pw2"}, readonly=frozenset({"reader"}))
    server.put(state_bytes())
    with pytest.raises(ProviderAuthError) as caught:
        backend(server, username="alice", password="wrong").read()
    assert "401" in str(caught.value) and server.address() in str(caught.value) and "wrong" not in str(caught.value)
    with pytest.raises(ProviderAuthError, match="requires authentication"):
        backend(server).read()
    reader = backend(server, username="reader", password="pw2")
    assert reader.read() is not None
    with pytest.raises(ProviderAuthError, match="403"):
        reader.lock(lock_as("reader@host"))
    assert server.lock_of() is None


# -- retries ------------------------------------------------------------------------------------------


def test_5xx_and_429_are_retried_then_succeed(server: HttpStateServer) -> None:
    server.put(state_bytes())
    server.fail_next(503, times=1, method="GET", headers={"Retry-After": "0"})
    server.fail_next(500, times=1, method="GET")
    server.fail_next(429, times=1, method="GET", headers={"Retry-After": "0"})
    assert backend(server, retry_max=3).read() is not None
    assert len(server.requests_of("GET")) == 4


def test_retries_are_bounded_and_501_is_not_retried(server: HttpStateServer) -> None:
    server.put(state_bytes())
    server.fail_next(502, times=3, method="GET", body=b"bad gateway")
    with pytest.raises(TransientError, match=r"HTTP 502 .* after 3 attempt\(s\)"):
        backend(server).read()
    assert len(server.requests_of("GET")) == 3  # retry_max 2: Terraform's default
    server.fail_next(501, times=1, method="GET")
    with pytest.raises(BackendError, match="unexpected HTTP response code 501"):
        backend(server).read()
    assert len(server.requests_of("GET")) == 4


def test_unreachable_server_is_transient_after_retries(make_server: Callable[..., HttpStateServer]) -> None:
    server = make_server()
    address = server.address()
    server.stop()
    with pytest.raises(TransientError, match=r"cannot reach http://127\.0\.0\.1:\d+ .*after 2 attempt"):
        HttpBackend(HttpBackendConfig(address=address, retry_max=1, retry_wait_min=0, retry_wait_max=0)).read()


def test_a_retried_lock_whose_first_attempt_took_it_succeeds(server: HttpStateServer) -> None:
    def lock_then_fail(req: Any) -> None:
        if req.method == "LOCK" and server.lock_of() is None:
            server.slot().lock = req.json()  # the server took the lock, then the answer was lost

    server.hooks.append(lock_then_fail)
    server.fail_next(502, times=1, method="LOCK")
    be = backend(server)
    held = be.lock(lock_as("me@host"))
    assert server.lock_of()["ID"] == held.id
    be.unlock(held.id)
    assert server.lock_of() is None


# -- locking ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("conflict", [423, 409])
def test_lock_contention_names_the_holder(make_server: Callable[..., HttpStateServer], conflict: int) -> None:
    server = make_server(lock_conflict_status=conflict)
    first, second = backend(server), backend(server)
    held = first.lock(lock_as("alice@laptop", "OperationTypePlan"))
    sent = server.requests_of("LOCK")[0]
    assert list(json.loads(sent.body)) == ["ID", "Operation", "Info", "Who", "Version", "Created", "Path"]
    assert server.lock_of()["Who"] == "alice@laptop" and server.lock_of()["Path"] == server.address()
    with pytest.raises(StateLockedError) as caught:
        second.lock(lock_as("bob@ci"))
    assert caught.value.lock is not None and caught.value.lock.id == held.id
    assert "alice@laptop" in str(caught.value) and "OperationTypePlan" in str(caught.value)
    first.unlock(held.id)
    assert server.lock_of() is None
    second.unlock(second.lock(lock_as("bob@ci")).id)


def test_gitlab_style_lock_endpoint(server: HttpStateServer) -> None:
    address = server.address()
    be = backend(server, lock_address=f"{address}/lock", unlock_address=f"{address}/lock",
                 lock_method="POST", unlock_method="DELETE")
    held = be.lock(lock_as("ci@runner"))
    assert server.lock_of()["ID"] == held.id
    be.write(state_bytes(), lock=held)
    assert server.requests_of("POST")[-1].query == {"ID": held.id}
    be.unlock(held.id)
    assert server.lock_of() is None and server.requests_of("DELETE")[-1].path.endswith("/lock")


@pytest.mark.parametrize("refusal", [409, 423])
def test_write_refused_while_another_holds_the_lock(make_server: Callable[..., HttpStateServer],
                                                    refusal: int) -> None:
    server = make_server(write_conflict_status=refusal)
    before = state_bytes(serial=3)
    server.put(before)
    holder, writer = backend(server), backend(server)
    held = holder.lock(lock_as("alice@laptop"))
    writer.read()
    with pytest.raises(StateLockedError) as caught:
        writer.write(state_bytes(serial=4), lock=None)
    assert "not written" in str(caught.value) and "alice@laptop" in str(caught.value)
    assert caught.value.lock is not None and caught.value.lock.id == held.id
    assert server.get() == before
    holder.unlock(held.id)


@pytest.mark.parametrize("status", [409, 412])
def test_a_refused_write_is_a_conflict(server: HttpStateServer, status: int) -> None:
    server.fail_next(status, method="POST", body=b'{"message":"version mismatch"}')
    with pytest.raises(StateConflictError, match=f"not written: the server refused it with HTTP {status}"):
        backend(server).write(state_bytes(), lock=None)
    assert server.get() is None


def test_unlock_with_the_wrong_id_leaves_the_lock(server: HttpStateServer) -> None:
    be = backend(server)
    held = be.lock(lock_as("alice@laptop"))
    with pytest.raises(BackendError, match="does not match the lock") as caught:
        backend(server).unlock(str(uuid.uuid4()))
    assert "alice@laptop" in str(caught.value)
    assert server.lock_of()["ID"] == held.id
    be.unlock(held.id)


def test_lock_timeout_waits_for_the_holder_to_release(server: HttpStateServer) -> None:
    holder = backend(server)
    held = holder.lock(lock_as("alice@laptop"))
    refusals = []

    def release_after_first_refusal(req: Any) -> None:
        if req.method == "LOCK" and server.lock_of() is not None and server.lock_of()["ID"] == held.id:
            refusals.append(req)
            if len(refusals) == 2:
                server.slot().lock = None

    server.hooks.append(release_after_first_refusal)
    waiter = backend(server)
    waiter.lock_timeout, waiter.lock_retry_interval = 60.0, 0.01
    mine = waiter.lock(lock_as("bob@ci"))
    assert server.lock_of()["ID"] == mine.id and len(refusals) == 2


def test_without_lock_address_locking_is_disabled(server: HttpStateServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    be = backend(server, locking=False)
    with caplog.at_level(logging.INFO, logger="driftmgr_tui.state.backends.http"):
        info = be.lock(lock_as("me@host"))
    assert "has no lock_address: not locking" in caplog.text
    be.write(state_bytes(), lock=info)
    be.unlock(info.id)
    assert be.current_lock() is None
    assert [r.method for r in server.requests] == ["POST"]  # no lock traffic, no ?ID=
    assert server.requests[0].query == {}


def test_lock_address_without_unlock_address_is_refused(server: HttpStateServer) -> None:
    be = backend(server, lock_address=server.address(), unlock_address=None)
    with pytest.raises(ConfigError, match="unlock_address is not"):
        be.lock(lock_as("me@host"))
    assert server.lock_of() is None


def test_current_lock_names_the_holder_and_leaves_a_free_state_free(server: HttpStateServer) -> None:
    be = backend(server)
    assert be.current_lock() is None
    assert server.lock_of() is None and [r.method for r in server.requests] == ["LOCK", "UNLOCK"]
    held = backend(server).lock(lock_as("alice@laptop"))
    current = be.current_lock()
    assert current is not None and current.id == held.id and current.who == "alice@laptop"
    assert server.lock_of()["ID"] == held.id


# -- conditional writes -------------------------------------------------------------------------------


def test_a_state_changed_since_it_was_read_is_not_overwritten(server: HttpStateServer) -> None:
    server.put(state_bytes(serial=1))
    be = backend(server)
    obj = be.read()
    assert obj is not None
    concurrent = state_bytes("aws_instance.other", serial=2)
    server.put(concurrent)
    with pytest.raises(StateConflictError, match="changed by someone else after it was read"):
        be.write(state_bytes(serial=2), lock=None, expected_version=obj.version)
    assert server.get() == concurrent and not server.requests_of("POST")


def test_a_state_created_after_it_was_found_absent_is_not_overwritten(server: HttpStateServer) -> None:
    be = backend(server)
    assert be.read() is None
    server.put(state_bytes("aws_instance.theirs"))
    with pytest.raises(StateConflictError, match="created by someone else"):
        be.write(state_bytes("aws_instance.mine"), lock=None)
    assert server.get() == state_bytes("aws_instance.theirs")


# -- through StateService -----------------------------------------------------------------------------


def spec_of(server: HttpStateServer, name: str = "app") -> str:
    address = server.address(name)
    return (f"http+http://{address[len('http://'):]}?lock_address={address}&unlock_address={address}"
            "&retry_wait_min=0&retry_wait_max=0")


def test_state_mv_on_a_spec(server: HttpStateServer) -> None:
    server.put(state_bytes("aws_instance.web", "aws_instance.db", serial=7))
    result = StateService().mv(StateSource(backend=spec_of(server)), "aws_instance.web", "aws_instance.app")
    assert (result.old_serial, result.new_serial, result.backup_id is not None) == (7, 8, True)
    after = read_state(server.get())
    assert {r.address for r in after.instances()} == {"aws_instance.app", "aws_instance.db"}
    assert (after.serial, after.lineage) == (8, LINEAGE)
    assert server.lock_of() is None
    methods = [r.method for r in server.requests]
    assert methods[0] == "LOCK" and methods[-1] == "UNLOCK" and "POST" in methods
    post = server.requests_of("POST")[0]
    assert post.query["ID"] == server.requests_of("LOCK")[0].json()["ID"]


def test_state_mv_on_a_working_dir_with_an_http_backend_block(server: HttpStateServer, tmp_path: Path) -> None:
    server.put(state_bytes("aws_instance.web", serial=2))
    address = server.address()
    (tmp_path / "main.tf").write_text(
        'terraform {\n  backend "http" {\n'
        f'    address        = "{address}"\n    lock_address   = "{address}"\n'
        f'    unlock_address = "{address}"\n    retry_wait_min = 0\n  }}\n}}\n'
    )
    assert isinstance(backend_from_chdir(tmp_path), HttpBackend)
    StateService().mv(StateSource(chdir=tmp_path), "aws_instance.web", "aws_instance.api")
    assert {r.address for r in read_state(server.get()).instances()} == {"aws_instance.api"}
    assert server.lock_of() is None


def test_no_lock_is_left_after_a_failed_write(server: HttpStateServer) -> None:
    before = state_bytes("aws_instance.web", serial=2)
    server.put(before)
    server.fail_next(500, times=3, method="POST")
    with pytest.raises(TransientError, match="HTTP 500"):
        StateService().rm(StateSource(backend=spec_of(server)), ["aws_instance.web"])
    assert server.get() == before and server.lock_of() is None
    server.fail_next(409, times=1, method="POST")
    with pytest.raises(StateConflictError, match="not written"):
        StateService().rm(StateSource(backend=spec_of(server)), ["aws_instance.web"])
    assert server.get() == before and server.lock_of() is None


def test_a_locked_state_is_refused_by_state_service(server: HttpStateServer) -> None:
    server.put(state_bytes("aws_instance.web"))
    held = backend(server).lock(lock_as("alice@laptop"))
    with pytest.raises(StateLockedError, match="alice@laptop"):
        StateService().rm(StateSource(backend=spec_of(server)), ["aws_instance.web"])
    status = StateService().locks(StateSource(backend=spec_of(server)))
    assert status.locked and status.info["ID"] == held.id
    StateService().unlock(StateSource(backend=spec_of(server)), held.id)
    assert server.lock_of() is None


# -- TLS ------------------------------------------------------------------------------------------------


def test_https_with_the_servers_ca(make_server: Callable[..., HttpStateServer], tls: TlsFiles) -> None:
    server = make_server(tls=tls)
    server.put(state_bytes())
    assert server.url.startswith("https://")
    assert backend(server, client_ca_certificate_pem=tls.ca_pem).read() is not None
    with pytest.raises(BackendError, match=r"TLS connection to https://127\.0\.0\.1"):
        backend(server, client_ca_certificate_pem=tls.other_ca_pem).read()
    assert backend(server, skip_cert_verification=True).read() is not None
    with pytest.raises(ConfigError, match="no usable PEM certificate"):
        backend(server, client_ca_certificate_pem="not a certificate").read()


def test_mutual_tls_client_certificate(make_server: Callable[..., HttpStateServer], tls: TlsFiles) -> None:
    server = make_server(tls=tls, require_client_cert=True)
    server.put(state_bytes())
    good = backend(server, client_ca_certificate_pem=tls.ca_pem, client_certificate_pem=tls.client_cert_pem,
                   client_private_key_pem=tls.client_key_pem)
    assert good.read() is not None
    with pytest.raises(BackendError, match="TLS connection"):
        backend(server, client_ca_certificate_pem=tls.ca_pem, retry_max=0).read()
    with pytest.raises(ConfigError, match="cannot load client certificate"):
        backend(server, client_ca_certificate_pem=tls.ca_pem, client_certificate_pem=tls.client_cert_pem,
                client_private_key_pem=tls.client_cert_pem).read()


# -- interoperability with real Terraform ----------------------------------------------------------------


@pytest.mark.terraform
def test_terraform_interop(server: HttpStateServer, tmp_path: Path) -> None:
    """terraform apply through the http backend; driftmgr reads and moves its state and its lock stops Terraform."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    address = server.address("tf")
    (tmp_path / "main.tf").write_text(
        'terraform {\n  backend "http" {\n'
        f'    address        = "{address}"\n    lock_address   = "{address}"\n'
        f'    unlock_address = "{address}"\n  }}\n}}\n'
        'resource "terraform_data" "a" {\n  input = "one"\n}\n'
    )
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text('provider_installation {\n  direct {\n    exclude = ["*/*/*"]\n  }\n}\n')
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1")

    def tf(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([terraform, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        if check and proc.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    tf("init", "-input=false", "-no-color")
    tf("apply", "-auto-approve", "-input=false", "-no-color")
    assert server.lock_of("tf") is None and server.get("tf") is not None
    service = StateService()
    assert [r.address for r in service.list(StateSource(chdir=tmp_path))] == ["terraform_data.a"]
    service.mv(StateSource(chdir=tmp_path), "terraform_data.a", "terraform_data.b")
    assert tf("state", "list", "-no-color").stdout.split() == ["terraform_data.b"]

    be = backend_from_chdir(tmp_path)
    held = be.lock(lock_as("driftmgr@test"))
    blocked = tf("plan", "-input=false", "-no-color", "-lock-timeout=0s", check=False)
    assert blocked.returncode != 0 and held.id in blocked.stderr
    be.unlock(held.id)
    tf("plan", "-input=false", "-no-color", "-lock-timeout=0s")
