"""Tests for db.worker.AsyncCatalog: one owning thread, serialised calls, errors and WAL readers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from db.catalog import Catalog, CatalogUnavailable, NotFound
from db.worker import AsyncCatalog, CatalogClosed
from tests.db import T0, item


async def test_every_call_runs_on_the_one_catalog_thread(tmp_path: Path) -> None:
    acat = await AsyncCatalog.open(tmp_path / "c.db")
    try:
        idents = await asyncio.gather(
            *(acat.run(lambda _: threading.get_ident()) for _ in range(20))
        )
        assert len(set(idents)) == 1
        assert idents[0] != threading.get_ident()
        assert acat.thread is not None and acat.thread.ident == idents[0]
        # The proxies go to the same thread: the connection would refuse any other.
        await acat.store_candidates([item("2401.00001")], "feed", T0)
        owner = await acat.run(
            lambda cat: cat.conn.execute("SELECT 1").fetchone() and threading.get_ident()
        )
        assert owner == idents[0]
    finally:
        await acat.close()


async def test_concurrent_calls_serialise_without_locking_errors(tmp_path: Path) -> None:
    acat = await AsyncCatalog.open(tmp_path / "c.db")
    try:
        await acat.store_candidates([item(f"2401.{n:05d}") for n in range(1, 11)], "feed", T0)
        votes = [
            acat.set_vote(f"2401.{n:05d}", f"user{u}", "approve", True, T0)
            for n in range(1, 11)
            for u in range(30)
        ]
        reads = [acat.search("paper") for _ in range(50)]
        polls = [acat.store_candidates([item("2401.00001")], "feed", T0) for _ in range(20)]
        results = await asyncio.gather(*votes, *reads, *polls)
        assert len(results) == 300 + 50 + 20
        for n in range(1, 11):
            assert len((await acat.tally(f"2401.{n:05d}")).approve) == 30
    finally:
        await acat.close()


async def test_errors_reach_the_awaiting_caller_and_the_thread_carries_on(tmp_path: Path) -> None:
    acat = await AsyncCatalog.open(tmp_path / "c.db")
    try:
        with pytest.raises(NotFound, match=r"2401\.09999"):
            await acat.decide("2401.09999", True, "a", "cli", T0)
        with pytest.raises(ZeroDivisionError):
            await acat.run(lambda _: 1 / 0)
        with pytest.raises(AttributeError):
            await acat.no_such_method()
        assert (await acat.stats()).papers == 0
    finally:
        await acat.close()


async def test_the_loop_keeps_running_while_the_catalog_works(tmp_path: Path) -> None:
    acat = await AsyncCatalog.open(tmp_path / "c.db")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    try:
        await acat.run(lambda _: time.sleep(0.3))
        assert ticks >= 10
    finally:
        task.cancel()
        await acat.close()


async def test_open_errors_surface_and_close_is_final(tmp_path: Path) -> None:
    with pytest.raises(CatalogUnavailable, match="missing-dir"):
        await AsyncCatalog.open(tmp_path / "missing-dir" / "c.db")
    acat = await AsyncCatalog.open(tmp_path / "c.db")
    await acat.close()
    await acat.close()
    with pytest.raises(CatalogClosed):
        await acat.stats()
    # The file was closed cleanly: another connection opens and migrates nothing.
    with Catalog(tmp_path / "c.db") as cat:
        assert cat.stats().papers == 0


READER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], timeout=5)
    seen, deadline = [], time.monotonic() + 30
    conn.execute("SELECT count(*) FROM candidates").fetchone()
    print("ready", flush=True)
    while time.monotonic() < deadline:
        (n,) = conn.execute("SELECT count(*) FROM candidates").fetchone()
        if not seen or n != seen[-1]:
            seen.append(n)
        if n >= int(sys.argv[2]):
            break
        time.sleep(0.002)
    print(" ".join(map(str, seen)))
    """
)


async def test_another_process_reads_while_the_bot_writes(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    acat = await AsyncCatalog.open(path)
    batches = 40
    reader = await asyncio.create_subprocess_exec(
        sys.executable, "-c", READER, str(path), str(batches * 5),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert reader.stdout is not None
        assert await asyncio.wait_for(reader.stdout.readline(), timeout=30) == b"ready\n"
        for b in range(batches):
            items = [item(f"2402.{b * 5 + k + 1:05d}") for k in range(5)]
            await acat.store_candidates(items, "feed", T0)
            await asyncio.sleep(0.01)
        out, err = await asyncio.wait_for(reader.communicate(), timeout=60)
    finally:
        await acat.close()
    assert reader.returncode == 0, err.decode()
    seen = [int(n) for n in out.split()]
    # Every count the reader saw was a whole poll: transactions are never seen half done.
    assert seen[-1] == batches * 5
    assert all(n % 5 == 0 for n in seen) and seen == sorted(seen)
    assert len(seen) > 2  # it read while the writes went on, not only after


def test_the_facade_forwards_exactly_the_catalogs_public_methods() -> None:
    from db.catalog import public_methods
    from db.worker import forwarded

    # close() is the facade's own: it stops the thread as well as the connection.
    assert forwarded() == public_methods() - {"close"}
    assert not hasattr(AsyncCatalog, "__getattr__")
    assert AsyncCatalog.decide.__doc__ == Catalog.decide.__doc__


TYPED_CALLS = textwrap.dedent(
    """
    from datetime import UTC, datetime

    from db.awesome import parse_awesome
    from db.catalog import AddedHow, Decision
    from db.worker import AsyncCatalog


    async def use(acat: AsyncCatalog, readme: str) -> None:
        now = datetime.now(UTC)
        decision: Decision = await acat.decide("2401.00001", True, "alice", AddedHow.CLI, now)
        await acat.import_entries(parse_awesome(readme).entries, "maintainer", now)
        await acat.decide("x")  # line 13
        await acat.no_such_method()  # line 14
        papers: int = await acat.papers()  # line 15
        print(decision.status, (await acat.stats()).papers, papers)
    """
)


def test_mypy_checks_calls_through_the_facade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mypy import api

    root = Path(__file__).resolve().parents[2]
    snippet = tmp_path / "uses_facade.py"
    snippet.write_text(TYPED_CALLS, encoding="utf-8")
    monkeypatch.setenv("MYPYPATH", str(root))
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--config-file", str(root / "pyproject.toml"),
            "--cache-dir", str(tmp_path / "mypy-cache"),
            "--no-error-summary", "--hide-error-context", "--show-error-codes",
            str(snippet),
        ]
    )  # fmt: skip
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert lines == [13, 14, 15], stdout + stderr
    assert status == 1
    assert any("call-arg" in e and ":13:" in e for e in errors), stdout
    assert any("no_such_method" in e and ":14:" in e for e in errors), stdout
    assert any("list[CatalogPaper]" in e and ":15:" in e for e in errors), stdout
