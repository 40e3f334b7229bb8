"""Restarts that cost nothing, failed calls repaired next cycle, start-up words, opt-in routing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, PollReport
from bot.app.digest import DigestData
from bot.discord.client import PaperBot, user_text
from bot.discord.embeds import build_digest
from bot.runtime import Worker, build_scheduler
from bot.settings import Settings
from feeds.errors import FeedError, PaperbotError
from tests.bot.discord.helpers import (
    CHECK,
    CROSS,
    MEDIUM,
    PING,
    STRONG,
    WEAK,
    Harness,
    Item,
    eventually,
    failed_start,
    field_value,
    make_settings,
    posted_id,
    running_bot,
    starting_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord, running_client, use_fake_discord

MESSAGE_EDIT = "/channels/{channel_id}/messages/{message_id}"
MESSAGE_CREATE = "/channels/{channel_id}/messages"
REACTION_LIST = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}"
MESSAGE_THREAD = "/channels/{channel_id}/messages/{message_id}/threads"
MEMBER = "/guilds/{guild_id}/members/{user_id}"
BOT_REACTS = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
INVITE = "https://discord.com/oauth2/authorize?client_id={}&scope=bot+applications.commands&permissions=309237763136"

# Nine papers the default rules pick (grokking, double descent), ranked by their number.
MANY = [
    Item(
        f"2411.9{n:04d}",
        f"Grokking and double descent, part {n}",
        "We study grokking in neural networks.",
    )
    for n in range(101, 110)
]


def bot_problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


def edits(server: FakeDiscord) -> int:
    """Post edits the server carried out (a 429 refusal is not an edit)."""
    return len([r for r in server.route_calls("PATCH", MESSAGE_EDIT) if r.status == 200])


def bot_reacted(server: FakeDiscord, post: dict[str, Any]) -> bool:
    return all(server.bot_user_id in server.reactors(post["id"], e) for e in (CHECK, CROSS))


@contextlib.asynccontextmanager
async def scheduled_bot(server: FakeDiscord, settings: Settings) -> AsyncIterator[asyncio.Event]:
    """PaperBot as `paperbot run` wires it: the scheduler starts once the bot has started.

    Yields an event set when the poll on start has finished (posts and all).
    """
    app = await App.open(settings)
    polled = asyncio.Event()
    try:
        worker = Worker(app)
        poll = worker.poll

        async def poll_then_tell() -> PollReport | None:
            report = await poll()
            polled.set()
            return report

        worker.poll = poll_then_tell  # type: ignore[method-assign]
        scheduler = build_scheduler(settings, worker)
        bot = PaperBot(app, on_started=scheduler.start)
        worker.frontend = bot
        try:
            async with running_client(bot, server.token, timeout=10.0):
                yield polled
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await worker.wait_idle(5.0)
    finally:
        await app.close()


# -- restarts --------------------------------------------------------------------------------


async def test_each_restart_posts_at_most_max_posts_per_poll(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    url = write_feed(tmp_path / "feed.xml", MANY)
    settings = make_settings(fake_discord, tmp_path, [url], max_posts_per_poll=3)
    settings.arxiv.poll_cron = "0 0 1 1 *"  # only the poll on start runs
    assert settings.arxiv.poll_on_start
    made = []
    for _ in range(3):  # the first start and two restarts
        before = len(fake_discord.route_calls("POST", MESSAGE_CREATE))
        async with scheduled_bot(fake_discord, settings) as polled:
            await eventually(polled.is_set, timeout=10)
        made.append(len(fake_discord.route_calls("POST", MESSAGE_CREATE)) - before)
    assert made == [3, 3, 3]
    ids = [posted_id(m) for m in fake_discord.messages(fake_discord.channel_ids["papers"])]
    assert sorted(ids) == sorted(i.arxiv_id for i in MANY)  # each once


async def test_a_restart_with_nothing_changed_edits_nothing(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM, WEAK, PING])
    settings = make_settings(fake_discord, tmp_path, [url], approve_threshold=5, open_threads=True)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        alice, bob = h.member("alice"), h.member("bob")
        await h.react(alice, h.post_of(STRONG.arxiv_id))
        await h.react(bob, h.post_of(MEDIUM.arxiv_id), CROSS)
        await eventually(lambda: _footer_has(h, STRONG.arxiv_id, "votes +1 / −0"))
        await eventually(lambda: _footer_has(h, MEDIUM.arxiv_id, "votes +0 / −1"))
        await h.quiet()

    fake_discord.enable_rate_limits()
    before = edits(fake_discord)
    requests = len(fake_discord.requests)
    async with running_bot(fake_discord, settings) as again:
        await again.quiet(0.3)
        assert edits(fake_discord) == before  # every post already shows what it would show
        assert await again.votes(STRONG.arxiv_id) == ({alice}, set())
        # Read in one page of history; only the two emoji someone besides the bot holds
        # have their voters listed (Discord allows five reads a second per channel).
        reads = [
            f"{r.method} {r.route}" for r in fake_discord.requests[requests:] if r.method == "GET"
        ]
        assert reads.count(f"GET {MESSAGE_CREATE}") == 1
        assert reads.count(f"GET {MESSAGE_EDIT}") == 0
        assert reads.count(f"GET {REACTION_LIST}") == 2

    # One vote while down: that post, and only that one, is edited at the next start.
    strong = h.post_of(STRONG.arxiv_id)
    await fake_discord.user_add_reaction(strong["channel_id"], strong["id"], bob, CHECK)
    before = edits(fake_discord)
    async with running_bot(fake_discord, settings) as third:
        await eventually(lambda: _footer_has(third, STRONG.arxiv_id, "votes +2 / −0"))
        await third.quiet(0.3)
        edited = [
            r.path for r in fake_discord.route_calls("PATCH", MESSAGE_EDIT) if r.status == 200
        ]
        assert len(edited) - before == 1 and edited[-1].endswith(strong["id"])
    assert len(fake_discord.threads()) == 4  # no thread opened twice


async def test_a_vote_given_while_the_history_is_read_is_kept(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG])
    settings = make_settings(fake_discord, tmp_path, [url])
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
    alice = fake_discord.add_member("alice")
    history = fake_discord.delay_route("GET", MESSAGE_CREATE, 1.0, times=1)
    async with starting_bot(fake_discord, settings) as again:
        await history.wait_arrived()  # the page on its way shows only the bot's ✅
        await again.react(alice, post)
        await eventually(again.bot.started.is_set)
        await again.quiet()
        assert await again.votes(STRONG.arxiv_id) == ({alice}, set())
        await eventually(lambda: _footer_has(again, STRONG.arxiv_id, "votes +1 / −0"))


async def test_votes_cast_while_down_are_recounted_across_reaction_pages(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url], approve_threshold=500)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        post, other = h.post_of(STRONG.arxiv_id), h.post_of(MEDIUM.arxiv_id)
    voters = [fake_discord.add_member(f"voter{n}") for n in range(230)]
    for user in voters:  # three pages of a hundred, the bot's own ✅ among them
        await fake_discord.user_add_reaction(post["channel_id"], post["id"], user, CHECK)
    # On the other post a curator, among 150 plain voters, decides alone.
    carol = fake_discord.add_member("carol", roles=["curator"])
    for user in [*voters[:150], carol]:
        await fake_discord.user_add_reaction(other["channel_id"], other["id"], user, CROSS)
    requests = len(fake_discord.requests)
    async with running_bot(fake_discord, settings) as again:
        assert await again.votes(STRONG.arxiv_id) == (set(voters), set())
        await eventually(lambda: _footer_has(again, STRONG.arxiv_id, "votes +230 / −0"))
        lists = [r for r in fake_discord.requests[requests:] if r.route == REACTION_LIST]
        assert [r.query.get("limit") for r in lists] == ["100"] * 5
        assert await again.status(MEDIUM.arxiv_id) == "rejected"
        assert (await again.catalog.get_candidate(MEDIUM.arxiv_id)).decided_by == "carol"
        # Who is a curator came from the gateway, 100 voters a request, not 381 REST calls
        # at Discord's five a second.
        looked_up = [r for r in fake_discord.requests[requests:] if r.route == MEMBER]
        assert looked_up == []


# -- one failed call costs one candidate a cycle ----------------------------------------------


async def test_a_403_on_the_first_reaction_spares_the_poll_and_is_repaired_next_cycle(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM, WEAK, PING])
    missing = (tmp_path / "missing.xml").resolve().as_uri()
    settings = make_settings(fake_discord, tmp_path, [url, missing])
    settings.health.max_failures = 1
    async with running_bot(fake_discord, settings) as h:
        refused = fake_discord.inject_failure("PUT", BOT_REACTS, status=403)
        await h.worker.poll()
        assert refused.hits == 1
        posts = h.posts()
        assert len(posts) == 4  # the other posts were made
        undecorated = [p for p in posts if not bot_reacted(fake_discord, p)]
        assert len(undecorated) == 1
        # The steps after posting ran: the failing feed's alert is in the admin channel.
        assert len(h.texts(h.admin)) == 1 and "missing.xml" in h.texts(h.admin)[0]
        assert bot_problems(caplog) == []

        await h.worker.poll()  # the next cycle, no restart
        assert all(bot_reacted(fake_discord, p) for p in h.posts())
        assert len(h.posts()) == 4
        # Its votes count like any other's.
        post = undecorated[0]
        await h.react(h.member("alice"), post)
        await h.react(h.member("bob"), post)
        await eventually(lambda: _approved(h, posted_id(post)))


async def test_a_post_left_without_its_reactions_is_repaired_without_waiting_for_a_poll(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        h.bot.review.repair_after = 0.2  # 20 s in service
        refused = fake_discord.inject_failure("PUT", BOT_REACTS, status=403)
        await h.worker.poll()
        assert refused.hits == 1
        assert not all(bot_reacted(fake_discord, p) for p in h.posts())
        polls = len(fake_discord.calls("GET", r"/channels/.*/messages/\d+"))
        await eventually(lambda: all(bot_reacted(fake_discord, p) for p in h.posts()))
        # Repaired by the repair loop (it reads the post again), not by another poll.
        assert len(fake_discord.calls("GET", r"/channels/.*/messages/\d+")) > polls


async def test_an_edit_discord_dropped_is_made_again(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        h.bot.review.repair_after = 0.2
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
        # More 429s than discord.py retries: the edit for this vote is given up.
        dropped = fake_discord.inject_failure("PATCH", MESSAGE_EDIT, status=429, times=8,
                                              retry_after=0.01)  # fmt: skip
        await h.react(h.member("alice"), post, CHECK)
        await eventually(lambda: dropped.hits >= 1)
        await eventually(lambda: _footer_has(h, STRONG.arxiv_id, "votes +1 / −0"), timeout=10.0)
        assert dropped.hits == 8


def _footer_has(h: Harness, arxiv_id: str, text: str) -> bool:
    return text in h.post_of(arxiv_id)["embeds"][0]["footer"]["text"]


async def test_a_thread_refused_once_is_opened_at_the_next_cycle(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url], open_threads=True)
    async with running_bot(fake_discord, settings) as h:
        fake_discord.inject_failure("POST", MESSAGE_THREAD, status=403)
        await h.worker.poll()
        assert len(h.posts()) == 2 and len(fake_discord.threads()) == 1
        await h.worker.poll()
        threads = fake_discord.threads()
        assert len(threads) == 2 and len(h.posts()) == 2
        for arxiv_id in (STRONG.arxiv_id, MEDIUM.arxiv_id):
            candidate = await h.catalog.get_candidate(arxiv_id)
            assert candidate.thread_id in {t["id"] for t in threads}
        assert bot_problems(caplog) == []


async def _approved(h: Harness, arxiv_id: str) -> bool:
    return await h.status(arxiv_id) == "approved"


async def test_a_refused_post_waits_for_the_next_cycle_and_the_rest_go_out(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM, WEAK])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        fake_discord.inject_failure("POST", MESSAGE_CREATE, status=403)
        await h.worker.poll()
        first = {posted_id(p) for p in h.posts()}
        assert len(first) == 2
        (waiting,) = {STRONG.arxiv_id, MEDIUM.arxiv_id, WEAK.arxiv_id} - first
        assert await h.status(waiting) == "new"
        await h.worker.poll()
        assert {posted_id(p) for p in h.posts()} == first | {waiting}
        assert all(bot_reacted(fake_discord, p) for p in h.posts())
        assert bot_problems(caplog) == []


# -- start-up in one line ------------------------------------------------------------------------


async def _serve_fails(server: FakeDiscord, settings: Settings) -> str | None:
    async with await App.open(settings) as app:
        bot = PaperBot(app)
        try:
            code = await asyncio.wait_for(bot.serve(server.token, asyncio.Event()), 10)
        finally:
            if not bot.is_closed():
                await bot.close()
        assert code == 1
        return bot.startup_error


async def test_a_wrong_guild_id_says_to_invite_the_bot_with_the_link(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(fake_discord, tmp_path, guild_id=4242)
    reason = await _serve_fails(fake_discord, settings)
    assert reason is not None and "\n" not in reason
    assert reason.startswith("cannot register the slash commands in guild 4242 (Missing Access)")
    assert reason.endswith(INVITE.format(fake_discord.application_id))


async def test_an_invite_without_applications_commands_says_the_same(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake_discord.application_commands_scope = False
    reason = await _serve_fails(fake_discord, make_settings(fake_discord, tmp_path))
    assert reason is not None and "\n" not in reason
    assert "check [discord] guild_id" in reason
    assert reason.endswith(INVITE.format(fake_discord.application_id))


async def test_the_admin_channel_needs_only_to_be_seen_and_written_in(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    admin = fake_discord.channel_ids["admin"]
    no_extras = (1 << 6) | (1 << 14) | (1 << 15) | (1 << 16)  # reactions, embeds, files, history
    await fake_discord.set_channel_overwrite(admin, fake_discord.bot_role_id, deny=no_extras)
    await fake_discord.set_channel_overwrite(admin, "@everyone", deny=no_extras)
    missing = (tmp_path / "missing.xml").resolve().as_uri()
    settings = make_settings(fake_discord, tmp_path, [missing])
    settings.health.max_failures = 1
    fake_discord.enforce_permissions = True
    async with running_bot(fake_discord, settings) as h:
        assert h.bot.ready_checked.is_set()
        await h.worker.poll()
        assert len(h.texts(h.admin)) == 1  # the alert went through

    await fake_discord.set_channel_overwrite(admin, fake_discord.bot_role_id, deny=1 << 11)
    await fake_discord.set_channel_overwrite(admin, "@everyone", deny=1 << 11)
    reason = await failed_start(fake_discord, make_settings(fake_discord, tmp_path / "2"))
    assert reason == "missing permission(s) in #admin: send_messages"


# -- what posts and answers show ---------------------------------------------------------------


async def test_titles_lose_control_characters_and_bidi_overrides(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    sneaky = Item(
        "2411.90201",
        "Grokking \u202etxet desrever\u202c in \u2066neural\u2069 networks\u200f",
        "We study grokking \u202ein neural networks.",
    )
    url = write_feed(tmp_path / "feed.xml", [sneaky])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        embed = h.post_of(sneaky.arxiv_id)["embeds"][0]
        shown = embed["title"] + embed.get("description", "")
        bad = [
            ch
            for ch in shown
            if ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
        ]
        assert bad == []
        assert "txet desrever" in embed["title"] and "neural" in embed["title"]


def test_a_second_digest_the_same_weekday_is_no_holiday() -> None:
    tuesday = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    again = DigestData(since=tuesday - timedelta(hours=9), now=tuesday, announced=False)
    (text,) = build_digest(again, guild_id=1, timezone=UTC)
    assert "weekend" not in text and "holiday" not in text
    assert "nothing new since the last digest" in text
    monday = DigestData(since=tuesday - timedelta(days=3), now=tuesday, announced=False)
    assert "a weekend or a holiday" in build_digest(monday, guild_id=1, timezone=UTC)[0]


async def test_errors_shown_to_users_carry_no_internal_urls(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path)) as h:
        record = await fake_discord.invoke_command(
            "paper add", {"id_or_url": "2411.99999"}, user_id=h.member("erin"), channel_id=h.review
        )
        await record.wait_for(lambda r: r.followups or r.edits, timeout=10)
        said = "\n".join(record.texts())
        assert said == "asking arXiv failed: connection refused (gave up after 1 attempt)"
        assert "127.0.0.1" not in said and "http://" not in said and "/api/query" not in said


# -- opt-in: a role per section, a channel per section ------------------------------------------


async def test_a_section_role_is_pinged_and_nobody_else(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    role = fake_discord.role_ids["curator"]
    url = write_feed(tmp_path / "feed.xml", [STRONG, PING])
    # STRONG is suggested for "Deep Learning Theory", PING for "Empirical Study".
    settings = make_settings(
        fake_discord, tmp_path, [url], section_roles={"deep learning theory": int(role)}
    )
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        pinged, quiet = h.post_of(STRONG.arxiv_id), h.post_of(PING.arxiv_id)
        assert field_value(pinged, "Suggested section") == "Deep Learning Theory"
        assert pinged["content"] == f"<@&{role}>"
        allowed = pinged["allowed_mentions"]
        assert allowed["parse"] == [] and [str(r) for r in allowed["roles"]] == [role]
        assert pinged["mention_roles"] == [role] and pinged["mention_everyone"] is False
        assert quiet["content"] == "" and quiet["mention_roles"] == []
        assert quiet["allowed_mentions"] == {"parse": []}


@pytest.fixture
async def three_channels(caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channel_names=("papers", "admin", "empirical")) as server:
        with use_fake_discord(server):
            yield server
    assert not server.unknown_requests
    assert bot_problems(caplog) == []


async def test_a_section_channel_gets_its_sections_posts_and_their_votes(
    three_channels: FakeDiscord, tmp_path: Path
) -> None:
    server = three_channels
    empirical = server.channel_ids["empirical"]
    url = write_feed(tmp_path / "feed.xml", [STRONG, PING])
    settings = make_settings(
        server, tmp_path, [url], section_channels={"Empirical Study": int(empirical)}
    )
    async with running_bot(server, settings) as h:
        await h.worker.poll()
        assert [posted_id(p) for p in h.posts()] == [STRONG.arxiv_id]
        (post,) = h.posts(empirical)
        assert posted_id(post) == PING.arxiv_id and bot_reacted(server, post)
        alice = h.member("alice")
        await h.react(alice, post)  # counted live in the section's channel
        await eventually(lambda: _votes_are(h, PING.arxiv_id, {alice}, set()))

    # While down, a second ✅: the restart recounts the section channel's post too.
    bob = server.add_member("bob")
    await server.user_add_reaction(empirical, post["id"], bob, CHECK)
    async with running_bot(server, settings) as again:
        assert await again.status(PING.arxiv_id) == "approved"
        assert await again.votes(PING.arxiv_id) == ({alice, bob}, set())
        await eventually(lambda: _decision(again, empirical))
        assert len(again.posts(empirical)) == 1 and len(again.posts()) == 1


async def _votes_are(h: Harness, arxiv_id: str, approve: set[str], reject: set[str]) -> bool:
    return await h.votes(arxiv_id) == (approve, reject)


def _decision(h: Harness, channel: str) -> bool:
    (post,) = h.posts(channel)
    return (field_value(post, "Decision") or "").startswith("Approved")


def test_error_words_keep_public_links_and_hide_the_set_ups_addresses() -> None:
    proxy = "https://arxiv-proxy.example.org/api"
    error = PaperbotError(
        f"{proxy}/query?id_list=1 and http://10.1.2.3:8080/x failed for https://openreview.net/forum?id=a"
    )
    said = user_text(error, [proxy])
    assert said == (
        "(an internal address) and (an internal address) failed for https://openreview.net/forum?id=a"
    )
    refused = FeedError("http://127.0.0.1:9/api/query?id_list=2411.99999", "HTTP 503 (gave up)")
    assert user_text(refused) == "asking arXiv failed: HTTP 503 (gave up)"
    assert (
        user_text(FeedError("x", "arXiv has no paper 2411.99999"))
        == "arXiv has no paper 2411.99999"
    )
