"""Benchmark: relevance-model training and scoring time, peak memory, blob size, on one core.

Catalog = 10,000 real abstracts (2015-2019 blog corpus; sections assigned round-robin, since
only the cost is measured here), background = 20,000 real announcements (2025-26 daily
listings), scored = 2,000 other real announcements. Baselines measured in the same run:
scoring the same 2,000 papers with the default rules (`RuleSet.match_many`), and fitting the
vocabulary alone. Floors (a small server's): scoring 2,000 <= 0.3 s; training 10k + 20k
<= 300 MB peak RSS (the whole process: interpreter, libraries, the examples) and < 60 s; a
stored model <= 10 MB. Exits non-zero when a floor is missed.

    .venv/bin/python benchmarks/bench_model.py [--catalog N] [--background N] [--score N]
"""

from __future__ import annotations

import os

# one core: set before numpy / scipy load their BLAS
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.models import Paper  # noqa: E402
from feeds.ranking import Ranker  # noqa: E402
from feeds.relevance import (  # noqa: E402
    Example,
    RelevanceModel,
    TextFeatures,
    example_text,
)
from feeds.rules import RuleSet  # noqa: E402

SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
DAILY = SHARED / "data" / "corpus" / "daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
AMDS = SHARED / "data" / "corpus" / "amds123-arxiv-blog-posts-2015_2019.jsonl.gz"
SECTIONS = [
    "Deep Learning Theory",
    "Empirical Study",
    "Understanding Robustness",
    "Representation Learning",
    "Interpretability",
]
SCORE_FLOOR = 0.3  # seconds for 2,000 papers
TRAIN_FLOOR = 60.0  # seconds for 10,000 catalog + 20,000 background
RSS_FLOOR = 300.0  # MB, peak resident memory of the process that trains
BLOB_FLOOR = 10.0  # MB, stored model


def read(path: Path, n: int) -> list[dict]:
    """Only what a model trains on (id, title, abstract): what the application holds."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("abstract") and r.get("title"):
                out.append({"id": r["id"], "title": r["title"], "abstract": r["abstract"]})
                if len(out) == n:
                    break
    return out


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", type=int, default=10_000)
    ap.add_argument("--background", type=int, default=20_000)
    ap.add_argument("--score", type=int, default=2_000)
    args = ap.parse_args()

    catalog = read(AMDS, args.catalog)
    daily = read(DAILY, args.background + args.score)
    background, scored = daily[: args.background], daily[args.background :]
    examples = [
        Example(r["id"], r["title"], r["abstract"], SECTIONS[i % len(SECTIONS)], "positive")
        for i, r in enumerate(catalog)
    ] + [Example(r["id"], r["title"], r["abstract"], None, "background") for r in background]
    papers = [Paper(arxiv_id=r["id"], title=r["title"], abstract=r["abstract"]) for r in scored]
    rss_before = maxrss_mb()

    # training (first, so the peak is training's), then the vocabulary fit alone as its
    # baseline
    t = time.perf_counter()
    model = RelevanceModel.train(examples, now=datetime.now(UTC))
    train_s = time.perf_counter() - t
    rss_train = maxrss_mb()
    texts = [example_text(e.title, e.text) for e in examples]
    t = time.perf_counter()
    TextFeatures.fit(texts, lsa_dims=0)
    vocab_s = time.perf_counter() - t
    del texts

    # scoring, with the rules on the same papers as the baseline
    rules = RuleSet.default()
    rules_s = best_of(lambda: rules.match_many(papers), 3)
    model_s = best_of(lambda: model.predict(papers), 3)
    matches = rules.match_many(papers)

    ranker = Ranker(rules, model, sections=SECTIONS)

    def pipeline() -> None:
        preds = model.predict(papers)
        ranker.decide(papers, rules.match_many(papers), preds)

    both_s = best_of(pipeline, 3)
    assert len(matches) == len(papers)
    t = time.perf_counter()
    blob = model.to_bytes()
    save_s = time.perf_counter() - t
    t = time.perf_counter()
    RelevanceModel.from_bytes(blob)
    load_s = time.perf_counter() - t

    n_train = len(examples)
    print(f"relevance model, one core; {len(catalog)} catalog + {len(background)} background")
    print(f"  vocabulary: {model.features.n_terms} terms + {model.features.lsa_dims} latent")
    print(
        f"  train {n_train} examples:          {train_s:7.2f} s   "
        f"(floor {TRAIN_FLOOR:.0f} s: {'ok' if train_s < TRAIN_FLOOR else 'MISSED'}; "
        f"{train_s / vocab_s:.1f}x the vocabulary fit alone, {vocab_s:.2f} s)"
    )
    print(
        f"  score {len(papers)} papers (model):     {model_s:7.3f} s   "
        f"(floor {SCORE_FLOOR:.1f} s: {'ok' if model_s < SCORE_FLOOR else 'MISSED'}; "
        f"{model_s / rules_s:.1f}x the rules alone, {rules_s:.3f} s)"
    )
    print(
        f"  score {len(papers)} papers (rules+model): {both_s:7.3f} s   ({both_s / rules_s:.1f}x the rules alone)"
    )
    rss_ok = rss_train <= RSS_FLOOR
    print(
        f"  peak memory (max RSS): {rss_train:.0f} MB after training "
        f"(floor {RSS_FLOOR:.0f} MB: {'ok' if rss_ok else 'MISSED'}); training grew it by "
        f"{rss_train - rss_before:.0f} MB, {rss_train / rss_before:.2f}x the process before "
        f"training ({rss_before:.0f} MB: interpreter, libraries, the 30,000 examples)"
    )
    blob_mb = len(blob) / 1e6
    blob_ok = blob_mb <= BLOB_FLOOR
    print(
        f"  stored model: {blob_mb:.1f} MB (floor {BLOB_FLOOR:.0f} MB: "
        f"{'ok' if blob_ok else 'MISSED'}); to_bytes {save_s:.2f} s, from_bytes {load_s:.2f} s"
    )
    ok = train_s < TRAIN_FLOOR and model_s <= SCORE_FLOOR and rss_ok and blob_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
