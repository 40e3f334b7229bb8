"""Votes and decisions: reactions as stored votes, approval into the catalog, sections."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from db.catalog.base import CatalogBase, storage_errors
from db.catalog.records import Decision, Tally, _ts, first_version_year
from db.errors import InvalidArgument, InvalidState, NotFound
from db.types import (
    DECIDED_HOW,
    AddedHow,
    AuditAction,
    CandidateStatus,
    SectionTarget,
    VoteChoice,
)

log = logging.getLogger(__name__)


def _choice(value: str) -> VoteChoice:
    try:
        return VoteChoice(value)
    except ValueError:
        known = ", ".join(VoteChoice)
        raise InvalidArgument(f"choice must be one of {known}, not {value!r}") from None


def _decided_how(value: str) -> AddedHow:
    try:
        how = AddedHow(value)
    except ValueError:
        how = None
    if how not in DECIDED_HOW:
        known = ", ".join(sorted(DECIDED_HOW))
        raise InvalidArgument(f"a decision is taken by one of {known}, not {value!r}")
    assert how is not None
    return how


class DecisionsMixin(CatalogBase):
    """What the community and the curators decide about candidates."""

    @storage_errors
    def tally(self, arxiv_id: str) -> Tally:
        result = Tally()
        for row in self._all("SELECT user_id, choice FROM votes WHERE candidate = ?", [arxiv_id]):
            (result.approve if row["choice"] == VoteChoice.APPROVE else result.reject).add(
                row["user_id"]
            )
        return result

    @storage_errors
    def set_vote(
        self,
        arxiv_id: str,
        user_id: str | int,
        choice: VoteChoice,
        present: bool,
        now: datetime,
        how: str = "reaction",
    ) -> Tally:
        """Add (present) or remove one reaction; replays change nothing; decided: no-op."""
        chosen = str(_choice(choice))
        user = str(user_id)
        stamp = _ts(now)
        with self._write():
            row = self._require_candidate(arxiv_id)
            if CandidateStatus(row["status"]).is_open:
                if present:
                    cursor = self.conn.execute(
                        "INSERT OR IGNORE INTO votes (candidate, user_id, choice, at)"
                        " VALUES (?, ?, ?, ?)",
                        [arxiv_id, user, chosen, stamp],
                    )
                else:
                    cursor = self.conn.execute(
                        "DELETE FROM votes WHERE candidate = ? AND user_id = ? AND choice = ?",
                        [arxiv_id, user, chosen],
                    )
                if cursor.rowcount:
                    action = AuditAction.VOTE if present else AuditAction.UNVOTE
                    self._audit(now, arxiv_id, action, user, how, {"choice": chosen})
            return self.tally(arxiv_id)

    @storage_errors
    def replace_votes(
        self, arxiv_id: str, votes: Mapping[str, Iterable[VoteChoice]], now: datetime
    ) -> Tally:
        """Make the stored votes exactly what Discord shows (after downtime), auditing each change."""
        wanted = {
            (str(user), str(_choice(choice)))
            for user, choices in votes.items()
            for choice in choices
        }
        stamp = _ts(now)
        with self._write():
            row = self._require_candidate(arxiv_id)
            if not CandidateStatus(row["status"]).is_open:
                return self.tally(arxiv_id)
            stored = {
                (r["user_id"], r["choice"])
                for r in self._all(
                    "SELECT user_id, choice FROM votes WHERE candidate = ?", [arxiv_id]
                )
            }
            for user, choice in sorted(stored - wanted):
                self.conn.execute(
                    "DELETE FROM votes WHERE candidate = ? AND user_id = ? AND choice = ?",
                    [arxiv_id, user, choice],
                )
                self._audit(now, arxiv_id, AuditAction.UNVOTE, user, "reconcile",
                            {"choice": choice})  # fmt: skip
            for user, choice in sorted(wanted - stored):
                self._insert(
                    "votes",
                    {"candidate": arxiv_id, "user_id": user, "choice": choice, "at": stamp},
                )
                self._audit(now, arxiv_id, AuditAction.VOTE, user, "reconcile",
                            {"choice": choice})  # fmt: skip
            return self.tally(arxiv_id)

    @storage_errors
    def decide(
        self,
        arxiv_id: str,
        approved: bool,
        actor: str,
        how: AddedHow,
        now: datetime,
        section: str | None = None,
    ) -> Decision:
        """Approve (into the catalog) or reject a candidate; deciding twice changes nothing.

        `how` is vote, curator or cli, and becomes the paper's `added_how`. An expired
        candidate can still be decided: expiry means nobody decided in time.
        """
        added_how = _decided_how(how)
        stamp = _ts(now)
        with self._write():
            row = self._require_candidate(arxiv_id)
            previous = CandidateStatus(row["status"])
            if previous.is_decided:
                shown = row["section"] or row["suggested_section"]
                if previous == CandidateStatus.APPROVED:
                    listed = self._paper_row(arxiv_id)
                    shown = listed["section"] if listed is not None else shown
                return Decision(arxiv_id, previous, shown, changed=False)
            status = CandidateStatus.APPROVED if approved else CandidateStatus.REJECTED
            chosen = section or row["section"] or row["suggested_section"]
            if approved:
                listed = self._paper_row(arxiv_id)
                if listed is None:
                    self._insert(
                        "papers",
                        {
                            "key": arxiv_id,
                            "arxiv_id": arxiv_id,
                            "version": row["version"],
                            "title": row["title"],
                            "authors": row["authors"],
                            "abstract": row["abstract"],
                            "categories": row["categories"],
                            "section": chosen,
                            "year": first_version_year(arxiv_id),
                            "venue": None,
                            "paper_url": f"https://arxiv.org/abs/{arxiv_id}",
                            "added_at": stamp,
                            "added_by": actor,
                            "added_how": str(added_how),
                            "updated_at": stamp,
                        },
                    )
                else:
                    # Listed meanwhile (an import): the list's entry stands as written.
                    chosen = listed["section"]
            self._update(
                "candidates",
                "arxiv_id",
                arxiv_id,
                {
                    "status": str(status),
                    "section": chosen if approved else row["section"],
                    "decided_at": stamp,
                    "decided_by": actor,
                    "updated_at": stamp,
                },
            )
            action = AuditAction.APPROVE if approved else AuditAction.REJECT
            self._audit(now, arxiv_id, action, actor, str(added_how),
                        {"section": chosen, "previous": str(previous)})  # fmt: skip
        log.debug("%s %s by %s (%s)", status, arxiv_id, actor, added_how)
        return Decision(
            arxiv_id,
            status,
            chosen if approved else row["section"] or row["suggested_section"],
            True,
        )

    @storage_errors
    def set_section(self, key: str, section: str, actor: str, now: datetime) -> SectionTarget:
        """Set an open candidate's section, or move a catalog paper; returns what changed."""
        section = section.strip()
        if not section:
            raise InvalidArgument("a section name is required")
        stamp = _ts(now)
        with self._write():
            cand = self._candidate_row(key)
            listed = self._paper_row(key)
            if listed is None and (cand is None or not CandidateStatus(cand["status"]).is_open):
                if cand is None:
                    raise NotFound("a candidate or a catalog paper", key)
                raise InvalidState(
                    f"{key} is {cand['status']} and not in the catalog; its section cannot change"
                )
            if listed is not None:
                before = listed["section"]
                if before == section:
                    return "unchanged"
                self._update(
                    "papers", "id", listed["id"], {"section": section, "updated_at": stamp}
                )
                if cand is not None:
                    self._update(
                        "candidates", "arxiv_id", key, {"section": section, "updated_at": stamp}
                    )
                detail: dict[str, Any] = {"from": before, "to": section}
                self._audit(now, listed["arxiv_id"] or listed["key"], AuditAction.SECTION,
                            actor, "paper", detail)  # fmt: skip
                return "paper"
            assert cand is not None
            before = cand["section"] or cand["suggested_section"]
            if cand["section"] == section:
                return "unchanged"
            self._update("candidates", "arxiv_id", key, {"section": section, "updated_at": stamp})
            self._audit(now, key, AuditAction.SECTION, actor, "candidate",
                        {"from": before, "to": section})  # fmt: skip
            return "candidate"
