"""TfcBackend (cloud block / backend "remote") against a local HCP Terraform API v2 over HTTPS (tests/_fixtures)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    ConfigError,
    LockInfo,
    ProviderAuthError,
    StateConflictError,
    StateLockedError,
    TransientError,
)
from driftmgr_tui.core.secrets import set_secret
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.config import backend_from_chdir, backend_from_spec
from driftmgr_tui.state.backends.tfc import TfcBackend, TfcConfig
from driftmgr_tui.state.backends.tfc_api import env_var_name, find_token, keyring_ref
from driftmgr_tui.state.codec import read_state, write_state
from driftmgr_tui.state.model import new_state
from tests._fixtures.http_backend_server import TlsFiles, make_tls
from tests._fixtures.tfc_server import TfcServer, Workspace
from tests.alerts import MemoryKeyring, keyring_backend

ORG = "acme"
LINEAGE = "0b6e3c1a-1111-4222-8333-444455556666"


def state_bytes(*addresses: str, serial: int = 1, lineage: str = LINEAGE, outputs: bool = False) -> bytes:
    state = new_state(lineage)
    for n, address in enumerate(addresses):
        ops.import_instance(state, address, {"id": f"i-{n:04d}"})
    if outputs:
        state.outputs["vpc_id"] = {"value": "vpc-123", "type": "string"}
        state.outputs["db_password"] = {"value": "hunter2", "type": "string", "sensitive": True}
    state.serial = serial
    state.reindex()
    return write_state(state)


def lock_as(who: str, operation: str = "OperationTypeApply") -> LockInfo:
    info = new_lock_info(operation, "")
    info.who = who
    return info


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in [v for v in os.environ if v.startswith(("TF_TOKEN_", "TF_CLOUD_"))]:
        monkeypatch.delenv(var)
    for var in ("TF_CLI_CONFIG_FILE", "TF_WORKSPACE", "TF_DATA_DIR", "TFE_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def kr() -> Iterator[MemoryKeyring]:
    with keyring_backend() as backend:
        yield backend


@pytest.fixture
def tfc(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[TfcServer]:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))  # how Terraform (Go) and OpenSSL trust a private CA
    server = TfcServer(tls).start()
    yield server
    server.stop()


@pytest.fixture
def alice(tfc: TfcServer, kr: MemoryKeyring) -> str:
    """alice's token, stored in the keyring entry for the server's host."""
    token = tfc.add_user("alice")
    set_secret(keyring_ref(tfc.hostname), token)
    return token


@pytest.fixture
def net(tfc: TfcServer) -> Workspace:
    return tfc.add_workspace(ORG, "net", tags=["app"])


def backend(tfc: TfcServer, workspace: str = "net", **kw: Any) -> TfcBackend:
    kw.setdefault("retry_wait_min", 0)
    kw.setdefault("retry_wait_max", 0.05)
    return TfcBackend(TfcConfig(organization=ORG, hostname=tfc.hostname, workspace=workspace, **kw))


def spec(tfc: TfcServer, workspace: str = "net") -> str:
    return f"tfc://{ORG}/{workspace}?hostname={tfc.hostname}"


# -- configuration --------------------------------------------------------------------------------------


def test_cloud_block_and_backend_cache_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = TfcConfig.from_terraform(
        "cloud", {"organization": "acme", "hostname": "TFE.Example.com", "workspaces": [{"name": "net"}]}, "default"
    )
    assert (cfg.organization, cfg.hostname, cfg.name, cfg.remote_name) == ("acme", "tfe.example.com", "net", "net")
    assert TfcBackend(cfg).location == "tfc://acme/net?hostname=tfe.example.com"
    cached = {"organization": "acme", "hostname": None, "token": None,
              "workspaces": {"name": None, "tags": ["app", "eu"], "project": "core"}}
    cfg = TfcConfig.from_terraform("cloud", cached, "net-eu")
    assert (cfg.hostname, cfg.tags, cfg.project, cfg.remote_name) == ("app.terraform.io", ("app", "eu"), "core",
                                                                      "net-eu")
    monkeypatch.setenv("TF_CLOUD_ORGANIZATION", "from-env")
    monkeypatch.setenv("TF_CLOUD_HOSTNAME", "tfe.internal")
    monkeypatch.setenv("TF_CLOUD_PROJECT", "p1")
    cfg = TfcConfig.from_terraform("cloud", {}, "ws1")
    assert (cfg.organization, cfg.hostname, cfg.project, cfg.remote_name) == ("from-env", "tfe.internal", "p1", "ws1")


def test_remote_backend_maps_workspaces_with_the_prefix() -> None:
    cfg = TfcConfig.from_terraform("remote", {"organization": "acme", "workspaces": [{"prefix": "app-"}]}, "dev")
    assert cfg.remote_name == "app-dev"
    unselected = TfcConfig.from_terraform("remote", {"organization": "acme", "workspaces": [{"prefix": "app-"}]},
                                          "default")
    with pytest.raises(ConfigError, match="no workspace selected"):
        assert unselected.remote_name
    named = TfcConfig.from_terraform("remote", {"organization": "acme", "workspaces": {"name": "prod"}}, "default")
    assert named.remote_name == "prod"
    with pytest.raises(ConfigError, match="names one workspace, 'prod'"):
        assert TfcBackend(named).for_workspace("staging").config.remote_name


@pytest.mark.parametrize(
    ("kind", "cfg", "message"),
    [
        ("cloud", {"workspaces": {"name": "x"}}, "missing required attribute 'organization'"),
        ("cloud", {"organization": "acme", "workspaces": {"name": "x", "tags": ["a"]}}, "cannot be combined"),
        ("cloud", {"organization": "acme", "workspaces": {"tags": {"env": "prod"}}}, "key/value workspace tags"),
        ("cloud", {"organization": "acme", "workspaces": {"prefix": "a-"}}, "'prefix' is not supported here"),
        ("cloud", {"organization": "acme", "hostname": "https://tfe.example.com"}, "is not a host name"),
        ("cloud", {"organization": "a/b"}, "not a valid organization name"),
        ("cloud", {"organization": "acme", "token_file": "x"}, "unsupported attribute"),
        ("remote", {"organization": "acme", "workspaces": {}}, "needs 'name' or 'prefix'"),
    ],
)
def test_config_errors(kind: str, cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TfcConfig.from_terraform(kind, cfg, "default")


def test_specs() -> None:
    be = backend_from_spec("tfc://acme/net")
    assert isinstance(be, TfcBackend) and be.location == "tfc://acme/net" and be.lock_id == "acme/net"
    assert be.for_workspace("dns").location == "tfc://acme/dns"
    tagged = backend_from_spec("tfc://acme?tags=app,eu&project=core&hostname=tfe.example.com")
    assert tagged.config.tags == ("app", "eu") and tagged.config.project == "core"
    for bad, message in (("tfc://acme/a/b", "expected tfc://ORGANIZATION/WORKSPACE"),
                         ("tfc://acme/net?tags=a", "not both"),
                         ("tfc://acme/net?org=x", "unknown parameter 'org'"),
                         ("tfc://acme/net?hostname=http://x", "not a host name")):
        with pytest.raises(ConfigError, match=message):
            backend_from_spec(bad)


# -- the token ------------------------------------------------------------------------------------------


def test_token_sources_in_order(kr: MemoryKeyring, tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    (home / ".terraform.d").mkdir(parents=True)
    (home / ".terraform.d" / "credentials.tfrc.json").write_text(
        json.dumps({"credentials": {"app.terraform.io": {"token": "from-file"}}})
    )
    env: dict[str, str] = {}
    assert find_token("app.terraform.io", env=env).value == "from-file"
    rc = tmp_path / "cli.tfrc"
    rc.write_text('credentials "APP.terraform.io" {\n  token = "from-cli-config"\n}\n')
    env["TF_CLI_CONFIG_FILE"] = str(rc)
    found = find_token("app.terraform.io", env=env)
    assert found.value == "from-cli-config" and str(rc) in found.source
    env["TF_TOKEN_app_terraform_io"] = "from-env"
    assert find_token("app.terraform.io", env=env).source == "TF_TOKEN_app_terraform_io"
    set_secret("tfc-token:app.terraform.io", "from-keyring")
    found = find_token("app.terraform.io", env=env)
    assert (found.value, found.source) == ("from-keyring", "the keyring entry tfc-token:app.terraform.io")
    assert find_token("app.terraform.io", configured="from-block", env=env).value == "from-block"
    assert "from-keyring" not in repr(found)


def test_env_token_names_encode_dots_and_hyphens(kr: MemoryKeyring) -> None:
    assert env_var_name("tfe-1.example.com") == "TF_TOKEN_tfe__1_example_com"
    found = find_token("tfe-1.example.com", env={"TF_TOKEN_tfe__1_example_com": "t1", "TF_TOKEN_tfe_1": "no"})
    assert found.value == "t1"


def test_missing_token_says_where_it_looked(kr: MemoryKeyring) -> None:
    with pytest.raises(ProviderAuthError) as caught:
        find_token("tfe.example.com", env={})
    message = str(caught.value)
    for where in ("tfc-token:tfe.example.com", "TF_TOKEN_tfe_example_com", "credentials.tfrc.json",
                  "terraform login tfe.example.com"):
        assert where in message


def test_malformed_credentials_file_names_the_file(kr: MemoryKeyring) -> None:
    path = Path(os.environ["HOME"]) / ".terraform.d" / "credentials.tfrc.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"credentials": {')
    with pytest.raises(ConfigError, match=r"credentials\.tfrc\.json: malformed JSON at line 1"):
        find_token("app.terraform.io", env={})


# -- read ---------------------------------------------------------------------------------------------------


def test_read_the_current_state_version(tfc: TfcServer, alice: str, net: Workspace) -> None:
    be = backend(tfc)
    assert be.read() is None  # a workspace without state
    data = state_bytes("aws_vpc.main", serial=4)
    sv = tfc.add_version(net, data)
    got = be.read()
    assert got is not None and got.data == data and got.version == sv.id
    api_calls = [r for r in tfc.requests if r.path.startswith("/api/v2/")]
    assert all(r.headers["Authorization"] == f"Bearer {alice}" for r in api_calls)
    assert all(r.headers["Accept"] == "application/vnd.api+json" for r in api_calls)
    assert api_calls[0].path == f"/api/v2/organizations/{ORG}/workspaces/net"  # resolved once
    assert sum(r.path.endswith("/workspaces/net") for r in tfc.requests) == 1
    assert any(r.path.startswith("/_archivist/") for r in tfc.requests)


def test_a_redirected_download_is_followed(tfc: TfcServer, alice: str, net: Workspace) -> None:
    data = state_bytes("aws_vpc.main")
    tfc.add_version(net, data)
    tfc.redirect_downloads = True
    got = backend(tfc).read()
    assert got is not None and got.data == data
    assert [r.path.split("/")[1] for r in tfc.requests if not r.path.startswith("/api/")] == ["_archivist", "_blob"]


def test_unknown_workspace_is_a_clear_error(tfc: TfcServer, alice: str) -> None:
    with pytest.raises(BackendError, match="workspace 'nope' not found in organization 'acme'"):
        backend(tfc, "nope").read()


def test_rate_limit_is_waited_out_then_retried(tfc: TfcServer, alice: str, net: Workspace) -> None:
    tfc.add_version(net, state_bytes())
    tfc.fail_next(429, path_part="current-state-version", headers={"X-RateLimit-Reset": "0.01"},
                  body=b'{"errors":[{"status":"429","title":"Too many requests"}]}')
    tfc.fail_next(503, path_part="current-state-version")
    assert backend(tfc).read() is not None
    assert sum(r.path.endswith("current-state-version") for r in tfc.requests) == 3


def test_throttling_that_does_not_end_is_transient(tfc: TfcServer, alice: str, net: Workspace) -> None:
    tfc.fail_next(429, times=3, path_part="current-state-version", headers={"Retry-After": "0"})
    with pytest.raises(TransientError, match=r"HTTP 429 .* after 3 attempt\(s\)") as caught:
        backend(tfc, retry_max=2).read()
    assert caught.value.retry_after == 0


def test_bad_token_is_a_401_naming_host_and_source(tfc: TfcServer, kr: MemoryKeyring, net: Workspace) -> None:
    set_secret(keyring_ref(tfc.hostname), "not-a-real-token")
    with pytest.raises(ProviderAuthError) as caught:
        backend(tfc).read()
    message = str(caught.value)
    assert tfc.hostname in message and "401" in message and f"keyring entry tfc-token:{tfc.hostname}" in message
    assert "not-a-real-token" not in message


def test_missing_token_is_refused_before_any_request(tfc: TfcServer, kr: MemoryKeyring, net: Workspace) -> None:
    with pytest.raises(ProviderAuthError, match=f"no API token for {tfc.hostname}"):
        backend(tfc).read()
    assert tfc.requests == []


def test_token_from_the_credentials_file(tfc: TfcServer, kr: MemoryKeyring, net: Workspace) -> None:
    token = tfc.add_user("carol")
    path = Path(os.environ["HOME"]) / ".terraform.d" / "credentials.tfrc.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"credentials": {tfc.hostname: {"token": token}}}))
    tfc.add_version(net, state_bytes())
    assert backend(tfc).read() is not None
    assert tfc.requests[0].headers["Authorization"] == f"Bearer {token}"


# -- write through StateService -------------------------------------------------------------------------------


def test_state_mv_creates_a_state_version(tfc: TfcServer, alice: str, net: Workspace) -> None:
    before = tfc.add_version(net, state_bytes("aws_vpc.main", "aws_subnet.a", serial=6, outputs=True))
    result = StateService().mv(StateSource(backend=spec(tfc)), "aws_subnet.a", "aws_subnet.private")
    assert (result.old_serial, result.new_serial) == (6, 7)
    assert len(net.versions) == 2 and net.locked_by is None
    created = net.current
    assert created is not None and created.id != before.id
    state = read_state(created.state)
    assert (state.serial, state.lineage) == (7, LINEAGE) and created.serial == 7 and created.lineage == LINEAGE
    assert created.md5 == hashlib.md5(created.state).hexdigest()
    assert {r.address for r in state.instances()} == {"aws_vpc.main", "aws_subnet.private"}
    outputs = json.loads(base64.b64decode(tfc.last_outputs))
    assert outputs["vpc_id"] == {"sensitive": False, "value": "vpc-123", "type": "string"}
    assert outputs["db_password"]["sensitive"] is True
    actions = [r.path.rsplit("/", 1)[-1] for r in tfc.requests if "/actions/" in r.path]
    assert actions == ["lock", "unlock"]
    lock_request = next(r for r in tfc.requests if r.path.endswith("/actions/lock"))
    assert "state mv" in lock_request.json()["reason"]


def test_a_cloud_block_in_a_working_dir(tfc: TfcServer, alice: str, net: Workspace, tmp_path: Path) -> None:
    tfc.add_version(net, state_bytes("aws_vpc.main", serial=2))
    (tmp_path / "main.tf").write_text(
        f'terraform {{\n  cloud {{\n    organization = "{ORG}"\n    hostname     = "{tfc.hostname}"\n'
        '    workspaces {\n      name = "net"\n    }\n  }\n}\n'
    )
    be = backend_from_chdir(tmp_path)
    assert isinstance(be, TfcBackend) and be.location == f"tfc://{ORG}/net?hostname={tfc.hostname}"
    assert be.workspaces() == ["net"]
    StateService().mv(StateSource(chdir=tmp_path), "aws_vpc.main", "aws_vpc.core")
    assert {r.address for r in read_state(net.current.state).instances()} == {"aws_vpc.core"}
    assert net.current.serial == 3 and net.locked_by is None


def test_a_tagged_cloud_block_uses_the_selected_workspace(tfc: TfcServer, alice: str, net: Workspace,
                                                           tmp_path: Path) -> None:
    dns = tfc.add_workspace(ORG, "dns", tags=["app"])
    tfc.add_version(dns, state_bytes("aws_route53_zone.main"))
    (tmp_path / "main.tf").write_text(
        f'terraform {{\n  cloud {{\n    organization = "{ORG}"\n    hostname = "{tfc.hostname}"\n'
        '    workspaces {\n      tags = ["app"]\n    }\n  }\n}\n'
    )
    with pytest.raises(ConfigError, match="no workspace selected"):
        StateService().load(StateSource(chdir=tmp_path))
    assert backend_from_chdir(tmp_path).workspaces() == ["dns", "net"]
    (tmp_path / ".terraform").mkdir()
    (tmp_path / ".terraform" / "environment").write_text("dns")
    state = StateService().load(StateSource(chdir=tmp_path))
    assert [r.address for r in state.instances()] == ["aws_route53_zone.main"]


# -- locking ----------------------------------------------------------------------------------------------------


def test_lock_contention_between_two_clients(tfc: TfcServer, alice: str, net: Workspace, kr: MemoryKeyring) -> None:
    first = backend(tfc)
    held = first.lock(lock_as("alice@laptop", "state rm"))
    assert net.locked_by == ("users", tfc.user_of(alice)) and "state rm" in net.lock_reason

    bob = tfc.add_user("bob")
    second = backend(tfc, token=bob)
    with pytest.raises(StateLockedError) as caught:
        second.lock(lock_as("bob@ci"))
    assert caught.value.lock is not None
    assert (caught.value.lock.id, caught.value.lock.who) == ("acme/net", "alice")
    assert "state rm" in caught.value.lock.info
    current = second.current_lock()
    assert current is not None and current.who == "alice"

    with pytest.raises(StateLockedError, match="not written"):
        second.write(state_bytes(serial=9), lock=None)
    assert net.versions == []
    with pytest.raises(BackendError, match="its lock ID is acme/net"):
        second.unlock(held.id)
    assert net.locked_by is not None
    second.unlock("acme/net")  # Terraform's force-unlock ID
    assert net.locked_by is None and first.current_lock() is None


def test_unlocking_someone_elses_lock_without_force_is_refused(tfc: TfcServer, alice: str, net: Workspace) -> None:
    be = backend(tfc)
    held = be.lock(lock_as("alice@laptop"))
    bob_backend = backend(tfc, token=tfc.add_user("bob"))
    bob_backend._held[held.id] = ("users", "x")  # same lock ID, different user: the API decides
    with pytest.raises(BackendError, match="is locked by User alice"):
        bob_backend.unlock(held.id)
    be.unlock(held.id)
    assert net.locked_by is None


def test_lock_timeout_waits_for_the_holder(tfc: TfcServer, alice: str, net: Workspace) -> None:
    net.locked_by, net.lock_reason = ("runs", "run-abc123"), "run"
    attempts = []

    def release_on_second_attempt(req: Any) -> None:
        if req.path.endswith("/actions/lock"):
            attempts.append(req)
            if len(attempts) == 2:
                net.locked_by = None

    tfc.hooks.append(release_on_second_attempt)
    be = backend(tfc)
    be.lock_timeout, be.lock_retry_interval = 60.0, 0.01
    be.unlock(be.lock(lock_as("alice@laptop")).id)
    assert len(attempts) == 2


def test_a_run_holding_the_lock_is_named(tfc: TfcServer, alice: str, net: Workspace) -> None:
    net.locked_by = ("runs", "run-abc123")
    with pytest.raises(StateLockedError, match="held by run run-abc123"):
        backend(tfc).lock(lock_as("alice@laptop"))


# -- conditional writes and the API's own checks ----------------------------------------------------------------------


def test_a_version_created_since_the_read_is_a_conflict(tfc: TfcServer, alice: str, net: Workspace) -> None:
    tfc.add_version(net, state_bytes("aws_vpc.main", serial=3))
    be = backend(tfc)
    held = be.lock(lock_as("alice@laptop"))
    obj = be.read()
    assert obj is not None
    other = tfc.add_version(net, state_bytes("aws_vpc.main", "aws_subnet.b", serial=4))
    with pytest.raises(StateConflictError, match=f"now state version {other.id} \\(serial 4\\)"):
        be.write(state_bytes("aws_vpc.core", serial=4), lock=held, expected_version=obj.version)
    assert net.current is other and len(net.versions) == 2
    be.unlock(held.id)


def test_state_service_write_conflict_leaves_no_lock(tfc: TfcServer, alice: str, net: Workspace) -> None:
    tfc.add_version(net, state_bytes("aws_vpc.main", serial=3))

    reads = []

    def concurrent_writer(req: Any) -> None:  # a version appears between the read and the write
        if req.path.endswith("/current-state-version"):
            reads.append(req)
            if len(reads) == 2:
                tfc.add_version(net, state_bytes("aws_vpc.x", serial=4))

    tfc.hooks.append(concurrent_writer)
    with pytest.raises(StateConflictError, match="not written: it changed after state version"):
        StateService().mv(StateSource(backend=spec(tfc)), "aws_vpc.main", "aws_vpc.core")
    assert net.locked_by is None and len(net.versions) == 2 and net.current.serial == 4
    assert not [r for r in tfc.requests if r.method == "POST" and r.path.endswith("/state-versions")]

    # the API's own check catches what slips between the check and the create
    tfc.hooks.clear()

    def slip_in(req: Any) -> None:
        if req.method == "POST" and req.path.endswith("/state-versions"):
            tfc.add_version(net, state_bytes("aws_vpc.y", serial=5))

    tfc.hooks.append(slip_in)
    with pytest.raises(StateConflictError, match="Serial 5 must be greater"):
        StateService().mv(StateSource(backend=spec(tfc)), "aws_vpc.x", "aws_vpc.core")
    assert net.locked_by is None and net.current.serial == 5 and len(net.versions) == 3


def test_a_serial_that_is_not_newer_is_refused(tfc: TfcServer, alice: str, net: Workspace) -> None:
    tfc.add_version(net, state_bytes(serial=5))
    be = backend(tfc)
    held = be.lock(lock_as("alice@laptop"))
    with pytest.raises(StateConflictError, match="Serial 5 must be greater"):
        be.write(state_bytes("aws_vpc.x", serial=5), lock=held)
    assert len(net.versions) == 1
    be.unlock(held.id)


def test_a_write_after_the_lock_was_force_released_is_refused(tfc: TfcServer, alice: str, net: Workspace) -> None:
    be = backend(tfc)
    held = be.lock(lock_as("alice@laptop"))
    backend(tfc).unlock("acme/net", force=True)
    with pytest.raises(BackendError, match="is no longer held"):
        be.write(state_bytes(), lock=held)
    assert net.versions == []


def test_not_json_state_is_refused_before_any_request(tfc: TfcServer, alice: str, net: Workspace) -> None:
    with pytest.raises(BackendError, match="not JSON with a numeric serial"):
        backend(tfc).write(b"garbage", lock=None)
    assert tfc.requests == []


# -- workspaces --------------------------------------------------------------------------------------------------------


def test_workspaces_by_tags_page_by_page(tfc: TfcServer, alice: str) -> None:
    for n in range(105):
        tfc.add_workspace(ORG, f"svc-{n:03d}", tags=["app", "eu"] if n % 2 else ["app"])
    tfc.add_workspace("other-org", "svc-999", tags=["app", "eu"])
    be = TfcBackend(TfcConfig(organization=ORG, hostname=tfc.hostname, tags=("app", "eu")))
    names = be.workspaces()
    assert names == [f"svc-{n:03d}" for n in range(105) if n % 2]
    everything = TfcBackend(TfcConfig(organization=ORG, hostname=tfc.hostname, tags=("app",))).workspaces()
    assert len(everything) == 105
    pages = [r.query["page[number]"] for r in tfc.requests if r.path.endswith(f"{ORG}/workspaces")]
    assert pages == ["1", "1", "2"]


def test_workspaces_by_prefix_and_by_project(tfc: TfcServer, alice: str) -> None:
    core = tfc.add_project(ORG, "core")
    for name in ("app-dev", "app-prod", "my-app-x", "app-"):
        tfc.add_workspace(ORG, name)
    tfc.add_workspace(ORG, "net-a", project_id=core)
    tfc.add_workspace(ORG, "net-b", project_id=core)
    remote = TfcConfig.from_terraform("remote", {"organization": ORG, "hostname": tfc.hostname,
                                                 "workspaces": {"prefix": "app-"}}, "default")
    assert TfcBackend(remote).workspaces() == ["dev", "prod"]
    cloud = TfcConfig.from_terraform("cloud", {"organization": ORG, "hostname": tfc.hostname,
                                               "workspaces": {"project": "core"}}, "default")
    assert TfcBackend(cloud).workspaces() == ["net-a", "net-b"]
    missing = TfcConfig.from_terraform("cloud", {"organization": ORG, "hostname": tfc.hostname,
                                                 "workspaces": {"project": "nope"}}, "default")
    with pytest.raises(BackendError, match="project 'nope' not found"):
        TfcBackend(missing).workspaces()


def test_remote_backend_with_a_prefix_reads_the_prefixed_workspace(tfc: TfcServer, alice: str) -> None:
    ws = tfc.add_workspace(ORG, "app-prod")
    tfc.add_version(ws, state_bytes("aws_vpc.main"))
    cfg = TfcConfig.from_terraform("remote", {"organization": ORG, "hostname": tfc.hostname,
                                              "workspaces": [{"prefix": "app-"}]}, "prod")
    be = TfcBackend(cfg)
    assert be.location == f"tfc://{ORG}/app-prod?hostname={tfc.hostname}"
    assert be.read() is not None


# -- working dirs and the CLI ------------------------------------------------------------------------------------------


def test_cloud_block_from_the_backend_cache_and_tf_json(tmp_path: Path) -> None:
    cache = {"version": 3, "backend": {"type": "cloud", "hash": 1, "config": {
        "organization": ORG, "hostname": "tfe.example.com", "token": None,
        "workspaces": {"name": None, "project": None, "tags": ["app"]}}}}
    (tmp_path / "cached" / ".terraform").mkdir(parents=True)
    (tmp_path / "cached" / ".terraform" / "terraform.tfstate").write_text(json.dumps(cache))
    (tmp_path / "cached" / ".terraform" / "environment").write_text("net")
    be = backend_from_chdir(tmp_path / "cached")
    assert isinstance(be, TfcBackend) and be.location == "tfc://acme/net?hostname=tfe.example.com"
    assert be.config.tags == ("app",)
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "main.tf.json").write_text(json.dumps(
        {"terraform": {"cloud": {"organization": ORG, "workspaces": {"name": "dns"}}}}))
    assert backend_from_chdir(tmp_path / "json").location == "tfc://acme/dns"
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "main.tf").write_text(
        'terraform {\n  backend "remote" {\n    organization = "acme"\n'
        '    workspaces {\n      prefix = "app-"\n    }\n  }\n}\n'
    )
    assert backend_from_chdir(tmp_path / "remote", workspace="prod").location == "tfc://acme/app-prod"


def test_cli_state_locks_and_unlock(tfc: TfcServer, alice: str, net: Workspace) -> None:
    from click.testing import CliRunner

    from driftmgr_tui.cli import cli

    backend(tfc).lock(lock_as("alice@laptop", "state mv"))
    runner = CliRunner()
    shown = runner.invoke(cli, ["state", "locks", "--backend", spec(tfc), "--json"])
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.output)
    assert info["locked"] is True and info["lock"]["ID"] == "acme/net" and info["lock"]["Who"] == "alice"
    released = runner.invoke(cli, ["state", "unlock", "--backend", spec(tfc), "acme/net", "--yes"])
    assert released.exit_code == 0, released.output
    assert net.locked_by is None
    assert alice not in shown.output + released.output
