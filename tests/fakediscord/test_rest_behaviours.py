"""Rate-limit buckets, held replies and injected errors, seen by aiohttp and by discord.py."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, running_client
from tests.fakediscord.behaviours import DEFAULT_RATE_LIMITS, bucket_hash
from tests.fakediscord.sample_bot import CHECK, make_bot

MESSAGES = "/channels/{channel_id}/messages"
MESSAGE = "/channels/{channel_id}/messages/{message_id}"
REACTIONS = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}"


class Raw:
    """Bare REST calls with the bot's token, for looking at statuses, headers and bodies."""

    def __init__(self, server: FakeDiscord, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Authorization": f"Bot {self.server.token}"}
        async with self.session.request(
            method, self.server.api_base + path, json=body, headers=headers
        ) as response:
            data = await response.json() if response.content_length else None
            return response.status, dict(response.headers), data


@pytest.fixture
async def raw(fake_discord: FakeDiscord) -> Any:
    async with aiohttp.ClientSession() as session:
        yield Raw(fake_discord, session)


async def test_buckets_send_discords_headers_and_a_429_with_via(
    fake_discord: FakeDiscord, raw: Raw
) -> None:
    papers = fake_discord.channel_ids["papers"]
    status, headers, _ = await raw.call("POST", f"/channels/{papers}/messages", {"content": "a"})
    assert status == 200 and "X-RateLimit-Limit" not in headers  # off by default

    fake_discord.enable_rate_limits()
    fake_discord.set_rate_limit("POST", MESSAGES, 2, 0.3)
    answers = [
        await raw.call("POST", f"/channels/{papers}/messages", {"content": str(n)})
        for n in range(3)
    ]
    assert [a[0] for a in answers] == [200, 200, 429]
    first, second, refused = (a[1] for a in answers)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert second["X-RateLimit-Remaining"] == "0"
    assert (
        first["X-RateLimit-Bucket"] == second["X-RateLimit-Bucket"] == refused["X-RateLimit-Bucket"]
    )
    assert 0 < float(second["X-RateLimit-Reset-After"]) <= 0.3
    assert float(second["X-RateLimit-Reset"]) > 1e9  # epoch seconds
    body = answers[2][2]
    assert body == {
        "message": "You are being rate limited.",
        "retry_after": float(refused["X-RateLimit-Reset-After"]),
        "global": False,
    }
    assert refused["Via"] == "1.1 google"
    assert refused["Retry-After"] == "1" and refused["X-RateLimit-Scope"] == "user"
    assert fake_discord.rate_limit_hits == 1
    assert [r.rate_limited for r in fake_discord.route_calls("POST", MESSAGES)] == [
        False,
        False,
        False,
        True,
    ]
    # Another channel is another bucket (the channel is the route's major parameter).
    admin = fake_discord.channel_ids["admin"]
    status, headers, _ = await raw.call("POST", f"/channels/{admin}/messages", {"content": "b"})
    assert (status, headers["X-RateLimit-Remaining"]) == (200, "1")

    await asyncio.sleep(float(refused["X-RateLimit-Reset-After"]))
    status, headers, _ = await raw.call("POST", f"/channels/{papers}/messages", {"content": "c"})
    assert (status, headers["X-RateLimit-Remaining"]) == (200, "1")
    assert fake_discord.route_counts[f"POST {MESSAGES}"] == 6
    assert [m["content"] for m in fake_discord.messages(papers)] == ["a", "0", "1", "c"]


async def test_errors_carry_the_bucket_headers_too(fake_discord: FakeDiscord, raw: Raw) -> None:
    fake_discord.enable_rate_limits()
    papers = fake_discord.channel_ids["papers"]
    status, headers, body = await raw.call("GET", f"/channels/{papers}/messages/1")
    assert (status, body["code"]) == (404, 10008)
    assert headers["X-RateLimit-Bucket"] == bucket_hash(
        DEFAULT_RATE_LIMITS[f"GET {MESSAGE}"].bucket
    )
    # Interaction callbacks and other unlisted routes are not limited.
    status, headers, _ = await raw.call("GET", "/users/@me")
    assert status == 200 and "X-RateLimit-Limit" not in headers


async def test_a_refused_request_leaves_injected_failures_alone(
    fake_discord: FakeDiscord, raw: Raw
) -> None:
    fake_discord.enable_rate_limits()
    fake_discord.set_rate_limit("GET", "/channels/{channel_id}", 1, 0.2)
    papers = fake_discord.channel_ids["papers"]
    assert (await raw.call("GET", f"/channels/{papers}"))[0] == 200
    failure = fake_discord.inject_failure(
        "GET", "/channels/{channel_id}", status=404, code=10003, message="Unknown Channel"
    )
    assert (await raw.call("GET", f"/channels/{papers}"))[0] == 429
    assert failure.hits == 0


async def test_discord_py_waits_out_a_bucket_without_429s(fake_discord: FakeDiscord) -> None:
    fake_discord.enable_rate_limits()
    fake_discord.set_rate_limit("PATCH", MESSAGE, 2, 0.2)
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("v0")
        for n in range(1, 6):
            await message.edit(content=f"v{n}")
        assert fake_discord.message(channel.id, message.id)["content"] == "v5"
        edits = fake_discord.route_calls("PATCH", MESSAGE)
        assert [r.status for r in edits] == [200] * 5
        assert fake_discord.rate_limit_hits == 0


async def test_routes_sharing_a_bucket_answer_429_and_discord_py_retries(
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.enable_rate_limits()
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("vote")
        await message.add_reaction("❌")
        # PUT and DELETE of a reaction share Discord's 1-per-0.25 s bucket. discord.py keeps
        # one bucket per route until the bucket header tells it otherwise, so of two calls
        # made at once one is refused, and discord.py retries it after `retry_after`.
        me = discord.Object(int(fake_discord.bot_user_id))
        await asyncio.gather(message.add_reaction(CHECK), message.remove_reaction("❌", me))
        calls = fake_discord.route_calls("PUT", REACTIONS + "/@me")[1:]
        calls += fake_discord.route_calls("DELETE", REACTIONS + "/@me")
        assert sorted(r.status for r in calls) == [204, 204, 429]
        assert [r.rate_limited for r in calls if r.status == 429] == [True]
        assert fake_discord.rate_limit_hits == 1
        assert fake_discord.reactors(message.id, CHECK) == [fake_discord.bot_user_id]
        assert fake_discord.reactors(message.id, "❌") == []


async def test_custom_limits_name_real_routes(fake_discord: FakeDiscord) -> None:
    with pytest.raises(ValueError, match="no route"):
        fake_discord.set_rate_limit("PATCH", "/channels/{channel_id}/message", 1, 1.0)
    with pytest.raises(ValueError, match="no route template"):
        fake_discord.delay_route("GET", "/channels/{channel_id}/reaction", 1.0)
    fake_discord.set_rate_limit("PATCH", MESSAGE, None)
    assert f"PATCH {MESSAGE}" not in fake_discord.rate_limiter.rules
    assert f"GET {REACTIONS}" in fake_discord.route_templates


async def test_a_delayed_reply_is_a_snapshot_taken_on_arrival(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    alice, bob = fake_discord.add_member("alice"), fake_discord.add_member("bob")
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("vote")
        await fake_discord.user_add_reaction(channel.id, message.id, alice, CHECK)
        (reaction,) = (await channel.fetch_message(message.id)).reactions

        delay = fake_discord.delay_route("GET", REACTIONS, None, times=1)
        listing = asyncio.create_task(_user_ids(reaction))
        await delay.wait_arrived()
        # A vote that lands while the list is on its way is not in it.
        await fake_discord.user_add_reaction(channel.id, message.id, bob, CHECK)
        await asyncio.sleep(0.05)
        assert not listing.done()
        delay.release()
        assert await listing == [int(alice)]
        (reaction,) = (await channel.fetch_message(message.id)).reactions
        assert sorted(await _user_ids(reaction)) == sorted([int(alice), int(bob)])
        calls = fake_discord.route_calls("GET", REACTIONS)
        assert [c.delayed for c in calls] == [True, False]


async def test_a_request_phase_delay_holds_the_request_before_it_is_handled(
    fake_discord: FakeDiscord,
) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        delay = fake_discord.delay_route(
            "POST", rf"/channels/{channel.id}/messages", 0.1, phase="request"
        )
        sending = asyncio.create_task(channel.send("late"))
        await delay.wait_arrived()
        assert fake_discord.messages(channel.id) == []
        sent = await sending
        assert [m["id"] for m in fake_discord.messages(channel.id)] == [str(sent.id)]
        # times=None: every call is held until the delays are cancelled.
        second = asyncio.create_task(channel.send("also late"))
        await fake_discord.wait_for(lambda: delay.held == 2)
        fake_discord.cancel_delays()
        await second
        await channel.send("on time")
        assert delay.held == 2


async def test_injected_errors_use_discords_bodies(fake_discord: FakeDiscord, raw: Raw) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("vote")
        failure = fake_discord.inject_failure("PUT", REACTIONS + "/@me", status=403)
        with pytest.raises(discord.Forbidden) as denied:
            await message.add_reaction(CHECK)
        assert (denied.value.code, denied.value.text) == (50001, "Missing Access")
        await message.add_reaction(CHECK)  # only the next call fails
        assert failure.hits == 1 and failure.exhausted

        fake_discord.inject_failure("GET", MESSAGE, status=404, times=2)
        for _ in range(2):
            with pytest.raises(discord.NotFound) as missing:
                await channel.fetch_message(message.id)
            assert missing.value.code == 10008
        assert (await channel.fetch_message(message.id)).id == message.id

    fake_discord.inject_failure("GET", r"/users/@me", status=500)
    status, _, body = await raw.call("GET", "/users/@me")
    assert (status, body) == (500, {"message": "500: Internal Server Error", "code": 0})
    fake_discord.inject_failure(
        "GET", r"/users/@me", status=403, code=50013, message="Missing Permissions"
    )
    status, _, body = await raw.call("GET", "/users/@me")
    assert (status, body) == (403, {"message": "Missing Permissions", "code": 50013})


async def _user_ids(reaction: discord.Reaction) -> list[int]:
    return [user.id async for user in reaction.users()]
