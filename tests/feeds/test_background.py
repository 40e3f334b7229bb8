"""The bundled background sample, background files, and the mix the first model trains on."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.background import (
    ML_CATEGORIES,
    BackgroundError,
    bundled_background,
    bundled_papers,
    read_background,
    training_background,
)
from feeds.parse import parse_feed
from feeds.relevance import Example

FEED_DAY = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"
TRIMMED = "data/arxiv-rss/rss-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24-trimmed4.xml"


def test_the_sample_is_a_few_thousand_real_ml_announcements_up_to_may_2025() -> None:
    papers = bundled_papers()
    assert 3000 <= len(papers) <= 6000
    assert len({p.arxiv_id for p in papers}) == len(papers)
    assert all(p.title and len(p.abstract) > 100 for p in papers)
    assert all(ML_CATEGORIES & set(p.categories) for p in papers)
    days = {p.day for p in papers}
    assert None not in days
    assert max(d for d in days if d) <= "2025-05-31"
    assert len(days) > 40  # spread over the days, not one day's worth


def test_the_sample_holds_nothing_of_the_evaluation_feed_day(
    shared: Callable[[str], Path],
) -> None:
    feed = parse_feed(shared(FEED_DAY).read_bytes(), "feed")
    assert not {p.arxiv_id for p in feed.papers} & {p.arxiv_id for p in bundled_papers()}


def test_bundled_background_is_stable_examples() -> None:
    few = bundled_background(50)
    assert len(few) == 50
    assert all(isinstance(e, Example) and e.label == "background" for e in few)
    assert [e.key for e in few] == [e.key for e in bundled_background(50)]
    assert len(bundled_background()) == len(bundled_papers())


def test_training_background_prefers_the_communitys_own() -> None:
    own = [Example(f"own{i}", "t", "a", None, "background") for i in range(30)]
    mixed = training_background(own, 100)
    assert len(mixed) == 100
    assert [e.key for e in mixed[:30]] == [e.key for e in own]
    assert len({e.key for e in mixed}) == 100
    assert training_background(own, 20) == own[:20]  # enough of its own: no sample at all


def test_read_jsonl_plain_and_gzipped(tmp_path: Path) -> None:
    rows = [
        {
            "id": "2506.00001",
            "title": "A  title",
            "abstract": "Some\nabstract.",
            "categories": ["cs.LG"],
            "date": "2025-06-02",
        },
        {
            "id": "2506.00002",
            "title": "Physics",
            "abstract": "Stars.",
            "categories": ["astro-ph.GA"],
        },
        {"id": "2506.00003", "title": "No abstract", "abstract": ""},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    plain = tmp_path / "bg.jsonl"
    plain.write_text(text)
    packed = tmp_path / "bg.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        (paper,) = read_background(path)
        assert (paper.arxiv_id, paper.title, paper.abstract, paper.day) == (
            "2506.00001",
            "A title",
            "Some abstract.",
            "2025-06-02",
        )
    assert len(read_background(plain, categories=None)) == 2


def test_read_a_real_feed_without_its_replacements(shared: Callable[[str], Path]) -> None:
    papers = read_background(shared(TRIMMED))
    assert [p.arxiv_id for p in papers]  # the new and cross-listed items
    assert len(papers) == 3  # of 4: the replacement is not that day's announcement
    assert all(p.day == "2026-09-24" for p in papers)


def test_unreadable_files_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(BackgroundError, match="cannot read"):
        read_background(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1\n')
    with pytest.raises(BackgroundError, match="line 1 is not JSON"):
        read_background(bad)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(BackgroundError, match="neither JSON Lines nor an arXiv feed"):
        read_background(other)
