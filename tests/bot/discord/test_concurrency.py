"""Recounts racing live votes, and interactions answered in time whatever else is busy."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.discord.client import PaperBot
from tests.bot.discord.helpers import (
    CHECK,
    CROSS,
    MEDIUM,
    STRONG,
    WEAK,
    Harness,
    eventually,
    field_value,
    make_settings,
    running_bot,
    starting_bot,
    write_feed,
)
from tests.fakediscord import Delay, FakeDiscord

MESSAGE_EDIT = "/channels/{channel_id}/messages/{message_id}"
SEED = "seeds/000_94920e77fcbe4d6f.txt"  # the 2020 awesome list


def skip_identify_wait(bot: PaperBot) -> None:
    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py waits 5 s before a second IDENTIFY

    bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]


def hold_approvals_list(server: FakeDiscord, post: dict[str, Any], seconds: float = 1.5) -> Delay:
    """The next ✅ reaction list of `post` is read at once and answered `seconds` later."""
    path = rf"/channels/{post['channel_id']}/messages/{post['id']}/reactions/{CHECK}"
    return server.delay_route("GET", path, seconds, times=1)


def shown_votes(server: FakeDiscord, post: dict[str, Any]) -> tuple[set[str], set[str]]:
    """What Discord shows on a post: who holds ✅ and who holds ❌, the bot aside."""
    approve, reject = (
        set(server.reactors(post["id"], emoji)) - {server.bot_user_id} for emoji in (CHECK, CROSS)
    )
    return approve, reject


async def catalog_matches_discord(h: Harness, arxiv_id: str, post: dict[str, Any]) -> bool:
    return await h.votes(arxiv_id) == shown_votes(h.server, post)


def reconciling(bot: PaperBot) -> bool:
    """Whether the recount after a new gateway session is still under way."""
    return any(t.get_name() == "paperbot-reconcile" and not t.done() for t in bot._tasks)


async def votes_are(h: Harness, arxiv_id: str, approve: set[str], reject: set[str]) -> bool:
    return await h.votes(arxiv_id) == (approve, reject)


async def status_is(h: Harness, arxiv_id: str, status: str) -> bool:
    return await h.status(arxiv_id) == status


def bot_problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.get_records("call")
        if (r.levelno >= logging.WARNING and r.name.startswith("bot")) or r.levelno >= logging.ERROR
    ]


class BusyCatalog:
    """Keeps the one catalog thread busy for `seconds` (a big store, say) from `start()`."""

    def __init__(self, h: Harness, seconds: float) -> None:
        self.h = h
        self.seconds = seconds
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        started = asyncio.Event()
        loop = asyncio.get_running_loop()

        def long_write(_: object) -> None:
            loop.call_soon_threadsafe(started.set)
            time.sleep(self.seconds)

        self.task = asyncio.create_task(self.h.catalog.run(long_write))
        await started.wait()

    async def wait(self) -> None:
        assert self.task is not None
        await self.task


# -- recounts composed with live events ------------------------------------------------------


async def test_votes_added_and_removed_during_the_start_up_recount_are_kept(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(
        fake_discord, tmp_path, [write_feed(tmp_path / "feed.xml", [STRONG])], approve_threshold=3
    )
    arxiv_id = STRONG.arxiv_id
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        post = h.post_of(arxiv_id)
        alice, bob, carol = h.member("alice"), h.member("bob"), h.member("carol")
        await h.react(alice, post)
        await h.react(bob, post)
        await eventually(lambda: votes_are(h, arxiv_id, {alice, bob}, set()))
        await eventually(lambda: catalog_matches_discord(h, arxiv_id, post))

    held = hold_approvals_list(fake_discord, post)
    async with starting_bot(fake_discord, settings) as again:
        await held.wait_arrived()
        # The snapshot on its way says alice and bob; meanwhile bob takes his ✅ back and
        # carol gives hers.
        await again.unreact(bob, post)
        await again.react(carol, post)
        await eventually(again.bot.started.is_set)
        await eventually(lambda: catalog_matches_discord(again, arxiv_id, post))
        await again.quiet()
        assert await again.votes(arxiv_id) == ({alice, carol}, set())
        assert await again.status(arxiv_id) == "posted"  # two ✅ on Discord, three needed
        assert held.held == 1

        # A third ✅ on Discord is the third in the catalog: it approves, not before.
        await again.react(again.member("dave"), post)
        await eventually(lambda: status_is(again, arxiv_id, "approved"))
        assert len((await again.votes(arxiv_id))[0]) == len(shown_votes(fake_discord, post)[0]) == 3


async def test_a_recount_decides_nothing_on_a_snapshot_a_live_event_contradicts(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(fake_discord, tmp_path, [write_feed(tmp_path / "feed.xml", [STRONG])])
    arxiv_id = STRONG.arxiv_id
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        post = h.post_of(arxiv_id)
        alice, bob = h.member("alice"), h.member("bob")
        await h.react(alice, post)
        await eventually(lambda: votes_are(h, arxiv_id, {alice}, set()))
    await h.react(bob, post)  # while the bot is down: the recount will see two ✅

    held = hold_approvals_list(fake_discord, post)
    async with starting_bot(fake_discord, settings) as again:
        await held.wait_arrived()
        await again.unreact(bob, post)  # Discord now shows one ✅: two are needed
        await eventually(again.bot.started.is_set)
        await again.quiet()
        assert await again.status(arxiv_id) == "posted"
        assert await again.votes(arxiv_id) == ({alice}, set()) == shown_votes(fake_discord, post)
        audit = [a.action for a in await again.catalog.audit(arxiv_id)]
        assert "approve" not in audit


async def test_votes_during_the_recount_after_an_op_9_reidentify_are_kept(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(
        fake_discord, tmp_path, [write_feed(tmp_path / "feed.xml", [STRONG])], approve_threshold=3
    )
    arxiv_id = STRONG.arxiv_id
    async with running_bot(fake_discord, settings) as h:
        skip_identify_wait(h.bot)
        await h.worker.poll()
        post = h.post_of(arxiv_id)
        alice, bob, carol = h.member("alice"), h.member("bob"), h.member("carol")
        await h.react(alice, post)
        await h.react(bob, post)
        await eventually(lambda: votes_are(h, arxiv_id, {alice, bob}, set()))

        held = hold_approvals_list(fake_discord, post)
        identified = fake_discord.identify_count
        await fake_discord.send_invalid_session(resumable=False)
        await held.wait_arrived()  # the new session's recount is reading the ✅ list
        assert fake_discord.identify_count > identified
        await h.unreact(bob, post)
        await h.react(carol, post)
        await h.react(carol, post, CROSS)
        await eventually(lambda: not reconciling(h.bot))
        await eventually(lambda: catalog_matches_discord(h, arxiv_id, post))
        await h.quiet()
        assert await h.votes(arxiv_id) == ({alice, carol}, {carol})
        assert await h.status(arxiv_id) == "posted"
        assert held.held == 1


async def test_a_thousand_reactions_under_rate_limits_all_count_and_the_post_shows_them(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(
        fake_discord,
        tmp_path,
        [write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])],
        approve_threshold=5000,
        reject_threshold=5000,
    )
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        fake_discord.enable_rate_limits()
        posts = [h.post_of(STRONG.arxiv_id), h.post_of(MEDIUM.arxiv_id)]
        users = [fake_discord.add_member(f"voter{i}") for i in range(500)]
        yes, no = users[:250], users[250:]
        for post in posts:  # 1,000 events over two posts, edits limited to 5 per 5 s
            for user_yes, user_no in zip(yes, no, strict=True):
                await h.react(user_yes, post, CHECK)
                await h.react(user_no, post, CROSS)
        for post, arxiv_id in zip(posts, (STRONG.arxiv_id, MEDIUM.arxiv_id), strict=True):
            await eventually(
                lambda a=arxiv_id, p=post: catalog_matches_discord(h, a, p), timeout=20
            )
            assert await h.votes(arxiv_id) == (set(yes), set(no))
        for arxiv_id in (STRONG.arxiv_id, MEDIUM.arxiv_id):
            await eventually(
                lambda a=arxiv_id: (
                    "votes +250 / −250" in h.post_of(a)["embeds"][0]["footer"]["text"]
                ),
                timeout=20,
            )
        edits = fake_discord.route_calls("PATCH", MESSAGE_EDIT)
        assert len([e for e in edits if not e.rate_limited]) <= 10  # coalesced, not 1,000


# -- interactions answered within the deadline -------------------------------------------------


async def test_section_answers_in_time_while_the_edit_bucket_is_busy(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM, WEAK])
    settings = make_settings(fake_discord, tmp_path, [url], approve_threshold=100)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        fake_discord.enable_rate_limits()
        # Every post edit is held until released: the channel's edit queue is as busy as
        # after a hundred reactions over nine posts.
        busy = fake_discord.delay_route("PATCH", MESSAGE_EDIT, seconds=None)
        for arxiv_id in (STRONG.arxiv_id, MEDIUM.arxiv_id, WEAK.arxiv_id):
            await h.react(h.member("voter"), h.post_of(arxiv_id))
        await busy.wait_arrived()

        curator = h.member("carol", "curator")
        record = await fake_discord.invoke_command(
            "paper section",
            {"id": STRONG.arxiv_id, "section": "Interpretability"},
            user_id=curator,
            channel_id=h.review,
        )
        assert await record.wait_settled() is False  # acknowledged within Discord's 3 s
        assert record.late_callbacks == 0
        await record.wait_for(lambda r: r.followups or r.edits)
        assert record.texts() == [f"{STRONG.arxiv_id} → Interpretability"]
        assert (await h.catalog.get_candidate(STRONG.arxiv_id)).section == "Interpretability"

        busy.release()  # the queue drains; the post follows
        await eventually(
            lambda: (
                field_value(h.post_of(STRONG.arxiv_id), "Suggested section") == "Interpretability"
            ),
            timeout=15,
        )
        assert bot_problems(caplog) == []


@pytest.mark.parametrize(
    ("command", "options", "curator"),
    [
        ("show", {"id": STRONG.arxiv_id}, False),
        ("recent", {}, False),
        ("stats", {}, False),
        ("feeds", {}, True),
        ("section", {"id": STRONG.arxiv_id, "section": "Interpretability"}, True),
    ],
)
async def test_commands_answer_in_time_while_the_catalog_thread_is_busy(
    fake_discord: FakeDiscord, tmp_path: Path, command: str, options: dict[str, Any], curator: bool
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        user = h.member("carol", "curator") if curator else h.member("erin")
        fake_discord.interaction_deadline = 0.5  # shorter than the catalog's busy spell
        busy = BusyCatalog(h, 1.0)  # a big store, say, on the one catalog thread
        await busy.start()
        record = await fake_discord.invoke_command(
            f"paper {command}", options, user_id=user, channel_id=h.review
        )
        assert await record.wait_settled() is False
        assert record.response_type == 5  # deferred first, answered after the catalog
        await busy.wait()
        await record.wait_for(lambda r: r.followups or r.edits)
        assert record.texts() or record.messages()


async def test_search_pages_and_section_choices_answer_in_time_while_the_catalog_is_busy(
    fake_discord: FakeDiscord, tmp_path: Path, shared: Callable[[str], Path]
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.app.import_list(shared(SEED).read_text(encoding="utf-8"), "test")
        user = h.member("erin")
        # Known sections once, so that a later look-up may fall back on them.
        first = await fake_discord.invoke_autocomplete(
            "paper search", {"query": "x", "section": "theo"}, focused="section",
            user_id=user, channel_id=h.review,
        )  # fmt: skip
        await first.wait_response()
        assert [c["value"] for c in first.choices] == ["Deep Learning Theory"]

        fake_discord.interaction_deadline = 0.5
        busy = BusyCatalog(h, 1.0)
        await busy.start()
        complete = await fake_discord.invoke_autocomplete(
            "paper search", {"query": "x", "section": "theo"}, focused="section",
            user_id=user, channel_id=h.review,
        )  # fmt: skip
        assert await complete.wait_settled() is False
        assert [c["value"] for c in complete.choices] == ["Deep Learning Theory"]
        await busy.wait()
        fake_discord.interaction_deadline = 3.0

        record = await fake_discord.invoke_command(
            "paper search", {"query": "neural networks"}, user_id=user, channel_id=h.review
        )
        await record.wait_for(lambda r: r.followups)
        page = record.messages()[0]
        assert page["components"]  # more than one page
        fake_discord.interaction_deadline = 0.5
        await busy.start()
        click = await fake_discord.click_component(page, "paper:search:next", user_id=user)
        assert await click.wait_settled() is False
        await busy.wait()
        await click.wait_for(lambda r: r.edits)
        assert "page 2/" in fake_discord.message_by_id(page["id"])["embeds"][0]["footer"]["text"]


async def test_add_answers_in_time_while_arxiv_is_slow(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(status=503, text="try later")

    server = web.Application()
    server.router.add_get("/api/query", slow)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        settings = make_settings(fake_discord, tmp_path, api_base=f"http://127.0.0.1:{port}/api")
        async with running_bot(fake_discord, settings) as h:
            fake_discord.interaction_deadline = 0.5
            record = await fake_discord.invoke_command(
                "paper add", {"id_or_url": "2411.99999"}, user_id=h.member("erin"),
                channel_id=h.review,
            )  # fmt: skip
            assert await record.wait_settled() is False
            await record.wait_for(lambda r: r.followups or r.edits, timeout=10)
            said = "\n".join(record.texts())
            assert said.startswith("asking arXiv failed") and "127.0.0.1" not in said
    finally:
        await runner.cleanup()
