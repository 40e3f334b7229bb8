"""Benchmark: how soon a post shows "Approved" after the deciding vote, with arXiv hanging.

A real PaperBot runs against the loopback Discord with its rate limits on, the seed list
imported and N candidates posted (one at a time, with the edit bucket refilled between); the arXiv API is a loopback server that never answers
(every approval's re-check of arXiv hangs). For each candidate two members vote ✅: the
clock runs from the second (deciding) reaction until the post shows the approval. The
baseline, measured in the same run, is the first (non-deciding) vote's own post edit: the
time Discord and the edit bucket take anyway. Floor: within 1 s of the deciding reaction.

    .venv/bin/python benchmarks/bench_approval.py [--papers N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.discord.embeds import COLOUR_APPROVED  # noqa: E402
from tests.bot.discord.helpers import (  # noqa: E402
    CHECK,
    Item,
    eventually,
    make_settings,
    running_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord, use_fake_discord  # noqa: E402

SEED = ROOT.parent / "shared" / "seeds" / "000_94920e77fcbe4d6f.txt"
BUCKET_REFILL = 5.5  # seconds: Discord's message-edit bucket is 5 edits per 5 s


async def hanging_arxiv() -> tuple[web.AppRunner, str, asyncio.Event]:
    release = asyncio.Event()

    async def query(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=b"<feed xmlns='http://www.w3.org/2005/Atom'/>")

    app = web.Application()
    app.router.add_get("/api/query", query)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/api", release


async def measure(papers: int, tmp: Path) -> tuple[list[float], list[float]]:
    items = [
        Item(
            f"2411.9{n:04d}",
            f"Double descent and grokking in deep neural networks, study {n}",
            "We relate double descent, benign overfitting and grokking in neural networks.",
        )
        for n in range(papers)
    ]
    runner, api, release = await hanging_arxiv()
    try:
        async with FakeDiscord() as server:
            with use_fake_discord(server):
                url = write_feed(tmp / "feed.xml", items)
                settings = make_settings(server, tmp, [url], api_base=api)
                settings.discord.max_posts_per_poll = papers
                server.enable_rate_limits()
                async with running_bot(server, settings) as h:
                    await h.app.import_list(SEED.read_text(encoding="utf-8"), "seed")
                    await h.worker.poll()
                    alice, bob = h.member("alice"), h.member("bob")
                    first_vote: list[float] = []
                    deciding: list[float] = []
                    for item in items:
                        post = h.post_of(item.arxiv_id)
                        edits = len(h.server.calls("PATCH", rf".*/messages/{post['id']}"))
                        # Discord's edit bucket (5 per 5 s in a channel) refilled first: what
                        # is measured is the approval's own path, not a queue of edits.
                        await asyncio.sleep(BUCKET_REFILL)
                        path = rf".*/messages/{post['id']}"
                        started = time.perf_counter()
                        await h.react(alice, post, CHECK)
                        await eventually(
                            lambda path=path, edits=edits: len(h.server.calls("PATCH", path)) > edits,
                            timeout=30.0, interval=0.002,
                        )  # fmt: skip
                        first_vote.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        await h.react(bob, post, CHECK)
                        await eventually(
                            lambda item=item: h.post_of(item.arxiv_id)["embeds"][0].get("color")
                            == COLOUR_APPROVED.value,
                            timeout=30.0, interval=0.002,
                        )  # fmt: skip
                        deciding.append(time.perf_counter() - started)
                    release.set()
                    await h.app.wait_tasks()
    finally:
        release.set()
        await runner.cleanup()
    return first_vote, deciding


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        first_vote, deciding = asyncio.run(measure(args.papers, Path(tmp)))
    base = statistics.median(first_vote)
    worst = max(deciding)
    print(f"{args.papers} approvals, rate limits on, arXiv re-check hanging:")
    print(f"  a vote's own post edit (baseline): median {base * 1000:.0f} ms")
    print(
        f"  deciding vote to 'Approved':       median {statistics.median(deciding) * 1000:.0f} ms,"
        f" worst {worst * 1000:.0f} ms ({statistics.median(deciding) / base:.1f}x the baseline;"
        f" floor 1 s: {'ok' if worst <= 1.0 else 'over'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
