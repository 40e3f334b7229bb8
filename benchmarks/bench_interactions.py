"""Benchmark: interaction acknowledgements and event-loop lateness during a 2,000-item poll with the model on, against the idle bot.

A real PaperBot runs against the loopback fake Discord, its catalog holding the 2022
awesome list and a relevance model trained after a first 2,000-item poll (real arXiv
metadata from ../shared/data/corpus). Then, twice for the same length of time:

- idle (the baseline): nothing else happens;
- poll: the worker polls another 2,000 items (parse, rules, model scoring, store, posts).

Meanwhile a member runs `/paper stats` and `/paper show` every 50 ms and the fake server
times each acknowledgement (Discord's deadline is 3 s), and a probe task sleeps 5 ms at a
time and records how late it wakes (the event loop's lateness: what the gateway heartbeat
and every handler wait on). The fake server shares the loop, as a network would not, so
both figures include its own work.

Printed: acknowledgement p50/p99/max and loop lateness p99/max for both phases, and the
ratios poll/idle. Floors: acknowledgement p99 < 1 s, loop lateness max < 50 ms.

    .venv/bin/python benchmarks/bench_interactions.py [--items N] [--idle SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.discord.helpers import make_settings, running_bot  # noqa: E402
from tests.fakediscord import FakeDiscord, InteractionRecord, use_fake_discord  # noqa: E402

SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "data/corpus/daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
README = SHARED / "data/awesome/README-2022-12-29-9a17759.md"
ACK_FLOOR = 1.0
LAG_FLOOR = 0.050
PROBE_SLEEP = 0.005
COMMAND_EVERY = 0.05


def feeds(n: int, count: int) -> list[bytes]:
    """`count` rss.arxiv.org feeds of `n` different items each, from real metadata."""
    day = datetime(2026, 7, 1, tzinfo=UTC)
    records: list[dict[str, object]] = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record.get("abstract") and record.get("authors"):
                records.append(record)
            if len(records) == n * count:
                break
    out = []
    for k in range(count):
        items = []
        for record in records[k * n : (k + 1) * n]:
            rid = record["id"]
            cats = "".join(f"<category>{escape(str(c))}</category>" for c in record["categories"])  # type: ignore[attr-defined]
            abstract = " ".join(str(record["abstract"]).split())
            items.append(
                f"<item><title>{escape(str(record['title']))}</title>"
                f"<link>https://arxiv.org/abs/{rid}</link>"
                f"<description>{escape(f'arXiv:{rid}v1 Announce Type: new ' + chr(10) + 'Abstract: ' + abstract)}</description>"
                f'<guid isPermaLink="false">oai:arXiv.org:{rid}v1</guid>{cats}'
                f"<pubDate>{format_datetime(day)}</pubDate>"
                "<arxiv:announce_type>new</arxiv:announce_type>"
                f"<dc:creator>{escape(', '.join(record['authors']))}</dc:creator></item>"  # type: ignore[arg-type]
            )
        out.append(
            (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">'
                "<channel><title>cs.LG updates on arXiv.org</title>"
                "<link>http://rss.arxiv.org/rss/cs.LG</link>"
                "<description>cs.LG updates on the arXiv.org e-print archive.</description>"
                f"<lastBuildDate>{format_datetime(day)}</lastBuildDate>"
                + "".join(items)
                + "</channel></rss>"
            ).encode("utf-8")
        )
    return out


@dataclass
class Phase:
    seconds: float = 0.0
    acks: list[float] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    unanswered: int = 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(server: FakeDiscord, user: str, channel: str, show_id: str,
                  busy: asyncio.Future[object] | None, seconds: float) -> Phase:  # fmt: skip
    """Probe the loop and send commands until `busy` is done (or for `seconds` when idle)."""
    phase = Phase()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            t = loop.time()
            await asyncio.sleep(PROBE_SLEEP)
            phase.lateness.append(max(0.0, loop.time() - t - PROBE_SLEEP))

    async def commands() -> list[InteractionRecord]:
        sent = []
        n = 0
        while not stop.is_set():
            name, options = ("paper stats", {}) if n % 2 else ("paper show", {"id": show_id})
            sent.append(
                await server.invoke_command(name, options, user_id=user, channel_id=channel)
            )
            n += 1
            await asyncio.sleep(COMMAND_EVERY)
        return sent

    started = loop.time()
    tasks = [asyncio.create_task(probe()), asyncio.create_task(commands())]
    if busy is None:
        await asyncio.sleep(seconds)
    else:
        await busy
    phase.seconds = loop.time() - started
    stop.set()
    _, records = await asyncio.gather(*tasks)
    for record in records:
        await record.wait_settled()
        if record.latency is None:
            phase.unanswered += 1
        else:
            phase.acks.append(record.latency)
    return phase


async def run(items: int, idle: float) -> tuple[Phase, Phase, int]:
    first, second = feeds(items, 2)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        feed = tmp / "feed.xml"
        feed.write_bytes(first)
        async with FakeDiscord() as server:
            with use_fake_discord(server):
                settings = make_settings(server, tmp, [feed.resolve().as_uri()])
                settings.model.enabled = True
                async with running_bot(server, settings) as h:
                    await h.app.import_list(README.read_text(encoding="utf-8"), str(README))
                    await h.worker.poll()  # stores the background, then trains the model
                    assert h.app.ranker.model is not None, "no model was trained"
                    candidates = await h.catalog.candidates()
                    show_id = candidates[0].arxiv_id if candidates else "2401.00001"
                    user = h.member("erin")
                    await h.quiet()
                    base = await measure(server, user, h.review, show_id, None, idle)
                    await h.quiet()
                    feed.write_bytes(second)
                    poll = asyncio.ensure_future(h.worker.poll())
                    during = await measure(server, user, h.review, show_id, poll, idle)
                    report = poll.result()
                    stored = len(report.stored.new) if report and report.stored else 0
                    await h.quiet()
    return base, during, stored


def line(name: str, p: Phase) -> str:
    return (
        f"  {name:5s} {p.seconds:5.1f} s, {len(p.acks)} commands: acknowledged p50 "
        f"{pct(p.acks, 0.5) * 1000:6.1f} ms, p99 {pct(p.acks, 0.99) * 1000:6.1f} ms, "
        f"max {max(p.acks, default=0) * 1000:6.1f} ms, {p.unanswered} unanswered; loop lateness "
        f"p99 {pct(p.lateness, 0.99) * 1000:5.1f} ms, max {max(p.lateness, default=0) * 1000:5.1f} ms"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--idle", type=float, default=3.0, help="length of the idle baseline")
    args = parser.parse_args()
    if not CORPUS.exists() or not README.exists():
        print(f"shared data missing: {CORPUS} / {README}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    t0 = time.perf_counter()
    base, during, stored = await run(args.items, args.idle)
    print(f"{args.items}-item poll with the model on ({stored} new candidates stored), "
          f"set-up and run {time.perf_counter() - t0:.0f} s")  # fmt: skip
    print(line("idle", base))
    print(line("poll", during))
    ack_ratio = pct(during.acks, 0.99) / pct(base.acks, 0.99)
    lag_ratio = max(during.lateness) / max(max(base.lateness), 1e-6)
    print(
        f"  ratio poll/idle: acknowledgement p99 {ack_ratio:.2f}x, loop lateness max {lag_ratio:.2f}x"
    )
    ack_ok = pct(during.acks, 0.99) < ACK_FLOOR and not during.unanswered
    lag_ok = max(during.lateness) < LAG_FLOOR
    print(f"  floors: acknowledgement p99 < {ACK_FLOOR:g} s {'met' if ack_ok else 'NOT met'}; "
          f"loop lateness max < {LAG_FLOOR * 1000:g} ms {'met' if lag_ok else 'NOT met'} "
          f"(median lateness {statistics.median(during.lateness) * 1000:.2f} ms)")  # fmt: skip
    return 0 if ack_ok and lag_ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
