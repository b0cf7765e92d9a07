"""DigitalOceanAdapter against the local fake API v2: paging, region filters, rate limits, retries, auth failures
and cancellation, over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from driftmgr_tui.core.errors import ProviderAuthError, UsageError
from driftmgr_tui.discovery.digitalocean.adapter import DigitalOceanAdapter
from driftmgr_tui.discovery.digitalocean.client import (
    DoClient,
    DoSettings,
    DoTaskError,
    DoUnavailableError,
    check_base_url,
)
from driftmgr_tui.discovery.model import ScanCancelled
from driftmgr_tui.discovery.scanner import Scanner
from tests._fixtures.cloudapi import FakeCloudApi, RecordedRequest, Reply

from . import fake_api as do
from .conftest import scan_context
from .fake_api import FakeDigitalOcean

DROPLETS = "/v2/droplets"


def _droplets(api: FakeDigitalOcean, count: int, *, regions: tuple[str, ...] = ("nyc1",)) -> None:
    api.add("droplets", *(do.droplet(5000 + i, f"web-{i:03d}", region=regions[i % len(regions)])
                          for i in range(count)))


def _run(adapter: DigitalOceanAdapter, task_key: str, **ctx_args) -> list[str]:
    task = next(t for t in adapter.plan() if t.key == task_key)
    return [r.terraform_id for page in adapter.run_task(task, scan_context(**ctx_args)) for r in page]


def test_every_droplet_over_three_pages(do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter],
                                        cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 450)
    adapter = make_adapter(types=("digitalocean_droplet",))
    info = adapter.connect()
    assert (info.account, info.principal) == (do.TEAM_UUID, "sammy@example.com (team Acme Ops)")

    ids = _run(adapter, "all/droplets")

    assert ids == [str(5000 + i) for i in range(450)]
    pages = cloudapi.requests_to(DROPLETS)
    # the next links point at api.digitalocean.com: they were followed on the configured base URL
    assert [(r.query["page"], r.query["per_page"]) for r in pages] == [("1", "200"), ("2", "200"), ("3", "200")]
    assert all(r.headers["authorization"] == f"Bearer {do.TOKEN}" for r in cloudapi.requests)
    assert all(r.headers["user-agent"].startswith("driftmgr/") for r in cloudapi.requests)


def test_one_task_per_listing_without_a_region_filter(make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    adapter = make_adapter()
    adapter.connect()
    tasks = {t.key: t for t in adapter.plan()}
    assert set(tasks) == {
        "all/droplets", "all/volumes", "all/load_balancers", "all/databases", "all/vpcs",
        "all/kubernetes_clusters", "all/reserved_ips", "global/domains", "global/firewalls", "global/projects",
        "global/ssh_keys", "global/certificates", "global/cdn_endpoints"}
    assert tasks["global/domains"].cloud_types == ("domain", "domain_record")
    assert {t.group for t in tasks.values()} == {do.TEAM_UUID}
    # no Spaces keys: the type is skipped, and the run says why
    assert adapter.unsupported() == {"digitalocean_spaces_bucket (skipped: no Spaces keys)": 0}


def test_a_region_filter_lists_once_and_splits_by_region(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 9, regions=("nyc1", "ams3", "sfo3"))
    do_api.add("firewalls", do.firewall("bb4b2611-3d72-467b-8602-280330ecd65c", "ssh-in"))
    adapter = make_adapter(regions=("nyc1", "ams3"), types=("digitalocean_droplet", "digitalocean_firewall"))
    assert adapter.connect().regions == ("nyc1", "ams3")
    assert [t.key for t in adapter.plan()] == ["nyc1/droplets", "ams3/droplets", "global/firewalls"]

    found = {key: _run(adapter, key) for key in ("nyc1/droplets", "ams3/droplets", "global/firewalls")}

    assert found["nyc1/droplets"] == ["5000", "5003", "5006"]
    assert found["ams3/droplets"] == ["5001", "5004", "5007"]
    assert found["global/firewalls"] == ["bb4b2611-3d72-467b-8602-280330ecd65c"]
    assert len(cloudapi.requests_to(DROPLETS)) == 1  # one listing shared by both regions
    assert len(cloudapi.requests_to("/v2/regions")) == 1  # the filter was checked against the account's regions


def test_a_region_filter_is_checked(make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    with pytest.raises(UsageError, match="digitalocean: unknown region nyc9") as caught:
        make_adapter(regions=("nyc1", "nyc9")).connect()
    assert "ams3" in (caught.value.hint or "")
    with pytest.raises(UsageError, match="'us-east-1' is not a region slug"):
        make_adapter(regions=("us-east-1",)).connect()
    # "all" is no filter at all
    adapter = make_adapter(regions=("all",), types=("digitalocean_droplet",))
    adapter.connect()
    assert [t.key for t in adapter.plan()] == ["all/droplets"]


def test_rate_limits_are_waited_out_and_counted_as_retries(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 250)
    do_api.throttle(times=2, path=DROPLETS, reset_in=0)  # the limit resets now: a 429 waits only the backoff
    do_api.throttle(times=1, path=DROPLETS, reset_in=0, retry_after="0")
    adapter = make_adapter(types=("digitalocean_droplet",))
    adapter.connect()
    retried: list[tuple[str, str]] = []
    scanner = Scanner(adapter, backoff_base=0.01, backoff_cap=0.05,
                      on_retry=lambda task, what, exc, delay: retried.append((task.key, str(exc))))

    [outcome] = scanner.run(adapter.plan())

    assert outcome.status == "succeeded", outcome.error
    assert [r.terraform_id for r in outcome.resources] == [str(5000 + i) for i in range(250)]
    assert outcome.retries == 3
    assert retried == [("all/droplets", "HTTP 429 too_many_requests: API Rate limit exceeded.")] * 3
    assert len(cloudapi.requests_to(DROPLETS)) == 5  # 3 answered 429, then pages 1 and 2


def test_no_request_is_sent_while_the_rate_limit_is_used_up(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 3)
    do_api.remaining, do_api.reset_in = 1, 3600  # GET /v2/account uses the last request of the hour
    adapter = make_adapter(types=("digitalocean_droplet",), max_rate_wait=5.0)
    adapter.connect()
    with pytest.raises(DoTaskError, match="the API rate limit is used up for another 60 min"):
        _run(adapter, "all/droplets")
    assert cloudapi.requests_to(DROPLETS) == []


def test_at_zero_remaining_the_next_request_waits_for_the_reset(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 2)
    arrivals: dict[str, float] = {}
    cloudapi.hooks.append(lambda request: arrivals.setdefault(request.path, time.time()))
    do_api.remaining, do_api.reset_at = 1, int(time.time()) + 1
    adapter = make_adapter(types=("digitalocean_droplet",))
    adapter.connect()
    assert _run(adapter, "all/droplets") == ["5000", "5001"]
    assert arrivals[DROPLETS] >= do_api.reset_at  # sent only once the limit had reset


def test_server_errors_are_retried(do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter],
                                   cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 3)
    cloudapi.fail(500, path=DROPLETS, times=2, body=do.SERVER_ERROR)
    adapter = make_adapter(types=("digitalocean_droplet",))
    adapter.connect()
    retries: list[tuple[str, BaseException, float]] = []
    assert _run(adapter, "all/droplets", retries=retries) == ["5000", "5001", "5002"]
    assert [what for what, _exc, _delay in retries] == ["GET /v2/droplets"] * 2


def test_errors_that_outlast_the_retries_fail_the_task_in_one_line(
        make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    cloudapi.fail(503, path=DROPLETS, times=10, body=do.SERVER_ERROR)
    adapter = make_adapter(types=("digitalocean_droplet",))
    adapter.connect()
    with pytest.raises(DoTaskError) as caught:
        _run(adapter, "all/droplets", max_retries=2)
    assert str(caught.value) == ("digitalocean: GET /v2/droplets failed: HTTP 503 server_error: "
                                 "Server was unable to give you a response.")
    assert len(cloudapi.requests_to(DROPLETS)) == 3


def test_a_bad_token_is_a_provider_auth_error_without_the_token(
        make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    with pytest.raises(ProviderAuthError) as caught:
        make_adapter(token="dop_v1_not-the-right-one").connect()
    message = str(caught.value)
    assert message.startswith("digitalocean: the API token was rejected (HTTP 401 unauthorized: "
                              "Unable to authenticate you): create a read token")
    assert "not-the-right-one" not in message and "config secret set digitalocean.token_secret" in message
    assert len(cloudapi.requests_to("/v2/account")) == 1  # a 401 is not retried


def test_a_token_revoked_mid_run_fails_its_tasks_not_the_scan(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    _droplets(do_api, 2)
    adapter = make_adapter(types=("digitalocean_droplet", "digitalocean_kubernetes_cluster"))
    adapter.connect()
    do_api.token = "dop_v1_rotated"
    outcomes = Scanner(adapter, backoff_base=0.01, backoff_cap=0.05).run(adapter.plan())
    assert [(o.task.key, o.status) for o in outcomes] == [("all/droplets", "failed"),
                                                          ("all/kubernetes_clusters", "failed")]
    assert outcomes[0].error is not None and outcomes[0].error.startswith(
        "digitalocean: the API token was rejected (HTTP 401 unauthorized")
    assert outcomes[0].resources == []


def test_a_token_without_a_scope_fails_that_listing_only(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 2)
    cloudapi.fail(403, path="/v2/kubernetes/clusters", times=5, body=do.FORBIDDEN)
    adapter = make_adapter(types=("digitalocean_droplet", "digitalocean_kubernetes_cluster"))
    adapter.connect()
    outcomes = {o.task.key: o for o in Scanner(adapter, backoff_base=0.01).run(adapter.plan())}
    assert outcomes["all/droplets"].status == "succeeded"
    assert outcomes["all/kubernetes_clusters"].status == "failed"
    assert outcomes["all/kubernetes_clusters"].error == (
        "digitalocean: access denied to GET /v2/kubernetes/clusters (HTTP 403 forbidden: You are not authorized "
        "to perform this operation): give the token read access to it (a custom-scoped token needs the matching "
        ":read scopes)")


def test_cancellation_between_pages_stops_before_the_next_request(
        do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter], cloudapi: FakeCloudApi) -> None:
    _droplets(do_api, 450)
    adapter = make_adapter(types=("digitalocean_droplet",))
    adapter.connect()
    cancel = threading.Event()

    def cancel_on_page_two(request: RecordedRequest) -> None:
        if request.path == DROPLETS and request.query.get("page") == "2":
            cancel.set()

    cloudapi.hooks.append(cancel_on_page_two)
    task = adapter.plan()[0]
    pages = adapter.run_task(task, scan_context(cancel))
    assert len(next(pages)) == 200
    with pytest.raises(ScanCancelled):
        list(pages)
    assert [r.query["page"] for r in cloudapi.requests_to(DROPLETS)] == ["1", "2"]


def test_cancellation_wakes_a_rate_limit_wait(do_api: FakeDigitalOcean,
                                              make_adapter: Callable[..., DigitalOceanAdapter],
                                              cloudapi: FakeCloudApi) -> None:
    do_api.throttle(times=5, path=DROPLETS, reset_in=4)
    adapter = make_adapter(types=("digitalocean_droplet",), max_rate_wait=30.0)
    adapter.connect()
    cancel = threading.Event()
    cloudapi.hooks.append(lambda request: cancel.set() if request.path == DROPLETS else None)
    with pytest.raises(ScanCancelled):
        _run(adapter, "all/droplets", event=cancel)
    assert len(cloudapi.requests_to(DROPLETS)) == 1


def test_a_listing_that_comes_out_short_fails(do_api: FakeDigitalOcean,
                                              make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    _droplets(do_api, 3)
    do_api.overcount = 1  # meta.total says 4: one droplet went away between pages
    adapter = make_adapter(types=("digitalocean_droplet",))
    adapter.connect()
    with pytest.raises(DoTaskError, match=r"GET /v2/droplets: the listing ended after 3 of its 4 objects"):
        _run(adapter, "all/droplets")


def test_a_next_link_that_loops_fails(do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    do_api.verbatim["/v2/firewalls"] = {
        "firewalls": [], "links": {"pages": {"next": f"{do.API_HOST}/v2/firewalls?page=1&per_page=200"}},
        "meta": {"total": 0}}
    adapter = make_adapter(types=("digitalocean_firewall",))
    adapter.connect()
    with pytest.raises(DoTaskError, match="the next page link repeats an earlier page"):
        _run(adapter, "global/firewalls")


def test_an_answer_that_is_not_json(do_api: FakeDigitalOcean, make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    do_api.verbatim["/v2/vpcs"] = Reply(body=b"<html>maintenance</html>")
    adapter = make_adapter(types=("digitalocean_vpc",))
    adapter.connect()
    with pytest.raises(DoTaskError, match="GET /v2/vpcs answered HTTP 200 that is not JSON"):
        _run(adapter, "all/vpcs")


def test_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_base_url("https://api.digitalocean.com/v2/") == "https://api.digitalocean.com"
    with pytest.raises(UsageError, match="refusing to send the API token over plain http to example\\.com"):
        check_base_url("http://example.com")
    with pytest.raises(UsageError, match="is not an http"):
        check_base_url("api.digitalocean.com")
    monkeypatch.setenv("DIGITALOCEAN_API_URL", "http://127.0.0.1:1/")
    from driftmgr_tui.discovery.model import Scope

    assert DigitalOceanAdapter(Scope("digitalocean"), token="t").base_url == "http://127.0.0.1:1/"


def test_an_unreachable_api_is_reported_in_one_line() -> None:
    client = DoClient("dop_v1_x", base_url="http://127.0.0.1:9", settings=DoSettings(connect_timeout=2.0))
    retries: list[tuple[str, BaseException, float]] = []
    with pytest.raises(DoUnavailableError) as caught:
        client.get("/v2/account", scan_context(retries=retries, max_retries=2), what="GET /v2/account")
    assert str(caught.value).startswith("digitalocean: cannot reach the API at http://127.0.0.1:9 (")
    assert len(retries) == 2  # refused connections are retried first
