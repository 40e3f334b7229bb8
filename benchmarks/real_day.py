"""What a new user meets on a real announcement day: `import-awesome`, then a dry-run poll.

For each list (the 2020 seed and the 2022 README) in a fresh data folder, this runs the
commands a user types (`paperbot import-awesome LIST`, then `paperbot poll --once --dry-run
--feed file://DAY --json`) on a whole real day of every arXiv archive, and on the same day
restricted to the items that carry a category of the default feeds (what the default
combined cs.LG+stat.ML+... feed would carry). It prints, per run, the share of the day's new
announcements flagged and the share of candidates with no category near deep learning,
against the floors (at most 4 % of the whole day, 1.5-4.5 % of the restricted one, at most
10 % far). The flagged share is a ratio against the day itself; no timing.

    .venv/bin/python benchmarks/real_day.py [--shared ../shared] [--day FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluate import near_deep_learning  # noqa: E402

DEFAULT_FEEDS = {"cs.LG", "stat.ML", "cs.AI", "cs.CV", "cs.CL", "cs.NE"}
LISTS = {
    "seed": "seeds/000_94920e77fcbe4d6f.txt",
    "2022": "data/awesome/README-2022-12-29-9a17759.md",
}


def categories_of(path: Path) -> tuple[dict[str, list[str]], int]:
    """arXiv id -> categories, and how many items are new announcements (not replacements)."""
    parsed = feedparser.parse(path.read_bytes())
    cats: dict[str, list[str]] = {}
    new = 0
    for e in parsed.entries:
        m = re.search(r"(\d{4}\.\d{4,5})", e.get("id", "") + e.get("link", ""))
        if not m:
            continue
        cats[m.group(1)] = [t["term"] for t in e.get("tags", [])]
        if not str(e.get("arxiv_announce_type", "new")).startswith("replace"):
            new += 1
    return cats, new


def restricted_day(path: Path, into: Path) -> Path:
    """The day with only the items that carry a category of the default feeds."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition("<item>")
    items = ("<item>" + rest).split("<item>")[1:]
    kept = []
    tail = ""
    for i, item in enumerate(items):
        body, _, after = item.partition("</item>")
        if i == len(items) - 1:
            tail = after
        if set(re.findall(r"<category>([^<]+)</category>", body)) & DEFAULT_FEEDS:
            kept.append(f"<item>{body}</item>")
    out = into / "restricted-day.xml"
    out.write_text(head + "\n".join(kept) + tail, encoding="utf-8")
    return out


def paperbot(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERBOT_DATA_DIR": str(data)}
    env.pop("PAPERBOT_CONFIG", None)
    exe = Path(sys.executable).with_name("paperbot")
    return subprocess.run(
        [str(exe), *args], env=env, capture_output=True, text=True, check=True, cwd=data
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument(
        "--day", type=Path, help="an arXiv RSS day (default: the 2024-11-28 all-archives day)"
    )
    args = ap.parse_args()
    day = args.day or args.shared / "data/arxiv-rss/rss-all-archives-2024-11-28.xml"
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        restricted = restricted_day(day, Path(tmp))
        days = {"whole day": day, "default feeds' categories": restricted}
        for name, rel in LISTS.items():
            data = Path(tmp) / name
            data.mkdir()
            paperbot(data, "import-awesome", str(args.shared / rel))
            for label, path in days.items():
                cats, new = categories_of(path)
                out = paperbot(
                    data, "poll", "--once", "--dry-run", "--json", "--feed", path.as_uri()
                )
                found = json.loads(out.stdout)["candidates"]
                far = [c for c in found if not near_deep_learning(cats.get(c["arxiv_id"], []))]
                share = len(found) / new
                lo, hi = (0.0, 0.04) if label == "whole day" else (0.015, 0.045)
                ok = lo <= share <= hi and len(far) <= 0.10 * max(1, len(found))
                failed |= not ok
                print(
                    f"{name:>4} list, {label:<26} {len(found):>4} of {new} new flagged "
                    f"({share:.1%}; floor {lo:.1%}-{hi:.1%}), far from deep learning "
                    f"{len(far)} ({len(far) / max(1, len(found)):.0%}; floor 10%)"
                    f"{'' if ok else '  <-- over the floor'}"
                )
                for c in far[:5]:
                    print(f"       far: {c['title'][:70]} {cats.get(c['arxiv_id'])}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
