"""The HCP Terraform / Terraform Enterprise API v2 client: the token, and authenticated JSON:API calls.

The token for a host comes from, in order (the first that has one wins):

1. the ``token`` attribute of the ``cloud`` block / ``remote`` backend (Terraform's own first choice);
2. the OS keyring: service ``driftmgr``, entry ``tfc-token:HOSTNAME`` (``keyring set driftmgr
   tfc-token:app.terraform.io``), read through ``core.secrets``;
3. ``TF_TOKEN_<hostname>`` in the environment, named as Terraform names it (dots as ``_``, hyphens as
   ``__``: ``TF_TOKEN_app_terraform_io``);
4. ``credentials "HOSTNAME" { token = ".." }`` in the Terraform CLI config (``TF_CLI_CONFIG_FILE``, else
   ``~/.terraformrc``);
5. ``~/.terraform.d/credentials.tfrc.json``, which ``terraform login`` writes.

The token itself never appears in a message, a log line or a repr; ``ApiToken.source`` says where it came
from so an error can point there.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from driftmgr_tui.core.errors import BackendError, ConfigError, ProviderAuthError
from driftmgr_tui.state.backends.httpclient import (
    HttpResponse,
    RetryingHttp,
    RetryPolicy,
    retryable_status,
    transient_error,
)

if TYPE_CHECKING:
    from driftmgr_tui.state.backends.tfc import TfcConfig

log = logging.getLogger(__name__)

JSONAPI = "application/vnd.api+json"

KEYRING_PREFIX = "tfc-token:"
CREDENTIALS_FILE = Path(".terraform.d") / "credentials.tfrc.json"


@dataclass(frozen=True)
class ApiToken:
    value: str = field(repr=False)
    #: where the token came from, for messages ("TF_TOKEN_app_terraform_io", a file path)
    source: str


def keyring_ref(hostname: str) -> str:
    """The keyring entry (under service ``driftmgr``) holding the token for ``hostname``."""
    return f"{KEYRING_PREFIX}{hostname.lower()}"


def env_var_name(hostname: str) -> str:
    """``TF_TOKEN_app_terraform_io`` for ``app.terraform.io`` (a hyphen is written ``__``)."""
    return "TF_TOKEN_" + hostname.lower().replace("-", "__").replace(".", "_")


def _host_of_env_var(name: str) -> str | None:
    if not name.startswith("TF_TOKEN_") or len(name) == len("TF_TOKEN_"):
        return None
    return name[len("TF_TOKEN_") :].replace("__", "-").replace("_", ".").lower()


def _from_keyring(hostname: str) -> ApiToken | None:
    from driftmgr_tui.core.secrets import KeyringUnavailable, SecretNotFound, get_secret

    ref = keyring_ref(hostname)
    try:
        value = get_secret(ref)
    except SecretNotFound:
        return None
    except KeyringUnavailable as exc:
        log.debug("no keyring to look up %s in: %s", ref, exc.message)
        return None
    return ApiToken(value, f"the keyring entry {ref}") if value else None


def _from_env(hostname: str, env: Mapping[str, str]) -> ApiToken | None:
    wanted = hostname.lower()
    for name in sorted(env):
        if _host_of_env_var(name) == wanted and env[name]:
            return ApiToken(env[name], name)
    return None


def _token_in(block: Any, hostname: str, path: Path) -> str | None:
    if not isinstance(block, Mapping):
        return None
    for host, body in block.items():
        if str(host).lower() != hostname.lower():
            continue
        body = body[0] if isinstance(body, list) and body else body
        token = body.get("token") if isinstance(body, Mapping) else None
        if token is not None and not isinstance(token, str):
            raise ConfigError(f"{path}: the token for {host} must be a string")
        return token or None
    return None


def cli_config_path(env: Mapping[str, str]) -> Path:
    configured = env.get("TF_CLI_CONFIG_FILE")
    return Path(configured).expanduser() if configured else Path.home() / ".terraformrc"


def _from_cli_config(hostname: str, env: Mapping[str, str]) -> ApiToken | None:
    path = cli_config_path(env)
    if not path.is_file():
        return None
    if path.name.endswith(".json"):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the Terraform CLI config ({exc})") from None
    else:
        from driftmgr_tui.state.backends.config import _load_hcl

        doc = _load_hcl(path)
    blocks = doc.get("credentials") if isinstance(doc, Mapping) else None
    for block in blocks if isinstance(blocks, list) else [blocks]:
        token = _token_in(block, hostname, path)
        if token:
            return ApiToken(token, f'credentials "{hostname}" in {path}')
    return None


def _from_credentials_file(hostname: str) -> ApiToken | None:
    path = Path.home() / CREDENTIALS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="run `terraform login` again to rewrite it",
        ) from None
    token = _token_in(doc.get("credentials") if isinstance(doc, dict) else None, hostname, path)
    return ApiToken(token, str(path)) if token else None


def find_token(hostname: str, *, configured: str | None = None, env: Mapping[str, str] | None = None) -> ApiToken:
    """The API token for ``hostname``, or ProviderAuthError saying where it was looked for."""
    env = os.environ if env is None else env
    if configured:
        return ApiToken(configured, "the `token` attribute of the backend configuration")
    for lookup in (
        lambda: _from_keyring(hostname),
        lambda: _from_env(hostname, env),
        lambda: _from_cli_config(hostname, env),
        lambda: _from_credentials_file(hostname),
    ):
        found = lookup()
        if found is not None:
            return found
    raise ProviderAuthError(
        f"no API token for {hostname} (looked in the keyring entry {keyring_ref(hostname)}, "
        f"{env_var_name(hostname)}, {cli_config_path(env)} and ~/{CREDENTIALS_FILE})",
        hint=f"run `terraform login {hostname}`, or store a token with "
        f"`keyring set driftmgr {keyring_ref(hostname)}`",
    )


# -- the API -------------------------------------------------------------------------------------


def errors_of(resp: HttpResponse) -> str:
    """The JSON:API error objects' details, or the body's first line."""
    try:
        doc = json.loads(resp.data)
    except ValueError:
        return resp.text()
    items = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return resp.text()
    texts = []
    for item in items:
        if isinstance(item, dict):
            text = item.get("detail") or item.get("title") or ""
            pointer = (item.get("source") or {}).get("pointer") if isinstance(item.get("source"), dict) else None
            texts.append(f"{text} ({pointer})" if pointer else str(text))
        else:
            texts.append(str(item))
    return "; ".join(t for t in texts if t) or resp.text()


class TfcApi:
    """Authenticated JSON:API calls to one host, with the token found lazily (``find_token``)."""

    def __init__(self, config: TfcConfig) -> None:
        self.config = config
        self.base = f"https://{config.hostname}/api/v2"
        self.http = RetryingHttp(RetryPolicy(config.retry_max, config.retry_wait_min, config.retry_wait_max))
        self._token: ApiToken | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> ApiToken:
        with self._lock:
            if self._token is None:
                self._token = find_token(self.config.hostname, configured=self.config.token)
            return self._token

    def auth_error(self, what: str) -> ProviderAuthError:
        host = self.config.hostname
        return ProviderAuthError(
            f"{host} rejected the API token from {self.token.source} (401 Unauthorized while {what})",
            hint=f"the token is wrong, expired or revoked: create a new one (`terraform login {host}`) and "
            "replace it where it came from",
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200,),
        allow: tuple[int, ...] = (),
    ) -> tuple[int, Any, HttpResponse]:
        """``(status, parsed JSON or None, response)`` for a status in ``ok`` or ``allow``; anything else
        is raised: 401 ProviderAuthError, 429 / 5xx (after retries) TransientError, others BackendError."""
        url = self.base + path
        if params:
            url += "?" + urlencode(params, quote_via=quote, safe=",")
        headers = {"Authorization": f"Bearer {self.token.value}", "Accept": JSONAPI}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = JSONAPI
        resp = self.http.request(method, url, what=what, body=data, headers=headers)
        if resp.status == 401:
            raise self.auth_error(what)
        if resp.status not in ok and resp.status not in allow:
            if retryable_status(resp.status):
                raise transient_error(resp, what, url)
            if resp.status == 403:
                raise ProviderAuthError(
                    f"{self.config.hostname} refused {what} (403 Forbidden: {errors_of(resp)}; token from "
                    f"{self.token.source})",
                    hint="the token's user or team lacks the permission on this workspace",
                )
            raise BackendError(f"{what} failed: HTTP {resp.status} from {self.config.hostname} ({errors_of(resp)})")
        if not resp.data:
            return resp.status, None, resp
        try:
            return resp.status, json.loads(resp.data), resp
        except ValueError:
            raise BackendError(
                f"{what}: {self.config.hostname} answered HTTP {resp.status} with a body that is not JSON "
                f"({resp.text(120)})"
            ) from None

    def download(self, url: str, what: str) -> bytes:
        """A hosted state download URL; the token goes along only to the API's own host."""
        headers = {}
        if urlsplit(url).netloc.lower() == self.config.hostname:
            headers["Authorization"] = f"Bearer {self.token.value}"
        resp = self.http.request("GET", url, what=what, headers=headers, follow_redirects=True)
        if resp.status == 401:
            raise self.auth_error(what)
        if resp.status == 200:
            return resp.data
        if retryable_status(resp.status):
            raise transient_error(resp, what, url)
        raise BackendError(f"{what} failed: HTTP {resp.status} from the state download URL ({resp.text()})")
