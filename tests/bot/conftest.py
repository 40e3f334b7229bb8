"""Fixtures of the bot/ tests: the command line on a temporary catalog, the seed list, a loopback arXiv API."""

from __future__ import annotations

import asyncio
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


@pytest.fixture
def arxiv_api(shared: Callable[[str], Path]) -> Iterator[str]:
    """A loopback arXiv API serving the real recorded responses, in a thread of its own.

    In a thread, so that the command line's own `asyncio.run` can reach it from a sync test.
    """
    good = shared("data/arxiv-api/api-2026-id_list-0808.05394-1707.08567.xml").read_bytes()
    empty = shared("data/arxiv-api/api-2026-id_list-0000.0000-empty.xml").read_bytes()

    async def query(request: web.Request) -> web.Response:
        ids = request.query.get("id_list", "")
        body = good if "1707.08567" in ids else empty
        return web.Response(body=body, content_type="application/atom+xml")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/api/query", query)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/api"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()
