"""Benchmark: compiled rule matching against a naive rule-by-rule loop, on real abstracts.

200 one-phrase rules (phrases of the default rules, plus frequent word n-grams of other
abstracts of the same corpus, spread over the five sections) are matched against 10,000
real abstracts, once with `RuleSet.match_many` (one tokenising pass per field, an index
lookup, a confirming search only for phrases whose words are all there) and once with
`RuleSet.match_reference` (for each paper, for each rule, `re.search` of the rule's own
`\\b...\\b` pattern). Both must produce identical Matches for every paper; the script exits
non-zero if they do not, or if the speed-up is under the floor.

A second, informational figure runs the same naive loop with the fast form of each phrase
pattern (a literal first, so the regex engine can skip ahead), to show how much of the gain
comes from the index rather than from the pattern form.

    .venv/bin/python benchmarks/bench_matching.py [--papers N] [--rules N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.models import Paper  # noqa: E402
from feeds.rules import RuleSet  # noqa: E402

SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "data" / "corpus" / "daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
FLOOR = 10.0

# Words that make an n-gram a poor phrase rule ("of the", "we propose").
STOPWORDS = set(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "such",
        "that",
        "the",
        "their",
        "these",
        "this",
        "to",
        "via",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "while",
        "with",
        "without",
        "based",
        "using",
        "use",
        "used",
        "show",
        "shows",
        "propose",
        "proposed",
        "paper",
        "new",
        "also",
        "both",
        "more",
        "than",
        "other",
        "not",
        "only",
        "however",
        "may",
        "each",
        "between",
        "over",
        "under",
        "through",
        "across",
        "two",
        "three",
        "one",
        "first",
        "novel",
    ]
)


def read_papers(count: int, skip: int = 0) -> list[Paper]:
    papers: list[Paper] = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            if index < skip:
                continue
            if len(papers) == count:
                break
            record = json.loads(line)
            papers.append(
                Paper(
                    arxiv_id=record["id"],
                    title=record["title"] or "",
                    abstract=record["abstract"] or "",
                    authors=record.get("authors") or [],
                    categories=record.get("categories") or [],
                )
            )
    return papers


def corpus_ngrams(papers: list[Paper], wanted: int, taken: set[str]) -> list[str]:
    """The most frequent 2- and 3-word phrases of some abstracts, without stopwords."""
    counts: Counter[str] = Counter()
    for paper in papers:
        words = re.findall(r"[a-z]+", paper.abstract.lower().replace("-", " "))
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if all(len(w) > 2 and w not in STOPWORDS for w in gram):
                    counts[" ".join(gram)] += 1
    out = []
    for gram, _ in counts.most_common():
        if gram not in taken:
            out.append(gram)
        if len(out) == wanted:
            break
    return out


def build_rules(total: int, ngram_source: list[Paper]) -> str:
    """A rules file of `total` one-phrase rules: default phrases first, then corpus n-grams."""
    default = tomllib.loads((ROOT / "feeds" / "default_rules.toml").read_text("utf-8"))
    sections = list(default["sections"])
    rules: list[tuple[str, str, float, bool]] = []  # section, phrase, weight, needs @dl
    for name, table in default["sections"].items():
        blocks = [(table, False)] + [(r, "any" in r) for r in table.get("rules", [])]
        for block, conditional in blocks:
            for item in block.get("phrases", []):
                phrase = item if isinstance(item, str) else item["phrase"]
                weight = 1.0 if isinstance(item, str) else float(item.get("weight", 1.0))
                rules.append((name, phrase, weight, conditional))
    rules = rules[::2][: total * 3 // 5]  # every other one, so sections stay mixed
    taken = {phrase for _, phrase, _, _ in rules}
    grams = corpus_ngrams(ngram_source, total - len(rules), taken)
    for i, gram in enumerate(grams):
        rules.append((sections[i % len(sections)], gram, 0.5 + (i % 4) * 0.5, i % 3 == 0))

    out = ["threshold = 3.0", "", "[groups]", f"dl = {json.dumps(default['groups']['dl'])}", ""]
    for name in sections:
        out.append(f"[sections.{json.dumps(name)}]")
        out.append("")
        for section, phrase, weight, conditional in rules:
            if section != name:
                continue
            out.append(f"[[sections.{json.dumps(name)}.rules]]")
            out.append(f"phrases = [{{ phrase = {json.dumps(phrase)}, weight = {weight} }}]")
            if conditional:
                out.append('any = ["@dl"]')
            out.append("")
    return "\n".join(out)


def timed(label: str, run):
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    print(f"  {label}: {elapsed:.2f} s", flush=True)
    return result, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=200)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"corpus missing: {CORPUS} (set PAPERBOT_SHARED)", file=sys.stderr)
        return 2

    papers = read_papers(args.papers)
    rules = RuleSet.from_toml(
        build_rules(args.rules, read_papers(5_000, skip=args.papers)), "<bench>"
    )
    if rules.rule_count != args.rules:
        print(f"built {rules.rule_count} rules, wanted {args.rules}", file=sys.stderr)
        return 2
    print(f"{rules!r}; {len(papers)} abstracts from {CORPUS.name}")

    compiled, t_compiled = timed("compiled (match_many)", lambda: rules.match_many(papers))
    naive, t_naive = timed(
        "naive, \\b patterns (match_reference)",
        lambda: [rules.match_reference(p) for p in papers],
    )
    tuned, t_tuned = timed(
        "naive, fast patterns",
        lambda: [rules.match_reference(p, fast_patterns=True) for p in papers],
    )

    differ = [(a, b) for a, b in zip(compiled, naive, strict=True) if a != b]
    differ += [(a, b) for a, b in zip(compiled, tuned, strict=True) if a != b]
    hits = sum(1 for m in compiled if m.score > 0)
    print(f"  papers with a rule hit: {hits}, candidates: {sum(m.candidate for m in compiled)}")
    ratio = t_naive / t_compiled
    print(
        f"matching {rules.rule_count} rules x {len(papers)} abstracts: compiled {t_compiled:.2f} s, "
        f"naive {t_naive:.2f} s, speed-up {ratio:.1f}x (floor {FLOOR:.0f}x)"
    )
    print(
        f"  (naive loop with the fast per-phrase patterns: {t_tuned:.2f} s, "
        f"{t_tuned / t_compiled:.1f}x slower than compiled)"
    )
    if differ:
        for a, b in differ[:5]:
            print(f"MISMATCH {a.arxiv_id}:\n  compiled {a}\n  naive    {b}", file=sys.stderr)
        print(f"{len(differ)} results differ", file=sys.stderr)
        return 1
    print("  outputs identical on every paper")
    if ratio < FLOOR:
        print(f"speed-up {ratio:.1f}x is under the {FLOOR:.0f}x floor", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
