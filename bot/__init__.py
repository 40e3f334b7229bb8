"""Composition root of paperbot: settings, CLI, the Discord client, cogs and the scheduler."""

__version__ = "0.1.0"
