"""Candidates: storing a poll's flagged papers, members' submissions, posting and expiry."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from db.catalog.base import CatalogBase, storage_errors
from db.catalog.records import (
    Candidate,
    CatalogPaper,
    StoreReport,
    _aware,
    _candidate,
    _candidate_metadata,
    _changes,
    _dt,
    _dump,
    _is_older,
    _paper,
    _paper_metadata,
    _ts,
)
from db.errors import InvalidArgument
from db.types import AddedHow, AuditAction, CandidateStatus
from feeds.models import Match, Paper

log = logging.getLogger(__name__)

BACKGROUND_CAP = 50_000


def _status(value: str) -> CandidateStatus:
    try:
        return CandidateStatus(value)
    except ValueError:
        known = ", ".join(CandidateStatus)
        raise InvalidArgument(f"unknown candidate status {value!r} (known: {known})") from None


class CandidatesMixin(CatalogBase):
    """Candidates from feeds and members, until they are decided or expire."""

    @storage_errors
    def store_candidates(
        self, items: Iterable[tuple[Paper, Match]], source: str, now: datetime
    ) -> StoreReport:
        """Store one poll's flagged papers and replacements, all or nothing.

        New papers flagged by their Match become candidates (status "new"); a paper seen
        again keeps its status and votes, its metadata refreshed if it changed. A
        replacement (`is_update`) refreshes an existing candidate or catalog paper and never
        creates one. Unflagged new papers are kept only as background for the model.
        """
        report = StoreReport()
        stamp = _ts(now)
        with self._write():
            for paper, match in items:
                aid = paper.arxiv_id
                if paper.is_update:
                    self._store_update(paper, match, now, report)
                    continue
                if self._one("SELECT 1 FROM papers WHERE arxiv_id = ?", [aid]) is not None:
                    report.already_in_catalog.append(aid)
                    continue
                row = self._candidate_row(aid)
                if row is None and not match.candidate:
                    added = self.conn.execute(
                        "INSERT OR IGNORE INTO background (arxiv_id, title, abstract,"
                        " categories, seen_at) VALUES (?, ?, ?, ?, ?)",
                        [aid, paper.title, paper.abstract, _dump(list(paper.categories)), stamp],
                    )
                    report.not_candidates.append(aid)
                    report.background_added += max(0, added.rowcount)
                    continue
                if row is None:
                    self._insert_candidate(paper, match, source, None, now)
                    report.new.append(aid)
                    continue
                # Announced again (a cross-list, a second feed, a replayed poll).
                changes = {}
                if not _is_older(paper.version, row["version"]):
                    changes = _changes(row, _candidate_metadata(paper))
                if changes:
                    self._update("candidates", "arxiv_id", aid, {**changes, "updated_at": stamp})
                    self._audit(
                        now, aid, AuditAction.UPDATE, source, "feed", {"fields": sorted(changes)}
                    )
                    report.updated.append(aid)
                else:
                    report.unchanged.append(aid)
            self._trim_background()
        return report

    def _store_update(self, paper: Paper, match: Match, now: datetime, report: StoreReport) -> None:
        aid = paper.arxiv_id
        stamp = _ts(now)
        cand = self._candidate_row(aid)
        listed = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [aid])
        if cand is None and listed is None:
            report.ignored_updates.append(aid)
            return
        changed: set[str] = set()
        if cand is not None and not _is_older(paper.version, cand["version"]):
            changes = _changes(cand, _candidate_metadata(paper))
            self._update(
                "candidates", "arxiv_id", aid, {**changes, "updated_at": stamp} if changes else {}
            )
            changed |= set(changes)
        if listed is not None and not _is_older(paper.version, listed["version"]):
            wanted = _paper_metadata(paper)
            # A list entry's title and authors were chosen by people; only fill them if empty.
            if listed["added_how"] == AddedHow.IMPORT:
                wanted = {k: v for k, v in wanted.items() if k not in ("title", "authors")}
            changes = _changes(listed, wanted)
            self._update(
                "papers", "id", listed["id"], {**changes, "updated_at": stamp} if changes else {}
            )
            changed |= set(changes)
        if changed:
            old = (cand or listed)["version"]  # type: ignore[index]
            detail = {"fields": sorted(changed), "version": [old, paper.version]}
            self._audit(now, aid, AuditAction.UPDATE, None, "feed", detail)
            report.updated.append(aid)
        else:
            report.unchanged.append(aid)

    def _trim_background(self) -> None:
        (count,) = self._one("SELECT count(*) FROM background") or (0,)
        if count > BACKGROUND_CAP:
            self.conn.execute(
                "DELETE FROM background WHERE arxiv_id IN (SELECT arxiv_id FROM background"
                " ORDER BY seen_at, arxiv_id LIMIT ?)",
                [count - BACKGROUND_CAP],
            )

    @storage_errors
    def add_candidate(
        self, paper: Paper, match: Match, submitted_by: str, source: str, now: datetime
    ) -> tuple[Candidate | CatalogPaper, bool]:
        """Make a member's submission a candidate whatever its score.

        Returns (record, created). When the paper is already a candidate (in any status) or
        already in the catalog, nothing changes and the existing record comes back.
        """
        with self._write():
            listed = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [paper.arxiv_id])
            if listed is not None:
                return _paper(listed), False
            row = self._candidate_row(paper.arxiv_id)
            if row is not None:
                return _candidate(row), False
            self._insert_candidate(paper, match, source, submitted_by, now)
            self._audit(
                now, paper.arxiv_id, AuditAction.ADD, submitted_by, source, {"score": match.score}
            )
            return _candidate(self._require_candidate(paper.arxiv_id)), True

    def _insert_candidate(
        self, paper: Paper, match: Match, source: str, submitted_by: str | None, now: datetime
    ) -> None:
        stamp = _ts(now)
        self._insert(
            "candidates",
            {
                "arxiv_id": paper.arxiv_id,
                **_candidate_metadata(paper),
                "announce_type": str(paper.announce_type) if paper.announce_type else None,
                "announced": _ts(paper.announced),
                "score": float(match.score),
                "suggested_section": match.section,
                "runner_up": match.runner_up,
                "reasons": _dump(list(match.reasons)),
                "status": str(CandidateStatus.NEW),
                "source": source,
                "submitted_by": submitted_by,
                "created_at": stamp,
                "updated_at": stamp,
            },
        )

    @storage_errors
    def get_candidate(self, arxiv_id: str) -> Candidate | None:
        row = self._candidate_row(arxiv_id)
        return _candidate(row) if row is not None else None

    @storage_errors
    def candidate_by_message(self, message_id: str | int) -> Candidate | None:
        row = self._one("SELECT * FROM candidates WHERE message_id = ?", [str(message_id)])
        return _candidate(row) if row is not None else None

    @storage_errors
    def candidates(
        self,
        status: CandidateStatus | Sequence[CandidateStatus] | None = None,
        limit: int | None = None,
    ) -> list[Candidate]:
        """Candidates, newest first; `status` one name or several."""
        sql = "SELECT * FROM candidates"
        params: list[Any] = []
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            sql += f" WHERE status IN ({', '.join('?' for _ in wanted)})"
            params += [str(_status(s)) for s in wanted]
        sql += " ORDER BY created_at DESC, arxiv_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_candidate(r) for r in self._all(sql, params)]

    @storage_errors
    def to_post(self, limit: int) -> list[Candidate]:
        """Waiting candidates, best score first (ties by id), at most `limit`."""
        rows = self._all(
            "SELECT * FROM candidates WHERE status = 'new' AND message_id IS NULL"
            " ORDER BY score DESC, arxiv_id LIMIT ?",
            [max(0, int(limit))],
        )
        return [_candidate(r) for r in rows]

    @storage_errors
    def mark_posted(
        self,
        arxiv_id: str,
        channel_id: str | int,
        message_id: str | int,
        thread_id: str | int | None,
        now: datetime,
    ) -> Candidate:
        """Record the Discord post of a candidate; a later thread id is added, never lost."""
        with self._write():
            row = self._require_candidate(arxiv_id)
            values: dict[str, Any] = {
                "channel_id": str(channel_id),
                "message_id": str(message_id),
                "thread_id": str(thread_id) if thread_id is not None else row["thread_id"],
                "posted_at": row["posted_at"] or _ts(now),
            }
            if row["status"] == CandidateStatus.NEW:
                values["status"] = str(CandidateStatus.POSTED)
            changes = _changes(row, values)
            if changes:
                self._update(
                    "candidates", "arxiv_id", arxiv_id, {**changes, "updated_at": _ts(now)}
                )
            return _candidate(self._require_candidate(arxiv_id))

    @storage_errors
    def expire(self, now: datetime, max_age_days: float) -> list[str]:
        """Undecided candidates created more than max_age_days ago become expired."""
        cutoff = _aware(now) - timedelta(days=max_age_days)
        with self._write():
            rows = self._all(
                "SELECT arxiv_id, created_at FROM candidates WHERE status IN ('new', 'posted')"
                " ORDER BY arxiv_id"
            )
            # Compared as datetimes, not as text, whatever precision the stamps were written in.
            stale = [r["arxiv_id"] for r in rows if (_dt(r["created_at"]) or now) < cutoff]
            stamp = _ts(now)
            for arxiv_id in stale:
                self._update(
                    "candidates",
                    "arxiv_id",
                    arxiv_id,
                    {"status": str(CandidateStatus.EXPIRED), "updated_at": stamp},
                )
                self._audit(
                    now, arxiv_id, AuditAction.EXPIRE, "paperbot", "timer",
                    {"max_age_days": max_age_days},
                )  # fmt: skip
        if stale:
            log.debug("expired %d candidates older than %s days", len(stale), max_age_days)
        return stale
