"""AzureAdapter against a local fake ARM server: the real azure-mgmt-resource client and pipeline, real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from driftmgr_tui.core.errors import ProviderAuthError, UsageError
from driftmgr_tui.discovery.azure.adapter import AzureAdapter, AzureTaskError, AzureUnavailableError
from driftmgr_tui.discovery.model import ScanCancelled, ScanContext, Scope
from driftmgr_tui.discovery.scanner import Scanner
from tests._fixtures.cloudapi import FakeCloudApi, RecordedRequest, azure_pages

from .conftest import SUB, SUB2, FailingCredential, TokenCredential, rg, serve_subscription, vnet

RESOURCES = f"/subscriptions/{SUB}/resources"
GROUPS = f"/subscriptions/{SUB}/resourcegroups"


def _ctx(event: threading.Event | None = None) -> ScanContext:
    return ScanContext(cancel_event=event or threading.Event(), backoff_base=0.01, backoff_cap=0.05,
                       max_retries=4)


def _with_hint(exc: BaseException) -> str:
    """The message and the hint (ProviderAuthError folds the hint into its one-line message)."""
    return f"{exc} {getattr(exc, 'hint', None) or ''}"


def _scan(adapter: AzureAdapter) -> dict[str, list[str]]:
    """Every task's terraform ids, by task key."""
    adapter.connect()
    found: dict[str, list[str]] = {}
    for task in adapter.plan():
        found[task.key] = [r.terraform_id for page in adapter.run_task(task, _ctx()) for r in page]
    return found


def test_every_resource_is_found_across_pages(cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter]) -> None:
    vnets = [vnet(f"vnet-{i:02d}") for i in range(7)]
    groups = [rg(f"rg-{i}") for i in range(5)]
    serve_subscription(cloudapi, resources=vnets, groups=groups, per_page=3)
    credential = TokenCredential()
    adapter = make_adapter(credential=credential)

    found = _scan(adapter)

    assert found[f"{SUB}/resources"] == [
        f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-{i:02d}"
        for i in range(7)]
    assert found[f"{SUB}/resourceGroups"] == [f"/subscriptions/{SUB}/resourceGroups/rg-{i}" for i in range(5)]
    pages = cloudapi.requests_to(RESOURCES)
    assert [r.query.get("$skiptoken") for r in pages] == [None, "1", "2"]
    assert len(cloudapi.requests_to(GROUPS)) == 2
    # the real bearer-token policy asked the credential (once: the token is shared) and sent the token
    assert credential.calls == [("https://management.azure.com/.default",)]
    assert all(r.headers.get("authorization") == "Bearer test-token" for r in cloudapi.requests)


def test_plan_has_two_tasks_per_subscription(cloudapi: FakeCloudApi,
                                             make_adapter: Callable[..., AzureAdapter]) -> None:
    serve_subscription(cloudapi, SUB)
    serve_subscription(cloudapi, SUB2)
    adapter = make_adapter(subscriptions=(SUB, SUB2))
    info = adapter.connect()
    assert info.account == f"{SUB},{SUB2}"
    tasks = adapter.plan()
    assert [(t.key, t.group, t.account) for t in tasks] == [
        (f"{SUB}/resourceGroups", SUB, SUB), (f"{SUB}/resources", SUB, SUB),
        (f"{SUB2}/resourceGroups", SUB2, SUB2), (f"{SUB2}/resources", SUB2, SUB2)]


def test_subscriptions_are_listed_across_pages_when_none_is_given(
        cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    subs = [{"subscriptionId": SUB, "state": "Enabled"}, {"subscriptionId": "disabled-one", "state": "Disabled"},
            {"subscriptionId": SUB2, "state": "Enabled"}]
    cloudapi.route("/subscriptions", handler=azure_pages(cloudapi, subs, per_page=1))
    adapter = make_adapter(subscriptions=())
    assert adapter.connect().account == f"{SUB},{SUB2}"
    assert len(cloudapi.requests_to("/subscriptions")) == 3
    assert cloudapi.requests_to("/subscriptions")[0].query["api-version"] == "2022-12-01"


def test_the_environment_names_the_subscription(cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    serve_subscription(cloudapi, SUB2)
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUB2)
    adapter = make_adapter(subscriptions=())
    assert adapter.connect().account == SUB2
    assert cloudapi.requests_to("/subscriptions") == []


def test_no_visible_subscription_is_a_usage_error(cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    cloudapi.route("/subscriptions", {"value": []})
    with pytest.raises(UsageError, match="no enabled subscription"):
        make_adapter(subscriptions=()).connect()


def test_a_failing_credential_is_a_provider_auth_error(make_adapter: Callable[..., AzureAdapter]) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    credential = FailingCredential(ClientAuthenticationError(
        "ClientSecretCredential.get_token failed: AADSTS7000215: Invalid client secret provided.\nTrace ID: x"))
    with pytest.raises(ProviderAuthError) as info:
        make_adapter(credential=credential).connect()
    message = str(info.value)
    assert message.startswith("azure: credentials rejected") and "AADSTS7000215" in message
    assert "\n" not in message
    assert "az login" in _with_hint(info.value)
    assert info.value.exit_code == 2


def test_no_credentials_at_all_is_a_provider_auth_error(make_adapter: Callable[..., AzureAdapter]) -> None:
    from azure.identity import CredentialUnavailableError

    credential = FailingCredential(CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token"))
    with pytest.raises(ProviderAuthError, match=r"^azure: no usable credentials \(DefaultAzureCredential"):
        make_adapter(credential=credential).connect()


def test_a_401_from_arm_names_the_subscription(cloudapi: FakeCloudApi,
                                               make_adapter: Callable[..., AzureAdapter]) -> None:
    cloudapi.fail(401, path=f"/subscriptions/{SUB}", body={"error": {
        "code": "InvalidAuthenticationToken", "message": "The access token is invalid."}})
    with pytest.raises(ProviderAuthError) as info:
        make_adapter().connect()
    assert str(info.value).startswith(f"azure: credentials rejected for subscription {SUB} "
                                      "(401 InvalidAuthenticationToken: The access token is invalid.)")
    assert "az login" in _with_hint(info.value) and "\n" not in str(info.value)


def test_a_403_on_the_listing_is_a_provider_auth_error(cloudapi: FakeCloudApi,
                                                       make_adapter: Callable[..., AzureAdapter]) -> None:
    serve_subscription(cloudapi, resources=[vnet("v")])
    cloudapi.fail(403, path=RESOURCES, body={"error": {
        "code": "AuthorizationFailed", "message": "The client does not have authorization to perform action."}})
    adapter = make_adapter()
    adapter.connect()
    task = next(t for t in adapter.plan() if t.service == "resources")
    with pytest.raises(ProviderAuthError) as info:
        list(adapter.run_task(task, _ctx()))
    assert str(info.value).startswith(f"azure: access denied for subscription {SUB} (403 AuthorizationFailed")
    assert "Reader" in _with_hint(info.value)
    assert len(cloudapi.requests_to(RESOURCES)) == 1  # never retried


def test_a_missing_subscription_is_a_usage_error(cloudapi: FakeCloudApi,
                                                 make_adapter: Callable[..., AzureAdapter]) -> None:
    with pytest.raises(UsageError, match=f"subscription {SUB2} not found"):
        make_adapter(subscriptions=(SUB2,)).connect()


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried_by_our_backoff(
        cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter], status: int) -> None:
    serve_subscription(cloudapi, resources=[vnet(f"v{i}") for i in range(5)], per_page=2)
    # the second page fails twice, then answers
    cloudapi.fail(status, path=RESOURCES, skip=1, times=2, headers={"Retry-After": "0"})
    adapter = make_adapter()
    retries: list[str] = []
    adapter.connect()
    task = next(t for t in adapter.plan() if t.service == "resources")
    ctx = _ctx()
    ctx.on_retry = lambda what, exc, delay: retries.append(what)
    ids = [r.terraform_id.rsplit("/", 1)[-1] for page in adapter.run_task(task, ctx) for r in page]
    assert ids == ["v0", "v1", "v2", "v3", "v4"]
    assert retries == [f"{SUB} resources.list"] * 2
    assert [r.query.get("$skiptoken") for r in cloudapi.requests_to(RESOURCES)] == [None, "1", "1", "1", "2"]


def test_azure_core_retries_first_then_ours(cloudapi: FakeCloudApi,
                                            make_adapter: Callable[..., AzureAdapter]) -> None:
    serve_subscription(cloudapi, resources=[vnet("a"), vnet("b")], per_page=1)
    cloudapi.fail(500, path=RESOURCES, times=3)
    adapter = make_adapter(retry_total=1)  # the SDK tries twice per call; our backoff calls again
    assert len(_scan(adapter)[f"{SUB}/resources"]) == 2
    assert len(cloudapi.requests_to(RESOURCES)) == 5


def test_errors_that_outlast_the_retries_fail_the_task_in_one_line(
        cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter]) -> None:
    serve_subscription(cloudapi, resources=[vnet("a")])
    cloudapi.fail(500, path=RESOURCES, times=100, body={"error": {"code": "InternalError", "message": "boom"}})
    adapter = make_adapter()
    adapter.connect()
    task = next(t for t in adapter.plan() if t.service == "resources")
    with pytest.raises(AzureTaskError) as info:
        list(adapter.run_task(task, _ctx()))
    assert str(info.value) == f"azure: {SUB} resources.list failed: HTTP 500 InternalError: boom"
    assert len(cloudapi.requests_to(RESOURCES)) == 5  # first try + max_retries


def test_cancellation_between_pages_stops_before_the_next_request(
        cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter]) -> None:
    serve_subscription(cloudapi, resources=[vnet(f"v{i}") for i in range(6)], per_page=2)
    adapter = make_adapter()
    adapter.connect()
    task = next(t for t in adapter.plan() if t.service == "resources")
    event = threading.Event()
    pages = adapter.run_task(task, _ctx(event))
    first = next(pages)
    assert len(first) == 2
    event.set()
    with pytest.raises(ScanCancelled):
        next(pages)
    assert len(cloudapi.requests_to(RESOURCES)) == 1


def test_cancellation_wakes_a_backoff_wait(cloudapi: FakeCloudApi,
                                           make_adapter: Callable[..., AzureAdapter]) -> None:
    serve_subscription(cloudapi, resources=[vnet("a")])
    cloudapi.fail(429, path=RESOURCES, times=100)
    event = threading.Event()

    def cancel_on_first(request: RecordedRequest) -> None:
        if request.path == RESOURCES:
            event.set()

    cloudapi.hooks.append(cancel_on_first)
    adapter = make_adapter()
    adapter.connect()
    task = next(t for t in adapter.plan() if t.service == "resources")
    ctx = ScanContext(cancel_event=event, backoff_base=30.0, backoff_cap=30.0)  # would sleep if not woken
    with pytest.raises(ScanCancelled):
        list(adapter.run_task(task, ctx))
    assert len(cloudapi.requests_to(RESOURCES)) == 1


def test_the_scanner_runs_both_tasks(cloudapi: FakeCloudApi, make_adapter: Callable[..., AzureAdapter]) -> None:
    unknown = {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Maps/accounts/m", "name": "m",
               "type": "Microsoft.Maps/accounts", "location": "global"}
    serve_subscription(cloudapi, resources=[vnet("a"), unknown, vnet("b")], groups=[rg("rg-net")], per_page=2)
    adapter = make_adapter()
    adapter.connect()
    outcomes = Scanner(adapter, backoff_base=0.01).run(adapter.plan())
    assert [(o.status, o.pages, len(o.resources)) for o in outcomes] == [("succeeded", 1, 1), ("succeeded", 2, 2)]
    assert adapter.unsupported() == {"Microsoft.Maps/accounts": 1}
    adapter.close()


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(UsageError, match="plain http"):
        AzureAdapter(Scope(provider="azure"), credential=TokenCredential(), base_url="http://arm.example.com")


def test_the_endpoint_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTMGR_AZURE_ARM_ENDPOINT", "https://management.chinacloudapi.cn/")
    adapter = AzureAdapter(Scope(provider="azure"), credential=TokenCredential())
    assert adapter.base_url == "https://management.chinacloudapi.cn"
    assert adapter._scopes() == ["https://management.chinacloudapi.cn/.default"]


def test_an_unreachable_endpoint_is_reported_in_one_line(make_adapter: Callable[..., AzureAdapter]) -> None:
    adapter = AzureAdapter(Scope(provider="azure", subscriptions=(SUB,)), credential=TokenCredential(),
                           base_url="http://127.0.0.1:9", settings=make_adapter().settings)
    with pytest.raises(AzureUnavailableError, match=r"^azure: cannot reach Azure Resource Manager at http://127"):
        adapter.connect()
