"""Domain errors raised by db/ (catalog, awesome-list Markdown); only bot/ turns them into words."""

from __future__ import annotations

from feeds.errors import PaperbotError


class AwesomeListError(PaperbotError):
    """An awesome-list README that cannot take the requested change."""


class UnknownSectionError(AwesomeListError, LookupError):
    """A paper filed under a `## Section` the list does not have."""

    def __init__(self, section: str | None, existing: list[str]) -> None:
        shown = ", ".join(existing) if existing else "(none)"
        what = f"the list has no section {section!r}" if section else "no section given"
        super().__init__(f"{what}; existing sections: {shown}")
        self.section = section
        self.existing = list(existing)
