"""The installed `driftmgr demo`, driven as a person would: in tmux, keys sent, the screen read back.

Skipped, with the reason, where tmux is not installed. The demo starts its own local AWS (moto, in process),
so this needs nothing else; it takes about 10-20 s to build its sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
DRIFTMGR = Path(sys.executable).parent / "driftmgr"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(not DRIFTMGR.exists(), reason=f"driftmgr is not installed at {DRIFTMGR}"),
]


class Pane:
    def __init__(self, socket: str, session: str) -> None:
        self.socket, self.session = socket, session

    def tmux(self, *args: str) -> str:
        return subprocess.run([TMUX or "tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 120.0) -> str:
        """Poll the screen (the demo is another process: there is nothing to wait on but what it shows)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{text}")


@pytest.fixture
def pane(tmp_path: Path):
    socket = f"driftmgr-test-{uuid.uuid4().hex[:8]}"
    session = "demo"
    env = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "LANG", "LC_"))}
    env.update(TERM="xterm-256color", DRIFTMGR_DATA_DIR=str(tmp_path / "data"),
               DRIFTMGR_CONFIG=str(tmp_path / "config.toml"), TMPDIR=str(tmp_path))
    command = " ".join(f"{k}='{v}'" for k, v in env.items()) + f" '{DRIFTMGR}' demo; echo DEMO-EXITED $?; sleep 600"
    subprocess.run([TMUX or "tmux", "-L", socket, "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    "env", "-i", "sh", "-c", command], check=True)
    try:
        yield Pane(socket, session)
    finally:
        subprocess.run([TMUX or "tmux", "-L", socket, "kill-server"], capture_output=True)


def test_demo_opens_the_explorer_filters_switches_to_state_and_cleans_up(pane: Pane, tmp_path: Path) -> None:
    screen = pane.wait_for(lambda s: "coverage" in s and "critical" in s, "the drift explorer")
    assert "changed 6  missing 4  unmanaged 5" in screen, screen
    assert "aws_security_group" in screen and "15 of 15 items" in screen

    pane.keys("/")
    pane.keys("kind:missing")
    screen = pane.wait_for(lambda s: "4 of 15 items" in s, "the filtered table")
    assert "unmanaged" not in screen.split("Severity", 1)[1].split("of 15 items")[0]
    pane.keys("Escape")
    pane.wait_for(lambda s: "15 of 15 items" in s, "the filter cleared")

    pane.keys("?")
    pane.wait_for(lambda s: "Keys of" in s and "Ignore field" in s, "the help screen")
    pane.keys("Escape")  # a key sent right after Escape would read as alt+key: wait for the help to close
    pane.wait_for(lambda s: "Keys of" not in s, "the help screen to close")

    pane.keys("3")
    screen = pane.wait_for(lambda s: "driftmgr · State" in s and "instances" in s, "the state browser")
    assert "terraform.tfstate" in screen and "module.network" in screen

    pane.keys("q")
    screen = pane.wait_for(lambda s: "DEMO-EXITED" in s, "the demo to end", timeout=60)
    assert "DEMO-EXITED 0" in screen, screen
    assert not list(tmp_path.glob("driftmgr-demo-*")), "the sandbox directory was left behind"
