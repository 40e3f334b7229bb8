"""The catalog's state beside the papers: feed state, meta values, trained models, the stored list."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from db.catalog.base import CatalogBase, storage_errors
from db.catalog.records import (
    ModelInfo,
    StoredList,
    StoredModel,
    _dt,
    _dump,
    _feed_state,
    _ts,
)
from db.errors import InvalidArgument
from feeds.models import FeedState

log = logging.getLogger(__name__)

# Models kept in the file: the newest and two before it, to go back to if one trains badly.
MODELS_KEPT = 3
# Versions of the list kept: enough to see what the maintainer changed lately, no more.
LISTS_KEPT = 10


def _model_info(row: sqlite3.Row) -> ModelInfo:
    trained_at = _dt(row["trained_at"])
    assert trained_at is not None
    return ModelInfo(
        version=row["version"],
        trained_at=trained_at,
        n_train=row["n_train"],
        metrics=json.loads(row["metrics"]),
        size=row["size"],
    )


def _stored_list(row: sqlite3.Row) -> StoredList:
    imported_at = _dt(row["imported_at"])
    assert imported_at is not None
    return StoredList(
        text=row["text"], source=row["source"], imported_at=imported_at, sha256=row["sha256"]
    )


class StateMixin(CatalogBase):
    """What paperbot remembers between runs that is not a paper or a candidate."""

    # -- feed state ----------------------------------------------------------------------

    @storage_errors
    def feed_state(self, url: str) -> FeedState | None:
        row = self._one("SELECT * FROM feeds WHERE url = ?", [url])
        return _feed_state(row) if row is not None else None

    @storage_errors
    def feed_states(self) -> list[FeedState]:
        return [_feed_state(r) for r in self._all("SELECT * FROM feeds ORDER BY url")]

    @storage_errors
    def forget_feed(self, url: str) -> bool:
        """Drop what is remembered about a feed (its health, validators); False if unknown."""
        with self._write():
            cursor = self.conn.execute("DELETE FROM feeds WHERE url = ?", [url])
            return cursor.rowcount > 0

    @storage_errors
    def save_feed_state(self, state: FeedState) -> None:
        values = {
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "last_checked": _ts(state.last_checked),
            "last_success": _ts(state.last_success),
            "last_changed": _ts(state.last_changed),
            "content_hash": state.content_hash,
            "last_error": state.last_error,
            "consecutive_failures": int(state.consecutive_failures),
            "alerted": 1 if state.alerted else 0,
        }
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        updates = ", ".join(f"{n} = excluded.{n}" for n in values if n != "url")
        with self._write():
            self.conn.execute(
                f"INSERT INTO feeds ({names}) VALUES ({marks}) ON CONFLICT (url) DO UPDATE SET {updates}",
                list(values.values()),
            )

    # -- meta ----------------------------------------------------------------------------

    @storage_errors
    def meta_get(self, key: str, default: str | None = None) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", [key])
        return row[0] if row is not None else default

    @storage_errors
    def meta_set(self, key: str, value: str | None) -> None:
        with self._write():
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    # -- models --------------------------------------------------------------------------

    @storage_errors
    def save_model(
        self, blob: bytes, n_train: int, metrics: Mapping[str, Any], now: datetime
    ) -> int:
        """Store a trained model; returns its version (one more than the newest stored).

        Only the newest MODELS_KEPT versions stay: older blobs are deleted in the same
        transaction.
        """
        trained_at = _ts(now)
        with self._write():
            (latest,) = self._one("SELECT coalesce(max(version), 0) FROM models") or (0,)
            version = int(latest) + 1
            self._insert(
                "models",
                {
                    "version": version,
                    "trained_at": trained_at,
                    "n_train": int(n_train),
                    "metrics": _dump(dict(metrics)),
                    "blob": bytes(blob),
                },
            )
            pruned = self.conn.execute(
                "DELETE FROM models WHERE version <= ?", [version - MODELS_KEPT]
            ).rowcount
        log.debug(
            "stored model v%d (%d examples); %d old versions pruned", version, n_train, pruned
        )
        return version

    @storage_errors
    def latest_model(self) -> StoredModel | None:
        """The newest stored model with its blob, or None."""
        row = self._one("SELECT * FROM models ORDER BY version DESC LIMIT 1")
        if row is None:
            return None
        trained_at = _dt(row["trained_at"])
        assert trained_at is not None
        return StoredModel(
            version=row["version"],
            trained_at=trained_at,
            n_train=row["n_train"],
            metrics=json.loads(row["metrics"]),
            blob=bytes(row["blob"]),
        )

    @storage_errors
    def model_info(self) -> ModelInfo | None:
        """The newest stored model's metadata; the blob is not read."""
        row = self._one(
            "SELECT version, trained_at, n_train, metrics, length(blob) AS size FROM models"
            " ORDER BY version DESC LIMIT 1"
        )
        return _model_info(row) if row is not None else None

    # -- the stored list -----------------------------------------------------------------

    @storage_errors
    def save_list(self, text: str, source: str, now: datetime) -> StoredList:
        """Keep `text` as the current list; the same text from the same source changes nothing.

        Returns what is stored now. The newest LISTS_KEPT versions are kept.
        """
        if not isinstance(text, str):
            raise InvalidArgument(f"the list must be text, not {type(text).__name__}")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgument(f"the list is not valid text ({exc.reason})") from None
        stamp = _ts(now)
        digest = hashlib.sha256(data).hexdigest()
        with self._write():
            row = self._one("SELECT * FROM lists ORDER BY id DESC LIMIT 1")
            if row is not None and row["sha256"] == digest and row["source"] == source:
                return _stored_list(row)
            self._insert(
                "lists", {"text": text, "source": source, "imported_at": stamp, "sha256": digest}
            )
            self.conn.execute(
                "DELETE FROM lists WHERE id NOT IN (SELECT id FROM lists ORDER BY id DESC LIMIT ?)",
                [LISTS_KEPT],
            )
            saved = self._one("SELECT * FROM lists ORDER BY id DESC LIMIT 1")
        assert saved is not None
        log.debug(
            "stored the list from %s (%d characters, sha256 %s)", source, len(text), digest[:12]
        )
        return _stored_list(saved)

    @storage_errors
    def current_list(self) -> StoredList | None:
        """The list as last saved, or None before the first import."""
        row = self._one("SELECT * FROM lists ORDER BY id DESC LIMIT 1")
        return _stored_list(row) if row is not None else None
