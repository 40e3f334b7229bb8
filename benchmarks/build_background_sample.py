"""Builds feeds/data/background-sample.jsonl.gz: the bundled sample of real arXiv ML/AI announcements.

Source: the daily arXiv listings in ``shared/data/corpus/daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz``
(scraped from arXiv's daily listings; arXiv metadata is CC0 1.0). Only announcements up to
2025-05-31 are drawn (later days stay out for evaluation; the 2024-11-28 feed is not a source
at all), only papers with an ML/AI category (cs.LG, stat.ML, cs.AI, cs.CV, cs.CL, cs.NE) and
an abstract. Of those, the papers whose id hashes into the first `--share` of a fixed hash
space are kept, so the sample is spread over every day and the build is reproducible: the
same source gives byte-identical output (gzip without a timestamp, lines in id order).

    .venv/bin/python benchmarks/build_background_sample.py [--shared ../shared] [--size 5000]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "feeds" / "data" / "background-sample.jsonl.gz"
DAILY = "data/corpus/daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
LAST_DAY = "2025-05-31"
ML_CATEGORIES = frozenset({"cs.LG", "stat.ML", "cs.AI", "cs.CV", "cs.CL", "cs.NE"})
_ARXIV_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")  # drops scraped ACM codes ("I.2.7")
_SPACE = re.compile(r"\s+")


def _rank(arxiv_id: str) -> int:
    return int.from_bytes(hashlib.sha256(arxiv_id.encode("utf-8")).digest()[:8], "big")


def build(shared: Path, size: int) -> bytes:
    records = []
    with gzip.open(shared / DAILY, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            cats = [c for c in r.get("categories") or () if _ARXIV_CATEGORY.match(c)]
            if r["date"] > LAST_DAY or not ML_CATEGORIES & set(cats) or not r.get("abstract"):
                continue
            records.append(
                {
                    "id": r["id"],
                    "title": _SPACE.sub(" ", r["title"]).strip(),
                    "abstract": _SPACE.sub(" ", r["abstract"]).strip(),
                    "categories": cats,
                    "date": r["date"],
                }
            )
    records.sort(key=lambda r: _rank(r["id"]))
    chosen = sorted(records[:size], key=lambda r: r["id"])
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    print(f"{len(chosen)} of {len(records)} eligible announcements; {len(raw)} bytes raw")
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    data = build(args.shared, args.size)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
