"""`paperbot run` as a process: what it does when Discord cannot be reached, and on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.bot.cli_helpers import Cli, clean_env


def test_an_unreachable_discord_is_retried_quietly_and_sigterm_stops_it(
    cli: Cli, tmp_path: Path
) -> None:
    cli.configure("poll_on_start = false\n[model]\nenabled = false\n")
    env = clean_env()
    # A closed port: every connection is refused at once.
    env.update(DISCORD_TOKEN="x.y.z", DISCORD_API_BASE="http://127.0.0.1:9/api/v10")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(cli.config), "run"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(8)
        assert proc.poll() is None, proc.communicate()[1]  # still running: retrying, not gone
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Discord unreachable" in err and "retrying in 5 s" in err
    assert "Traceback" not in err
    assert "voice will NOT be supported" not in err  # a text-only bot needs no voice libraries
