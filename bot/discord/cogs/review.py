"""Reaction listeners: every ✅/❌ on a review post goes to the review service."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.discord.review import ReviewService


class ReviewCog(commands.Cog):
    def __init__(self, review: ReviewService) -> None:
        self.review = review

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.review.on_reaction(payload, present=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.review.on_reaction(payload, present=False)
