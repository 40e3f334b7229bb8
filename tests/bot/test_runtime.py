"""`paperbot run` as a process: what it does when Discord cannot be reached, and on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.runtime import Worker
from bot.settings import Settings
from db import schema
from tests.bot.cli_helpers import Cli, clean_env


def test_an_unreachable_discord_is_retried_quietly_and_sigterm_stops_it(
    cli: Cli, tmp_path: Path
) -> None:
    cli.configure("poll_on_start = false\n[model]\nenabled = false\n")
    env = clean_env()
    # A closed port: every connection is refused at once.
    env.update(DISCORD_TOKEN="x.y.z", DISCORD_API_BASE="http://127.0.0.1:9/api/v10")
    log = tmp_path / "stderr.txt"
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(cli.config), "run"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while "retrying in 5 s" not in log.read_text(encoding="utf-8"):
                assert proc.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "no retry announced"
                time.sleep(0.05)
            time.sleep(0.5)
            assert proc.poll() is None  # still running: waiting to retry, not gone
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    err = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, err
    assert "Discord unreachable" in err and "retrying in 5 s" in err
    assert err.count("retrying in") == 1  # the stop ends the wait: no retry said while stopping
    assert "Traceback" not in err
    assert "voice will NOT be supported" not in err  # a text-only bot needs no voice libraries


FEED_DAY = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"


async def test_a_write_lock_held_by_another_process_is_a_passing_fault(
    tmp_path: Path,
    shared: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker used to exit when another process held the catalog's write lock past the
    busy timeout: the job now logs one line, writes nothing, and the next run stores."""
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 300)
    settings = Settings()
    settings.base_dir = tmp_path
    settings.catalog.data_dir = str(tmp_path / "data")
    settings.arxiv.feeds = [shared(FEED_DAY).as_uri()]
    settings.arxiv.min_interval = 0.0
    settings.arxiv.retries = 0
    settings.model.enabled = False
    app = await App.open(settings)
    try:
        worker = Worker(app)
        fatal: list[Exception] = []
        worker.on_fatal = fatal.append
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLD_WRITE_LOCK, str(settings.database_path), "4",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            assert (await holder.stdout.readline()).strip() == b"held"
            with caplog.at_level(logging.ERROR, logger="bot.runtime"):
                assert await worker.poll() is None
            assert fatal == []  # still running
            assert "poll job:" in caplog.text and "busy in another process" in caplog.text
            assert "the next run tries again" in caplog.text
            assert await app.catalog.candidates() == []  # nothing half-written
        finally:
            await asyncio.wait_for(holder.wait(), 30)
        report = await worker.poll()  # the lock is free again: this run stores the day
        assert report is not None and report.stored is not None and report.stored.new
    finally:
        await app.close()


HOLD_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_healthy_means_the_service_runs_its_jobs_and_polls_on_schedule(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    """`doctor --service` (the image's HEALTHCHECK) used to say healthy while nothing ran."""
    from datetime import UTC, datetime, timedelta

    from bot.settings import load_settings
    from db.catalog import Catalog

    cli.configure('poll_cron = "0 6 * * *"\n[model]\nenabled = false\n')
    cli("import-awesome", str(shared("seeds/000_94920e77fcbe4d6f.txt")))

    def service() -> tuple[int, str]:
        result = cli("doctor", "--quiet", "--service", check=False)
        return result.returncode, result.stdout

    code, out = service()  # a catalog no service has worked on
    assert code == 1 and "no paperbot service has run its jobs on this catalog" in out

    settings = load_settings(cli.config, env={})

    async def a_minute_of_service() -> None:
        app = await App.open(settings)
        try:
            worker = Worker(app)
            await worker.started()  # what the scheduler runs first, then every minute
            await worker.heartbeat()
        finally:
            await app.close()

    asyncio.run(a_minute_of_service())
    code, out = service()
    assert code == 0 and "PROBLEM" not in out, out

    catalog = Catalog(settings.database_path)
    try:
        now = datetime.now(UTC)
        catalog.meta_set("worker_alive_at", (now - timedelta(minutes=10)).isoformat())
        code, out = service()  # the jobs stopped (Discord gone, scheduler stuck, disk read-only)
        assert code == 1 and "the service last checked in 10 min ago" in out
        catalog.meta_set("worker_alive_at", now.isoformat())
        catalog.meta_set("poll_started_at", (now - timedelta(days=2)).isoformat())
        code, out = service()  # alive, but yesterday's 06:00 poll never started
        assert code == 1 and "has not started" in out
        catalog.meta_set("poll_started_at", now.isoformat())
        assert service()[0] == 0
    finally:
        catalog.close()
    assert cli("doctor", "--quiet").returncode == 0  # without --service: the catalog alone


def test_a_command_waiting_for_another_process_says_whom_and_then_writes(
    cli: Cli, seed_file: Path
) -> None:
    """A command beside another process's long write used to sit silent (79 s once) or
    fail; it now says it waits, naming the process, and writes once the lock is free."""
    cli("import-awesome", str(seed_file))
    database = cli.home / "data" / "paperbot.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(database), "3"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = cli.subprocess("import-awesome", str(seed_file))  # a write, unchanged
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"paperbot: waiting for another paperbot process (pid {holder.pid}) to finish writing"
        " the catalog (at most 60 s)"
    )
    assert "0 added, 0 updated" in result.stdout
    assert waited >= 1.0  # it did wait for the holder, within the bound


def test_the_holder_of_the_write_lock_is_read_from_the_kernel(tmp_path: Path) -> None:
    from db.catalog import Catalog
    from db.locks import write_lock_holder

    database = tmp_path / "c.db"
    Catalog(database).close()
    assert write_lock_holder(database) is None  # nobody holds it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(database), "2"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert write_lock_holder(database) == holder.pid
    finally:
        holder.wait(timeout=30)
    assert write_lock_holder(database) is None
    assert write_lock_holder(tmp_path / "missing.db") is None
