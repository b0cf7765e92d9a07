"""Layering rules from ARCHITECTURE.md, enforced on the source text and at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "driftmgr_tui"
UI_ALLOWED = {"app.py", "screens", "widgets"}
CLOUD_SDKS = ("boto3", "botocore", "azure", "google")


def _imports(path: Path, *, module_level_only: bool = False) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in tree.body if module_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _outside_ui() -> list[Path]:
    files = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in UI_ALLOWED:
            continue
        files.append(path)
    return files


def test_only_the_ui_layer_imports_textual() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in _outside_ui()
        for line, name in _imports(path)
        if name == "textual" or name.startswith("textual.")
    ]
    assert offenders == [], "textual imported outside app.py/screens/widgets:\n" + "\n".join(offenders)


def test_cloud_sdks_are_imported_lazily() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} at module level"
        for path in PACKAGE.rglob("*.py")
        for line, name in _imports(path, module_level_only=True)
        if name.split(".")[0] in CLOUD_SDKS
    ]
    assert offenders == [], "\n".join(offenders)


def test_the_cli_never_loads_textual_or_cloud_sdks() -> None:
    """Importing the CLI and running a state command must not pull in the UI or any cloud SDK."""
    code = (
        "import sys; import driftmgr_tui.cli, driftmgr_tui.services.state_service, driftmgr_tui.state.codec; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'boto3', 'botocore', 'azure', 'google')]; "
        "print(','.join(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_reading_state_does_not_load_the_database_layer() -> None:
    """`state list` and friends answer without paying for SQLAlchemy; only writes that back up load it."""
    code = (
        "import sys; from driftmgr_tui.services.state_service import StateService; "
        "import driftmgr_tui.state.store, driftmgr_tui.commands.state; "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
