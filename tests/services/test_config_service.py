"""ConfigService and `driftmgr config`: edits that keep the user's comments, field-level errors, atomic writes
that leave the old file alone when a check fails, secrets in the keyring with only references in the file,
the plaintext choice, the PostgreSQL password from the keyring, and connection tests as jobs against moto."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from keyring.backends import fail

from driftmgr_tui.commands.config import config_group
from driftmgr_tui.core.errors import ConfigError, UsageError
from driftmgr_tui.core.jobs import JobStatus
from driftmgr_tui.core.secrets import PLAINTEXT_FILE, SERVICE, KeyringUnavailable
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.services.config_service import ConfigService, coerce
from tests._fixtures.moto import moto_set_auth
from tests.alerts import MemoryKeyring, keyring_backend

ORIGINAL = """\
# driftmgr settings, kept by hand
[state]
lock_timeout = "30s"   # our CI holds locks for a while

# the environments we watch
[environments.prod]    # production
states = ["envs/prod/*.tfstate"]  # every stack
provider = "aws"
regions = ["us-east-1"]
"""


@pytest.fixture
def config(isolated_dirs: Path) -> Path:
    path = isolated_dirs / "config.toml"
    path.write_text(ORIGINAL, encoding="utf-8")
    return path


@pytest.fixture
def kr() -> Iterator[MemoryKeyring]:
    with keyring_backend() as backend:
        yield backend


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# -- editing ------------------------------------------------------------------------------------------------
def test_edits_keep_the_users_comments_and_order(config: Path) -> None:
    service = ConfigService()
    service.put_environment("prod", {"states": ["envs/prod/*.tfstate"], "provider": "aws",
                                     "regions": ["us-east-1", "eu-west-1"], "profile": "audit"}, original="prod")
    service.put_environment("dev", {"chdir": "/infra/dev", "provider": "aws"})
    service.set("state.backup_retention", 7)
    service.set_key("drift.rescan", "R")
    text = config.read_text()
    for comment in ("# driftmgr settings, kept by hand", "# our CI holds locks for a while",
                    "# the environments we watch", "# production", "# every stack"):
        assert comment in text
    assert text.index("[state]") < text.index("[environments.prod]") < text.index("[environments.dev]")
    assert 'regions = ["us-east-1", "eu-west-1"]' in text and 'profile = "audit"' in text
    assert '"drift.rescan" = "R"' in text
    settings = load_settings()
    assert settings.environments["prod"].profile == "audit"
    assert settings.environments["dev"].chdir == "/infra/dev"
    assert settings.backup_retention == 7 and settings.lock_timeout == 30.0
    assert settings.keys == {"drift.rescan": "R"}
    # every write: mode 0600, the previous file kept beside it, no temporary file left
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    backup = config.with_name("config.toml.bak")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600 and '"drift.rescan"' not in backup.read_text()
    assert leftovers(config.parent) == []


def test_rename_remove_and_unset(config: Path) -> None:
    service = ConfigService()
    service.put_environment("production", service.environment("prod"), original="prod")
    assert service.environment_names() == ["production"]
    assert "# every stack" in config.read_text()
    service.set("state.lock_timeout", None)
    assert "lock_timeout" not in config.read_text() and "[state]" not in config.read_text()
    service.remove_environment("production")
    assert load_settings().environments == {}
    with pytest.raises(UsageError, match="no environment 'production'"):
        service.remove_environment("production")


@pytest.mark.parametrize(("change", "field", "detail"), [
    (lambda s: s.put_environment("bad", {"states": ["x"], "provider": "awz"}),
     "environments.bad.provider", "must be one of aws, azure, gcp, digitalocean, got 'awz'"),
    (lambda s: s.put_environment("bad", {"provider": "aws"}),
     "environments.bad", "give states (files, globs, backend specs), chdir (a Terraform working dir) "
                         "or terragrunt (a Terragrunt tree)"),
    (lambda s: s.put_environment("prod", {"chdir": "/x"}),
     "environments.prod", "an environment of this name exists"),
    (lambda s: s.put_environment("bad name", {"chdir": "/x"}),
     "environments.bad name", "an environment name is letters, digits, '_', '.', '-'"),
    (lambda s: s.put_environment("eu", {"chdir": "/x", "regions": ["eu west 1"]}),
     "environments.eu.regions", "'eu west 1': a region, subscription or project name has no spaces"),
    (lambda s: s.set("state.lock_timeout", "5 minutes"),
     "state.lock_timeout", "invalid duration '5 minutes': expected a number with a unit (ms, s, m, h), "
                           "e.g. 30s or 5m"),
    (lambda s: s.set("drift.retention_days", 0), "drift.retention_days", "must be at least 1, got 0"),
    (lambda s: s.set_key("drift.rescan", "f"), "keys.drift.rescan", "f is already the key of drift.facets (Facets)"),
    (lambda s: s.set_key("drift.rescn", "x"), "keys.drift.rescn", "unknown action 'rescn' of the drift section"),
    (lambda s: s.set_key("drift.rescan", "ctrl+x+y"), "keys.drift.rescan",
     "'ctrl+x+y': unknown modifier 'x' (modifiers: ctrl, alt, shift, meta, super, hyper)"),
    (lambda s: s.set("database.url", "sqlite:///x.db") or s.set_many({"database.password_secret":
                                                                      "db:2f1c9b1e-8c3e-4a55-9d1b-0b6f2f0f1a11"}),
     "database.password_secret", "a password is for a PostgreSQL database: set [database] url to a "
                                 "postgresql:// URL (without the password) first"),
])
def test_a_bad_value_is_named_at_its_field_and_nothing_is_written(config: Path, change, field: str,
                                                                   detail: str) -> None:
    before = config.read_bytes()
    service = ConfigService()
    with pytest.raises(ConfigError) as caught:
        change(service)
    assert caught.value.field == field
    assert caught.value.detail == detail
    assert str(config) in caught.value.message  # the CLI's line names the file too
    if field != "database.password_secret":  # that change writes database.url first, then fails
        assert config.read_bytes() == before
        assert not config.with_name("config.toml.bak").exists()
    assert leftovers(config.parent) == []


def test_a_form_value_is_checked_alone_as_the_user_types(config: Path) -> None:
    service = ConfigService()
    assert service.check("environments.prod.regions", " us-east-1, eu-west-1 ,") == ["us-east-1", "eu-west-1"]
    assert service.check("state.backup_retention", "12") == 12
    assert service.check("remediation.four_eyes", "yes") is True
    assert service.check("environments.x.chdir", "") is None  # empty: not set
    assert service.check("keys.app.help", "F1") == "F1"  # written as typed; checked as Textual reads it
    assert service.check("environments.eu.prod", "") is None
    for field, text, detail in [
        ("state.backup_retention", "twelve", "expected an integer, got 'twelve'"),
        ("remediation.four_eyes", "maybe", "expected true or false, got 'maybe'"),
        ("environments.x.engine", "tofu", "must be one of native, terraform, got 'tofu'"),
        ("keys.drift.rescan", "ctrl+", "'ctrl+': no key after the modifiers"),
        ("keys.drift.rescan", "tab", "tab is reserved (tab and shift+tab move the focus, ctrl+c copies, ctrl+p "
                                     "opens the command palette, ctrl+q quits)"),
    ]:
        with pytest.raises(ConfigError) as caught:
            service.check(field, text)
        assert (caught.value.field, caught.value.detail) == (field, detail)


def test_a_broken_file_is_reported_with_line_and_column_and_can_be_rewritten(config: Path) -> None:
    config.write_text(ORIGINAL + "[state\n")
    service = ConfigService()
    with pytest.raises(ConfigError, match=r"line 10, column 7: invalid TOML"):
        service.document()
    with pytest.raises(ConfigError, match=r"line 10, column 7"):
        service.validate_file()
    assert service.last_good() == config.read_bytes()  # no valid version anywhere: leave it as it is
    service.restore(ORIGINAL.encode())
    assert config.read_text() == ORIGINAL
    assert service.last_good() == ORIGINAL.encode()
    service.set("state.backup_retention", 4)
    assert config.with_name("config.toml.rejected").read_text().endswith("[state\n")
    service.validate_file()
    config.write_text("broken = [\n")
    assert service.last_good() == ORIGINAL.encode()  # the backup of the last write


def test_the_backup_can_be_restored(config: Path) -> None:
    service = ConfigService()
    service.set("state.backup_retention", 3)
    service.restore_backup()
    assert config.read_text() == ORIGINAL


def test_the_editor_runs_on_the_file(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf \'[drift]\\nretention_days = 30\\n\' >> "$1"\nexit 3\n')
    editor.chmod(0o755)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{editor} ")
    service = ConfigService()
    assert service.editor_command() == [str(editor)]
    assert service.run_editor() == 3
    service.validate_file()
    assert load_settings().drift_retention_days == 30
    monkeypatch.setenv("VISUAL", "no-such-editor-here --wait")
    with pytest.raises(UsageError, match="editor 'no-such-editor-here' not found"):
        service.run_editor()


def test_coerce_reads_form_text_by_the_fields_kind() -> None:
    assert coerce("environments.p.states", "a, b") == ["a", "b"]
    assert coerce("state.lock_timeout", " 30s ") == "30s"
    assert coerce("remediation.four_eyes", "off") is False
    assert coerce("drift.retention_days", "  ") is None


# -- secrets ------------------------------------------------------------------------------------------------
POSTGRES = '[database]\nurl = "postgresql://driftmgr@db.internal/driftmgr"\n'


def test_a_secret_goes_to_the_keyring_and_only_its_reference_to_the_file(config: Path, kr: MemoryKeyring) -> None:
    config.write_text(POSTGRES + ORIGINAL)
    service = ConfigService()
    ref = service.set_secret("database.password_secret", "s3cret-first")
    assert ref.startswith("db:") and kr.secrets == {(SERVICE, ref): "s3cret-first"}
    text = config.read_text()
    assert f'password_secret = "{ref}"' in text and "s3cret" not in text
    assert load_settings().db_password_ref == ref
    info, *others = service.secret_infos()
    assert (info.field, info.ref, info.stored) == ("database.password_secret", ref, True)
    assert [(o.field, o.ref) for o in others] == [("digitalocean.token_secret", None),
                                                  ("digitalocean.spaces_key_secret", None)]
    # replacing it: a new reference, and the old secret leaves the keyring
    second = service.set_secret("database.password_secret", "s3cret-second")
    assert second != ref and kr.secrets == {(SERVICE, second): "s3cret-second"}
    assert "s3cret" not in config.read_text() and "s3cret" not in config.with_name("config.toml.bak").read_text()
    # a reference the keyring lost is reported, not hidden
    kr.secrets.clear()
    assert service.secret_infos()[0].stored is False
    kr.secrets[(SERVICE, second)] = "s3cret-second"
    assert service.delete_secret("database.password_secret") is True
    assert kr.secrets == {} and "password_secret" not in config.read_text()
    assert service.delete_secret("database.password_secret") is False
    with pytest.raises(UsageError, match="not a secret field"):
        service.set_secret("database.url", "x")
    with pytest.raises(UsageError, match="holds a keyring reference"):
        service.set("database.password_secret", "db:2f1c9b1e-8c3e-4a55-9d1b-0b6f2f0f1a11")


def test_no_keyring_writes_nothing(config: Path) -> None:
    config.write_text(POSTGRES + ORIGINAL)
    before = config.read_bytes()
    service = ConfigService()
    with keyring_backend(fail.Keyring()), pytest.raises(KeyringUnavailable) as caught:
        service.set_secret("database.password_secret", "s3cret")
    assert "no keyring backend is available" in caught.value.message
    assert config.read_bytes() == before and not config.with_name("config.toml.bak").exists()
    assert leftovers(config.parent) == []


def test_a_secret_pasted_into_the_file_is_refused_without_repeating_it(config: Path) -> None:
    config.write_text(POSTGRES + 'password_secret = "hunter2-in-the-file"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.field == "database.password_secret"
    assert "not the secret itself" in caught.value.message
    assert "hunter2" not in caught.value.message and "hunter2" not in (caught.value.hint or "")


def test_the_plaintext_file_only_when_chosen(config: Path, isolated_dirs: Path) -> None:
    config.write_text(POSTGRES + ORIGINAL)
    service = ConfigService()
    assert service.plaintext_warning() is None
    with keyring_backend(fail.Keyring()):
        with pytest.raises(KeyringUnavailable):
            service.set_secret("database.password_secret", "s3cret")
        service.set_secrets_backend("plaintext")
        ref = service.set_secret("database.password_secret", "s3cret")
    secrets_file = isolated_dirs / "data" / PLAINTEXT_FILE
    assert json.loads(secrets_file.read_text()) == {SERVICE: {ref: "s3cret"}}
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert "PLAINTEXT" in (service.plaintext_warning() or "") and str(secrets_file) in service.plaintext_warning()
    assert "s3cret" not in config.read_text()
    service.set_secrets_backend("os")
    assert "[secrets]" not in config.read_text()


@pytest.mark.postgres
def test_the_postgres_password_comes_from_the_keyring(config: Path, kr: MemoryKeyring,
                                                      postgres_database_url: str) -> None:
    from driftmgr_tui.core.db import DatabaseError, dispose_engine, open_database

    config.write_text(f'[database]\nurl = "{postgres_database_url}"\n')
    service = ConfigService()
    service.set_secret("database.password_secret", "pg-pass-from-keyring")
    settings = load_settings()
    dispose_engine(settings.db_url)
    engine = open_database(settings)
    connection = engine.raw_connection()
    try:
        assert connection.driver_connection.info.password == "pg-pass-from-keyring"
    finally:
        connection.close()
    assert "pg-pass" not in repr(engine.url) and "pg-pass" not in str(engine.url)
    dispose_engine(settings.db_url)
    kr.secrets.clear()
    with pytest.raises(DatabaseError) as caught:
        open_database(settings)
    assert f"its password ({settings.db_password_ref}) cannot be read" in caught.value.message
    dispose_engine(settings.db_url)


# -- connection tests ---------------------------------------------------------------------------------------
def test_a_connection_test_is_a_job_recording_account_principal_and_regions(config: Path, aws: str) -> None:
    service = ConfigService()
    result = service.run_test("prod")
    assert result.ok and result.error is None
    assert (result.account, result.principal, result.regions) == (
        "123456789012", "arn:aws:sts::123456789012:user/moto", ("us-east-1",))
    job = service.queue.get(result.job_id)
    assert job.kind == "config.test_connection" and job.status is JobStatus.SUCCEEDED
    assert job.result == {"environment": "prod", "provider": "aws", "account": "123456789012",
                          "principal": "arn:aws:sts::123456789012:user/moto", "regions": ["us-east-1"]}
    assert service.last_tests()["prod"] == result


def test_a_failing_connection_test_records_the_error(config: Path, aws: str) -> None:
    service = ConfigService()
    service.put_environment("prod", {**service.environment("prod"), "profile": "no-such-profile"},
                            original="prod")
    result = service.run_test("prod")
    assert not result.ok
    assert result.error == ("aws: profile 'no-such-profile' is not in your AWS config: check ~/.aws/config and "
                            "~/.aws/credentials, or drop --profile to use the default chain")
    assert service.queue.get(result.job_id).status is JobStatus.FAILED
    service.put_environment("prod", {**service.environment("prod"), "profile": None}, original="prod")
    moto_set_auth(aws, 0)
    rejected = service.run_test("prod")
    assert not rejected.ok and (rejected.error or "").startswith("aws: credentials rejected")


def test_a_connection_test_needs_a_provider(config: Path) -> None:
    service = ConfigService()
    service.put_environment("local", {"states": ["terraform.tfstate"]})
    with pytest.raises(UsageError, match="environment local names no provider"):
        service.run_test("local")
    with pytest.raises(UsageError, match="no environment 'nope'"):
        service.run_test("nope")


# -- the command line ---------------------------------------------------------------------------------------
def cli(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(config_group, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_covers_every_capability(config: Path, kr: MemoryKeyring, aws: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # the file will name a team database; this machine's commands keep to the local one
    monkeypatch.setenv("DRIFTMGR_DB_URL", f"sqlite:///{config.parent / 'data' / 'driftmgr.db'}")
    assert cli("path").strip() == str(config)
    assert json.loads(cli("path", "--json")) == {"config": str(config), "exists": True,
                                                  "data_dir": str(config.parent / "data")}
    assert "valid" in cli("validate")
    cli("set", "state.backup_retention", "9")
    cli("set", "keys.drift.rescan", "R")
    assert "R is already the key of drift.rescan (Rescan)" in cli("set", "keys.drift.facets", "R", code=2)
    cli("env", "add", "dev", "--chdir", "/infra/dev", "--provider", "aws", "--region", "us-east-1")
    assert "exists" in cli("env", "add", "dev", "--chdir", "/x", code=2)
    cli("set", "database.url", "postgresql://driftmgr@db.internal/driftmgr")
    cli("secret", "set", "database.password_secret", "--stdin", input="cli-secret\n")
    shown = json.loads(cli("show", "--json"))
    assert shown["state"]["backup_retention"] == 9
    assert set(shown["environments"]) == {"prod", "dev"}
    assert shown["keys"] == [{"id": "drift.rescan", "description": "Rescan", "default": "r", "custom": "R"}]
    secret, *others = shown["secrets"]["fields"]
    assert [o["ref"] for o in others] == [None, None]  # the DigitalOcean token and Spaces key: not set
    assert secret["stored"] is True and secret["ref"].startswith("db:") and shown["warnings"] == []
    assert "cli-secret" not in json.dumps(shown) and "cli-secret" not in config.read_text()
    keys = json.loads(cli("keys", "--json"))["keys"]
    assert {"id": "app.help", "description": "Help", "default": "question_mark,f1", "custom": None} in keys
    tested = json.loads(cli("test", "dev", "--json"))["test"]
    assert tested["ok"] and tested["account"] == "123456789012"
    cli("secret", "rm", "database.password_secret")
    assert kr.secrets == {}
    cli("unset", "state.backup_retention")
    cli("env", "rm", "dev")
    assert set(load_settings().environments) == {"prod"}


def test_cli_validate_names_the_line_and_show_warns_about_plaintext(config: Path) -> None:
    config.write_text(ORIGINAL + "oops = \n")
    result = CliRunner().invoke(config_group, ["validate", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.output)["error"].startswith(f"{config}: line 10, column 8: invalid TOML")
    config.write_text(ORIGINAL + '[secrets]\nbackend = "plaintext"\n')
    result = CliRunner().invoke(config_group, ["show"])
    assert result.exit_code == 0
    assert "warning:" in result.output and "PLAINTEXT file" in result.output
    assert "PLAINTEXT file" in json.loads(CliRunner().invoke(config_group, ["show", "--json"]).stdout)["warnings"][0]


def test_the_installed_command_exits_2_on_a_bad_value(config: Path) -> None:
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", "config", "set", "environments.prod.engine",
                           "tofu"], capture_output=True, text=True, env=os.environ.copy(), check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (f"Error: {config}: environments.prod.engine: must be one of native, "
                                           "terraform, got 'tofu'")
    assert config.read_text() == ORIGINAL
