"""The real PaperBot against the fake Discord: start-up, posting, voting, decisions, updates, health."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.app import now_utc
from bot.discord.embeds import COLOUR_APPROVED, COLOUR_EXPIRED, COLOUR_OPEN, COLOUR_REJECTED
from feeds.parse import parse_feed
from feeds.rules import RuleSet
from tests.bot.discord.helpers import (
    ADD_REACTIONS,
    CHECK,
    CROSS,
    MEDIUM,
    OFF_TOPIC,
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
    revoke_permission,
    rss_feed,
    running_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord

EMBED_LIMITS = {"title": 256, "description": 4096}


def ranked(items: list[Item]) -> list[str]:
    """The candidates among `items`, best first, as the default rules score them."""
    papers = parse_feed(rss_feed(items), "file:///feed.xml").papers
    matches = RuleSet.default().match_many(papers)
    chosen = [(m.score, p.arxiv_id) for p, m in zip(papers, matches, strict=True) if m.candidate]
    return [arxiv_id for _, arxiv_id in sorted(chosen, key=lambda s: (-s[0], s[1]))]


def embed_total(embed: dict[str, Any]) -> int:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len((embed.get("footer") or {}).get("text", ""))
    total += len((embed.get("author") or {}).get("name", ""))
    return total + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def patches(h: Harness, message: dict[str, Any]) -> int:
    return len(h.server.calls("PATCH", rf"/channels/{h.review}/messages/{message['id']}"))


async def settle(h: Harness, arxiv_id: str, user: str, choice: str) -> None:
    """Wait until the bot has recorded `user`'s vote on `arxiv_id` (a barrier for ignored events)."""

    async def recorded() -> bool:
        approve, reject = await h.votes(arxiv_id)
        return user in (approve if choice == "approve" else reject)

    await eventually(recorded)


@pytest.fixture
def feed_path(tmp_path: Path) -> Path:
    return tmp_path / "feed.xml"


# -- start-up -----------------------------------------------------------------------------


async def test_startup_syncs_the_paper_commands_to_the_guild(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [OFF_TOPIC])
    settings = make_settings(fake_discord, tmp_path, [url])
    async with running_bot(fake_discord, settings) as h:
        assert h.bot.ready_checked.is_set()
        # discord.py got the configured wait after the last GUILD_CREATE.
        assert h.bot._connection.guild_ready_timeout == pytest.approx(0.05)
    commands = fake_discord.registered_commands(fake_discord.guild_id)
    assert [c["name"] for c in commands] == ["paper"]
    subcommands = {o["name"] for o in commands[0]["options"]}
    assert subcommands == {
        "search",
        "show",
        "recent",
        "stats",
        "add",
        "section",
        "export",
        "publish",
        "digest",
        "feeds",
    }
    assert fake_discord.registered_commands(None) == []


async def test_wrong_review_channel_is_one_clear_line(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(fake_discord, tmp_path, review_channel_id=4242)
    reason = await failed_start(fake_discord, settings)
    assert reason == "review channel 4242 does not exist in Test Guild (or the bot cannot see it)"
    assert not fake_discord.calls("POST", r"/channels/.*/messages")


async def test_missing_permission_is_one_clear_line(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    revoke_permission(fake_discord, ADD_REACTIONS)
    settings = make_settings(fake_discord, tmp_path)
    reason = await failed_start(fake_discord, settings)
    assert reason == "missing permission(s) in #papers: add_reactions"


async def test_threads_need_their_permissions_only_when_enabled(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    revoke_permission(fake_discord, 1 << 35)  # create public threads
    reason = await failed_start(
        fake_discord, make_settings(fake_discord, tmp_path, open_threads=True)
    )
    assert reason == "missing permission(s) in #papers: create_public_threads"


# -- posting ------------------------------------------------------------------------------


async def test_poll_posts_best_first_at_most_n_the_rest_at_the_next_poll(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    items = [WEAK, OFF_TOPIC, MEDIUM, PING, STRONG]
    order = ranked(items)
    assert len(order) == 4 and OFF_TOPIC.arxiv_id not in order
    settings = make_settings(
        fake_discord, tmp_path, [write_feed(feed_path, items)], max_posts_per_poll=3
    )
    async with running_bot(fake_discord, settings) as h:
        assert h.posts() == []  # nothing stored yet, nothing posted at start
        await h.worker.poll()
        posts = h.posts()
        assert [posted_id(p) for p in posts] == order[:3]
        for post in posts:
            for emoji in (CHECK, CROSS):
                assert fake_discord.reactors(post["id"], emoji) == [fake_discord.bot_user_id]
            assert post["allowed_mentions"] == {"parse": []}
        assert await h.status(order[3]) == "new"  # waits its turn

        await h.worker.poll()  # the feed did not change: only the waiting one is posted
        assert [posted_id(p) for p in h.posts()] == order
        await h.worker.poll()
        assert len(h.posts()) == 4  # never twice


async def test_post_shows_everything_within_limits_and_pings_nobody(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    huge = Item(
        "2411.90009",
        "Grokking " + "and double descent " * 40,
        "We study grokking. " + "Benign overfitting in neural networks, again. " * 300,
        authors=[f"Author Number{i} @everyone" for i in range(300)],
        categories=[
            "cs.LG",
            "stat.ML",
            "cs.AI",
            "cs.CV",
            "cs.CL",
            "cs.NE",
            "math.ST",
            "stat.TH",
            "math.OC",
        ],
        version=3,
    )
    url = write_feed(feed_path, [PING, huge])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        ping = h.post_of(PING.arxiv_id)
        assert ping["mention_everyone"] is False
        assert ping["mentions"] == [] and ping["mention_roles"] == []
        assert ping["allowed_mentions"] == {"parse": []}
        embed = ping["embeds"][0]
        assert embed["url"] == f"https://arxiv.org/abs/{PING.arxiv_id}"
        assert "@everyone" in embed["title"]  # shown, but it pings nobody
        assert field_value(ping, "Suggested section") == "Empirical Study"
        assert field_value(ping, "Categories") == "cs.LG, stat.ML"
        assert f"https://arxiv.org/pdf/{PING.arxiv_id}v1" in (field_value(ping, "Links") or "")
        assert "grokking" in (field_value(ping, "Why") or "")
        assert field_value(ping, "Score") is not None
        assert embed["color"] == COLOUR_OPEN.value

        big = h.post_of(huge.arxiv_id)["embeds"][0]
        assert embed_total(big) <= 6000
        for key, limit in EMBED_LIMITS.items():
            assert len(big.get(key, "")) <= limit
        assert all(len(f["value"]) <= 1024 and len(f["name"]) <= 256 for f in big["fields"])
        authors = next(f["value"] for f in big["fields"] if f["name"] == "Authors")
        assert "300 authors" in authors and len(authors) <= 300
        assert big["footer"]["text"].startswith(f"arXiv:{huge.arxiv_id}v3")


async def test_open_threads_opens_one_thread_per_post(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url], open_threads=True)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        threads = fake_discord.threads()
        assert len(threads) == 2
        assert {t["parent_id"] for t in threads} == {h.review}
        candidate = await h.catalog.get_candidate(STRONG.arxiv_id)
        assert candidate.thread_id in {t["id"] for t in threads}


# -- voting -------------------------------------------------------------------------------


async def test_two_votes_approve_one_and_reject_another(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG, MEDIUM, WEAK])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        alice, bob = h.member("alice"), h.member("bob")
        good, bad = h.post_of(STRONG.arxiv_id), h.post_of(MEDIUM.arxiv_id)

        await h.react(alice, good, CHECK)
        await settle(h, STRONG.arxiv_id, alice, "approve")
        assert await h.status(STRONG.arxiv_id) == "posted"  # one vote is not enough
        await h.react(bob, good, CHECK)
        await eventually(lambda: _is(h, STRONG.arxiv_id, "approved"))

        await h.react(alice, bad, CROSS)
        await h.react(bob, bad, CROSS)
        await eventually(lambda: _is(h, MEDIUM.arxiv_id, "rejected"))

        approved = await eventually(lambda: _colour(h, STRONG.arxiv_id, COLOUR_APPROVED))
        assert field_value(approved, "Decision") == "Approved → Deep Learning Theory by vote"
        rejected = await eventually(lambda: _colour(h, MEDIUM.arxiv_id, COLOUR_REJECTED))
        assert (field_value(rejected, "Decision") or "").startswith("Rejected")

        paper = await h.catalog.get_paper(STRONG.arxiv_id)
        assert paper is not None and paper.section == "Deep Learning Theory"
        assert await h.catalog.get_paper(MEDIUM.arxiv_id) is None

        # Decided: later reactions change nothing, and the post is not edited again.
        edits = patches(h, good)
        carol = h.member("carol")
        await h.react(carol, good, CROSS)
        await h.unreact(alice, good, CHECK)
        await h.react(carol, h.post_of(WEAK.arxiv_id), CHECK)
        await settle(h, WEAK.arxiv_id, carol, "approve")
        assert await h.votes(STRONG.arxiv_id) == ({alice, bob}, set())
        assert await h.status(STRONG.arxiv_id) == "approved"
        assert patches(h, good) == edits


async def test_only_the_candidate_emoji_of_members_on_candidate_posts_count(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url], approve_threshold=1, reject_threshold=1)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        alice, bob = h.member("alice"), h.member("bob")
        post = h.post_of(STRONG.arxiv_id)
        # Another emoji, a ✅ in another channel, a ✅ on a member's message in the
        # review channel: none is a vote (threshold 1 would decide at once).
        await h.react(alice, post, "👍")
        elsewhere = await fake_discord.user_post_message(h.admin, bob, "unrelated")
        await h.react(alice, elsewhere, CHECK)
        chatter = await fake_discord.user_post_message(h.review, bob, "what do you think?")
        await h.react(alice, chatter, CHECK)
        # The bot's own reactions: its ❌ taken away and its ✅ given again leave it a lone ✅.
        bot_id = fake_discord.bot_user_id
        await fake_discord.user_remove_reaction(h.review, post["id"], bot_id, CROSS)
        await fake_discord.user_remove_reaction(h.review, post["id"], bot_id, CHECK)
        await fake_discord.user_add_reaction(h.review, post["id"], bot_id, CHECK)
        # A counted vote on the other candidate: every event above was dispatched before it.
        await h.react(bob, h.post_of(MEDIUM.arxiv_id), CROSS)
        await eventually(lambda: _is(h, MEDIUM.arxiv_id, "rejected"))
        await asyncio.sleep(0.05)
        assert await h.votes(STRONG.arxiv_id) == (set(), set())
        assert await h.status(STRONG.arxiv_id) == "posted"


async def test_removing_a_reaction_removes_the_vote_and_both_count_as_neither(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        alice, bob = h.member("alice"), h.member("bob")
        post = h.post_of(STRONG.arxiv_id)
        arxiv_id = STRONG.arxiv_id

        await h.react(alice, post, CHECK)
        await settle(h, arxiv_id, alice, "approve")
        await h.unreact(alice, post, CHECK)
        await eventually(lambda: _votes_are(h, arxiv_id, set(), set()))
        await h.react(alice, post, CHECK)
        await h.react(alice, post, CHECK)  # one vote per user per choice
        await h.react(bob, post, CROSS)
        await h.react(bob, post, CHECK)  # bob holds both: neither, so 1 - 0 is undecided
        await eventually(lambda: _votes_are(h, arxiv_id, {alice, bob}, {bob}))
        assert await h.status(arxiv_id) == "posted"
        shown = await eventually(lambda: _footer_has(h, arxiv_id, "votes +1 / −0"))
        assert shown

        await h.unreact(bob, post, CROSS)  # now bob approves: 2 - 0 reaches the threshold
        await eventually(lambda: _is(h, arxiv_id, "approved"))

        # Every vote, unvote and the decision is in the audit log, with user and time.
        audit = await h.catalog.audit(arxiv_id)
        votes = [(a.actor, a.action, a.detail.get("choice")) for a in audit]
        assert votes.count((alice, "vote", "approve")) == 2
        assert (alice, "unvote", "approve") in votes
        assert (bob, "vote", "reject") in votes and (bob, "unvote", "reject") in votes
        assert [(a.actor, a.action) for a in audit if a.action == "approve"] == [
            ("vote", "approve")
        ]
        assert all(a.at.tzinfo is not None for a in audit)


async def test_a_curator_decides_alone(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG, MEDIUM])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        carol = h.member("carol", "curator")
        await h.react(carol, h.post_of(STRONG.arxiv_id), CHECK)
        await eventually(lambda: _is(h, STRONG.arxiv_id, "approved"))
        post = await eventually(lambda: _colour(h, STRONG.arxiv_id, COLOUR_APPROVED))
        assert field_value(post, "Decision") == "Approved → Deep Learning Theory by carol"

        dave = h.member("dave")
        await h.react(dave, h.post_of(MEDIUM.arxiv_id), CHECK)
        await h.react(carol, h.post_of(MEDIUM.arxiv_id), CROSS)  # the curator outweighs a vote
        await eventually(lambda: _is(h, MEDIUM.arxiv_id, "rejected"))
        candidate = await h.catalog.get_candidate(MEDIUM.arxiv_id)
        assert candidate.decided_by == "carol"


async def test_a_burst_of_a_thousand_reactions_is_all_counted(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG])
    settings = make_settings(fake_discord, tmp_path, [url], approve_threshold=5000)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
        users = [fake_discord.add_member(f"voter{i}") for i in range(500)]
        for user in users:
            await h.react(user, post, CHECK)
        for user in users[:250]:
            await h.react(user, post, CROSS)
        for user in users[:250]:
            await h.unreact(user, post, CHECK)
        # 1,000 events: 250 approve only, 250 reject only.
        await eventually(
            lambda: _votes_are(h, STRONG.arxiv_id, set(users[250:]), set(users[:250])), timeout=30
        )
        await eventually(lambda: _footer_has(h, STRONG.arxiv_id, "votes +250 / −250"), timeout=10)
        await h.quiet()


async def test_votes_during_a_rate_limited_edit_share_the_next_edit(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG])
    settings = make_settings(fake_discord, tmp_path, [url], approve_threshold=500)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
        users = [fake_discord.add_member(f"voter{i}") for i in range(100)]
        # Discord allows ~5 edits per 5 s in a channel: while the first edit waits out a
        # 429, the other 99 votes must not queue 99 edits of their own.
        fake_discord.inject_failure(
            "PATCH", rf"/channels/{h.review}/messages/{post['id']}", retry_after=0.5
        )
        for user in users:
            await h.react(user, post, CHECK)
        await eventually(lambda: _footer_has(h, STRONG.arxiv_id, "votes +100 / −0"))
        await h.quiet()
        assert patches(h, post) <= 5
        assert len((await h.votes(STRONG.arxiv_id))[0]) == 100


# -- updates, expiry, health -----------------------------------------------------------------


async def test_a_replace_announcement_edits_the_post_and_never_reposts(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
        assert post["embeds"][0]["footer"]["text"].startswith(f"arXiv:{STRONG.arxiv_id}v1")
        replaced = Item(
            STRONG.arxiv_id,
            "Double descent and grokking in deep neural networks, revisited",
            STRONG.abstract,
            version=2,
            announce_type="replace",
        )
        write_feed(feed_path, [replaced, OFF_TOPIC])
        sends = len(fake_discord.calls("POST", rf"/channels/{h.review}/messages"))
        await h.worker.poll()
        assert len(fake_discord.calls("POST", rf"/channels/{h.review}/messages")) == sends
        assert len(h.posts()) == 1
        edited = h.post_of(STRONG.arxiv_id)
        assert edited["id"] == post["id"]
        assert edited["embeds"][0]["title"] == replaced.title
        assert edited["embeds"][0]["footer"]["text"].startswith(f"arXiv:{STRONG.arxiv_id}v2")
        candidate = await h.catalog.get_candidate(STRONG.arxiv_id)
        assert candidate.version == 2 and candidate.message_id == post["id"]


async def test_undecided_candidates_expire(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        h.bot.settings.discord.expire_days = 0
        await h.worker.expire()
        assert await h.status(STRONG.arxiv_id) == "expired"
        post = await eventually(lambda: _colour(h, STRONG.arxiv_id, COLOUR_EXPIRED))
        assert field_value(post, "Decision") == "Expired without a decision"
        await h.react(h.member("alice"), post, CHECK)
        await h.react(h.member("bob"), post, CHECK)
        await asyncio.sleep(0.1)
        assert await h.status(STRONG.arxiv_id) == "expired"


async def test_feed_health_alerts_once_then_says_recovered_once(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    feed_path = tmp_path / "missing.xml"
    url = feed_path.resolve().as_uri()
    settings = make_settings(fake_discord, tmp_path, [url])
    settings.health.max_failures = 2
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        assert h.texts(h.admin) == []  # one failure is not yet worth an alert
        await h.worker.poll()
        await h.worker.poll()
        await h.worker.poll()
        alerts = h.texts(h.admin)
        assert len(alerts) == 1, alerts
        assert alerts[0].startswith(f"⚠️ Feed {url} failed 2 times in a row")
        assert "no such file" in alerts[0]
        write_feed(feed_path, [STRONG])
        await h.worker.poll()
        await h.worker.poll()
        assert h.texts(h.admin)[1:] == [f"✅ Feed {url} has recovered."]
        assert h.texts(h.review) == []  # alerts go to the admin channel only
        message = fake_discord.messages(h.admin)[0]
        assert message["allowed_mentions"] == {"parse": []}


async def test_a_feed_unchanged_for_days_alerts_once_then_recovers(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [OFF_TOPIC])
    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path, [url])) as h:
        await h.worker.poll()
        state = await h.catalog.feed_state(url)
        # Same bytes for a week: more than two announcement days without a change.
        state.last_changed = now_utc() - timedelta(days=7)
        await h.catalog.save_feed_state(state)
        for _ in range(3):
            await h.bot.notices.send_alerts()
        (alert,) = h.texts(h.admin)
        assert alert.startswith(f"⚠️ Feed {url} has not changed since")
        write_feed(feed_path, [OFF_TOPIC, STRONG])  # arXiv announces again
        await h.worker.poll()
        await h.worker.poll()
        assert h.texts(h.admin) == [alert, f"✅ Feed {url} has recovered."]


async def test_after_a_restart_votes_on_uncached_posts_count(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url])
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        alice, bob = h.member("alice"), h.member("bob")
        strong, medium = h.post_of(STRONG.arxiv_id), h.post_of(MEDIUM.arxiv_id)
        await h.react(alice, strong, CHECK)
        await settle(h, STRONG.arxiv_id, alice, "approve")
    # Down: bob approves; alice changes her mind about the other one.
    await h.react(bob, strong, CHECK)
    await h.react(alice, medium, CROSS)
    async with running_bot(fake_discord, settings) as again:
        assert await again.status(STRONG.arxiv_id) == "approved"  # reconciled at start
        assert await again.votes(MEDIUM.arxiv_id) == (set(), {alice})
        # A fresh process has never seen the post: the raw event still counts.
        assert again.bot._connection._get_message(int(medium["id"])) is None
        await again.react(bob, medium, CROSS)
        await eventually(lambda: _is(again, MEDIUM.arxiv_id, "rejected"))
        assert len(again.posts()) == 2


# -- helpers ------------------------------------------------------------------------------


async def _is(h: Harness, arxiv_id: str, status: str) -> bool:
    return await h.status(arxiv_id) == status


async def _votes_are(h: Harness, arxiv_id: str, approve: set[str], reject: set[str]) -> bool:
    return await h.votes(arxiv_id) == (approve, reject)


def _colour(h: Harness, arxiv_id: str, colour: discord.Colour) -> dict[str, Any] | None:
    post = h.post_of(arxiv_id)
    return post if post["embeds"][0].get("color") == colour.value else None


def _footer_has(h: Harness, arxiv_id: str, text: str) -> bool:
    return text in h.post_of(arxiv_id)["embeds"][0]["footer"]["text"]


async def test_votes_during_a_lost_gateway_session_are_recounted(
    fake_discord: FakeDiscord, tmp_path: Path, feed_path: Path
) -> None:
    url = write_feed(feed_path, [STRONG])
    settings = make_settings(fake_discord, tmp_path, [url])
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()

        async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
            return None  # discord.py waits 5 s before a second IDENTIFY; not needed here

        h.bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
        identified = fake_discord.identify_count
        await fake_discord.drop_connections(resumable=False)
        # While no session exists these reactions reach nobody (Discord would not replay them).
        alice, bob = h.member("alice"), h.member("bob")
        post = h.post_of(STRONG.arxiv_id)
        await h.react(alice, post, CHECK)
        await h.react(bob, post, CHECK)
        await eventually(lambda: _identified_again(fake_discord, identified))
        await eventually(lambda: _is(h, STRONG.arxiv_id, "approved"))
        assert len(h.posts()) == 1


async def _identified_again(server: FakeDiscord, before: int) -> bool:
    return server.identify_count > before
