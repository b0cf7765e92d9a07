"""GcpAdapter against a local fake Cloud Asset server: the real AssetServiceClient over REST, real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import ProviderAuthError, UsageError
from driftmgr_tui.discovery.gcp.adapter import GcpAdapter, GcpSettings, GcpTaskError, GcpUnavailableError
from driftmgr_tui.discovery.gcp.catalog import GCP_TYPES
from driftmgr_tui.discovery.model import ScanCancelled, ScanContext, Scope
from driftmgr_tui.discovery.scanner import Scanner
from tests._fixtures.cloudapi import FakeCloudApi, gcp_pages

from .conftest import NUMBER, PROJECT, asset, instance, search_path, token_credentials

SEARCH = search_path(f"projects/{PROJECT}")


def _ctx(event: threading.Event | None = None) -> ScanContext:
    return ScanContext(cancel_event=event or threading.Event(), backoff_base=0.01, backoff_cap=0.05,
                       max_retries=4)


def _with_hint(exc: BaseException) -> str:
    return f"{exc} {getattr(exc, 'hint', None) or ''}"


def _run(adapter: GcpAdapter, ctx: ScanContext | None = None) -> list[str]:
    adapter.connect()
    (task,) = adapter.plan()
    return [r.terraform_id for page in adapter.run_task(task, ctx or _ctx()) for r in page]


def test_every_resource_is_found_across_pages(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    vms = [instance(f"vm-{i:02d}") for i in range(7)]
    cloudapi.route(SEARCH, handler=gcp_pages(vms, per_page=3))
    adapter = make_adapter()

    ids = _run(adapter)

    assert ids == [f"projects/{PROJECT}/zones/europe-west1-b/instances/vm-{i:02d}" for i in range(7)]
    requests = cloudapi.requests_to(SEARCH)
    assert [r.query.get("pageToken") for r in requests] == [None, "page-1", "page-2"]
    first = requests[0]
    assert first.query["pageSize"] == "500"
    assert first.params["assetTypes"] == list(dict.fromkeys(t.cloud_type for t in GCP_TYPES))


def test_plan_is_one_task_per_scope(make_adapter: Callable[..., GcpAdapter]) -> None:
    adapter = make_adapter(projects=("acme-prod", "projects/acme-dev", "folders/1234", "organizations/5678"))
    info = adapter.connect()
    assert info.account == "projects/acme-prod,projects/acme-dev,folders/1234,organizations/5678"
    tasks = adapter.plan()
    assert [(t.key, t.account, t.group) for t in tasks] == [
        ("projects/acme-prod/cloudasset:searchAllResources", "acme-prod", "projects/acme-prod"),
        ("projects/acme-dev/cloudasset:searchAllResources", "acme-dev", "projects/acme-dev"),
        ("folders/1234/cloudasset:searchAllResources", "folders/1234", "folders/1234"),
        ("organizations/5678/cloudasset:searchAllResources", "organizations/5678", "organizations/5678"),
    ]


def test_a_type_filter_narrows_the_search(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    cloudapi.route(SEARCH, {"results": [instance("vm")]})
    adapter = make_adapter(types=("google_compute_instance", "google_storage_bucket"))
    assert _run(adapter) == [f"projects/{PROJECT}/zones/europe-west1-b/instances/vm"]
    assert cloudapi.requests_to(SEARCH)[0].params["assetTypes"] == [
        "compute.googleapis.com/Instance", "storage.googleapis.com/Bucket"]


def test_folder_scopes_learn_project_ids_from_the_answers(cloudapi: FakeCloudApi,
                                                          make_adapter: Callable[..., GcpAdapter]) -> None:
    # The secret (named by project number) comes before anything naming the project's id.
    results = [
        asset(f"//secretmanager.googleapis.com/projects/{NUMBER}/secrets/api-token",
              "secretmanager.googleapis.com/Secret"),
        asset("//storage.googleapis.com/orphan-bucket", "storage.googleapis.com/Bucket", project="999"),
        asset(f"//cloudresourcemanager.googleapis.com/projects/{PROJECT}", "cloudresourcemanager.googleapis.com/Project"),
    ]
    cloudapi.route(search_path("folders/1234"), handler=gcp_pages(results, per_page=2))
    adapter = make_adapter(projects=("folders/1234",))
    adapter.connect()
    (task,) = adapter.plan()
    found = {r.terraform_id: r.account for page in adapter.run_task(task, _ctx()) for r in page}
    assert found == {
        f"projects/{PROJECT}": PROJECT,
        f"projects/{PROJECT}/secrets/api-token": PROJECT,
        "orphan-bucket": "999",  # a project we never learned the id of keeps its number
    }


def test_no_application_default_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    adapter = GcpAdapter(Scope(provider="gcp", projects=(PROJECT,)))
    with pytest.raises(ProviderAuthError) as info:
        adapter.connect()
    assert str(info.value).startswith("gcp: no application default credentials")
    assert "gcloud auth application-default login" in _with_hint(info.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in _with_hint(info.value)
    assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_no_project_is_a_usage_error(make_adapter: Callable[..., GcpAdapter], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UsageError, match="gcp: no project to scan") as info:
        make_adapter(projects=()).connect()
    assert "--project" in _with_hint(info.value)


def test_the_environment_names_the_project(make_adapter: Callable[..., GcpAdapter],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert make_adapter(projects=()).connect().account == "projects/from-env"


@pytest.mark.parametrize(
    ("status", "grpc_status", "expected"),
    [
        (401, "UNAUTHENTICATED", f"gcp: credentials rejected for projects/{PROJECT} (401 "),
        (403, "PERMISSION_DENIED", f"gcp: permission denied on projects/{PROJECT} (403 "),
    ],
)
def test_auth_failures_on_the_first_page(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter],
                                         status: int, grpc_status: str, expected: str) -> None:
    cloudapi.route(SEARCH, {"results": [instance("vm")]})
    cloudapi.fail(status, path=SEARCH, times=10, body={"error": {
        "code": status, "message": "Request had invalid authentication credentials.", "status": grpc_status}})
    credentials = token_credentials()
    with pytest.raises(ProviderAuthError) as info:
        _run(make_adapter(credentials=credentials))
    message = str(info.value)
    assert message.startswith(expected) and "Request had invalid authentication credentials." in message
    assert "\n" not in message
    requests = cloudapi.requests_to(SEARCH)
    assert all(r.headers["authorization"] == "Bearer test-token" for r in requests)
    # google-auth refreshes the token and retries a 401 itself (twice); our backoff never retries auth errors
    assert len(requests) == (3 if status == 401 else 1)


def test_anonymous_credentials_rejected(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    cloudapi.fail(401, path=SEARCH, body={"error": {"code": 401, "message": "Login required.",
                                                   "status": "UNAUTHENTICATED"}})
    with pytest.raises(ProviderAuthError, match=f"^gcp: credentials rejected for projects/{PROJECT} "):
        _run(make_adapter())


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter],
                                                  status: int) -> None:
    cloudapi.route(SEARCH, handler=gcp_pages([instance(f"vm-{i}") for i in range(5)], per_page=2))
    cloudapi.fail(status, path=SEARCH, skip=1, times=2)  # the second page fails twice
    adapter = make_adapter()
    retries: list[str] = []
    ctx = _ctx()
    ctx.on_retry = lambda what, exc, delay: retries.append(what)
    ids = _run(adapter, ctx)
    assert [i.rsplit("/", 1)[-1] for i in ids] == [f"vm-{i}" for i in range(5)]
    assert retries == [f"projects/{PROJECT} searchAllResources"] * 2
    assert [r.query.get("pageToken") for r in cloudapi.requests_to(SEARCH)] == [
        None, "page-1", "page-1", "page-1", "page-2"]


def test_errors_that_outlast_the_retries_fail_the_task_in_one_line(
        cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    cloudapi.fail(500, path=SEARCH, times=100, body={"error": {"code": 500, "message": "Internal error.\nmore",
                                                              "status": "INTERNAL"}})
    with pytest.raises(GcpTaskError) as info:
        _run(make_adapter())
    assert str(info.value) == f"gcp: projects/{PROJECT} searchAllResources failed: 500 Internal error."
    assert len(cloudapi.requests_to(SEARCH)) == 5


def test_a_bad_request_is_not_retried(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    cloudapi.fail(400, path=SEARCH, body={"error": {"code": 400, "message": "Invalid asset type.",
                                                   "status": "INVALID_ARGUMENT"}})
    with pytest.raises(GcpTaskError, match=r"400 Invalid asset type\."):
        _run(make_adapter())
    assert len(cloudapi.requests_to(SEARCH)) == 1


def test_cancellation_between_pages_stops_before_the_next_request(
        cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    cloudapi.route(SEARCH, handler=gcp_pages([instance(f"vm-{i}") for i in range(6)], per_page=2))
    adapter = make_adapter()
    adapter.connect()
    (task,) = adapter.plan()
    event = threading.Event()
    pages = adapter.run_task(task, _ctx(event))
    assert len(next(pages)) == 2
    event.set()
    with pytest.raises(ScanCancelled):
        next(pages)
    assert len(cloudapi.requests_to(SEARCH)) == 1


def test_the_scanner_runs_the_task(cloudapi: FakeCloudApi, make_adapter: Callable[..., GcpAdapter]) -> None:
    results = [instance("a"), asset(f"//apigee.googleapis.com/organizations/{PROJECT}",
                                    "apigee.googleapis.com/Organization"), instance("b")]
    cloudapi.route(SEARCH, handler=gcp_pages(results, per_page=2))
    adapter = make_adapter()
    adapter.connect()
    (outcome,) = Scanner(adapter, backoff_base=0.01).run(adapter.plan())
    assert (outcome.status, outcome.pages, len(outcome.resources)) == ("succeeded", 2, 2)
    assert adapter.unsupported() == {"apigee.googleapis.com/Organization": 1}
    adapter.close()


def test_the_endpoint_comes_from_the_environment(cloudapi: FakeCloudApi, monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("DRIFTMGR_GCP_ASSET_ENDPOINT", cloudapi.url)
    cloudapi.route(SEARCH, {"results": [instance("vm")]})
    adapter = GcpAdapter(Scope(provider="gcp", projects=(PROJECT,)), credentials=AnonymousCredentials(),
                         settings=GcpSettings(sdk_retry=False))
    assert _run(adapter) == [f"projects/{PROJECT}/zones/europe-west1-b/instances/vm"]


def test_an_unreachable_endpoint_is_reported_in_one_line() -> None:
    from google.auth.credentials import AnonymousCredentials

    adapter = GcpAdapter(Scope(provider="gcp", projects=(PROJECT,)), credentials=AnonymousCredentials(),
                         api_endpoint="http://127.0.0.1:9", settings=GcpSettings(sdk_retry=False, timeout=2.0))
    with pytest.raises(GcpUnavailableError, match=r"^gcp: cannot reach the Cloud Asset API at http://127.0.0.1:9"):
        _run(adapter)
