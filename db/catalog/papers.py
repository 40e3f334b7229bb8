"""Catalog papers: importing the list, reading papers back, the audit trail, stats and background."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from db.catalog.base import CatalogBase, storage_errors
from db.catalog.records import (
    AuditEntry,
    BackgroundItem,
    CatalogPaper,
    CatalogStats,
    ImportPlan,
    ImportReport,
    ListedEntry,
    _audit_entry,
    _changes,
    _dump,
    _load_list,
    _paper,
    _ts,
    first_version_year,
)
from db.errors import InvalidArgument, NotFound
from db.types import OPEN_STATUSES, AddedHow, AuditAction, CandidateStatus

log = logging.getLogger(__name__)


class PapersMixin(CatalogBase):
    """The curated papers, how they got there, and what was done to them."""

    @storage_errors
    def import_entries(
        self, entries: Iterable[ListedEntry], actor: str, now: datetime
    ) -> ImportReport:
        """Upsert awesome-list entries by key, all or nothing; importing twice changes nothing."""
        report = ImportReport()
        stamp = _ts(now)
        with self._write():
            for entry in entries:
                key = str(entry.key or "").strip()
                if not key:
                    raise InvalidArgument(f"an entry without a key: {entry.title!r}")
                arxiv_id = entry.arxiv_id or None
                year = entry.year
                if arxiv_id:
                    year = first_version_year(arxiv_id) or year
                wanted = {
                    "arxiv_id": arxiv_id,
                    "title": str(entry.title or "").strip() or key,
                    "authors": _dump(list(entry.authors or [])),
                    "section": entry.section,
                    "year": int(year) if year is not None else None,
                    "venue": entry.venue,
                    "paper_url": entry.paper_url,
                    "code_url": entry.code_url,
                    "digest": entry.digest,
                    "keywords": _dump(list(entry.keywords or [])),
                }
                row = self._one("SELECT * FROM papers WHERE key = ?", [key])
                if row is None and arxiv_id:
                    row = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [arxiv_id])
                if row is None:
                    self._insert(
                        "papers",
                        {
                            "key": key,
                            **wanted,
                            "added_at": stamp,
                            "added_by": actor,
                            "added_how": str(AddedHow.IMPORT),
                            "updated_at": stamp,
                        },
                    )
                    self._audit(now, arxiv_id or key, AuditAction.IMPORT, actor, "import",
                                {"key": key})  # fmt: skip
                    report.added.append(key)
                    continue
                changes = _changes(row, wanted)
                if changes:
                    self._update("papers", "id", row["id"], {**changes, "updated_at": stamp})
                    self._audit(now, arxiv_id or key, AuditAction.UPDATE, actor, "import",
                                {"key": key, "fields": sorted(changes)})  # fmt: skip
                    report.updated.append(key)
                else:
                    report.unchanged.append(key)
        if report.added or report.updated:
            log.debug(
                "import by %s: %d added, %d updated, %d unchanged",
                actor, len(report.added), len(report.updated), len(report.unchanged),
            )  # fmt: skip
        return report

    @storage_errors
    def remove_imported(
        self,
        keys_present: Collection[str],
        actor: str,
        now: datetime,
        withdrawn: Collection[str] = (),
    ) -> list[str]:
        """Delete imported papers whose key is not in `keys_present`; returns their keys.

        The list is the source of truth: an entry the maintainer took out of the README
        leaves the catalog at the next import. Papers that came in by a vote, a curator or
        the CLI stay (the README may not have caught up with them yet), unless their key is
        in `withdrawn`: a paper the previous README had and the new one dropped was taken
        out by the maintainer. Audited as "remove".
        """
        present = {str(k) for k in keys_present}
        gone = {str(k) for k in withdrawn} - present
        removed: list[str] = []
        with self._write():
            rows = self._all(
                "SELECT id, key, arxiv_id, section, title, added_how FROM papers ORDER BY id"
            )
            for row in rows:
                if row["key"] in present:
                    continue
                if row["added_how"] != str(AddedHow.IMPORT) and row["key"] not in gone:
                    continue
                self.conn.execute("DELETE FROM papers WHERE id = ?", [row["id"]])
                detail = {"key": row["key"], "section": row["section"], "title": row["title"]}
                self._audit(now, row["arxiv_id"] or row["key"], AuditAction.REMOVE, actor,
                            "import", detail)  # fmt: skip
                removed.append(row["key"])
        if removed:
            log.debug("removed %d papers no longer in the list", len(removed))
        return removed

    @storage_errors
    def apply_import(
        self,
        entries: Iterable[ListedEntry],
        actor: str,
        now: datetime,
        withdrawn: Collection[str] = (),
        *,
        dry_run: bool = False,
        max_removals: int | None = None,
    ) -> ImportPlan:
        """`import_entries` then `remove_imported`, in one transaction: kept, or rolled back
        (`applied` false) for a `dry_run` or when more than `max_removals` papers would go.
        Either way the plan says exactly what the import does."""
        entries = list(entries)
        plan: ImportPlan | None = None
        try:
            with self._write():
                titles = {r["key"]: r["title"] for r in self._all("SELECT key, title FROM papers")}
                report = self.import_entries(entries, actor, now)
                keys = {str(e.key or "").strip() for e in entries}
                removed = self.remove_imported(keys, actor, now, withdrawn)
                applied = not dry_run and (max_removals is None or len(removed) <= max_removals)
                plan = ImportPlan(report, removed, {k: titles.get(k, k) for k in removed}, applied)
                if not applied:
                    raise _RollBack
        except _RollBack:
            pass
        assert plan is not None
        return plan

    @storage_errors
    def set_entry_text(
        self,
        key: str,
        *,
        digest: str | None,
        keywords: Iterable[str],
        venue: str | None,
        code_url: str | None,
        actor: str,
        now: datetime,
    ) -> CatalogPaper:
        """Store how a paper's list entry reads (digest, key words, venue, code link).

        Only for papers that came in by a decision: an imported entry reads as the
        maintainer wrote it.
        """
        with self._write():
            row = self._paper_row(key)
            if row is None:
                raise NotFound("a catalog paper", key)
            if row["added_how"] == str(AddedHow.IMPORT):
                raise InvalidArgument(f"{key} was imported from the list: its entry is the list's")
            wanted = {
                "digest": digest,
                "keywords": _dump(list(keywords)),
                "venue": venue,
                "code_url": code_url,
            }
            changes = {k: v for k, v in wanted.items() if row[k] != v}
            if changes:
                self._update("papers", "id", row["id"], {**changes, "updated_at": _ts(now)})
                self._audit(now, row["arxiv_id"] or row["key"], AuditAction.UPDATE, actor, "entry",
                            {"fields": sorted(changes)})  # fmt: skip
            fresh = self._paper_row(key)
            assert fresh is not None
            return _paper(fresh)

    @storage_errors
    def get_paper(self, key: str) -> CatalogPaper | None:
        """A catalog paper by key, or by arXiv id."""
        row = self._paper_row(key)
        return _paper(row) if row is not None else None

    @storage_errors
    def papers(self, section: str | None = None) -> list[CatalogPaper]:
        """Catalog papers in the order they were added; `section` exact, any case."""
        if section is None:
            rows = self._all("SELECT * FROM papers ORDER BY id")
        else:
            rows = self._all(
                "SELECT * FROM papers WHERE section = ? COLLATE NOCASE ORDER BY id", [section]
            )
        return [_paper(r) for r in rows]

    @storage_errors
    def recent(self, n: int = 5) -> list[CatalogPaper]:
        rows = self._all(
            "SELECT * FROM papers ORDER BY added_at DESC, id DESC LIMIT ?", [max(0, int(n))]
        )
        return [_paper(r) for r in rows]

    @storage_errors
    def stats(self) -> CatalogStats:
        by_section = {
            (r[0] if r[0] is not None else "(none)"): r[1]
            for r in self._all(
                "SELECT section, count(*) FROM papers GROUP BY section ORDER BY count(*) DESC, section"
            )
        }
        found = Counter(
            {
                r[0]: r[1]
                for r in self._all("SELECT status, count(*) FROM candidates GROUP BY status")
            }
        )
        by_status = {s: found[str(s)] for s in CandidateStatus if found[str(s)]}
        by_how: dict[str, int] = {
            r[0]: r[1]
            for r in self._all("SELECT added_how, count(*) FROM papers GROUP BY added_how")
        }
        return CatalogStats(
            papers=sum(by_section.values()),
            papers_by_section=by_section,
            papers_by_how={h: by_how[str(h)] for h in AddedHow if str(h) in by_how},
            candidates=sum(by_status.values()),
            candidates_by_status=by_status,
            open_candidates=sum(by_status.get(s, 0) for s in OPEN_STATUSES),
            votes=(self._one("SELECT count(*) FROM votes") or (0,))[0],
            feeds=(self._one("SELECT count(*) FROM feeds") or (0,))[0],
        )

    @storage_errors
    def audit_log(self, limit: int = 50, arxiv_id: str | None = None) -> list[AuditEntry]:
        """The newest audit entries first, for one paper or for all."""
        sql = "SELECT * FROM audit"
        params: list[Any] = []
        if arxiv_id is not None:
            sql += " WHERE arxiv_id = ?"
            params.append(arxiv_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(max(0, int(limit)))
        return [_audit_entry(r) for r in self._all(sql, params)]

    @storage_errors
    def audit(self, arxiv_id: str, limit: int = 1000) -> list[AuditEntry]:
        """One paper's audit trail, oldest first."""
        return list(reversed(self.audit_log(limit=limit, arxiv_id=arxiv_id)))

    @storage_errors
    def background(self, n: int) -> list[BackgroundItem]:
        """Up to n unflagged feed items, newest first."""
        rows = self._all(
            "SELECT arxiv_id, title, abstract, categories FROM background"
            " ORDER BY seen_at DESC, arxiv_id LIMIT ?",
            [max(0, int(n))],
        )
        return [
            BackgroundItem(
                arxiv_id=r["arxiv_id"],
                title=r["title"],
                abstract=r["abstract"],
                categories=_load_list(r["categories"]),
            )
            for r in rows
        ]


class _RollBack(Exception):
    """Leaves a transaction that only worked something out."""
