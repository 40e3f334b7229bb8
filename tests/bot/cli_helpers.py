"""Running the `paperbot` command line in tests: in process (most tests) or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
FEED_2024 = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"


def clean_env() -> dict[str, str]:
    """The environment without any DISCORD_* or PAPERBOT_* variable of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PAPERBOT_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass
class Result:
    """What one command printed and returned."""

    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str


class Cli:
    """`paperbot --config HOME/paperbot.toml …` run from HOME.

    Calling it runs `bot.cli.main(argv)` in this process (fast); `subprocess(...)` runs
    `python -m bot` for what only a process shows: exit statuses, tracebacks, signals.
    """

    def __init__(
        self,
        home: Path,
        capsys: pytest.CaptureFixture[str] | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None,
    ) -> None:
        # Without capsys and monkeypatch (a fixture shared by a module), only `subprocess`.
        self.home = home
        self.config = home / "paperbot.toml"
        self._capsys = capsys
        self._monkeypatch = monkeypatch

    def configure(
        self, text: str = "", *, api_base: str = "http://127.0.0.1:9/api", model: bool = False
    ) -> None:
        """A config without politeness delays, so nothing may point at arXiv's own hosts.

        The relevance model is off unless asked for: training it takes seconds, and most
        tests are about something else.
        """
        if not model and "[model]" not in text:
            text += "[model]\nenabled = false\n"
        if not text.lstrip().startswith("feeds"):
            text = f'feeds = ["{(self.home / "feed.xml").as_uri()}"]\n' + text
        self.config.write_text(
            '[arxiv]\ncontact = "mailto:test@example.org"\nmin_interval = 0.0\n'
            f'retries = 0\ntimeout = 5.0\napi_base = "{api_base}"\n' + text,
            encoding="utf-8",
        )

    def argv(self, args: Sequence[str]) -> list[str]:
        return ["--config", str(self.config), *args]

    def __call__(self, *args: str, check: bool = True) -> Result:
        mp = self._monkeypatch
        assert mp is not None and self._capsys is not None, "in process needs capsys"
        with mp.context() as m:
            m.chdir(self.home)
            for name in list(os.environ):
                if name.startswith(("DISCORD_", "PAPERBOT_")):
                    m.delenv(name)
            self._capsys.readouterr()
            code = main(self.argv(args))
            out, err = self._capsys.readouterr()
        result = Result(args, code, out, err)
        if check and code != 0:
            raise AssertionError(f"paperbot {' '.join(args)} exited {code}:\n{err}")
        return result

    def subprocess(self, *args: str, check: bool = True, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", *self.argv(args)],
            cwd=self.home,
            env=clean_env(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"paperbot {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
            )
        return Result(args, proc.returncode, proc.stdout, proc.stderr)
