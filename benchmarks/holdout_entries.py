"""Benchmark: writing entries as the maintainer did, by holding the list's own entries out.

For each held-out entry (the 2022 README's 2022 entries; every arXiv entry of the 2020 seed):
remove its lines (and the blank line that separated it), bring it back with compose_entry
from that entry's title, authors and digest (standing in for the abstract), insert it into
its own section with insert_entry, and compare with what the maintainer wrote:

* same year heading, and exact position (same index among the section's entries);
* entry lines shaped as the maintainer's (a `Key Word:` line when the entry has one, the
  same digest form: `<details>` or `Digest:`);
* Jaccard overlap of the Key Word tags with the maintainer's (entries with tags only).
  The vocabulary is read from the list with the entry removed, so its own tags are
  only available when another entry also uses them.

The baseline, measured in the same run, is the entry written the way paperbot wrote
entries before (no tags, the abstract's first sentences as a `Digest:` line), and for the
tags, the section's three most used tags whatever the paper says.

Floors: year >= 97%, position >= 90%, shape >= 90% on the 2022 README; exits non-zero if
any fails.

    .venv/bin/python benchmarks/holdout_entries.py [--readme PATH] [--seed PATH] [--show N]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.awesome import (  # noqa: E402
    AwesomeDoc,
    Entry,
    EntryFormat,
    insert_entry,
    parse_awesome,
    render_entry,
)
from db.entries import compose_entry  # noqa: E402
from db.keywords import choose_keywords, jaccard, vocabulary  # noqa: E402

SHARED = ROOT.parent / "shared"
README_2022 = SHARED / "data/awesome/README-2022-12-29-9a17759.md"
SEED = SHARED / "seeds/000_94920e77fcbe4d6f.txt"


@dataclass
class Figures:
    held_out: int = 0
    skipped: int = 0
    same_year: int = 0
    same_position: int = 0
    shaped: int = 0
    tagged: int = 0
    jaccard_sum: float = 0.0
    base_shaped: int = 0
    base_jaccard_sum: float = 0.0
    two_jaccard_sum: float = 0.0
    tags_written: int = 0
    tags_maintainer: int = 0
    misses: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)


def without(doc: AwesomeDoc, entry: Entry) -> str:
    """The document with `entry` removed, and one of the blank lines around it."""
    lines = list(doc.lines)
    start, end = entry.line - 1, entry.end_line  # 0-based [start, end)
    blank = lambda i: 0 <= i < len(lines) and not lines[i].strip()  # noqa: E731
    if blank(end) and (blank(start - 1) or start == 0):
        end += 1
    del lines[start:end]
    return "".join(lines)


def position(doc: AwesomeDoc, key: str) -> tuple[int | None, int]:
    entry = doc.find(key)
    assert entry is not None
    in_section = [e.key for e in doc.entries if e.section == entry.section]
    return entry.year, in_section.index(key)


def first_sentences(text: str, limit: int = 400) -> str:
    # What paperbot wrote as a digest before: the abstract cut at a sentence near 400 chars.
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > 100 else cut.rsplit(" ", 1)[0] + " …"


def shaped_as(entry: Entry, lines: list[str]) -> bool:
    has_keywords = any(line.startswith("  - Key Word:") for line in lines)
    details = any(line.startswith("  - <details><summary>Digest</summary>") for line in lines)
    plain = any(line.startswith("  - Digest:") for line in lines)
    form = "details" if details else "line" if plain else None
    return has_keywords == entry.has_keyword_line and form == entry.digest_form


def hold_out(text: str, year: int | None, show: int) -> Figures:
    doc = parse_awesome(text)
    figures = Figures()
    for entry in doc.entries:
        if entry.arxiv_id is None or (year is not None and entry.year != year):
            continue
        figures.held_out += 1
        reduced_text = without(doc, entry)
        reduced = parse_awesome(reduced_text)
        new = compose_entry(
            reduced,
            entry.section,
            arxiv_id=entry.arxiv_id,
            title=entry.title,
            authors=entry.authors,
            abstract=entry.digest or "",
        )
        outcome = insert_entry(reduced_text, new)
        if not outcome.inserted:
            # Still mentioned elsewhere (another entry's digest links it): not held out.
            figures.held_out -= 1
            figures.skipped += 1
            continue
        after = parse_awesome(outcome.text)
        want_year, want_index = position(doc, entry.key)
        got_year, got_index = position(after, entry.key)
        figures.same_year += got_year == want_year
        figures.same_position += (got_year, got_index) == (want_year, want_index)
        if (got_year, got_index) != (want_year, want_index):
            figures.misses.append(
                f"{entry.key} {entry.section}: year {want_year}->{got_year}, "
                f"index {want_index}->{got_index}"
            )
        assert outcome.line is not None
        written = [line.rstrip("\r\n") for line in outcome.text.split("\n")]
        lines = written[outcome.line - 1 : outcome.line - 1 + len(render_entry(new, "details"))]
        figures.shaped += shaped_as(entry, lines)

        # The baseline: the entry as paperbot wrote it before.
        old = replace(new, keywords=[], digest=first_sentences(entry.digest or ""))
        figures.base_shaped += shaped_as(entry, render_entry(old, EntryFormat(False, "line")))

        if entry.keywords:
            figures.tagged += 1
            figures.jaccard_sum += jaccard(new.keywords, entry.keywords)
            vocab = vocabulary(reduced)
            figures.tags_written += len(new.keywords)
            figures.tags_maintainer += len(entry.keywords)
            two = choose_keywords(
                vocab, entry.section, new.title, entry.digest or "", low=2, high=2
            )
            figures.two_jaccard_sum += jaccard(two.tags, entry.keywords)
            top = Counter({t.text: t.sections[entry.section] for t in vocab.tags.values()})
            figures.base_jaccard_sum += jaccard([t for t, _ in top.most_common(3)], entry.keywords)
            if len(figures.samples) < show:
                figures.samples.append(
                    f"{entry.key}: maintainer {entry.keywords} / paperbot {new.keywords}"
                )
    return figures


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "  n/a"


def ratio(ours: float, base: float) -> str:
    return f"{ours / base:.2f}x" if base else "inf" if ours else "n/a"


def report(name: str, f: Figures) -> list[str]:
    failed = []
    print(f"== {name}: {f.held_out} entries held out ({f.skipped} linked from other entries)")
    print(f"  same year heading   {pct(f.same_year, f.held_out)}")
    print(f"  exact position      {pct(f.same_position, f.held_out)}")
    print(
        f"  entry shape         {pct(f.shaped, f.held_out)}   baseline "
        f"{pct(f.base_shaped, f.held_out)}   ratio {ratio(f.shaped, f.base_shaped)}"
    )
    if f.tagged:
        ours, base = f.jaccard_sum / f.tagged, f.base_jaccard_sum / f.tagged
        print(
            f"  Key Word Jaccard    {ours:.3f} over {f.tagged} tagged entries   "
            f"baseline {base:.3f}   ratio {ratio(ours, base)}"
        )
        print(
            f"    tags per entry: paperbot {f.tags_written / f.tagged:.2f}, maintainer "
            f"{f.tags_maintainer / f.tagged:.2f}; the same ranking cut to 2 tags: Jaccard "
            f"{f.two_jaccard_sum / f.tagged:.3f}"
        )
    for miss in f.misses[:10]:
        print(f"    position miss: {miss}")
    for sample in f.samples:
        print(f"    {sample}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readme", type=Path, default=README_2022)
    parser.add_argument("--seed", type=Path, default=SEED)
    parser.add_argument("--show", type=int, default=0, help="print N tag comparisons")
    args = parser.parse_args()

    listed = hold_out(args.readme.read_bytes().decode("utf-8"), 2022, args.show)
    report(f"{args.readme.name} (its 2022 entries)", listed)
    seed = hold_out(args.seed.read_bytes().decode("utf-8"), None, args.show)
    report(f"{args.seed.name} (every arXiv entry)", seed)

    floors = [
        ("same year heading", listed.same_year, 0.97),
        ("exact position", listed.same_position, 0.90),
        ("entry shape", listed.shaped, 0.90),
    ]
    failed = [name for name, got, floor in floors if got < floor * listed.held_out]
    if failed:
        print(f"FAILED floors on the 2022 README: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
