"""The gcs backend's configuration (backend block, backend cache, spec, environment) and its credentials,
the latter exercised end to end against the local GCS and its OAuth/IAM endpoints."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import ConfigError, ProviderAuthError
from driftmgr_tui.state.backends.config import backend_from_chdir, backend_from_spec
from driftmgr_tui.state.backends.gcs import GcsBackend
from driftmgr_tui.state.backends.gcs_config import GcsBackendConfig
from tests._fixtures.gcs_server import READ, FakeGcs
from tests._fixtures.gcs_server import gcs as gcs  # the fixture
from tests._fixtures.gcs_state import no_google_env as no_google_env  # the fixture

BUCKET = "tf-state"
KEY = base64.b64encode(bytes(range(32))).decode()

# .terraform/terraform.tfstate as `terraform init` 1.11.4 writes it for a gcs backend: every attribute,
# unset ones null.
BACKEND_CACHE = {
    "version": 3,
    "terraform_version": "1.11.4",
    "backend": {
        "type": "gcs",
        "config": {
            "access_token": None,
            "bucket": "tf-state-from-init",
            "credentials": None,
            "encryption_key": None,
            "impersonate_service_account": None,
            "impersonate_service_account_delegates": None,
            "kms_encryption_key": None,
            "prefix": "net/",
            "storage_custom_endpoint": None,
        },
        "hash": 2215580928,
    },
}


pytestmark = pytest.mark.usefixtures("no_google_env")


def workdir(tmp_path: Path, files: dict[str, str | dict[str, Any]]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return tmp_path


# -- attributes ---------------------------------------------------------------------------------


def test_backend_cache_from_terraform_init(tmp_path: Path) -> None:
    d = workdir(tmp_path, {".terraform/terraform.tfstate": BACKEND_CACHE, ".terraform/environment": "dev"})
    be = backend_from_chdir(d)
    assert isinstance(be, GcsBackend)
    assert be.location == "gs://tf-state-from-init/net/dev.tfstate"
    assert be.lock_url == "gs://tf-state-from-init/net/dev.tflock"
    assert be.config.credentials is None and be.config.storage_custom_endpoint is None


def test_backend_block_hcl_and_json(tmp_path: Path) -> None:
    hcl = workdir(
        tmp_path / "hcl",
        {
            "main.tf": (
                'terraform {\n  backend "gcs" {\n    bucket = "b1"\n    prefix = "team/app"\n'
                '    kms_encryption_key = "projects/p/locations/eu/keyRings/r/cryptoKeys/k"\n'
                '    impersonate_service_account = "tf@p.iam.gserviceaccount.com"\n'
                '    impersonate_service_account_delegates = ["a@p.iam.gserviceaccount.com"]\n  }\n}\n'
            )
        },
    )
    be = backend_from_chdir(hcl, workspace="prod")
    assert be.location == "gs://b1/team/app/prod.tfstate"
    cfg = be.config
    assert cfg.kms_encryption_key.endswith("cryptoKeys/k")
    assert cfg.impersonate_service_account == "tf@p.iam.gserviceaccount.com"
    assert cfg.impersonate_service_account_delegates == ("a@p.iam.gserviceaccount.com",)
    js = workdir(tmp_path / "json", {"main.tf.json": {"terraform": {"backend": {"gcs": {"bucket": "b2"}}}}})
    assert backend_from_chdir(js).location == "gs://b2/default.tfstate"


@pytest.mark.parametrize(
    ("prefix", "state"),
    [
        ("", "default.tfstate"),
        ("net", "net/default.tfstate"),
        ("net/", "net/default.tfstate"),
        ("/net/prod", "net/prod/default.tfstate"),
        ("a//b/", "a/b/default.tfstate"),  # Go's path.Join cleans the name
    ],
)
def test_prefix_is_normalised_as_terraform_does(prefix: str, state: str) -> None:
    cfg = GcsBackendConfig(bucket="b", prefix=prefix)
    assert cfg.state_name == state
    assert cfg.lock_name == state.removesuffix(".tfstate") + ".tflock"
    assert cfg.prefix == "" or cfg.prefix.endswith("/")


def test_environment_fallbacks_and_precedence() -> None:
    env = {
        "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.env",
        "GOOGLE_CREDENTIALS": "/keys/env.json",
        "GOOGLE_BACKEND_CREDENTIALS": "/keys/backend.json",
        "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": "generic@p.iam.gserviceaccount.com",
        "GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT": "backend@p.iam.gserviceaccount.com",
        "GOOGLE_KMS_ENCRYPTION_KEY": "projects/p/locations/eu/keyRings/r/cryptoKeys/k",
        "GOOGLE_STORAGE_CUSTOM_ENDPOINT": "https://generic.example/storage/v1/",
        "GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT": "https://backend.example/storage/v1/",
    }
    cfg = GcsBackendConfig.from_terraform_config({"bucket": "b"}, environ=env)
    assert cfg.access_token == "ya29.env"
    assert cfg.credentials == "/keys/backend.json"
    assert cfg.impersonate_service_account == "backend@p.iam.gserviceaccount.com"
    assert cfg.kms_encryption_key.endswith("cryptoKeys/k")
    assert cfg.api_endpoint == "https://backend.example"
    # attributes win over the environment; an empty attribute counts as unset
    cfg = GcsBackendConfig.from_terraform_config(
        {"bucket": "b", "credentials": "/keys/attr.json", "access_token": "", "kms_encryption_key": None},
        environ={"GOOGLE_CREDENTIALS": "/keys/env.json", "GOOGLE_ENCRYPTION_KEY": KEY},
    )
    assert cfg.credentials == "/keys/attr.json" and cfg.access_token is None
    assert cfg.encryption_key == KEY and cfg.kms_encryption_key is None
    assert "attr.json" not in repr(cfg) and KEY not in repr(cfg)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"bucket": None}, "missing required attribute 'bucket'"),
        ({"bucket": "b/c"}, "must be a bucket name"),
        ({"prefix": 3}, "'prefix' must be a string"),
        (
            {"encryption_key": KEY, "kms_encryption_key": "k"},
            "can't set both encryption_key and kms_encryption_key",
        ),
        ({"encryption_key": "", "kms_encryption_key": ""}, "can't set both"),
        ({"encryption_key": "not base64!"}, "'encryption_key' is not valid base64"),
        ({"encryption_key": base64.b64encode(b"short").decode()}, "must decode to 32 bytes"),
        ({"storage_custom_endpoint": "127.0.0.1:4443"}, "'storage_custom_endpoint' must be an http"),
        ({"impersonate_service_account_delegates": "a@b"}, "must be a list of strings"),
    ],
)
def test_invalid_attributes(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GcsBackendConfig.from_terraform_config({"bucket": "b", **cfg}, environ={})


def test_errors_name_the_backend_file(tmp_path: Path) -> None:
    d = workdir(tmp_path, {"backend.tf": 'terraform {\n  backend "gcs" {\n    prefix = "x"\n  }\n}\n'})
    with pytest.raises(ConfigError, match=r"backend\.tf: gcs backend: missing required attribute 'bucket'"):
        backend_from_chdir(d)


def test_encryption_key_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "csek"
    path.write_text(KEY + "\n")
    from driftmgr_tui.state.backends.gcs_config import decode_encryption_key

    assert decode_encryption_key(str(path)) == bytes(range(32))


# -- specs --------------------------------------------------------------------------------------


def test_spec_forms() -> None:
    be = backend_from_spec("gs://b1/team/app?workspace=prod&storage_custom_endpoint=http://127.0.0.1:4443")
    assert isinstance(be, GcsBackend)
    assert (
        be.location == "gs://b1/team/app/prod.tfstate" and be.config.api_endpoint == "http://127.0.0.1:4443"
    )
    assert (
        backend_from_spec("gs://b1/team/app/staging.tfstate").location == "gs://b1/team/app/staging.tfstate"
    )
    assert backend_from_spec("gs://b1").location == "gs://b1/default.tfstate"
    assert backend_from_spec("gs://b1/default.tfstate").location == "gs://b1/default.tfstate"
    be = backend_from_spec(
        "gs://b1/x?kms_encryption_key=projects/p/locations/l/keyRings/r/cryptoKeys/k"
        "&impersonate_service_account=tf@p.iam.gserviceaccount.com"
    )
    assert be.config.kms_encryption_key.endswith("/k") and be.config.impersonate_service_account.startswith(
        "tf@"
    )


def test_spec_takes_a_credentials_file(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text("{}")
    assert backend_from_spec(f"gs://b1/x?credentials={key}").config.credentials == str(key)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gs:///x", r"expected gs://BUCKET\[/PREFIX\]"),
        ("gs://b/x?prefx=y", "unknown parameter 'prefx'"),
        ("gs://b/x/dev.tfstate?workspace=prod", "names the workspace twice"),
        ("gs://b/x/.tfstate", "names no workspace"),
        ("gs://b/x?access_token=ya29.secret", "'access_token' is a secret"),
        ("gs://b/x?encryption_key=abc", "'encryption_key' is a secret"),
        ("gs://b/x?credentials=/no/such/key.json", "credentials file /no/such/key.json does not exist"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        backend_from_spec(spec)


def test_importing_the_backend_does_not_import_google() -> None:
    code = (
        "import sys, driftmgr_tui.state.backends.gcs, driftmgr_tui.state.backends.config;"
        "from driftmgr_tui.state.backends.config import backend_from_spec;"
        "backend_from_spec('gs://b/p');"
        "bad = [m for m in ('google.cloud.storage', 'google.auth', 'requests') if m in sys.modules];"
        "sys.exit(f'imported before use: {bad}' if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- credentials, end to end ------------------------------------------------------------------------


@pytest.fixture
def server(gcs: FakeGcs) -> FakeGcs:
    gcs.create_bucket(BUCKET)
    gcs.put(BUCKET, "default.tfstate", b'{"version": 4, "serial": 1, "lineage": "x", "resources": []}')
    gcs.require_token("ya29.static")
    return gcs


def make_backend(server: FakeGcs, **kw: Any) -> GcsBackend:
    return GcsBackend(
        GcsBackendConfig(
            bucket=BUCKET,
            storage_custom_endpoint=server.url,
            retry_initial_delay=0.01,
            retry_timeout=2.0,
            **kw,
        )
    )


def last_object_request(server: FakeGcs) -> Any:
    """The latest request about an object (the client also fetches bucket metadata and tokens in the
    background)."""
    return [r for r in server.requests if r.object_name is not None][-1]


def service_account_key(
    server: FakeGcs,
    email: str = "tf@proj.iam.gserviceaccount.com",
    *,
    register: bool = True,
    permission: str = "write",
) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if register:
        server.add_service_account(email, private.public_key(), permission)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1234",
        "token_uri": f"{server.url}/token",
    }


def test_access_token_attribute_and_environment(server: FakeGcs, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_backend(server, access_token="ya29.static").read() is not None
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.static")
    be = backend_from_spec(f"gs://{BUCKET}?storage_custom_endpoint={server.url}")
    assert be.read() is not None
    assert last_object_request(server).headers["authorization"] == "Bearer ya29.static"


def test_service_account_key_as_a_path_or_inline(server: FakeGcs, tmp_path: Path) -> None:
    key = service_account_key(server)
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(key))
    assert make_backend(server, credentials=str(path)).read() is not None
    assert make_backend(server, credentials=json.dumps(key)).read() is not None
    grants = [r for r in server.requests if r.path == "/token"]
    assert grants and all(b"jwt-bearer" in r.body for r in grants)
    assert (
        last_object_request(server).headers["authorization"].removeprefix("Bearer ") in server.issued_tokens
    )


def test_unknown_service_account_key_is_rejected(server: FakeGcs) -> None:
    key = service_account_key(server, register=False)  # e.g. a deleted key
    with pytest.raises(
        ProviderAuthError,
        match=f"Google credentials for bucket '{BUCKET}' were rejected.*Invalid JWT Signature",
    ):
        make_backend(server, credentials=json.dumps(key)).read()


def test_application_default_credentials(
    server: FakeGcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(service_account_key(server, "reader@proj.iam.gserviceaccount.com", permission=READ))
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    be = make_backend(server)
    assert be.read() is not None
    assert any(r.path == "/token" for r in server.requests)
    assert last_object_request(server).headers["authorization"].startswith("Bearer ya29.fake-")
    with pytest.raises(ProviderAuthError, match="permission denied"):  # this identity may only read
        be.write(b"{}", lock=None)


def test_missing_application_default_credentials(
    server: FakeGcs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "gone.json"))
    with pytest.raises(
        ProviderAuthError, match=rf"no Google credentials for gs://{BUCKET}/default.tfstate"
    ) as err:
        make_backend(server).read()
    assert "gcloud auth application-default login" in str(err.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "neither valid JSON nor the path of an existing file"),
        ('["a"]', "must hold a JSON object"),
        ('{"type": "service_account", "client_email": "x@y"}', "holds no usable Google credentials"),
        ('{"type": "external_account"}', "credentials of type 'external_account'"),
    ],
)
def test_unusable_credentials(server: FakeGcs, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        make_backend(server, credentials=value).read()
    assert "not json" not in str(err.value).replace("{not json", "")  # the value itself is not echoed


def test_impersonation(server: FakeGcs, monkeypatch: pytest.MonkeyPatch) -> None:
    target = "deployer@proj.iam.gserviceaccount.com"
    server.allow_impersonation(target)
    monkeypatch.setenv("GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT", f"{server.url}/v1/")
    cfg = GcsBackendConfig.from_terraform_config(
        {
            "bucket": BUCKET,
            "access_token": "ya29.static",
            "storage_custom_endpoint": server.url,
            "impersonate_service_account": target,
            "impersonate_service_account_delegates": ["middle@proj.iam.gserviceaccount.com"],
        }
    )
    assert GcsBackend(cfg).read() is not None
    call = [r for r in server.requests if r.path.endswith(":generateAccessToken")][-1]
    assert call.path == f"/v1/projects/-/serviceAccounts/{target}:generateAccessToken"
    assert call.headers["authorization"] == "Bearer ya29.static"
    body = json.loads(call.body)
    assert body["delegates"] == ["projects/-/serviceAccounts/middle@proj.iam.gserviceaccount.com"]
    assert body["scope"] == ["https://www.googleapis.com/auth/devstorage.read_write"]
    assert (
        last_object_request(server).headers["authorization"].removeprefix("Bearer ") in server.issued_tokens
    )

    cfg.impersonate_service_account = "someone-else@proj.iam.gserviceaccount.com"
    with pytest.raises(
        ProviderAuthError,
        match=r"cannot impersonate service account 'someone-else@.*"
        r"Permission 'iam.serviceAccounts.getAccessToken' denied",
    ):
        GcsBackend(cfg).read()
