"""`paperbot run` as a real process against the fake Discord: restarts, crashes, start-up failures, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.discord.embeds import COLOUR_APPROVED, COLOUR_REJECTED
from tests.bot.discord.helpers import ADD_REACTIONS, CHECK, CROSS, posted_id, revoke_permission
from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parents[3]
FULL_FEED = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"
Shared = Callable[[str], Path]


def write_config(server: FakeDiscord, tmp_path: Path, feed: str, **discord: Any) -> Path:
    # A poll cron that cannot fire during a test, and a digest half a day away.
    digest = (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")
    extra = "".join(f"{key} = {value!r}\n" for key, value in discord.items())
    config = tmp_path / "paperbot.toml"
    config.write_text(
        f"""
[arxiv]
feeds = ["{feed}"]
poll_cron = "0 0 1 1 *"
min_interval = 0
api_base = "http://127.0.0.1:9/api"
retries = 0

[catalog]
data_dir = "data"

[discord]
guild_id = {server.guild_id}
review_channel_id = {server.channel_ids["papers"]}
admin_channel_id = {server.channel_ids["admin"]}
max_posts_per_poll = 3
guild_ready_timeout = 0.1
{extra}
[digest]
time = "{digest}"

[model]
enabled = false
""",
        encoding="utf-8",
    )
    return config


def environment(server: FakeDiscord, config: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PAPERBOT_"))}
    env.update(server.env())
    env.update(PAPERBOT_CONFIG=str(config), PYTHONPATH=str(ROOT), **overrides)
    return env


async def paperbot(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 30.0) -> tuple[int, str]:  # noqa: ASYNC109
    _, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, err.decode()


@contextlib.asynccontextmanager
async def bot_process(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await paperbot(env, "run")
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def bot_posts(server: FakeDiscord) -> list[dict[str, Any]]:
    return [
        m
        for m in server.messages(server.channel_ids["papers"])
        if m["author"]["id"] == server.bot_user_id and m["embeds"]
    ]


def decorated(server: FakeDiscord, count: int) -> list[dict[str, Any]] | None:
    """The candidate posts once there are `count`, each with the bot's ✅ and ❌."""
    posts = bot_posts(server)
    if len(posts) < count:
        return None
    for post in posts:
        for emoji in (CHECK, CROSS):
            if server.bot_user_id not in server.reactors(post["id"], emoji):
                return None
    return posts


def db_row(database: Path, arxiv_id: str) -> sqlite3.Row:
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM candidates WHERE arxiv_id = ?", (arxiv_id,)).fetchone()
    assert row is not None
    return row


def forget_post(database: Path, arxiv_id: str) -> None:
    """The state a crash between `send` and recording the post leaves behind."""
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute(
            "UPDATE candidates SET status = 'new', message_id = NULL, channel_id = NULL "
            "WHERE arxiv_id = ?",
            (arxiv_id,),
        )


def colour_of(server: FakeDiscord, message_id: str) -> int | None:
    return server.message_by_id(message_id)["embeds"][0].get("color")


async def test_votes_cast_while_down_count_and_nothing_is_posted_twice(
    fake_discord: FakeDiscord, tmp_path: Path, shared: Shared
) -> None:
    config = write_config(fake_discord, tmp_path, shared(FULL_FEED).resolve().as_uri())
    env = environment(fake_discord, config)
    database = tmp_path / "data" / "paperbot.db"
    review = fake_discord.channel_ids["papers"]
    alice = fake_discord.add_member("alice")
    bob = fake_discord.add_member("bob")

    code, err = await finish(await paperbot(env, "poll", "--once"))
    assert code == 0, err

    async with bot_process(env) as first:
        posts = await fake_discord.wait_for(lambda: decorated(fake_discord, 3), timeout=20)
        assert len(posts) == 3
        a, b, c = posts
        await fake_discord.user_add_reaction(review, a["id"], alice, CHECK)
        # Counted live: the bot edits the post with the new tally.
        await fake_discord.wait_for(
            lambda: (
                "votes +1 / −0"
                in fake_discord.message_by_id(a["id"])["embeds"][0]["footer"]["text"]
            ),
            timeout=10,
        )
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL

    # While it is down: a second approval, two rejections, and a post it "never recorded"
    # and never decorated (the crash came right after the send).
    await fake_discord.user_add_reaction(review, a["id"], bob, CHECK)
    await fake_discord.user_add_reaction(review, b["id"], alice, CROSS)
    await fake_discord.user_add_reaction(review, b["id"], bob, CROSS)
    forget_post(database, posted_id(c))
    await fake_discord.user_remove_reaction(review, c["id"], fake_discord.bot_user_id, CROSS)
    assert db_row(database, posted_id(a))["status"] == "posted"

    async with bot_process(env) as second:
        await fake_discord.wait_for(
            lambda: colour_of(fake_discord, a["id"]) == COLOUR_APPROVED.value, timeout=20
        )
        await fake_discord.wait_for(
            lambda: colour_of(fake_discord, b["id"]) == COLOUR_REJECTED.value, timeout=10
        )
        # Then the next three waiting candidates, and each post decorated.
        posts = await fake_discord.wait_for(lambda: decorated(fake_discord, 6), timeout=10)
        await asyncio.sleep(0.3)
        second.send_signal(signal.SIGTERM)
        code, err = await finish(second, timeout=15)
    assert code == 0, err
    assert "Traceback" not in err

    ids = [posted_id(p) for p in bot_posts(fake_discord)]
    assert len(ids) == len(set(ids)) == 6, ids
    assert db_row(database, posted_id(a))["status"] == "approved"
    assert db_row(database, posted_id(b))["status"] == "rejected"
    adopted = db_row(database, posted_id(c))
    assert adopted["status"] == "posted" and adopted["message_id"] == c["id"]
    assert fake_discord.reactors(c["id"], CROSS) == [fake_discord.bot_user_id]


async def test_missing_permission_stops_with_one_line(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    revoke_permission(fake_discord, ADD_REACTIONS)
    feed = (tmp_path / "none.xml").resolve().as_uri()
    env = environment(fake_discord, write_config(fake_discord, tmp_path, feed))
    code, err = await finish(await paperbot(env, "run"))
    assert code == 1
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "paperbot: error: missing permission(s) in #papers: add_reactions"
    )
    assert not fake_discord.calls("POST", r"/channels/.*/messages")


async def test_a_refused_token_is_one_line(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    feed = (tmp_path / "none.xml").resolve().as_uri()
    config = write_config(fake_discord, tmp_path, feed)
    env = environment(fake_discord, config, DISCORD_TOKEN="not-the-token")
    code, err = await finish(await paperbot(env, "run"))
    assert code == 2
    assert "Traceback" not in err
    assert (
        err.strip().splitlines()[-1] == "paperbot: error: Discord refused the token (DISCORD_TOKEN)"
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_shuts_down_cleanly(
    fake_discord: FakeDiscord, tmp_path: Path, signum: int
) -> None:
    feed = (tmp_path / "none.xml").resolve().as_uri()
    env = environment(fake_discord, write_config(fake_discord, tmp_path, feed))
    async with bot_process(env) as process:
        await fake_discord.wait_for(
            lambda: fake_discord.registered_commands(fake_discord.guild_id), timeout=20
        )
        await fake_discord.wait_for(lambda: fake_discord.connected, timeout=10)
        await asyncio.sleep(0.3)
        process.send_signal(signum)
        code, err = await finish(process, timeout=15)
    assert code == 0, err
    assert "Traceback" not in err
    assert not fake_discord.connected  # the gateway was closed, not dropped


async def test_options_after_the_subcommand_and_a_wrong_guild_is_one_line_with_the_link(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    feed = (tmp_path / "none.xml").resolve().as_uri()
    config = write_config(fake_discord, tmp_path, feed)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f"guild_id = {fake_discord.guild_id}", "guild_id = 4242"), "utf-8"
    )
    env = environment(fake_discord, config)
    del env["PAPERBOT_CONFIG"]  # the file comes from --config, given after the subcommand
    code, err = await finish(await paperbot(env, "run", "--config", str(config), "-v"))
    assert code == 1, err
    assert "Traceback" not in err and "unrecognized arguments" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "paperbot: error: cannot register the slash commands in guild 4242 (Missing Access)"
    )
    invite = (
        f"https://discord.com/oauth2/authorize?client_id={fake_discord.application_id}"
        "&scope=bot+applications.commands&permissions=309237763136"
    )
    assert last.endswith(invite)
