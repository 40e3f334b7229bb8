"""Composition root of paperbot: settings, CLI, the Discord client, cogs and the scheduler."""
