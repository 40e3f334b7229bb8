"""Pytest fixtures for the fake Discord server; import them into tests/conftest.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from . import FakeDiscord, use_fake_discord


@pytest.fixture
async def fake_discord(caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it (restored afterwards).

    Teardown fails the test when the client called a route the server does not know, or
    when discord.py logged an error (it logs, rather than raises, exceptions from event
    handlers, views and app commands), so neither can pass silently. A test provoking
    either on purpose should clear `fake_discord.unknown_requests` / call `caplog.clear()`.
    """
    async with FakeDiscord() as server:
        with use_fake_discord(server):
            yield server
    unknown = [f"{r.method} {r.path}" for r in server.unknown_requests]
    assert not unknown, f"requests to routes the fake Discord does not implement: {unknown}"
    errors = [
        record.getMessage()
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR and record.name.startswith("discord")
    ]
    assert not errors, f"discord.py logged errors: {errors}"
