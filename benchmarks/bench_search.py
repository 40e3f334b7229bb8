"""Benchmark: catalog full-text search (FTS5, bm25) against a naive LIKE scan, on a million real papers.

The catalog is built in a temporary file from the real corpora in ../shared/data/corpus
(daily-arxiv-ai-enhanced 74k with authors, koaning 34k, amds123 48k), replicated under fresh
synthetic arXiv ids until it holds --papers rows (default 1,000,000). Rows go in through the
bulk path: FTS triggers off, batched inserts, one index rebuild at the end.

Then 200 queries run through `Catalog.search`: 1-4 consecutive words cut from real titles,
some with a section, year or author filter, some hostile (FTS5 syntax, quotes, emoji, NUL,
10,000 characters). The baseline is what a catalog without an index would do: for every
word, `title LIKE '%word%' OR abstract LIKE '%word%'`, the same filters, title hits first,
a page of 10 and a count. A LIKE scan of a million abstracts takes seconds, so it runs on
every 10th query (20 of them); both sides are reported on that same subset and the ratio
compares them there (median against median, p99 against p99).

Floors: FTS p99 under 50 ms over all 200 queries, and the median at least 100x faster
than LIKE. Exits non-zero if either fails.

    .venv/bin/python benchmarks/bench_search.py [--papers N] [--like-every K] [--keep PATH]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.catalog import Catalog, first_version_year  # noqa: E402
from db.schema import fts_bulk_load, savepoint  # noqa: E402

SHARED = Path(
    os.environ.get("PAPERBOT_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)
CORPORA = (
    "daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz",
    "koaning-arxiv-frontpage-2023_2025.jsonl.gz",
    "amds123-arxiv-blog-posts-2015_2019.jsonl.gz",
)
SECTIONS = (
    "Double Descent", "Grokking", "Lottery Ticket Hypothesis", "Interpretability",
    "Neural Collapse", "Scaling Laws", "Emergence", "Memorization", "Loss Landscape",
    "Implicit Regularization",
)  # fmt: skip
HOSTILE = (
    '"unbalanced',
    "double AND (OR NEAR( * ^ -",
    "title:grokking abstract:x",
    "NOT learning",
    "a OR b OR c",
    "neural NEAR/2 network",
    "'; DROP TABLE papers; --",
    "🙂🚀 emoji only 🙂",
    "nul\x00byte \x01\x1f control",
    "x" * 10_000,
    "   ",
    "",
    "***",
    "^title",
    "(((deep)))",
    "-",
    '""""',
    "{title abstract}: learning",
    "col:umn:filter:chain",
    "transformer*",
)
FTS_P99_FLOOR_MS = 50.0
RATIO_FLOOR = 100.0
BATCH = 50_000


def load_corpus() -> list[dict[str, Any]]:
    """Every corpus record once (by arXiv id), as catalog columns."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for name in CORPORA:
        path = SHARED / "data" / "corpus" / name
        if not path.exists():
            sys.exit(f"missing corpus file {path} (set PAPERBOT_SHARED)")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                aid = str(rec.get("id") or "").strip()
                title = " ".join(str(rec.get("title") or "").split())
                if not aid or not title or aid in seen:
                    continue
                seen.add(aid)
                rows.append(
                    {
                        "arxiv_id": aid,
                        "title": title,
                        "authors": list(rec.get("authors") or []),
                        "abstract": rec.get("abstract") or "",
                        "categories": list(rec.get("categories") or []),
                    }
                )
    return rows


def synthetic_ids(taken: set[str]) -> Iterator[str]:
    """Valid-looking new-style ids, numbered from 60000 so they never meet real ones."""
    for yy in range(10, 27):
        for mm in range(1, 13):
            for num in range(60000, 100000):
                aid = f"{yy:02d}{mm:02d}.{num:05d}"
                if aid not in taken:
                    yield aid


def build(path: Path, n: int, base: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    cat = Catalog(path)
    conn = cat.conn
    # Build-only settings: the file is thrown away if the process dies. Without a journal
    # the gigabytes of index are written once, not once to the WAL and again at checkpoint.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    fresh = synthetic_ids({r["arxiv_id"] for r in base})
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    sql = (
        "INSERT INTO papers (key, arxiv_id, version, title, authors, abstract, categories,"
        " section, year, added_at, added_by, added_how, updated_at)"
        " VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, 'bench', 'import', ?)"
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            rec = base[i % len(base)]
            aid = rec["arxiv_id"] if i < len(base) else next(fresh)
            digest = hashlib.blake2b(aid.encode(), digest_size=2).digest()
            stamp = (t0 + timedelta(seconds=i * 60)).isoformat()
            yield (
                aid,
                aid,
                rec["title"],
                json.dumps(rec["authors"], ensure_ascii=False),
                rec["abstract"],
                json.dumps(rec["categories"]),
                SECTIONS[digest[0] % len(SECTIONS)],
                first_version_year(aid),
                stamp,
                stamp,
            )

    with fts_bulk_load(conn):
        it = rows()
        while True:
            batch = [row for _, row in zip(range(BATCH), it, strict=False)]
            if not batch:
                break
            with savepoint(conn):
                conn.executemany(sql, batch)
        inserted = time.perf_counter()
        print(f"inserted {n:,} rows in {inserted - started:.1f} s; indexing…", flush=True)
    conn.execute("PRAGMA journal_mode = WAL")
    cat.close()
    done = time.perf_counter()
    print(f"FTS index rebuilt in {done - inserted:.1f} s", flush=True)
    return done - started


def make_queries(base: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """200 queries: words cut from real titles, a third with filters, a tenth hostile."""
    with_authors = [r for r in base if r["authors"]]
    queries: list[dict[str, Any]] = []
    hostile = list(HOSTILE)
    for i in range(200):
        if i % 10 == 7:
            queries.append({"query": hostile[(i // 10) % len(hostile)]})
            continue
        rec = rng.choice(base)
        words = re.findall(r"[A-Za-z][A-Za-z0-9-]+", rec["title"])
        if not words:
            words = ["learning"]
        k = min(len(words), rng.choice((1, 2, 2, 3, 3, 4)))
        start = rng.randrange(0, len(words) - k + 1)
        q: dict[str, Any] = {"query": " ".join(words[start : start + k])}
        kind = i % 6
        if kind == 1:
            q["section"] = rng.choice(SECTIONS)
        elif kind == 3:
            year = rng.choice((2016, 2018, 2020, 2023, 2025))
            q["year_from"], q["year_to"] = year, year + 1
        elif kind == 5:
            who = rng.choice(with_authors)["authors"]
            q["author"] = rng.choice(who).split()[-1]
        queries.append(q)
    return queries


def like_search(conn: Any, q: dict[str, Any]) -> tuple[int, list[int]]:
    """The naive baseline: every word as a substring of title or abstract, full scan."""
    words = [w for w in re.findall(r"[^\W_]+", q["query"].replace("\x00", " ")) if len(w) > 1][:32]
    if not words:
        return 0, []
    where: list[str] = []
    params: list[Any] = []
    for w in words:
        where.append("(title LIKE ? OR abstract LIKE ?)")
        params += [f"%{w}%", f"%{w}%"]
    if q.get("section"):
        where.append("section = ? COLLATE NOCASE")
        params.append(q["section"])
    if q.get("year_from") is not None:
        where.append("year BETWEEN ? AND ?")
        params += [q["year_from"], q["year_to"]]
    if q.get("author"):
        where.append("instr(lower(authors), ?) > 0")
        params.append(q["author"].lower())
    cond = " AND ".join(where)
    (count,) = conn.execute(f"SELECT count(*) FROM papers WHERE {cond}", params).fetchone()
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT id FROM papers WHERE {cond} ORDER BY (title LIKE ?) DESC, id DESC LIMIT 10",
            [*params, f"%{words[0]}%"],
        )
    ]
    return count, ids


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument(
        "--like-every", type=int, default=10, help="LIKE baseline on every K-th query"
    )
    parser.add_argument("--keep", type=Path, help="build (or reuse) the catalog at this path")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()

    base = load_corpus()
    rng = random.Random(args.seed)
    queries = make_queries(base, rng)
    # The corpus is a million Python objects the bot would never hold: kept out of the
    # garbage collector's full passes, which would otherwise land inside timed queries.
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "catalog.db"
        if args.keep and path.exists():
            build_time = float("nan")
            print(f"reusing {path}")
        else:
            build_time = build(path, args.papers, base)
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        cat = Catalog(path)
        (n,) = cat.conn.execute("SELECT count(*) FROM papers").fetchone()
        # Warm the page cache the way a running bot's would be.
        cat.search("neural network")
        fts_ms: list[float] = []
        results: list[int] = []
        for q in queries:
            started = time.perf_counter()
            page = cat.search(limit=10, **q)
            fts_ms.append((time.perf_counter() - started) * 1000)
            results.append(page.total)
        subset = list(range(0, len(queries), args.like_every))
        like_ms: list[float] = []
        for i in subset:
            started = time.perf_counter()
            like_search(cat.conn, queries[i])
            like_ms.append((time.perf_counter() - started) * 1000)
        cat.close()

    fts_sub = [fts_ms[i] for i in subset]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    slowest = sorted(range(len(queries)), key=lambda i: -fts_ms[i])[:3]
    print(f"catalog: {n:,} papers from {len(base):,} real records; build {build_time:.1f} s; "
          f"file {size / 1e9:.2f} GB; peak RSS {rss_mb:.0f} MB")  # fmt: skip
    print(f"queries: {len(queries)} ({sum(1 for r in results if r)} with results)")
    print(f"FTS  all {len(queries)}:   p50 {pct(fts_ms, 50):8.2f} ms   p99 {pct(fts_ms, 99):8.2f} ms"
          f"   max {max(fts_ms):8.2f} ms")  # fmt: skip
    print(
        f"FTS  subset {len(subset)}:  p50 {pct(fts_sub, 50):8.2f} ms   p99 {pct(fts_sub, 99):8.2f} ms"
    )
    print(f"LIKE subset {len(subset)}:  p50 {pct(like_ms, 50):8.2f} ms   p99 {pct(like_ms, 99):8.2f} ms"
          f"   (every {args.like_every}th query; a full scan each)")  # fmt: skip
    ratio_p50 = pct(like_ms, 50) / pct(fts_sub, 50)
    ratio_p99 = pct(like_ms, 99) / pct(fts_sub, 99)
    print(f"ratio LIKE/FTS on the same queries: p50 {ratio_p50:,.0f}x   p99 {ratio_p99:,.0f}x")
    for i in slowest:
        shown = {
            k: (v if not isinstance(v, str) or len(v) < 60 else v[:57] + "...")
            for k, v in queries[i].items()
        }
        print(f"  slow: {fts_ms[i]:7.2f} ms  {shown!r}")
    ok = pct(fts_ms, 99) < FTS_P99_FLOOR_MS and ratio_p50 >= RATIO_FLOOR
    print(
        f"floors (p99 < {FTS_P99_FLOOR_MS:.0f} ms, >= {RATIO_FLOOR:.0f}x): {'met' if ok else 'NOT MET'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
