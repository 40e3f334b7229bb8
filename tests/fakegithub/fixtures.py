"""Pytest fixture for the fake GitHub server; import it into tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from . import FakeGitHub


@pytest.fixture
async def fake_github() -> AsyncIterator[FakeGitHub]:
    """A started FakeGitHub (no repositories yet; add them with `add_repo`).

    Teardown fails the test when the app called a route the server does not implement, so
    such a call cannot pass silently as a 404. A test calling one on purpose clears
    `fake_github.unknown_requests`.
    """
    async with FakeGitHub() as server:
        yield server
    unknown = [f"{r.method} {r.path}" for r in server.unknown_requests]
    assert not unknown, f"requests to routes the fake GitHub does not implement: {unknown}"
