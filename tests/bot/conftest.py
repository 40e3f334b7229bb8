"""Fixtures of the bot/ tests: the command line on a temporary catalog, the seed list, a loopback arXiv API."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.bot.cli_helpers import Cli


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    runner = Cli(tmp_path, capsys, monkeypatch)
    runner.configure()
    return runner


@pytest.fixture
def seed_file(seed_text: str, tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_bytes(seed_text.encode("utf-8"))
    return path


@contextlib.contextmanager
def loopback_api(answer: Callable[[str], bytes]) -> Iterator[str]:
    """An arXiv API on loopback, `answer(id_list)` the body, in a thread of its own.

    In a thread, so that the command line's own `asyncio.run` can reach it from a sync test.
    Yields the API base URL.
    """

    async def query(request: web.Request) -> web.Response:
        body = answer(request.query.get("id_list", ""))
        return web.Response(body=body, content_type="application/atom+xml")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/api/query", query)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.fixture
def arxiv_api(shared: Callable[[str], Path]) -> Iterator[str]:
    """The arXiv API answering with the real recorded responses (1707.08567, else empty)."""
    good = shared("data/arxiv-api/api-2026-id_list-0808.05394-1707.08567.xml").read_bytes()
    empty = shared("data/arxiv-api/api-2026-id_list-0000.0000-empty.xml").read_bytes()
    with loopback_api(lambda ids: good if "1707.08567" in ids else empty) as base:
        yield base


@pytest.fixture
def api_lg(shared: Callable[[str], Path]) -> Iterator[str]:
    """The arXiv API answering every query with a real 20-paper API response."""
    body = shared("data/arxiv-api/api-query-cat-cs.LG-OR-cs.AI-2026-04-30.xml").read_bytes()
    with loopback_api(lambda _ids: body) as base:
        yield base
