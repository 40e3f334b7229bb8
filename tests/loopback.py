"""What the loopback stand-ins (tests/fakediscord, tests/fakegithub) share: matching an
injected behaviour to a request, and serving standalone until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from collections.abc import Awaitable, Callable
from typing import Any


class RouteMatcher:
    """A method ("*" for any) and a route template ("/channels/{channel_id}/messages") or a
    regex over the concrete path."""

    def __init__(self, method: str, path: str, templates: set[str]) -> None:
        self.method = method.upper()
        self.template = path if path in templates else None
        self.pattern = None if self.template is not None else re.compile(path)

    def matches(self, method: str, path: str, template: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self.template is not None:
            return template == self.template
        assert self.pattern is not None
        return self.pattern.fullmatch(path) is not None


async def serve_until_signal(
    stop_server: Callable[[], Awaitable[None]], info: dict[str, Any]
) -> None:
    """Print `info` (where the started server listens) as one JSON line, then serve until
    SIGINT or SIGTERM and stop the server."""
    print(json.dumps(info), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await stop_server()
