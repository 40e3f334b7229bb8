"""discord.py cogs: review/voting, slash commands, digest and health."""
