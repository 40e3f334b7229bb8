"""Benchmark: reaction events counted by the running bot against the same votes written straight to the catalog.

A real PaperBot runs against the loopback fake Discord with one candidate posted and
Discord's rate limits on (5 message edits per 5 s per channel; `--no-rate-limits` turns
them off). N reaction events (by default 1,000: N/2 members add ✅, then N/4 of them add
❌ and the same N/4 remove their ✅) go through the gateway, discord.py, the review cog,
the catalog writer thread and the coalesced post edits. Two clocks: until the catalog's
tally matches, and until the post shows the final tally. The baseline is the same N
`set_vote` calls made straight on a fresh catalog, one after another, without Discord.
The script checks the final tallies agree and prints events per second for both and their
ratio (bot time until the catalog / baseline time: the price of Discord and the vote lock
per event).

    .venv/bin/python benchmarks/bench_reactions.py [--events N] [--no-rate-limits]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import now_utc  # noqa: E402
from db.worker import AsyncCatalog  # noqa: E402
from feeds.parse import parse_feed  # noqa: E402
from feeds.rules import RuleSet  # noqa: E402
from tests.bot.discord.helpers import (  # noqa: E402
    CHECK,
    CROSS,
    STRONG,
    eventually,
    make_settings,
    rss_feed,
    running_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord, use_fake_discord  # noqa: E402

Event = tuple[str, str, bool]  # (user, choice, present)


def script(users: list[str]) -> list[Event]:
    half = users[: len(users) // 2]
    events: list[Event] = [(u, "approve", True) for u in users]
    events += [(u, "reject", True) for u in half]
    events += [(u, "approve", False) for u in half]
    return events


async def through_discord(
    events: list[Event], users: list[str], tmp: Path, *, rate_limits: bool
) -> tuple[float, float, tuple[set[str], set[str]], int]:
    async with FakeDiscord() as server:
        with use_fake_discord(server):
            url = write_feed(tmp / "feed.xml", [STRONG])
            settings = make_settings(
                server, tmp, [url], approve_threshold=10**6, reject_threshold=10**6
            )
            async with running_bot(server, settings) as h:
                await h.worker.poll()
                server.enable_rate_limits(rate_limits)
                post = h.post_of(STRONG.arxiv_id)
                ids = {u: server.add_member(u) for u in users}
                expected = _expected(events)
                want = ({ids[u] for u in expected[0]}, {ids[u] for u in expected[1]})

                async def done() -> bool:
                    return await h.votes(STRONG.arxiv_id) == want

                started = time.perf_counter()
                for user, choice, present in events:
                    emoji = CHECK if choice == "approve" else CROSS
                    if present:
                        await h.react(ids[user], post, emoji)
                    else:
                        await h.unreact(ids[user], post, emoji)
                await eventually(done, timeout=300, interval=0.002)
                elapsed = time.perf_counter() - started
                final = f"votes +{len(want[0])} / −{len(want[1])}"

                def shown() -> bool:
                    return final in server.message_by_id(post["id"])["embeds"][0]["footer"]["text"]

                await eventually(shown, timeout=300, interval=0.005)
                on_post = time.perf_counter() - started
                edits = [
                    r
                    for r in server.calls("PATCH", rf"/channels/{h.review}/messages/{post['id']}")
                    if r.status == 200
                ]
                return elapsed, on_post, want, len(edits)


async def straight(events: list[Event], tmp: Path) -> tuple[float, tuple[set[str], set[str]]]:
    papers = parse_feed(rss_feed([STRONG]), "file:///feed.xml").papers
    matches = RuleSet.default().match_many(papers)
    catalog = await AsyncCatalog.open(str(tmp / "baseline.db"))
    try:
        await catalog.store_candidates(
            list(zip(papers, matches, strict=True)), "file:///feed.xml", now_utc()
        )
        started = time.perf_counter()
        tally = None
        for user, choice, present in events:
            tally = await catalog.set_vote(STRONG.arxiv_id, user, choice, present, now_utc())
        elapsed = time.perf_counter() - started
        assert tally is not None
        return elapsed, (set(tally.approve), set(tally.reject))
    finally:
        await catalog.close()


def _expected(events: list[Event]) -> tuple[set[str], set[str]]:
    approve: set[str] = set()
    reject: set[str] = set()
    for user, choice, present in events:
        target = approve if choice == "approve" else reject
        (target.add if present else target.discard)(user)
    return approve, reject


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--no-rate-limits", dest="rate_limits", action="store_false")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    users = [f"voter{i}" for i in range(args.events // 2)]
    events = script(users)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        base_time, base_tally = await straight(events, tmp / "b")
        bot_time, post_time, bot_tally, edits = await through_discord(
            events, users, tmp / "a", rate_limits=args.rate_limits
        )
    if base_tally != _expected(events):
        print("baseline tally is wrong", file=sys.stderr)
        return 1
    if len(bot_tally[0]) != len(base_tally[0]) or len(bot_tally[1]) != len(base_tally[1]):
        print("bot tally differs from the baseline", file=sys.stderr)
        return 1
    n = len(events)
    print(f"{n} reaction events, rate limits {'on' if args.rate_limits else 'off'}; all counted")
    print(
        f"  bot (fake Discord → PaperBot → catalog): {bot_time:6.2f} s  {n / bot_time:8.0f} events/s"
    )
    print(f"  until the post shows the final tally:    {post_time:6.2f} s  ({edits} post edits)")
    print(
        f"  baseline (set_vote straight on catalog): {base_time:6.2f} s  {n / base_time:8.0f} events/s"
    )
    print(f"  ratio bot/baseline: {bot_time / base_time:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
