"""An approval never waits for arXiv: the deciding vote shows on the post while the entry's
re-check hangs, and an entry a stop interrupted is completed at the next start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import App
from bot.discord.embeds import COLOUR_APPROVED
from tests.bot.discord.helpers import (
    CHECK,
    MEDIUM,
    STRONG,
    Harness,
    eventually,
    field_value,
    make_settings,
    running_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord

EMPTY_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>arXiv Query</title></feed>\n'
)


class HangingArxiv:
    """An arXiv API that answers only when `release` is set: arXiv hanging while people vote."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.asked: list[str] = []
        self.answered = 0
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def _query(self, request: web.Request) -> web.Response:
        self.asked.append(request.query.get("id_list", ""))
        await self.release.wait()
        self.answered += 1
        return web.Response(body=EMPTY_FEED, content_type="application/atom+xml")

    async def __aenter__(self) -> HangingArxiv:
        app = web.Application()
        app.router.add_get("/api/query", self._query)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def arxiv() -> AsyncIterator[HangingArxiv]:
    async with HangingArxiv() as server:
        yield server


def _approved(h: Harness, arxiv_id: str) -> dict[str, Any] | None:
    post = h.post_of(arxiv_id)
    return post if post["embeds"][0].get("color") == COLOUR_APPROVED.value else None


async def _entry_done(app: App, arxiv_id: str) -> bool:
    paper = await app.catalog.get_paper(arxiv_id)
    return paper is not None and bool(paper.keywords or paper.digest)


async def test_the_post_shows_approved_while_the_arxiv_recheck_still_hangs(
    fake_discord: FakeDiscord, tmp_path: Path, arxiv: HangingArxiv, seed_text: str
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url], api_base=arxiv.base)
    fake_discord.enable_rate_limits()
    async with running_bot(fake_discord, settings) as h:
        await h.app.import_list(seed_text, "README.md")
        await h.worker.poll()
        alice, bob = h.member("alice"), h.member("bob")
        for item in (STRONG, MEDIUM):
            post = h.post_of(item.arxiv_id)
            await h.react(alice, post, CHECK)
            await h.react(bob, post, CHECK)
        for item in (STRONG, MEDIUM):
            shown = await eventually(lambda item=item: _approved(h, item.arxiv_id))  # type: ignore[misc]
            assert (field_value(shown, "Decision") or "").startswith("Approved → ")
        # Both decided and shown while arXiv has answered no re-check (they are asked one
        # at a time, as arXiv's terms want: the second waits behind the hanging first).
        await eventually(lambda: len(arxiv.asked) >= 1)
        assert arxiv.answered == 0
        assert not await _entry_done(h.app, STRONG.arxiv_id)
        arxiv.release.set()
        for item in (STRONG, MEDIUM):
            await eventually(lambda item=item: _entry_done(h.app, item.arxiv_id))  # type: ignore[misc]
        assert await h.app.catalog.meta_get("entries.pending") is None


async def test_an_entry_a_stop_interrupted_is_completed_at_the_next_start(
    fake_discord: FakeDiscord, tmp_path: Path, arxiv: HangingArxiv, seed_text: str
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG])
    settings = make_settings(fake_discord, tmp_path, [url], api_base=arxiv.base)
    async with running_bot(fake_discord, settings) as h:
        await h.app.import_list(seed_text, "README.md")
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
        await h.react(h.member("alice"), post, CHECK)
        await h.react(h.member("bob"), post, CHECK)
        await eventually(lambda: _approved(h, STRONG.arxiv_id))
        await eventually(lambda: len(arxiv.asked) == 1)
    # Stopped while the re-check hung: the approval stands, its entry waits.
    app = await App.open(settings)
    try:
        assert not await _entry_done(app, STRONG.arxiv_id)
        assert await app.catalog.meta_get("entries.pending") == f'["{STRONG.arxiv_id}"]'
        arxiv.release.set()
        assert await app.complete_pending() == 1
        await eventually(lambda: _entry_done(app, STRONG.arxiv_id))
        await app.wait_tasks()
        assert await app.catalog.meta_get("entries.pending") is None
    finally:
        await app.close()
