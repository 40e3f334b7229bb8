"""Reaction-list paging, member look-ups, permissions and overwrites, and command-sync refusals."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, running_client
from tests.fakediscord import permissions as perm
from tests.fakediscord.sample_bot import CHECK, Recorder, make_bot

REACTIONS = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}"


async def test_reaction_lists_page_by_user_id(fake_discord: FakeDiscord) -> None:
    voters = [fake_discord.add_member(f"voter{n}") for n in range(150)]
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(fake_discord.channel_ids["papers"]))
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("vote")
        for voter in reversed(voters):  # reaction order is not id order
            await fake_discord.user_add_reaction(channel.id, message.id, voter, CHECK)
        (reaction,) = (await channel.fetch_message(message.id)).reactions
        assert reaction.count == 150
        ordered = sorted(int(v) for v in voters)
        # discord.py yields each page backwards; the pages themselves follow user ids.
        assert sorted([u.id async for u in reaction.users()]) == ordered
        pages = fake_discord.route_calls("GET", REACTIONS)
        assert [p.query.get("limit") for p in pages] == ["100", "50"]
        assert pages[1].query["after"] == str(ordered[99])

        headers = {"Authorization": f"Bot {fake_discord.token}"}
        url = (
            f"{fake_discord.api_base}/channels/{channel.id}/messages/{message.id}/reactions/{CHECK}"
        )
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(url) as response:
                # Discord's default page: the 25 lowest user ids.
                assert [int(u["id"]) for u in await response.json()] == ordered[:25]
            async with session.get(
                url, params={"limit": "3", "after": str(ordered[3])}
            ) as response:
                assert [int(u["id"]) for u in await response.json()] == ordered[4:7]
            async with session.get(url, params={"limit": "101"}) as response:
                assert response.status == 400
                assert (await response.json())["code"] == 50035


async def test_member_look_ups_know_roles_and_non_members(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.add_member("alice", roles=["curator"])
    stranger = fake_discord.add_user("stranger")
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        guild = bot.get_guild(int(fake_discord.guild_id))
        assert guild is not None
        member = await guild.fetch_member(int(alice))
        assert [r.name for r in member.roles] == ["@everyone", "curator"]
        with pytest.raises(discord.NotFound) as unknown:
            await guild.fetch_member(int(stranger))
        assert unknown.value.code == 10007

        await fake_discord.set_member_roles(alice, [])
        assert [r.name for r in (await guild.fetch_member(int(alice))).roles] == ["@everyone"]
        await fake_discord.remove_member(alice)
        with pytest.raises(discord.NotFound):
            await guild.fetch_member(int(alice))
        assert fake_discord.user(alice)["username"] == "alice"


async def test_everyone_has_discords_default_permissions(fake_discord: FakeDiscord) -> None:
    alice = fake_discord.add_member("alice")
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        guild = bot.get_guild(int(fake_discord.guild_id))
        assert guild is not None
        everyone = guild.default_role.permissions
        assert everyone.value == perm.DEFAULT_EVERYONE_PERMISSIONS
        assert everyone.view_channel and everyone.send_messages and everyone.add_reactions
        assert not everyone.manage_messages and not everyone.administrator

        events = Recorder()
        events.listen(bot, "guild_role_update")
        without = perm.DEFAULT_EVERYONE_PERMISSIONS & ~perm.ADD_REACTIONS
        await fake_discord.set_role_permissions("@everyone", without)
        await events.wait("guild_role_update")
        assert guild.default_role.permissions.value == without
        assert (
            fake_discord.channel_permissions(fake_discord.channel_ids["papers"], alice)
            & (perm.ADD_REACTIONS)
            == 0
        )


async def test_overwrites_give_discord_py_the_servers_answer(fake_discord: FakeDiscord) -> None:
    papers = fake_discord.channel_ids["papers"]
    alice = fake_discord.add_member("alice", roles=["curator"])
    bot = make_bot(fake_discord)
    events = Recorder()
    events.listen(bot, "guild_channel_update")
    async with running_client(bot, fake_discord.token):
        guild = bot.get_guild(int(fake_discord.guild_id))
        assert guild is not None
        channel = guild.get_channel(int(papers))
        assert isinstance(channel, discord.TextChannel)

        voice = discord.Permissions.voice().value

        async def agree() -> discord.Permissions:
            """Wait for the CHANNEL_UPDATE just sent, then compare both computations."""
            updates = len(fake_discord.dispatched_events("CHANNEL_UPDATE"))
            if updates:
                await events.wait(
                    "guild_channel_update",
                    lambda _: len(events.events["guild_channel_update"]) >= updates,
                )
            for user in (fake_discord.bot_user_id, alice):
                member = guild.get_member(int(user)) or await guild.fetch_member(int(user))
                # discord.py drops the voice bits in a text channel; Discord keeps them.
                expected = fake_discord.channel_permissions(papers, user) & ~voice
                assert channel.permissions_for(member).value == expected
            assert guild.me is not None
            return channel.permissions_for(guild.me)

        assert (await agree()).send_messages
        await fake_discord.set_channel_overwrite(papers, "@everyone", deny=perm.SEND_MESSAGES)
        mine = await agree()
        # Denied for @everyone, the bot's role had it, but the role is not overwritten:
        # the channel denial wins, and embeds/attachments go with sending.
        assert not mine.send_messages and not mine.embed_links and mine.add_reactions
        await fake_discord.set_channel_overwrite(
            papers, fake_discord.bot_user_id, allow=perm.SEND_MESSAGES
        )
        assert (await agree()).send_messages
        await fake_discord.set_channel_overwrite(papers, "curator", deny=perm.VIEW_CHANNEL)
        await agree()
        hidden = fake_discord.channel_permissions(papers, alice)
        assert not hidden & (perm.VIEW_CHANNEL | perm.SEND_MESSAGES | perm.READ_MESSAGE_HISTORY)
        await fake_discord.clear_channel_overwrites(papers)
        assert (await agree()).send_messages


async def test_enforced_permissions_answer_50013_and_50001(fake_discord: FakeDiscord) -> None:
    papers, admin = fake_discord.channel_ids["papers"], fake_discord.channel_ids["admin"]
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        channel = bot.get_channel(int(papers))
        hidden = bot.get_channel(int(admin))
        assert isinstance(channel, discord.TextChannel) and isinstance(hidden, discord.TextChannel)
        post = await channel.send("vote")
        deny = perm.ADD_REACTIONS | perm.MANAGE_MESSAGES
        await fake_discord.set_channel_overwrite(papers, "@everyone", deny=deny)
        await fake_discord.set_channel_overwrite(papers, fake_discord.bot_role_id, deny=deny)
        await fake_discord.set_channel_overwrite(
            admin, fake_discord.bot_user_id, deny=perm.VIEW_CHANNEL
        )
        await post.add_reaction(CHECK)  # not enforced by default

        fake_discord.enforce_permissions = True
        with pytest.raises(discord.Forbidden) as missing:
            await post.add_reaction("❌")
        assert (missing.value.code, missing.value.text) == (50013, "Missing Permissions")
        await post.add_reaction(CHECK)  # an existing reaction needs only history
        alice = fake_discord.add_member("alice")
        with pytest.raises(discord.Forbidden):
            await post.remove_reaction(CHECK, discord.Object(int(alice)))
        with pytest.raises(discord.Forbidden) as no_access:
            await hidden.send("hello?")
        assert no_access.value.code == 50001
        await channel.send("sending is still allowed")


async def test_command_sync_refused_outside_the_guild_or_without_the_scope(
    fake_discord: FakeDiscord,
) -> None:
    bot = make_bot(fake_discord)
    async with running_client(bot, fake_discord.token):
        with pytest.raises(discord.Forbidden) as elsewhere:
            await bot.tree.sync(guild=discord.Object(1234567890123))
        assert (elsewhere.value.code, elsewhere.value.text) == (50001, "Missing Access")
        fake_discord.application_commands_scope = False
        with pytest.raises(discord.Forbidden):
            await bot.tree.sync(guild=discord.Object(int(fake_discord.guild_id)))
        await bot.tree.sync()  # global commands need no guild scope


async def test_readme_lists_every_route(fake_discord: FakeDiscord) -> None:
    readme = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`((?:GET|POST|PUT|PATCH|DELETE) /[^`]*)`", readme))
    assert set(fake_discord.route_templates) <= listed
    assert listed <= set(fake_discord.route_templates)
