"""What the daily digest says: new candidates, decisions, candidates about to expire."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.app.base import Part
from bot.app.polling import LAST_ANNOUNCEMENT
from db.catalog import Candidate

LAST_DIGEST = "last_digest_at"


@dataclass
class DigestData:
    since: datetime
    now: datetime
    new: list[Candidate] = field(default_factory=list)
    approved: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)
    expiring: list[Candidate] = field(default_factory=list)
    votes: dict[str, tuple[int, int]] = field(default_factory=dict)  # (approvals, rejections)
    announced: bool = True  # arXiv announced something since `since`

    @property
    def empty(self) -> bool:
        return not (self.new or self.approved or self.rejected or self.expiring)


class Digest(Part):
    """What the daily digest says, and whether it is due."""

    async def digest_data(self) -> DigestData:
        """What happened since the last digest (or the last day)."""
        catalog = self.catalog
        now = self.clock()
        raw_since = await catalog.meta_get(LAST_DIGEST)
        since = datetime.fromisoformat(raw_since) if raw_since else now - timedelta(days=1)
        raw_ann = await catalog.meta_get(LAST_ANNOUNCEMENT)
        announced = (
            raw_ann is not None and raw_ann != "" and datetime.fromisoformat(raw_ann) > since
        )
        data = DigestData(since=since, now=now, announced=announced)
        expire_days = self.settings.discord.expire_days
        warn = timedelta(days=max(0, expire_days - self.settings.digest.expiring_within_days))
        for c in await catalog.candidates():
            created = c.created_at or now
            if c.is_open:
                if created >= since:
                    data.new.append(c)
                elif now - created >= warn:
                    data.expiring.append(c)
            elif c.decided_at and c.decided_at >= since:
                if c.status == "approved":
                    data.approved.append(c)
                elif c.status == "rejected":
                    data.rejected.append(c)
        for c in data.new:
            tally = await catalog.tally(c.arxiv_id)
            data.votes[c.arxiv_id] = (tally.approvals, tally.rejections)
        return data

    def digest_wanted(self, data: DigestData, *, force: bool = False) -> bool:
        """A quiet arXiv day is always worth a line; a busy day with nothing may be skipped."""
        return force or not (
            data.empty and data.announced and self.settings.digest.when_empty == "skip"
        )

    async def digest_sent(self, data: DigestData) -> None:
        """Record that the digest for `data` was posted (the next one starts from it)."""
        await self.catalog.meta_set(LAST_DIGEST, data.now.isoformat())
