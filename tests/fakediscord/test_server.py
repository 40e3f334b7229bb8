"""A real discord.py commands.Bot driven over loopback against the fake Discord server."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

import aiohttp
import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakediscord import FakeDiscord, discord_endpoints, running_client, use_fake_discord
from tests.fakediscord.sample_bot import CHECK, Recorder, SearchView, make_bot

ROOT = Path(__file__).resolve().parents[2]


async def test_bot_connects_and_sees_guild(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        assert bot.user is not None and str(bot.user.id) == fake_discord.bot_user_id
        assert str(bot.application_id) == fake_discord.application_id
        guild = bot.get_guild(int(fake_discord.guild_id))
        assert guild is not None and guild.name == "Test Guild"
        assert sorted(c.name for c in guild.text_channels) == ["admin", "papers"]
        assert guild.default_role.id == guild.id
        assert guild.get_role(int(fake_discord.role_ids["curator"])) is not None
        assert guild.me is not None and guild.me.id == bot.user.id
        assert [r.id for r in guild.me.roles[1:]] == [int(fake_discord.bot_role_id)]
        assert fake_discord.connected
        (session,) = fake_discord.sessions
        assert session.intents == bot.intents.value
    paths = [(r.method, r.path) for r in fake_discord.requests]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    assert all(r.authorized for r in fake_discord.requests)
    await fake_discord.wait_for(lambda: not fake_discord.connected)


async def test_slash_group_syncs_and_answers_ephemerally(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        (command,) = fake_discord.registered_commands(fake_discord.guild_id)
        assert command["name"] == "paper"
        subcommands = {o["name"]: o for o in command["options"]}
        assert set(subcommands) == {"search", "digest"}
        query = subcommands["search"]["options"][0]
        assert (query["name"], query["type"], query["required"]) == ("query", 3, True)
        assert fake_discord.registered_commands() == []

        alice = fake_discord.add_member("alice")
        papers = fake_discord.channel_ids["papers"]
        record = await fake_discord.invoke_command(
            "paper search", {"query": "grokking"}, user_id=alice, channel_id=papers
        )
        response = await record.wait_response()
        assert response["type"] == 4
        assert response["data"]["content"] == "results for grokking"
        assert record.ephemeral
        # Ephemeral replies are seen only by the invoking user, never stored in the channel.
        assert fake_discord.messages(papers) == []

        complete = await fake_discord.invoke_autocomplete(
            "paper search", {"query": "do"}, focused="query", user_id=alice, channel_id=papers
        )
        await complete.wait_response()
        assert complete.choices == [{"name": "double descent", "value": "double descent"}]


async def test_deferred_command_followup_replaces_thinking_message(
    fake_discord: FakeDiscord,
) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        alice = fake_discord.add_member("alice")
        papers = fake_discord.channel_ids["papers"]
        record = await fake_discord.invoke_command("paper digest", user_id=alice, channel_id=papers)
        assert (await record.wait_response())["type"] == 5
        await record.wait_followups(1)
        assert record.texts() == ["digest ready", "Digest"]
        (message,) = fake_discord.messages(papers)
        assert message["id"] == record.original_message_id
        assert message["content"] == "digest ready"
        assert message["flags"] & 128 == 0  # no longer "thinking"
        assert message["interaction_metadata"]["user"]["id"] == alice


async def test_posted_message_is_echoed_and_pings_nobody(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "message")
    async with running_client(bot, fake_discord.token):
        alice = fake_discord.add_member("alice")
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        embed = discord.Embed(title="Grokking", description="Generalisation beyond overfitting")
        sent = await channel.send(
            f"<@{alice}> new paper", embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )
        echoed = await events.wait("message", lambda m: m.id == sent.id)
        assert echoed.author == bot.user
        assert echoed.embeds[0].title == "Grokking"
        stored = fake_discord.message(channel.id, sent.id)
        assert stored["allowed_mentions"]["parse"] == []
        assert stored["mentions"] == [] and not stored["mention_everyone"]
        assert sent.mentions == []

        # Without allowed_mentions the same text does ping: the filter above is real.
        loud = await channel.send(f"<@{alice}> new paper")
        assert [u["id"] for u in fake_discord.message(channel.id, loud.id)["mentions"]] == [alice]


async def test_reactions_reach_raw_handlers_and_reaction_users(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "raw_reaction_add", "raw_reaction_remove")
    async with running_client(bot, fake_discord.token):
        assert bot.user is not None
        alice = fake_discord.add_member("alice", roles=["curator"])
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("vote here")
        await message.add_reaction(CHECK)
        own = await events.wait("raw_reaction_add", lambda e: e.user_id == bot.user.id)
        assert str(own.emoji) == CHECK and own.message_id == message.id

        await fake_discord.user_add_reaction(channel.id, message.id, alice, CHECK)
        added = await events.wait("raw_reaction_add", lambda e: e.user_id == int(alice))
        assert str(added.emoji) == CHECK
        assert added.member is not None and added.member.name == "alice"
        assert [r.name for r in added.member.roles] == ["@everyone", "curator"]
        assert added.guild_id == int(fake_discord.guild_id)

        fetched = await channel.fetch_message(message.id)
        (reaction,) = fetched.reactions
        assert reaction.count == 2 and reaction.me
        reactors = [user.id async for user in reaction.users()]
        assert sorted(reactors) == sorted([bot.user.id, int(alice)])

        await fake_discord.user_remove_reaction(channel.id, message.id, alice, CHECK)
        removed = await events.wait("raw_reaction_remove")
        assert (removed.user_id, str(removed.emoji)) == (int(alice), CHECK)
        assert fake_discord.reactors(message.id, CHECK) == [fake_discord.bot_user_id]

        with pytest.raises(discord.HTTPException) as bad:
            await message.add_reaction(":white_check_mark:")
        assert bad.value.code == 10014


async def test_edit_thread_and_attachment(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "raw_message_edit", "thread_create")
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("draft")
        edited = await message.edit(content="final", embed=discord.Embed(title="Paper"))
        assert edited.content == "final" and edited.edited_at is not None
        await events.wait("raw_message_edit", lambda e: e.message_id == message.id)
        assert fake_discord.message(channel.id, message.id)["embeds"][0]["title"] == "Paper"

        thread = await message.create_thread(name="Discussion")
        assert thread.id == message.id and thread.parent_id == channel.id
        created = await events.wait("thread_create")
        assert created.id == thread.id and created.name == "Discussion"
        await thread.send("first reply")
        assert [m["content"] for m in fake_discord.messages(thread.id)] == ["first reply"]

        data = b"%PDF-1.7 tiny paper\n"
        sent = await channel.send(
            "paper attached", file=discord.File(io.BytesIO(data), "paper.pdf")
        )
        (attachment,) = sent.attachments
        assert attachment.filename == "paper.pdf" and attachment.size == len(data)
        stored = fake_discord.message(channel.id, sent.id)["attachments"][0]
        assert fake_discord.attachment_bytes(stored["id"]) == data
        assert await attachment.read() == data


async def test_button_click_reaches_view_callback(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        bob = fake_discord.add_member("bob")
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        view = SearchView()
        message = await channel.send("accept this paper?", view=view)
        stored = fake_discord.message(channel.id, message.id)
        assert stored["components"][0]["components"][0]["custom_id"] == "accept"

        record = await fake_discord.click_component(message.id, "accept", user_id=bob)
        response = await record.wait_response()
        assert response["type"] == 7
        assert view.clicked_by == [int(bob)]
        stored = fake_discord.message(channel.id, message.id)
        assert stored["content"] == "accepted" and stored["components"] == []
        with pytest.raises(LookupError):
            await fake_discord.click_component(message.id, "no-such-button", user_id=bob)


async def test_second_session_sees_history_and_offline_reactions(
    fake_discord: FakeDiscord,
) -> None:
    papers = int(fake_discord.channel_ids["papers"])
    first = make_bot(fake_discord)
    async with running_client(first, fake_discord.token):
        channel = first.get_channel(papers)
        assert isinstance(channel, discord.TextChannel)
        posted = [await channel.send(f"paper {n}") for n in range(3)]
    await fake_discord.wait_for(lambda: not fake_discord.connected)

    # While no bot runs, a user votes: stored, but there is nobody to tell.
    carol = fake_discord.add_member("carol")
    await fake_discord.user_add_reaction(papers, posted[1].id, carol, CHECK)

    second = make_bot(fake_discord)
    events = Recorder()
    events.listen(second, "raw_reaction_add")
    async with running_client(second, fake_discord.token):
        channel = second.get_channel(papers)
        assert isinstance(channel, discord.TextChannel)
        history = [m async for m in channel.history(limit=10, oldest_first=True)]
        assert [m.content for m in history] == ["paper 0", "paper 1", "paper 2"]
        assert all(m.author == second.user for m in history)
        voted = await channel.fetch_message(posted[1].id)
        assert [u.id async for u in voted.reactions[0].users()] == [int(carol)]
        assert not voted.reactions[0].me
        assert events.events["raw_reaction_add"] == []
    assert fake_discord.identify_count == 2


async def test_dropped_gateway_resumes_and_replays_missed_events(
    fake_discord: FakeDiscord,
) -> None:
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "raw_reaction_add", "resumed")
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("survives a blip")
        dave = fake_discord.add_member("dave")
        await fake_discord.drop_connections()
        # Dispatched while the socket is down: buffered and replayed on RESUME.
        await fake_discord.user_add_reaction(channel.id, message.id, dave, CHECK)
        await events.wait("resumed")
        replayed = await events.wait("raw_reaction_add")
        assert replayed.user_id == int(dave)
        assert fake_discord.resume_count == 1 and fake_discord.identify_count == 1


async def test_forgotten_session_makes_the_client_identify_again(
    fake_discord: FakeDiscord,
) -> None:
    bot = make_bot(fake_discord)

    async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before every non-initial IDENTIFY; skip that here."""

    bot.before_identify_hook = identify_now  # type: ignore[method-assign]
    async with running_client(bot, fake_discord.token):
        await fake_discord.drop_connections(resumable=False)
        await fake_discord.wait_for(lambda: fake_discord.identify_count == 2)
        await fake_discord.wait_for(lambda: fake_discord.connected)
        assert fake_discord.resume_count == 0
        ops = [op for kind, op, _ in fake_discord.gateway_log if kind == "op"]
        assert ops.count(6) == 1  # the RESUME that was refused
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        await channel.send("still working")


async def test_rate_limited_send_is_retried(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        fake_discord.inject_failure("POST", r"/channels/\d+/messages", retry_after=0.05)
        message = await channel.send("after a 429")
        calls = fake_discord.calls("POST", rf"/channels/{channel.id}/messages")
        assert [c.status for c in calls] == [429, 200]
        assert [m["id"] for m in fake_discord.messages(channel.id)] == [str(message.id)]


async def test_message_content_needs_the_privileged_intent(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "message")
    async with running_client(bot, fake_discord.token):
        assert bot.user is not None
        erin = fake_discord.add_member("erin")
        papers = fake_discord.channel_ids["papers"]
        plain = await fake_discord.user_post_message(papers, erin, "arxiv.org/abs/2201.02177")
        seen = await events.wait("message", lambda m: m.id == int(plain["id"]))
        assert seen.content == ""
        pinged = await fake_discord.user_post_message(papers, erin, f"<@{bot.user.id}> look")
        seen = await events.wait("message", lambda m: m.id == int(pinged["id"]))
        assert seen.content == f"<@{bot.user.id}> look"


async def test_bad_token_and_disallowed_intents_fail_start(fake_discord: FakeDiscord) -> None:
    with pytest.raises(discord.LoginFailure):
        async with running_client(make_bot(fake_discord), "not-the-token"):
            pass
    intents = discord.Intents.default()
    intents.message_content = True
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running_client(make_bot(fake_discord, intents=intents), fake_discord.token):
            pass


async def test_unknown_routes_are_404_json_and_recorded(fake_discord: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            fake_discord.api_base + "/guilds/1/audit-logs",
            headers={"Authorization": f"Bot {fake_discord.token}"},
        ) as response,
    ):
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {"message": "404: Not Found", "code": 0}
    assert [(r.method, r.path) for r in fake_discord.unknown_requests] == [
        ("GET", "/guilds/1/audit-logs")
    ]
    fake_discord.unknown_requests.clear()


async def test_endpoint_patch_is_restored() -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord(channel_names=("one",)) as server:
        with use_fake_discord(server):
            assert server.api_base == Route.BASE
            assert str(DiscordWebSocket.DEFAULT_GATEWAY) == server.gateway_url
        with pytest.raises(RuntimeError), discord_endpoints("http://x", "ws://y"):
            raise RuntimeError
    assert (base, gateway) == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_standalone_entry_point_prints_endpoints_and_serves() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakediscord",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        assert info["DISCORD_API_BASE"] == info["api_base"]
        headers = {"Authorization": f"Bot {info['token']}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(info["api_base"] + "/gateway/bot", headers=headers) as response,
        ):
            assert response.status == 200
            assert (await response.json())["url"] == info["gateway_url"]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
