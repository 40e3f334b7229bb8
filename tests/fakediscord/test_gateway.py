"""Gateway sessions (resume and replay, op 7, op 9, time away) and the interaction deadline."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import FakeDiscord, running_client
from tests.fakediscord.sample_bot import CHECK, Recorder, make_bot


def quick_reidentify(bot: commands.Bot) -> None:
    async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before every non-initial IDENTIFY; skip that here."""

    bot.before_identify_hook = identify_now  # type: ignore[method-assign]


async def _vote_post(server: FakeDiscord, bot: commands.Bot) -> discord.Message:
    channel = bot.get_channel(int(server.channel_ids["papers"]))
    assert isinstance(channel, discord.TextChannel)
    return await channel.send("vote")


async def test_events_while_away_are_replayed_on_resume(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "raw_reaction_add", "resumed")
    alice = fake_discord.add_member("alice")
    async with running_client(bot, fake_discord.token):
        post = await _vote_post(fake_discord, bot)
        async with fake_discord.client_away():
            await fake_discord.user_add_reaction(post.channel.id, post.id, alice, CHECK)
            await asyncio.sleep(0.05)  # the client is trying to come back, and is held
            assert not fake_discord.connected
            assert events.events["raw_reaction_add"] == []
        await events.wait("resumed")
        replayed = await events.wait("raw_reaction_add")
        assert replayed.user_id == int(alice)
        assert fake_discord.replayed == ["MESSAGE_REACTION_ADD"]
        assert (fake_discord.resume_count, fake_discord.identify_count) == (1, 1)


async def test_events_while_away_are_lost_when_the_session_is_forgotten(
    fake_discord: FakeDiscord,
) -> None:
    bot = make_bot(fake_discord)
    quick_reidentify(bot)
    events = Recorder()
    events.listen(bot, "raw_reaction_add")
    alice = fake_discord.add_member("alice")
    async with running_client(bot, fake_discord.token):
        post = await _vote_post(fake_discord, bot)
        async with fake_discord.client_away(resumable=False):
            await fake_discord.user_add_reaction(post.channel.id, post.id, alice, CHECK)
        await fake_discord.wait_for(lambda: fake_discord.identify_count == 2)
        await fake_discord.wait_for(lambda: fake_discord.connected)
        assert fake_discord.resume_count == 0 and fake_discord.replayed == []
        # The vote is stored (a REST read sees it) but its event never reached the bot.
        assert fake_discord.reactors(post.id, CHECK) == [alice]
        bob = fake_discord.add_member("bob")
        await fake_discord.user_add_reaction(post.channel.id, post.id, bob, CHECK)
        await events.wait("raw_reaction_add")
        assert [e.user_id for e in events.events["raw_reaction_add"]] == [int(bob)]


@pytest.mark.parametrize("resumable", [True, False])
async def test_invalid_session_on_demand(fake_discord: FakeDiscord, resumable: bool) -> None:
    bot = make_bot(fake_discord)
    quick_reidentify(bot)
    async with running_client(bot, fake_discord.token):
        await fake_discord.send_invalid_session(resumable=resumable)
        if resumable:
            await fake_discord.wait_for(lambda: fake_discord.resume_count == 1)
        else:
            await fake_discord.wait_for(lambda: fake_discord.identify_count == 2)
        await fake_discord.wait_for(lambda: fake_discord.connected)
        assert fake_discord.identify_count == (1 if resumable else 2)
        assert len(fake_discord.sessions) == 1
        await _vote_post(fake_discord, bot)


async def test_reconnect_request_resumes_the_same_session(fake_discord: FakeDiscord) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        (session,) = fake_discord.sessions
        await fake_discord.send_reconnect()
        await fake_discord.wait_for(lambda: fake_discord.resume_count == 1)
        await fake_discord.wait_for(lambda: fake_discord.connected)
        assert fake_discord.sessions == [session] and fake_discord.identify_count == 1


def _slow_bot(server: FakeDiscord, seconds: float, outcome: list[int]) -> commands.Bot:
    """A bot whose /slow command answers after `seconds` and records the callback's fate."""
    bot = make_bot(server)

    @app_commands.command(name="slow", description="Answers late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(seconds)
        try:
            await interaction.response.send_message("done")
        except discord.NotFound as exc:
            outcome.append(exc.code)
        else:
            outcome.append(0)

    @app_commands.command(name="silent", description="Never answers")
    async def silent(interaction: discord.Interaction) -> None:
        outcome.append(-1)

    guild = discord.Object(int(server.guild_id))
    bot.tree.add_command(slow, guild=guild)
    bot.tree.add_command(silent, guild=guild)
    return bot


async def test_a_late_callback_is_unknown_and_the_user_saw_no_response(
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.interaction_deadline = 0.1
    outcome: list[int] = []
    bot = _slow_bot(fake_discord, 0.2, outcome)
    alice = fake_discord.add_member("alice")
    papers = fake_discord.channel_ids["papers"]
    async with running_client(bot, fake_discord.token):
        record = await fake_discord.invoke_command("slow", user_id=alice, channel_id=papers)
        assert await record.wait_settled() is True
        await fake_discord.wait_for(lambda: outcome)
        assert outcome == [10062]
        assert record.late_callbacks == 1 and record.responses == []
        assert not record.acknowledged and record.latency is None

        silent = await fake_discord.invoke_command("silent", user_id=alice, channel_id=papers)
        assert await silent.wait_settled() is True
        assert silent.late_callbacks == 0 and outcome == [10062, -1]


async def test_a_prompt_callback_records_its_latency(fake_discord: FakeDiscord) -> None:
    outcome: list[int] = []
    bot = _slow_bot(fake_discord, 0.0, outcome)
    alice = fake_discord.add_member("alice")
    async with running_client(bot, fake_discord.token):
        record = await fake_discord.invoke_command(
            "slow", user_id=alice, channel_id=fake_discord.channel_ids["papers"]
        )
        assert await record.wait_settled() is False
        assert record.acknowledged and record.latency is not None
        assert record.deadline == 3.0 and not record.did_not_respond
        assert outcome == [0]
