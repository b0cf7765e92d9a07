"""The demo sandbox: a local AWS (moto, in this process, on a loopback port), the demo estate in it, a Terraform
working dir that manages it, planted drift, and a drift report already saved, all in one temporary directory.

While it runs, the process environment points every AWS SDK call at the local AWS (the user's credentials,
profiles and AWS config files are never read: the sandbox has its own, with one profile, ``driftmgr-demo``) and
driftmgr at the sandbox's own data dir and config file, whose ``[environments.demo]`` names the working dir and
that profile; :meth:`Sandbox.stop` puts every variable back exactly as it was, stops the server and removes the
directory. Start and stop are paired by the context manager, so Ctrl-C or an
exception half-way through still cleans up.

The local AWS keeps its data in moto's process-wide backends: one sandbox per process at a time. It is reset
when a sandbox starts and when it stops.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.demo.estate import REGION, DemoEstate, build_demo_estate, plant_demo_drift

ENVIRONMENT = "demo"
LOOPBACK = "127.0.0.1"
# the AWS profile the demo environment uses: defined only in the sandbox's own AWS config files, so a kept
# sandbox's config.toml used later (without the sandbox running) fails with "profile not found" instead of
# scanning whatever account the user's default credentials reach
PROFILE = "driftmgr-demo"

# what discovery lists in the sandbox: every type of the estate that the AWS catalog discovers (standalone
# security group rules, policy attachments and data sources are not listed; rules count through their groups)
DEMO_TYPES = (
    "aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_route_table", "aws_security_group", "aws_key_pair",
    "aws_instance", "aws_s3_bucket", "aws_sqs_queue", "aws_sns_topic", "aws_cloudwatch_log_group",
    "aws_dynamodb_table", "aws_ssm_parameter", "aws_iam_role", "aws_iam_user", "aws_iam_policy",
    "aws_iam_instance_profile",
)

# variables that would send AWS calls elsewhere or pick other credentials, or point driftmgr or Terraform at
# other data: unset while the sandbox runs
_CLEARED = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT", "AWS_CA_BUNDLE", "AWS_STS_REGIONAL_ENDPOINTS", "DRIFTMGR_DB_URL",
    "TF_WORKSPACE", "TF_DATA_DIR", "MOTO_ENABLE_AMI_VALIDATION",
)

log = logging.getLogger(__name__)


def _moto_server_class() -> type:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise UsageError(f"the demo needs moto with its server ({exc.name or 'moto'} is not installed)",
                         hint="pip install 'moto[server]>=5.1'") from None

    class LoopbackMotoServer(ThreadedMotoServer):  # type: ignore[misc, valid-type]
        """ThreadedMotoServer that also closes its listening socket on stop, so the port is free again."""

        def stop(self) -> None:
            super().stop()
            server = getattr(self, "_server", None)
            if server is not None:
                server.server_close()

    return LoopbackMotoServer


def _post(url: str, timeout: float = 30.0) -> None:
    """POST to the local AWS, never through a proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=b"", method="POST", headers={"Content-Type": "text/plain"})
    with opener.open(request, timeout=timeout) as response:
        response.read()


class Sandbox:
    """A self-contained driftmgr playground. ``with Sandbox() as sb:`` (or ``Sandbox().start(step)``, then
    :meth:`stop`). ``drift=False`` builds the estate without planting drift: its report is empty.

    Once started: ``endpoint`` (the local AWS), ``root`` (the temporary directory), ``workdir`` (the Terraform
    working dir) and ``state_path``, ``data_dir`` and ``config_path`` (driftmgr's, for the ``demo``
    environment), ``report`` (the saved drift report as JSON), ``expected`` (what :func:`plant_demo_drift`
    said must be reported), ``estate`` and ``timings`` (seconds per phase)."""

    environment = ENVIRONMENT

    def __init__(self, *, keep: bool = False, base_dir: Path | None = None, drift: bool = True) -> None:
        self.keep = keep
        self.base_dir = base_dir
        self.drift = drift
        self.region = REGION
        self.root: Path | None = None
        self.endpoint = ""
        self.workdir = Path()
        self.state_path = Path()
        self.data_dir = Path()
        self.config_path = Path()
        self.report: dict[str, Any] = {}
        self.expected: dict[str, Any] = {}
        self.estate: DemoEstate | None = None
        self.timings: dict[str, float] = {}
        self._server: Any = None
        self._saved_env: dict[str, str | None] | None = None
        self._werkzeug_level: int | None = None
        self._db_url: str | None = None
        self._started = False
        self._stopped = False

    # --- lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, on_step: Callable[[str], None] | None = None) -> Sandbox:
        """Build everything and save the first drift report; on any failure (Ctrl-C included) everything
        done so far is undone before the exception propagates."""
        if self._started:
            raise RuntimeError("this sandbox was started already")
        self._started = True
        step = on_step or (lambda _message: None)
        try:
            self._start(step)
        except BaseException:
            try:
                self.stop()
            except Exception as exc:  # the first failure is the one to report
                log.warning("cleaning up the demo sandbox failed: %s", exc)
            raise
        return self

    def _start(self, step: Callable[[str], None]) -> None:
        started = time.perf_counter()
        self.root = Path(tempfile.mkdtemp(prefix="driftmgr-demo-", dir=self.base_dir))
        self.workdir = self.root / "infra"
        self.data_dir = self.root / "data"
        self.config_path = self.root / "config.toml"

        step("starting a local AWS (moto) on a loopback port")
        self._start_moto()
        self._set_environment()
        self._mark("moto", started)

        step(f"creating the demo estate in the local AWS at {self.endpoint}")
        mark = time.perf_counter()
        estate = build_demo_estate(self.region)
        self.estate = estate
        self._mark("estate", mark)
        if self.drift:
            step("planting drift: console edits, hand deletions, resources made outside Terraform, unapplied code")
            mark = time.perf_counter()
            self.expected = plant_demo_drift(estate)
            self._mark("drift", mark)
        else:
            self.expected = {"changed": {}, "severity": {}, "missing": set(), "unmanaged": set(),
                             "unapplied": set(), "orphaned": set()}

        step(f"writing the Terraform working dir {self.workdir}")
        self.state_path = estate.write_workdir(self.workdir, endpoint=self.endpoint)
        self._write_config()

        self.report = self._scan(step)
        self._mark("total", started)

    def _mark(self, name: str, since: float) -> None:
        self.timings[name] = round(time.perf_counter() - since, 3)

    def stop(self) -> None:
        """Stop the local AWS, restore the environment exactly, remove the directory (unless ``keep``).
        Every step is attempted; the first failure is raised after all of them ran."""
        if self._stopped:
            return
        self._stopped = True
        failures: list[BaseException] = []
        for action in (self._close_database, self._stop_moto, self._restore_environment, self._remove_root):
            try:
                action()
            except BaseException as exc:  # a second Ctrl-C too: the other steps still run
                failures.append(exc)
        if failures:
            raise failures[0]

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    # --- the local AWS ---------------------------------------------------------------------------------------
    def _start_moto(self) -> None:
        server_class = _moto_server_class()
        werkzeug = logging.getLogger("werkzeug")  # one line per request otherwise, over the TUI
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.ERROR)
        server = server_class(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        _post(f"{self.endpoint}/moto-api/reset")  # moto's backends are process-wide: start empty

    def _stop_moto(self) -> None:
        server, self._server = self._server, None
        try:
            if server is not None:
                try:
                    _post(f"{self.endpoint}/moto-api/reset", timeout=10.0)  # free the sandbox's data
                except OSError as exc:
                    log.warning("resetting the local AWS failed: %s", exc)
                server.stop()
        finally:
            if self._werkzeug_level is not None:
                logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
                self._werkzeug_level = None

    # --- environment -------------------------------------------------------------------------------------------
    def _environment(self) -> dict[str, str | None]:
        assert self.root is not None
        aws_dir = self.root / "aws"
        aws_dir.mkdir(exist_ok=True)
        (aws_dir / "config").write_text(
            f"[profile {PROFILE}]\nregion = {self.region}\nendpoint_url = {self.endpoint}\n", encoding="utf-8")
        (aws_dir / "credentials").write_text(
            f"[{PROFILE}]\naws_access_key_id = testing\naws_secret_access_key = testing\n", encoding="utf-8")
        loopback = ",".join(dict.fromkeys([LOOPBACK, "localhost", *filter(None, os.environ.get(
            "NO_PROXY", os.environ.get("no_proxy", "")).split(","))]))
        values: dict[str, str | None] = {name: None for name in _CLEARED}
        values.update({name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")})
        values.update({
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": str(aws_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": loopback,
            "no_proxy": loopback,
            "DRIFTMGR_DATA_DIR": str(self.data_dir),
            "DRIFTMGR_CONFIG": str(self.config_path),
            # moto: no catalogue of public AMIs to load (the estate names its own image)
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
        })
        return values

    def _set_environment(self) -> None:
        values = self._environment()
        self._saved_env = {name: os.environ.get(name) for name in values}
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environment(self) -> None:
        saved, self._saved_env = self._saved_env, None
        for name, value in (saved or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    # --- driftmgr's side ------------------------------------------------------------------------------------
    def _write_config(self) -> None:
        # JSON strings are valid TOML basic strings (paths with backslashes or quotes included). The working
        # dir alone names the state (its terraform.tfstate) and the configuration compared with it.
        lines = [
            f"# driftmgr demo sandbox: a local AWS (moto) at {self.endpoint}, up while the demo runs; the",
            f"# {PROFILE} profile exists only in the sandbox's AWS config, never in yours",
            f"[environments.{ENVIRONMENT}]",
            f"chdir = {json.dumps(str(self.workdir))}",
            'provider = "aws"',
            f"regions = [{json.dumps(self.region)}]",
            f"profile = {json.dumps(PROFILE)}",
            "",
        ]
        self.config_path.write_text("\n".join(lines), encoding="utf-8")

    def _scan(self, step: Callable[[str], None]) -> dict[str, Any]:
        from driftmgr_tui.core.settings import load_settings
        from driftmgr_tui.discovery.model import Scope
        from driftmgr_tui.services.discovery_service import DiscoveryService
        from driftmgr_tui.services.drift_service import DetectOptions, DriftService

        mark = time.perf_counter()
        settings = load_settings()
        self._db_url = settings.db_url
        step("opening the sandbox's database")
        discovery = DiscoveryService(settings=settings)
        self._mark("database", mark)
        step(f"discovering the sandbox account ({self.region} and IAM)")
        mark = time.perf_counter()
        run = discovery.run(Scope(provider="aws", regions=(self.region,), profile=PROFILE, types=DEMO_TYPES))
        self._mark("discovery", mark)
        if run.status != "complete":
            failed = "; ".join(f"{t.key}: {t.error}" for t in discovery.get_run(run.id).errors)
            raise DriftmgrError(f"discovering the demo account ended {run.status}"
                                + (f": {failed or run.error}" if failed or run.error else ""))
        mark = time.perf_counter()
        drift = DriftService(settings=settings, engine=discovery.engine)
        outcome = drift.detect(drift.environment(ENVIRONMENT), DetectOptions(run_ids=(run.id,), on_step=step))
        self._mark("detection", mark)
        return outcome.report

    def _close_database(self) -> None:
        if self._db_url is not None:
            from driftmgr_tui.core.db import dispose_engine

            dispose_engine(self._db_url)
            self._db_url = None

    def _remove_root(self) -> None:
        if self.root is not None and not self.keep:
            shutil.rmtree(self.root, ignore_errors=False)
