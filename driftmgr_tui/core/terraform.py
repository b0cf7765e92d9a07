"""Run the ``terraform`` CLI as a child process we can watch, time out, cancel and explain.

Drift detection runs ``plan -refresh-only`` and ``show -json`` through :class:`Terraform`; remediation will
run ``apply`` through it. The contract every caller relies on:

* Terraform runs non-interactively (``TF_IN_AUTOMATION=1``, ``TF_INPUT=0``, ``-input=false`` where we build
  the command, ``-no-color`` where the subcommand takes it) in its own process group, so a signal we send
  reaches its provider plugins and provisioner commands too, and a Ctrl-C in our terminal does not hit it
  behind our back.
* Output is streamed line by line to ``on_line`` while it runs (a TUI log pane, a job's event stream) and
  kept whole in the returned :class:`TerraformRun`.
* Cancellation sends SIGINT first: Terraform then stops gracefully and releases the state lock, where a
  kill would leave the lock behind. Only a Terraform that ignores it past a grace period is killed.
  A timeout does the same with SIGTERM, which Terraform also handles as a graceful stop.
* A failure becomes one clear error: :class:`~driftmgr_tui.core.errors.StateLockedError` with the holder
  Terraform printed, :class:`~driftmgr_tui.core.errors.ProviderAuthError` for rejected credentials,
  :class:`TerraformError` with a "run terraform init" hint when the working directory is not initialised,
  else :class:`TerraformError` quoting Terraform's ``Error:`` summary lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from driftmgr_tui.core.errors import (
    DriftmgrError,
    JobCancelledError,
    LockInfo,
    ProviderAuthError,
    StateLockedError,
    UsageError,
)

__all__ = [
    "TERRAFORM_ENV_VAR",
    "Terraform",
    "TerraformError",
    "TerraformNotFound",
    "TerraformRun",
    "find_terraform",
    "terraform_version",
]

log = logging.getLogger(__name__)

TERRAFORM_ENV_VAR = "DRIFTMGR_TERRAFORM"
INSTALL_URL = "https://developer.hashicorp.com/terraform/install"

# Subcommands whose flag parser documents -no-color (Terraform strips the flag globally, but adding it
# only where it is documented keeps the commands we log readable and valid for any Terraform version).
_NO_COLOR_SUBCOMMANDS = frozenset(
    {"init", "plan", "apply", "destroy", "refresh", "show", "output", "validate", "import", "get", "fmt", "test"}
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BOX = "╷│╵"
_TAIL_LINES = 40
_POLL = 0.1
_READER_JOIN = 10.0

_INIT_NEEDED = (
    "Backend initialization required",
    "Required plugins are not installed",
    "Module not installed",
    "Inconsistent dependency lock file",
    "missing or corrupted provider plugins",
    "Backend configuration changed",
)
_AUTH_FAILED = (
    "No valid credential sources",
    "InvalidClientTokenId",
    "ExpiredToken",
    "AuthFailure",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "could not find default credentials",
    "Please run 'az login'",
)
_LOCK_FAILED = "Error acquiring the state lock"
_LOCK_FIELDS = {"ID", "Path", "Operation", "Who", "Version", "Created", "Info"}


class TerraformError(DriftmgrError):
    """A terraform command failed. ``returncode`` is its exit code (None when it never ran or was killed
    before it answered); ``stderr_tail`` the last lines it wrote, colour and box drawing removed."""

    exit_code = 2

    def __init__(self, message: str, *, returncode: int | None = None, stderr_tail: str = "",
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class TerraformNotFound(TerraformError):
    """No usable terraform binary: neither ``DRIFTMGR_TERRAFORM`` nor ``PATH`` gives one."""

    def __init__(self, detail: str = "terraform is not on PATH") -> None:
        super().__init__(
            f"{detail}: install Terraform ({INSTALL_URL}) or set {TERRAFORM_ENV_VAR} to the path of the "
            "terraform binary"
        )


@dataclass
class TerraformRun:
    """One finished terraform command: ``args`` as run (without the binary), its exit code, its whole
    output and how long it took in seconds."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float


def find_terraform() -> str | None:
    """The terraform binary to use: ``$DRIFTMGR_TERRAFORM`` (a path or a command name), else ``terraform`` on
    PATH. An override that names nothing executable gives None rather than falling back to PATH: the user
    asked for that binary, so running another one silently would be wrong."""
    override = os.environ.get(TERRAFORM_ENV_VAR, "").strip()
    if override:
        return shutil.which(override)
    return shutil.which("terraform")


def _not_found() -> TerraformNotFound:
    override = os.environ.get(TERRAFORM_ENV_VAR, "").strip()
    if override:
        return TerraformNotFound(f"{TERRAFORM_ENV_VAR}={override} is not an executable terraform binary")
    return TerraformNotFound()


def _base_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    if extra:
        env.update(extra)
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    # Offline machines would otherwise wait on HashiCorp's version check.
    env.setdefault("CHECKPOINT_DISABLE", "1")
    return env


def terraform_version(binary: str) -> str:
    """The version of ``binary`` (``"1.11.4"``), from ``terraform version -json``."""
    try:
        proc = subprocess.run(
            [binary, "version", "-json"], capture_output=True, text=True, timeout=120,
            env=_base_env(None), stdin=subprocess.DEVNULL, check=False,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        raise TerraformNotFound(f"{binary} is not an executable terraform binary") from None
    except subprocess.TimeoutExpired:
        raise TerraformError(f"`{binary} version -json` did not answer within 120s") from None
    try:
        version = json.loads(proc.stdout)["terraform_version"]
    except (ValueError, KeyError, TypeError):
        tail = _clean(proc.stderr or proc.stdout)[-500:]
        raise TerraformError(
            f"`{binary} version -json` did not report a version (exit {proc.returncode})",
            returncode=proc.returncode, stderr_tail=tail,
        ) from None
    return str(version)


class Terraform:
    """A terraform CLI bound to one working directory (the root module)."""

    def __init__(
        self,
        chdir: Path,
        *,
        binary: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 1800.0,
        lock_timeout: str = "0s",
        cancel: threading.Event | None = None,
        on_line: Callable[[str, str], None] | None = None,
        interrupt_grace: float = 60.0,
        kill_grace: float = 10.0,
    ) -> None:
        """``env`` is laid over our own environment. ``timeout`` bounds each command in seconds.
        ``lock_timeout`` is Terraform's ``-lock-timeout`` for the commands built here ("0s": fail at once
        when someone holds the lock). ``interrupt_grace`` is how long a cancelled Terraform may take to
        stop gracefully, ``kill_grace`` how long a timed-out one may take after SIGTERM, before SIGKILL.

        Raises TerraformNotFound when no binary is given and none is found."""
        resolved = binary or find_terraform()
        if not resolved:
            raise _not_found()
        self.binary = resolved
        self.chdir = Path(chdir)
        self.env = dict(env or {})
        self.timeout = timeout
        self.lock_timeout = lock_timeout
        self.cancel = cancel
        self.on_line = on_line
        self.interrupt_grace = interrupt_grace
        self.kill_grace = kill_grace
        # Process id (and process group id) of the command running now or run last.
        self.pid: int | None = None

    # ------------------------------------------------------------------ running
    def run(self, *args: str, ok_codes: Sequence[int] = (0,), echo_stdout: bool = True) -> TerraformRun:
        """Run ``terraform ARGS`` in the working directory and wait for it.

        ``ok_codes`` are the exit codes that count as success (``(0, 2)`` with ``-detailed-exitcode``).
        ``echo_stdout=False`` keeps standard output from ``on_line`` (a ``show -json`` document is one
        line of many megabytes) while still returning it. Raises JobCancelledError when the cancel event
        is set, TerraformError on a timeout or a failure (or a more specific error, see the module doc).
        """
        argv = self._with_no_color(list(args))
        if self.cancel is not None and self.cancel.is_set():
            raise JobCancelledError(f"terraform {_subcommand(argv)} cancelled before it started")
        if not self.chdir.is_dir():
            raise UsageError(f"terraform working directory {self.chdir} does not exist")
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                [self.binary, *argv], cwd=self.chdir, env=_base_env(self.env), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError):
            raise TerraformNotFound(f"{self.binary} is not an executable terraform binary") from None
        self.pid = proc.pid
        out: list[bytes] = []
        err: list[bytes] = []
        readers = [
            threading.Thread(target=self._pump, args=(proc.stdout, "stdout", out, echo_stdout), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, "stderr", err, True), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            stopped_by = self._wait(proc, started)
        except BaseException:
            # Our caller is going away (KeyboardInterrupt...): let Terraform release its lock first.
            self._stop(proc, signal.SIGINT, self.interrupt_grace)
            raise
        finally:
            if proc.poll() is None:
                self._stop(proc, signal.SIGKILL, 0)
        for reader in readers:
            reader.join(_READER_JOIN)
        run = TerraformRun(
            args=argv, returncode=proc.returncode,
            stdout=b"".join(out).decode("utf-8", "replace"), stderr=b"".join(err).decode("utf-8", "replace"),
            duration=time.monotonic() - started,
        )
        if stopped_by == "cancel":
            raise JobCancelledError(f"terraform {_subcommand(argv)} cancelled")
        if stopped_by == "timeout":
            raise TerraformError(
                f"`{self._show(argv)}` timed out after {self.timeout:g}s", returncode=run.returncode,
                stderr_tail=_tail(run), hint="raise the terraform timeout if this command is expected to take longer",
            )
        if run.returncode not in ok_codes:
            raise self._failure(run)
        return run

    def _wait(self, proc: subprocess.Popen[bytes], started: float) -> str | None:
        """Wait for ``proc``; on cancel or timeout signal its group and escalate to SIGKILL after a grace.
        Returns what stopped it ("cancel", "timeout") or None when it finished on its own."""
        deadline = started + self.timeout
        stopped_by: str | None = None
        escalate_at = 0.0
        killed = False
        while True:
            try:
                proc.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if stopped_by is None:
                if self.cancel is not None and self.cancel.is_set():
                    stopped_by, escalate_at = "cancel", now + self.interrupt_grace
                    _signal_group(proc, signal.SIGINT)
                elif now >= deadline:
                    stopped_by, escalate_at = "timeout", now + self.kill_grace
                    _signal_group(proc, signal.SIGTERM)
            elif not killed and now >= escalate_at:
                _signal_group(proc, signal.SIGKILL)
                killed = True
        if stopped_by is not None:
            # Provisioner commands or plugins Terraform left behind must not outlive the run.
            _signal_group(proc, signal.SIGKILL)
        return stopped_by

    def _stop(self, proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float) -> None:
        _signal_group(proc, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        _signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("terraform (pid %s) did not exit after SIGKILL", proc.pid)

    def _pump(self, stream: IO[bytes] | None, name: str, sink: list[bytes], echo: bool) -> None:
        if stream is None:
            return
        failed = False
        with stream:
            for raw in iter(stream.readline, b""):
                sink.append(raw)
                if echo and self.on_line is not None:
                    try:
                        self.on_line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
                    except Exception:
                        # A broken listener must not stop us draining the pipe (Terraform would block).
                        if not failed:
                            log.exception("on_line callback failed (further failures on %s not logged)", name)
                        failed = True

    @staticmethod
    def _with_no_color(args: list[str]) -> list[str]:
        if args and args[0] in _NO_COLOR_SUBCOMMANDS and "-no-color" not in args:
            return [args[0], "-no-color", *args[1:]]
        return args

    def _show(self, argv: Sequence[str]) -> str:
        return "terraform " + shlex.join(_mask_vars(argv))

    # ------------------------------------------------------------------ failures
    def _failure(self, run: TerraformRun) -> DriftmgrError:
        """The most specific error for a failed run."""
        text = _clean(run.stderr)
        summaries = _summaries(text) or _summaries(_clean(run.stdout))
        tail = _tail(run)
        command = self._show(run.args)
        summary = "; ".join(summaries) if summaries else (tail.splitlines()[-1] if tail else "no error output")
        full = text + "\n" + _clean(run.stdout[-200_000:])
        if _LOCK_FAILED in full:
            return _lock_error(full, self.chdir)
        if any(marker in full for marker in _AUTH_FAILED):
            return ProviderAuthError(
                f"terraform could not authenticate to the cloud provider ({summary})",
                hint="check the credentials the provider uses (for AWS: AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or renew an expired session)",
            )
        hint = f"run `terraform init` in {self.chdir}" if any(m in full for m in _INIT_NEEDED) else None
        return TerraformError(
            f"`{command}` failed (exit {run.returncode}): {summary}",
            returncode=run.returncode, stderr_tail=tail, hint=hint,
        )

    # ------------------------------------------------------------------ commands
    def data_dir(self) -> Path:
        """Terraform's data directory for this working directory (``TF_DATA_DIR`` or ``.terraform``)."""
        configured = self.env.get("TF_DATA_DIR") or os.environ.get("TF_DATA_DIR") or ".terraform"
        return self.chdir / configured

    def needs_init(self) -> bool:
        """Whether ``terraform init`` must (probably) run before a plan.

        True when the data directory is missing, or when exactly one of installed providers and the
        dependency lock file exists (a fresh clone, a deleted lock file). A configuration with only
        built-in resources never gets a data directory, so this says True for it every time: init is then
        a no-op of a fraction of a second."""
        data = self.data_dir()
        if not data.is_dir():
            return True
        return (data / "providers").is_dir() != (self.chdir / ".terraform.lock.hcl").is_file()

    def init(self, *, force: bool = False, extra_args: Sequence[str] = ()) -> TerraformRun | None:
        """``terraform init -input=false`` when :meth:`needs_init` says so (or ``force``); None if skipped."""
        if not force and not self.needs_init():
            return None
        return self.run("init", "-input=false", f"-lock-timeout={self.lock_timeout}", *extra_args)

    def refresh_only_plan_json(self, *, out_dir: Path | None = None, extra_args: Sequence[str] = ()) -> bytes:
        """The ``terraform show -json`` document of a refresh-only plan: what changed outside Terraform.

        The saved plan embeds the state (secrets included), so it lives in a private (0700) temporary
        directory under ``out_dir`` (default: the system temp dir) that is removed afterwards, whatever
        happens. Exit code 2 of ``-detailed-exitcode`` (drift found) is success."""
        workdir = Path(tempfile.mkdtemp(prefix="driftmgr-plan-", dir=out_dir))
        try:
            plan_file = workdir / "refresh-only.tfplan"
            self.run(
                "plan", "-refresh-only", "-input=false", f"-lock-timeout={self.lock_timeout}",
                "-detailed-exitcode", f"-out={plan_file}", *extra_args, ok_codes=(0, 2),
            )
            shown = self.run("show", "-json", str(plan_file), echo_stdout=False)
            return shown.stdout.encode("utf-8")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------- helpers
def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _subcommand(argv: Sequence[str]) -> str:
    return next((a for a in argv if not a.startswith("-")), "")


def _mask_vars(argv: Sequence[str]) -> list[str]:
    """Hide the values of ``-var name=value`` arguments: they are often secrets and end up in messages."""
    masked: list[str] = []
    follows_var = False
    for arg in argv:
        if follows_var:
            masked.append(arg.split("=", 1)[0] + "=***")
            follows_var = False
        elif arg.startswith("-var="):
            name = arg[len("-var="):].split("=", 1)[0]
            masked.append(f"-var={name}=***")
        else:
            masked.append(arg)
            follows_var = arg == "-var"
    return masked


def _clean(text: str) -> str:
    """Terraform's output without colour codes and without the box drawn around diagnostics."""
    lines = []
    for line in _ANSI.sub("", text).splitlines():
        stripped = line.lstrip(" ")
        if stripped[:1] in _BOX:
            stripped = stripped[1:]
            line = stripped[1:] if stripped.startswith(" ") else stripped
        lines.append(line.rstrip())
    return "\n".join(lines)


def _summaries(clean: str, limit: int = 3) -> list[str]:
    found: list[str] = []
    for line in clean.splitlines():
        text = line.strip()
        if text.startswith("Error: "):
            summary = text[len("Error: "):].strip()
            if summary and summary not in found:
                found.append(summary)
    return found[:limit]


def _tail(run: TerraformRun) -> str:
    text = _clean(run.stderr).strip() or _clean(run.stdout[-20000:]).strip()
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


def _lock_error(text: str, chdir: Path) -> StateLockedError:
    """StateLockedError from Terraform's "Error acquiring the state lock" diagnostic and its Lock Info."""
    fields: dict[str, str] = {}
    detail: str | None = None
    in_info = False
    for line in text[text.index(_LOCK_FAILED):].splitlines():
        stripped = line.strip()
        if stripped.startswith("Error message:"):
            detail = stripped[len("Error message:"):].strip() or None
        elif stripped == "Lock Info:":
            in_info = True
        elif in_info:
            key, sep, value = stripped.partition(":")
            if not sep or key not in _LOCK_FIELDS:
                if fields:
                    break
                continue
            fields[key] = value.strip()
    lock = LockInfo.from_terraform(fields) if fields.get("ID") else None
    location = str(chdir)
    if fields.get("Path"):
        # A local backend's path is relative to the working directory; a remote one's (bucket/key) is not.
        local = chdir / fields["Path"]
        location = str(local) if local.exists() else fields["Path"]
    return StateLockedError(location, lock, detail=detail)
