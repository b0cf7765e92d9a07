"""The installed `driftmgr` command: the contracts scripts rely on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "terraform.tfstate"


def driftmgr(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("driftmgr", path=str(Path(sys.executable).parent)) or "driftmgr"
    return subprocess.run([exe, *args], capture_output=True, input=input, timeout=120, env=os.environ.copy())


def test_state_list_json_contract() -> None:
    proc = driftmgr("state", "list", "--state", str(EXAMPLE), "--json")
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)
    assert isinstance(items, list) and items
    for item in items:
        assert {"address", "type", "name", "module", "mode", "id"} <= set(item)
    modules = {i["module"] for i in items}
    assert "" in modules and any(m.startswith("module.") for m in modules)


def test_state_show_redacts_and_reveals() -> None:
    listing = json.loads(driftmgr("state", "list", "--state", str(EXAMPLE), "--json", "--type",
                                  "aws_db_instance").stdout)
    address = listing[0]["address"]
    shown = driftmgr("state", "show", "--state", str(EXAMPLE), address, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["attributes"]["password"] == "(sensitive value)"
    revealed = json.loads(driftmgr("state", "show", "--state", str(EXAMPLE), address, "--json", "--reveal").stdout)
    assert revealed["attributes"]["password"] != "(sensitive value)"


def test_mutations_dry_run_prints_diff_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "terraform.tfstate"
    shutil.copy(EXAMPLE, target)
    before = target.read_bytes()
    first = json.loads(driftmgr("state", "list", "--state", str(target), "--json").stdout)[0]["address"]
    proc = driftmgr("state", "rm", "--state", str(target), first, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"- {first}" in proc.stdout.decode()
    assert "dry run" in proc.stdout.decode()
    assert target.read_bytes() == before
    proc = driftmgr("state", "rm", "--state", str(target), first, "--json")
    result = json.loads(proc.stdout)
    assert result["diff"]["removed"] == [first] and result["new_serial"] == result["old_serial"] + 1


def test_invalid_address_points_at_the_character() -> None:
    proc = driftmgr("state", "show", "--state", str(EXAMPLE), "aws_instance.web[abc]")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "invalid address" in err and "^" in err and "Traceback" not in err


@pytest.mark.parametrize("group", [[], ["state"], ["state", "list"], ["state", "push"], ["state", "unlock"]])
def test_help_explains(group: list[str]) -> None:
    proc = driftmgr(*group, "--help")
    assert proc.returncode == 0
    assert b"Usage:" in proc.stdout
