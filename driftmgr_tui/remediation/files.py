"""Small, safe edits of the working dir's files: lines appended to ``.driftignore`` and taken out again on
rollback. Every write is atomic (temp file in the same directory, fsync, rename): a crash leaves the old file
or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def sha256_of(path: Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_lines(path: Path, lines: list[str], *, comment: str | None = None) -> tuple[bool, list[str]]:
    """Append ``lines`` (those not already present) to ``path``; (whether the file was created, lines added)."""
    created = not path.exists()
    existing = "" if created else path.read_text(encoding="utf-8")
    present = {line.strip() for line in existing.splitlines()}
    new = [line for line in dict.fromkeys(lines) if line not in present]
    if not new:
        return False, []
    text = existing
    if text and not text.endswith("\n"):
        text += "\n"
    if comment:
        new = [f"# {comment}", *new]
    text += "\n".join(new) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return created, new


def remove_lines(path: Path, lines: list[str], *, created: bool) -> list[str]:
    """Take out the last occurrence of each of ``lines``; delete the file when it was created for them and is
    now empty. Returns the lines removed (a line already gone is not an error)."""
    if not path.exists():
        return []
    content = path.read_text(encoding="utf-8").splitlines()
    removed = []
    for line in lines:
        for n in range(len(content) - 1, -1, -1):
            if content[n] == line:
                del content[n]
                removed.append(line)
                break
    if created and not any(line.strip() for line in content):
        path.unlink()
        return removed
    write_atomic(path, "\n".join(content) + ("\n" if content else ""))
    return removed
