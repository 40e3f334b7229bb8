"""Benchmark: a restart with 40 open posts under Discord's rate limits, against re-editing every post.

A real PaperBot runs against the loopback fake Discord. A first run posts N candidates
(default 40) and counts a vote on a few of them; the bot stops; while it is down, K of the
posts (default 4) get one more ✅. Then rate limits are switched on (Discord's figures:
5 message edits per 5 s per channel, 5 message reads per second…) and the bot starts
again. The clock runs from opening the application until the restart is consistent: the
start-up checks and recount are done, the catalog equals what Discord shows on every post,
and every post shows that tally. The edits made are counted; K of them are needed.

The baseline, measured in the same run on a fresh server, is the same restart with the
memory of what each post shows defeated (every post is re-rendered and edited, as the bot
did before it remembered): the ratio is restart time / baseline time.

Floor: consistent within 5 s, 0 redundant edits.

    .venv/bin/python benchmarks/bench_restart.py [--posts N] [--changed K]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bot.discord.review as review_module  # noqa: E402
from bot.app import App  # noqa: E402
from bot.discord.client import PaperBot  # noqa: E402
from tests.bot.discord.helpers import (  # noqa: E402
    CHECK,
    CROSS,
    Item,
    eventually,
    make_settings,
    posted_id,
    running_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord, running_client, use_fake_discord  # noqa: E402

EDIT = "/channels/{channel_id}/messages/{message_id}"
FLOOR_SECONDS = 5.0


@dataclass
class Restart:
    seconds: float  # from opening the app until consistent
    edits: int  # post edits Discord carried out during the restart
    needed: int  # posts whose tally changed while the bot was down
    rate_limited: int  # 429s answered during the restart


def items(n: int) -> list[Item]:
    return [
        Item(f"2411.9{k:04d}", f"Grokking and double descent, study {k}", "We study grokking in neural networks.")
        for k in range(1000, 1000 + n)
    ]  # fmt: skip


@contextlib.contextmanager
def forgetful() -> Iterator[None]:
    """Every render looks new: the bot edits each post it refreshes, needed or not."""
    original = review_module.embed_signature
    counter = itertools.count()
    review_module.embed_signature = lambda embed: f"render {next(counter)}"
    try:
        yield
    finally:
        review_module.embed_signature = original


async def restart(tmp: Path, posts: int, changed: int, *, remember: bool) -> Restart:
    async with FakeDiscord() as server:
        with use_fake_discord(server):
            url = write_feed(tmp / "feed.xml", items(posts))
            settings = make_settings(
                server, tmp, [url], max_posts_per_poll=posts, approve_threshold=100,
                reject_threshold=100,
            )  # fmt: skip
            settings.model.daily_budget = 1000
            async with running_bot(server, settings) as h:
                await h.worker.poll()
                made = h.posts()
                assert len(made) == posts, f"{len(made)} posts, wanted {posts}"
                alice = h.member("alice")
                for post in made[: posts // 4]:  # some posts already show a vote
                    await h.react(alice, post, CROSS)
                await eventually(
                    lambda: all("votes +0 / −1" in p["embeds"][0]["footer"]["text"]
                                for p in h.posts()[: posts // 4]),
                    timeout=60,
                )  # fmt: skip
                await h.quiet()
            bob = server.add_member("bob")
            for post in made[-changed:] if changed else []:
                await server.user_add_reaction(post["channel_id"], post["id"], bob, CHECK)

            server.enable_rate_limits()
            edits_before = len(server.route_calls("PATCH", EDIT))
            limited_before = server.rate_limit_hits
            with contextlib.nullcontext() if remember else forgetful():
                started = time.perf_counter()
                app = await App.open(settings)
                try:
                    client = PaperBot(app)
                    async with running_client(client, server.token, timeout=30.0):

                        async def consistent() -> bool:
                            if not client.started.is_set():
                                return False
                            for post in made:
                                shown = server.message_by_id(post["id"])
                                approve = set(server.reactors(post["id"], CHECK)) - {
                                    server.bot_user_id
                                }
                                reject = set(server.reactors(post["id"], CROSS)) - {
                                    server.bot_user_id
                                }
                                tally = await app.catalog.tally(posted_id(post))
                                if (set(tally.approve), set(tally.reject)) != (approve, reject):
                                    return False
                                footer = shown["embeds"][0]["footer"]["text"]
                                if f"votes +{len(approve)} / −{len(reject)}" not in footer:
                                    return False
                            return True

                        await eventually(consistent, timeout=300, interval=0.02)
                        seconds = time.perf_counter() - started
                        # Whatever the bot still had queued goes out before counting.
                        await client.review.drain_tasks(60)
                        quiet_since = len(server.requests)
                        while True:
                            await asyncio.sleep(0.5)
                            if len(server.requests) == quiet_since:
                                break
                            quiet_since = len(server.requests)
                finally:
                    await app.close()
            done = [r for r in server.route_calls("PATCH", EDIT)[edits_before:] if r.status == 200]
            return Restart(seconds, len(done), changed, server.rate_limit_hits - limited_before)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--changed", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        now = await restart(tmp / "a", args.posts, args.changed, remember=True)
        base = await restart(tmp / "b", args.posts, args.changed, remember=False)
    print(
        f"restart with {args.posts} open posts, {args.changed} changed while down, rate limits on"
    )
    for name, r in (("bot", now), ("baseline (re-edit every post)", base)):
        print(
            f"  {name:30s} consistent after {r.seconds:6.2f} s; {r.edits} edit(s),"
            f" {r.edits - r.needed} redundant; {r.rate_limited} rate-limited request(s)"
        )
    print(f"  ratio bot/baseline (time until consistent): {now.seconds / base.seconds:.2f}x")
    ok = now.seconds <= FLOOR_SECONDS and now.edits == now.needed
    print(f"  floor (≤ {FLOOR_SECONDS:g} s, 0 redundant edits): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
