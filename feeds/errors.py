"""Domain errors raised by feeds/ (and db/); only bot/ turns them into words for a user."""

from __future__ import annotations


class PaperbotError(Exception):
    """Base of every error paperbot raises on purpose (bad input, bad feed, bad state)."""


class IdentifierError(PaperbotError, ValueError):
    """Text that is not an arXiv identifier or arXiv URL."""

    def __init__(self, text: str, reason: str = "not an arXiv identifier or arXiv URL") -> None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        super().__init__(f"{shown!r}: {reason}")
        self.text = text
        self.reason = reason


class FeedError(PaperbotError):
    """A feed that could not be fetched or is not a usable arXiv feed."""

    def __init__(self, feed: str, reason: str) -> None:
        super().__init__(f"{feed}: {reason}")
        self.feed = feed
        self.reason = reason


class ParseError(FeedError):
    """Bytes that were fetched but are not an arXiv feed (HTML page, truncated XML, error feed)."""


class RulesError(PaperbotError):
    """A matching-rules file that cannot be used (bad TOML, unknown key, dangerous regex)."""
