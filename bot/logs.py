"""Logging set up once per process: paperbot's own loggers at the chosen level, libraries quieter."""

from __future__ import annotations

import logging
import sys

OWN = ("bot", "feeds", "db")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns that voice needs PyNaCl and davey: paperbot is text-only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name == "discord.client" and "voice will NOT be supported" in record.getMessage()
        )


def setup_logging(level: str, *, libraries: str = "WARNING") -> None:
    """Our modules log at `level`; discord.py, aiohttp, apscheduler… at `libraries`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_paperbot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._paperbot = True  # type: ignore[attr-defined]
    handler.addFilter(_NoVoiceWarnings())
    root.addHandler(handler)
    root.setLevel(libraries)
    for name in OWN:
        logging.getLogger(name).setLevel(level)
