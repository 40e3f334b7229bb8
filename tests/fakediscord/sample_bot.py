"""A small discord.py bot and an event recorder, for the fake Discord server's own tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from .server import FakeDiscord

CHECK = "✅"


class Recorder:
    """Collects the bot's events by name so tests can wait for them."""

    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._changed = asyncio.Event()

    def listen(self, bot: commands.Bot, *names: str) -> None:
        for name in names:

            async def handler(*args: Any, _name: str = name) -> None:
                self.events[_name].append(args[0] if len(args) == 1 else args)
                self._changed.set()

            bot.add_listener(handler, f"on_{name}")

    async def wait(self, name: str, predicate: Any = None, timeout: float = 3.0) -> Any:  # noqa: ASYNC109
        """The first recorded `name` event matching `predicate`."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[name]:
                    if predicate is None or predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()


class SearchView(discord.ui.View):
    """A one-button view whose callback edits the message it is attached to."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.clicked_by: list[int] = []

    @discord.ui.button(label="Accept", custom_id="accept", style=discord.ButtonStyle.success)
    async def accept(
        self, interaction: discord.Interaction, button: discord.ui.Button[SearchView]
    ) -> None:
        self.clicked_by.append(interaction.user.id)
        await interaction.response.edit_message(content="accepted", view=None)


def make_bot(server: FakeDiscord, **options: Any) -> commands.Bot:
    """A bot with only non-privileged intents and a guild-synced `/paper` group."""
    intents = options.pop("intents", None)
    if intents is None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.guild_reactions = True
    bot = commands.Bot(
        command_prefix="!",
        intents=intents,
        help_command=None,
        # The default 2 s wait for further GUILD_CREATEs would dominate the test time.
        guild_ready_timeout=0.05,
        **options,
    )
    guild = discord.Object(int(server.guild_id))
    paper = app_commands.Group(name="paper", description="Paper commands")

    @paper.command(name="search", description="Search the catalogue")
    @app_commands.describe(query="Words to look for")
    async def search(interaction: discord.Interaction, query: str) -> None:
        await interaction.response.send_message(f"results for {query}", ephemeral=True)

    @search.autocomplete("query")
    async def search_complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        words = ["grokking", "double descent", "lottery tickets"]
        return [app_commands.Choice(name=w, value=w) for w in words if w.startswith(current)]

    @paper.command(name="digest", description="Build the digest slowly")
    async def digest(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("digest ready", embed=discord.Embed(title="Digest"))

    bot.tree.add_command(paper, guild=guild)

    async def setup_hook() -> None:
        await bot.tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot
