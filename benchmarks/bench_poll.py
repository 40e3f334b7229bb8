"""Poll pipeline (parse + rank with rules and model + store, as `paperbot poll` runs it) on a 2,000-item arXiv feed against bare feedparser.

The default path: the model is the one the application trains right after `import-awesome`
(the list's entries as the catalog, the bundled background sample), and the ranker selects
by flag rate. `--rules-only` measures the rules alone. Training happens before the clock
starts: a poll scores with a stored model.

    .venv/bin/python benchmarks/bench_poll.py [--items N] [--repeat N] [--rules-only]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.awesome import parse_awesome  # noqa: E402
from db.catalog import Catalog  # noqa: E402
from feeds.background import training_background  # noqa: E402
from feeds.parse import parse_feed  # noqa: E402
from feeds.ranking import Ranker, rank_feed  # noqa: E402
from feeds.relevance import Example, RelevanceModel  # noqa: E402
from feeds.rules import RuleSet  # noqa: E402

SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "data/corpus/daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
LIST = SHARED / "data/awesome/README-2022-12-29-9a17759.md"
FLOOR = 1.25
BACKGROUND = 5000  # what the application trains its first model with


def build_feed(n: int) -> bytes:
    """An rss.arxiv.org RSS 2.0 feed, item for item in arXiv's format, from real metadata."""
    day = datetime(2026, 7, 1, tzinfo=UTC)
    items = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if not record.get("abstract") or not record.get("authors"):
                continue
            kind = ("new", "new", "new", "cross", "replace")[len(items) % 5]
            cats = "".join(f"<category>{escape(c)}</category>" for c in record["categories"])
            description = f"arXiv:{record['id']}v1 Announce Type: {kind} \nAbstract: " + " ".join(
                record["abstract"].split()
            )
            items.append(
                "<item>"
                f"<title>{escape(record['title'])}</title>"
                f"<link>https://arxiv.org/abs/{record['id']}</link>"
                f"<description>{escape(description)}</description>"
                f'<guid isPermaLink="false">oai:arXiv.org:{record["id"]}v1</guid>'
                f"{cats}"
                f"<pubDate>{format_datetime(day)}</pubDate>"
                f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
                "<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
                f"<dc:creator>{escape(', '.join(record['authors']))}</dc:creator>"
                "</item>"
            )
            if len(items) == n:
                break
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">'
        "<channel><title>cs.LG updates on arXiv.org</title>"
        "<link>http://rss.arxiv.org/rss/cs.LG</link>"
        "<description>cs.LG updates on the arXiv.org e-print archive.</description>"
        f"<lastBuildDate>{format_datetime(day)}</lastBuildDate>"
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rules-only", action="store_true", help="no model (not the default)")
    args = parser.parse_args()
    if not CORPUS.exists() or not LIST.exists():
        print(f"shared data missing: {CORPUS} or {LIST}", file=sys.stderr)
        return 2
    body = build_feed(args.items)
    doc = parse_awesome(LIST.read_text(encoding="utf-8"))
    entries = [e for e in doc.entries if e.title]
    sections = list(dict.fromkeys(e.section for e in entries))
    model = None
    if not args.rules_only:
        positives = [
            Example(e.key, e.title, e.digest or "", e.section, "positive", tuple(e.keywords))
            for e in entries
        ]
        examples = positives + training_background([], BACKGROUND)
        model = RelevanceModel.train(examples, now=datetime.now(UTC))
    ranker = Ranker(RuleSet.default(), model, sections=sections, catch_all="Others")
    now = datetime.now(UTC)
    bare: list[float] = []
    pipeline: list[float] = []
    parts = {"parse": [], "match": [], "store": []}  # type: dict[str, list[float]]
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            t0 = time.perf_counter()
            feedparser.parse(body)
            bare.append(time.perf_counter() - t0)

            catalog = Catalog(str(Path(tmp) / f"bench-{run}.db"))
            t0 = time.perf_counter()
            parsed = parse_feed(body, "bench")
            t1 = time.perf_counter()
            pairs = rank_feed(ranker, parsed.papers)
            t2 = time.perf_counter()
            report = catalog.store_candidates(pairs, "bench", now)
            t3 = time.perf_counter()
            catalog.close()
            pipeline.append(t3 - t0)
            parts["parse"].append(t1 - t0)
            parts["match"].append(t2 - t1)
            parts["store"].append(t3 - t2)
    b = statistics.median(bare)
    p = statistics.median(pipeline)
    ratio = p / b
    what = (
        "rules only"
        if model is None
        else (
            f"rules + model ({model.n_positive} catalog papers, flag rate {ranker.flag_rate:.0%})"
        )
    )
    print(
        f"poll pipeline on a {len(parsed.papers)}-item feed ({len(body) / 1e6:.1f} MB), "
        f"{what}, median of {args.repeat}:"
    )
    print(f"  bare feedparser.parse       {b * 1000:8.0f} ms   (baseline)")
    print(
        f"  parse + match + store       {p * 1000:8.0f} ms   = {ratio:.2f}x feedparser "
        f"(floor <= {FLOOR}x)"
    )
    for name, values in parts.items():
        print(f"    {name:<6} {statistics.median(values) * 1000:8.0f} ms")
    print(
        f"  stored: {len(report.new)} candidates, {len(report.not_candidates)} background, "
        f"{len(report.updated) + len(report.ignored_updates)} updates"
    )
    return 0 if ratio <= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
