"""The catalog's connection and the helpers every domain of it shares (writes, audit, errors)."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from db.catalog.records import _dump, _ts
from db.errors import NotFound, is_bug, storage_error
from db.locks import write_lock_holder
from db.schema import connect, immediate, migrate, retry_locked
from db.types import AuditAction

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound="CatalogBase")


def storage_errors(method: Callable[Concatenate[C, P], R]) -> Callable[Concatenate[C, P], R]:
    """Turn a sqlite3 error escaping a public catalog method into a CatalogError naming the file."""

    def wrapper(self: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if is_bug(exc):
                raise
            raise storage_error(self.path, exc) from exc

    functools.update_wrapper(wrapper, method)
    wrapper.__catalog_public__ = True  # type: ignore[attr-defined]
    return wrapper


class CatalogBase:
    """The open connection; the domain mixins of `Catalog` build on it."""

    path: str
    conn: sqlite3.Connection

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        write_wait_ms: int | None = None,
        on_write_wait: Callable[[int | None], None] | None = None,
    ) -> None:
        """`write_wait_ms`: how long a write waits for another process's write lock (the
        busy timeout when None); `on_write_wait(pid)` hears once per write that waits, with
        the holder's pid when the system says it."""
        self.path = str(path)
        self.write_wait_ms = write_wait_ms
        self.on_write_wait = on_write_wait
        try:
            self.conn = retry_locked(lambda: self._open(self.path))
        except sqlite3.Error as exc:
            if is_bug(exc):
                raise
            raise storage_error(self.path, exc) from exc

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        conn = connect(path)
        try:
            conn.row_factory = sqlite3.Row
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @storage_errors
    def close(self) -> None:
        self.conn.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- small helpers ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction holding the write lock from its start (see schema.immediate)."""
        hook = self.on_write_wait
        on_wait = None
        if hook is not None and self.path != ":memory:":
            path = self.path

            def on_wait() -> None:
                hook(write_lock_holder(path))

        with immediate(self.conn, wait_ms=self.write_wait_ms, on_wait=on_wait):
            yield

    def _one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def _all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def _insert(self, table: str, values: Mapping[str, Any]) -> None:
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))

    def _update(self, table: str, key: str, key_value: Any, values: Mapping[str, Any]) -> None:
        if not values:
            return
        sets = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(
            f"UPDATE {table} SET {sets} WHERE {key} = ?", [*values.values(), key_value]
        )

    def _audit(
        self,
        now: datetime,
        arxiv_id: str | None,
        action: AuditAction,
        actor: str | None,
        how: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self._insert(
            "audit",
            {
                "at": _ts(now),
                "arxiv_id": arxiv_id,
                "action": str(action),
                "actor": actor,
                "how": how,
                "detail": _dump(dict(detail or {})),
            },
        )

    def _candidate_row(self, arxiv_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM candidates WHERE arxiv_id = ?", [arxiv_id])

    def _paper_row(self, key: str) -> sqlite3.Row | None:
        row = self._one("SELECT * FROM papers WHERE key = ?", [key])
        if row is None:
            row = self._one("SELECT * FROM papers WHERE arxiv_id = ?", [key])
        return row

    def _require_candidate(self, arxiv_id: str) -> sqlite3.Row:
        row = self._candidate_row(arxiv_id)
        if row is None:
            raise NotFound("a candidate", arxiv_id)
        return row
