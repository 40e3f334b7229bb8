"""paperbot: the application core (bot/app/), its adapters (the command line, the Discord client
in bot/discord/, the scheduler in bot/runtime.py) and infrastructure (settings, git, the list's host)."""

__version__ = "0.1.0"
