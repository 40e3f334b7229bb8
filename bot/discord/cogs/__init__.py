"""Cogs: thin listeners and slash commands calling the review service and the core."""
