"""The retrain a poll starts: the model trained again with a 2,000-item day as background.

A poll that stores 50 or more new background announcements retrains the model at once, off
the event loop (`bot/app/polling.py`), so the next poll ranks against the community's own
day. This measures that training, as `gather_examples` feeds it after one ordinary day of
the default `background_sample` (2,000): the 2022 list's 360 entries as the catalog and
2,000 background announcements, the day's new ones first (topped up from the bundled
sample, as `training_background` does). Baseline, in the same run: bare
`feedparser.parse` of the same 2,000 announcements as an arXiv RSS feed (what every poll
of such a day costs anyway). Floor: the training <= 2 s on a quiet machine. One core.

    .venv/bin/python benchmarks/bench_retrain.py [--repeat N]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import feedparser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_poll import build_feed  # noqa: E402
from db.awesome import parse_awesome  # noqa: E402
from feeds.background import training_background  # noqa: E402
from feeds.parse import parse_feed  # noqa: E402
from feeds.relevance import Example, RelevanceModel  # noqa: E402

SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
LIST_2022 = SHARED / "data/awesome/README-2022-12-29-9a17759.md"
ITEMS = 2000
FLOOR = 2.0  # seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    doc = parse_awesome(LIST_2022.read_text(encoding="utf-8"))
    positives = [
        Example(e.key, e.title, e.digest or "", e.section, "positive", tuple(e.keywords))
        for e in doc.entries
        if e.title
    ]
    feed = build_feed(ITEMS)
    day = [p for p in parse_feed(feed, "bench").papers if not p.is_update]
    background = [Example(p.arxiv_id, p.title, p.abstract, None, "background") for p in day]
    # as `gather_examples` makes them: the day's own first, topped up from the bundled sample
    own = training_background(background, ITEMS)
    examples = positives + own
    RelevanceModel.train(examples, now=datetime.now(UTC))  # libraries loaded, caches warm
    train, parse = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        RelevanceModel.train(examples, now=datetime.now(UTC))
        train.append(time.perf_counter() - t)
        t = time.perf_counter()
        feedparser.parse(feed)
        parse.append(time.perf_counter() - t)
    tr, pa = statistics.median(train), statistics.median(parse)
    print(
        f"retrain after a poll: {len(positives)} list entries + {len(own)} background "
        f"({len(background)} of them the day's new announcements), one core, median of "
        f"{args.repeat}"
    )
    print(f"  bare feedparser.parse of the day  {pa:6.2f} s   (baseline)")
    print(
        f"  training                          {tr:6.2f} s   = {tr / pa:.2f}x the parse "
        f"(floor {FLOOR:g} s: {'ok' if tr <= FLOOR else 'MISSED'})"
    )
    return 0 if tr <= FLOOR else 1


if __name__ == "__main__":
    raise SystemExit(main())
