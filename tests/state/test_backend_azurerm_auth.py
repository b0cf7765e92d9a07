"""How the azurerm backend authenticates, against Azurite: access keys, SAS tokens, Azure AD tokens (Azurite
over https with OAuth), and the account key looked up through Azure Resource Manager (a local fake ARM)."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import BackendError, ConfigError, ProviderAuthError
from driftmgr_tui.state.backends.azurerm import AzureRMBackend
from driftmgr_tui.state.backends.azurerm_config import AzureRMBackendConfig
from tests._fixtures.azurerm_state import KEY, SUB, blob_data, lock_as, make, state_bytes
from tests._fixtures.azurerm_state import _no_azure_environment as _no_azure_environment  # autouse
from tests._fixtures.azurerm_state import container as container  # the fixture
from tests._fixtures.azurite import ACCOUNT, ACCOUNT_KEY, Azurite, make_tls_files, start_azurite, stop_azurite
from tests._fixtures.azurite import azurite as azurite  # the fixtures, for this module
from tests._fixtures.azurite import azurite_container as azurite_container
from tests._fixtures.cloudapi import FakeCloudApi, Reply
from tests._fixtures.cloudapi import cloudapi as cloudapi

# -- access keys and SAS tokens ---------------------------------------------------------------------


def test_wrong_access_key(azurite: Azurite, container: Any) -> None:
    wrong = base64.b64encode(b"not the account key" * 3).decode()
    be = make(azurite, container, access_key=wrong)
    with pytest.raises(
        ProviderAuthError, match=rf"storage account '{ACCOUNT}' refused the credentials.*403"
    ) as err:
        be.read()
    assert err.value.exit_code == 2 and "access_key / ARM_ACCESS_KEY" in err.value.message
    with pytest.raises(ProviderAuthError, match="cannot sign requests"):
        make(azurite, container, access_key="not base64 at all!").read()


def test_sas_token(azurite: Azurite, container: Any) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    def sas(expiry: datetime) -> str:
        return generate_container_sas(
            ACCOUNT,
            container.container_name,
            account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions(
                read=True, add=True, create=True, write=True, delete=True, list=True
            ),
            expiry=expiry,
        )

    be = make(azurite, container, sas_token="?" + sas(datetime.now(UTC) + timedelta(hours=1)))
    held = be.lock(lock_as("alice@laptop"))
    be.write(state_bytes(1), lock=held)
    be.unlock(held.id)
    assert be.read().data == state_bytes(1)
    expired = make(azurite, container, sas_token=sas(datetime.now(UTC) - timedelta(hours=1)))
    with pytest.raises(ProviderAuthError, match=r"403.*check the SAS token"):
        expired.read()


# -- Azure AD (use_azuread_auth), against Azurite over https with OAuth -----------------------------------


class JwtCredential:
    """An azure-identity-like credential handing out a JWT as Azure AD would (Azurite's basic OAuth checks the
    lifetime, the issuer and the audience, not the signature)."""

    def __init__(self, audience: str = "https://storage.azure.com") -> None:
        self.audience = audience
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        now = int(time.time())
        claims = {
            "aud": self.audience,
            "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": str(uuid.uuid4()),
        }

        def part(doc: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

        return AccessToken(f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl", now + 3600)


class FailingCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError(
            "ClientSecretCredential: AADSTS7000215: Invalid client secret provided."
        )


@pytest.fixture(scope="module")
def azurite_https(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Azurite, Path]]:
    """A second Azurite, over https with Azure AD (OAuth) enabled; and the CA its certificate comes from."""
    workdir = tmp_path_factory.mktemp("azurite-https")
    ca, cert, key = make_tls_files(workdir, "127.0.0.1")
    server = start_azurite(
        workdir, "--oauth", "basic", "--cert", str(cert), "--key", str(key), scheme="https"
    )
    try:
        yield server, ca
    finally:
        stop_azurite(server)


def test_azure_ad_authentication(
    azurite_https: tuple[Azurite, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob import BlobServiceClient

    server, ca = azurite_https
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # requests (azure-core's transport) trusts the test CA
    name = f"tfstate-{uuid.uuid4().hex[:12]}"
    BlobServiceClient(server.url, credential=AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY)).create_container(
        name
    )
    cfg = AzureRMBackendConfig(ACCOUNT, name, KEY, endpoint=server.url, use_azuread_auth=True, max_retries=0)
    credential = JwtCredential()
    be = AzureRMBackend(cfg, credential=credential)
    held = be.lock(lock_as("alice@laptop"))
    be.write(state_bytes(1), lock=held)
    be.unlock(held.id)
    assert be.read().data == state_bytes(1)
    assert set(credential.scopes) == {("https://storage.azure.com/.default",)}
    # a token the service does not accept, and a credential that gets none: credential errors naming
    # the account
    with pytest.raises(
        ProviderAuthError, match=rf"storage account '{ACCOUNT}' refused the credentials.*40[13]"
    ) as err:
        AzureRMBackend(cfg, credential=JwtCredential("https://vault.azure.net")).read()
    assert "Storage Blob Data Contributor" in err.value.message
    with pytest.raises(ProviderAuthError, match=r"no usable Azure AD credentials.*AADSTS7000215"):
        AzureRMBackend(cfg, credential=FailingCredential()).read()
    # tokens are never sent over plain http
    with pytest.raises(ConfigError, match="Azure AD authentication needs an https blob endpoint"):
        AzureRMBackend(
            dataclasses.replace(cfg, endpoint="http://127.0.0.1:10000/devstoreaccount1"),
            credential=credential,
        ).read()


# -- access key looked up through Azure Resource Manager ------------------------------------------


class TokenCredential:
    """What the ARM client needs of an azure-identity credential."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("arm-token", int(time.time()) + 3600)


@pytest.fixture
def arm(cloudapi: FakeCloudApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudApi]:
    monkeypatch.setenv("DRIFTMGR_AZURE_ARM_ENDPOINT", cloudapi.url)
    yield cloudapi


def account_path(rg: str = "rg-tfstate") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"


def test_access_key_from_resource_manager(azurite: Azurite, container: Any, arm: FakeCloudApi) -> None:
    arm.route(
        account_path() + "/listKeys",
        method="POST",
        body={
            "keys": [
                {"keyName": "key1", "value": ACCOUNT_KEY, "permissions": "FULL"},
                {"keyName": "key2", "value": "b3RoZXI=", "permissions": "FULL"},
            ]
        },
    )
    arm.route(
        account_path(), {"name": ACCOUNT, "properties": {"primaryEndpoints": {"blob": azurite.url + "/"}}}
    )
    credential = TokenCredential()
    be = make(
        azurite,
        container,
        credential=credential,
        resource_group_name="rg-tfstate",
        subscription_id=SUB,
        lookup_blob_endpoint=True,
        endpoint=None,
    )
    be.write(state_bytes(1), lock=None)
    assert blob_data(container) == state_bytes(1)
    assert be.account_url == azurite.url
    (keys,) = arm.requests_to(account_path() + "/listKeys")
    assert keys.headers["authorization"] == "Bearer arm-token" and keys.query["api-version"] == "2023-01-01"
    assert credential.scopes[0] == ("https://management.azure.com/.default",)


def test_resource_manager_refusal_is_an_auth_error(
    azurite: Azurite, container: Any, arm: FakeCloudApi
) -> None:
    arm.route(
        account_path() + "/listKeys",
        method="POST",
        handler=lambda _r: Reply(
            403, {"error": {"code": "AuthorizationFailed", "message": "no listKeys/action"}}
        ),
    )
    be = make(
        azurite,
        container,
        credential=TokenCredential(),
        resource_group_name="rg-tfstate",
        subscription_id=SUB,
    )
    with pytest.raises(
        ProviderAuthError,
        match=r"refused listing the access keys of storage account .*"
        r"rg-tfstate.*403 AuthorizationFailed",
    ):
        be.read()
    arm.route(
        account_path("rg-missing") + "/listKeys",
        method="POST",
        handler=lambda _r: Reply(404, {"error": {"code": "ResourceNotFound", "message": "not found"}}),
    )
    with pytest.raises(BackendError, match=r"'rg-missing'.* was not found .*404 ResourceNotFound") as err:
        make(
            azurite,
            container,
            credential=TokenCredential(),
            resource_group_name="rg-missing",
            subscription_id=SUB,
        ).read()
    assert "resource_group_name" in (err.value.hint or "")
