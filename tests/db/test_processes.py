"""Two paperbot processes on one catalog: concurrent writers wait for each other, a new file opens safely."""

from __future__ import annotations

import multiprocessing
import sqlite3
import traceback
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from db.catalog import Catalog
from tests.db import T0, Listed, item

# Real processes, started fresh (spawn): each opens its own connection, as `paperbot poll`
# in a shell does beside the running bot.
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 120


def _writer(path: str, worker: int, rounds: int, barrier: Barrier, out: Any) -> None:
    try:
        with Catalog(path) as cat:
            barrier.wait(TIMEOUT)
            for n in range(rounds):
                # Each of these reads, then writes, in one transaction: the pattern a
                # deferred transaction cannot wait out.
                cat.store_candidates([item(f"2402.{worker:02d}{n:03d}")], f"feed{worker}", T0)
                cat.set_vote("2401.00001", f"w{worker}-{n}", "approve", True, T0)
                cat.import_entries([Listed(f"w{worker}:{n}", f"Listed by {worker}")], "w", T0)
                cat.meta_set(f"worker{worker}", str(n))
        out.put((worker, "ok"))
    except BaseException:
        out.put((worker, traceback.format_exc()))


def _opener(path: str, worker: int, barrier: Barrier, out: Any) -> None:
    try:
        barrier.wait(TIMEOUT)
        with Catalog(path) as cat:
            cat.meta_set(f"opened-by-{worker}", "yes")
        out.put((worker, "ok"))
    except BaseException:
        out.put((worker, traceback.format_exc()))


def _run(target: Any, args_for: list[tuple[Any, ...]]) -> dict[int, str]:
    out = SPAWN.Queue()
    barrier = SPAWN.Barrier(len(args_for))
    procs = [SPAWN.Process(target=target, args=(*a[:2], *a[2:], barrier, out)) for a in args_for]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=TIMEOUT) for _ in procs)
    for p in procs:
        p.join(TIMEOUT)
    return results


def test_processes_writing_at_once_wait_for_each_other_and_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with Catalog(path) as cat:
        cat.store_candidates([item("2401.00001")], "feed", T0)
    workers, rounds = 6, 15
    results = _run(_writer, [(str(path), w, rounds) for w in range(workers)])
    assert results == {w: "ok" for w in range(workers)}, "\n".join(results.values())
    with Catalog(path) as cat:
        ids = {c.arxiv_id for c in cat.candidates()}
        assert ids == {"2401.00001"} | {
            f"2402.{w:02d}{n:03d}" for w in range(workers) for n in range(rounds)
        }
        assert len(cat.tally("2401.00001").approve) == workers * rounds
        assert len(cat.papers()) == workers * rounds
        assert all(cat.meta_get(f"worker{w}") == str(rounds - 1) for w in range(workers))
        # Every write is audited exactly once: no transaction ran twice or half.
        assert len(cat.audit_log(limit=10_000)) == workers * rounds * 2


def test_many_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    workers = 16
    results = _run(_opener, [(str(path), w) for w in range(workers)])
    assert results == {w: "ok" for w in range(workers)}, "\n".join(results.values())
    conn = sqlite3.connect(path)
    try:
        applied = conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall()
        assert applied == [("m001_initial",), ("m002_stored_list",), ("m003_runner_up",)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        opened = conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'opened-by-%'")
        assert opened.fetchone()[0] == workers
    finally:
        conn.close()
