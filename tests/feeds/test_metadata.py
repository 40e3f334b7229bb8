"""Tests for feeds.metadata: venue and code link only where arXiv's metadata states them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.metadata import (
    code_url_from,
    paper_metadata,
    venue_from,
    venue_from_comment,
    venue_from_journal_ref,
)
from feeds.models import Paper
from feeds.parse import parse_feed


def papers(shared: Callable[[str], Path], name: str) -> dict[str, Paper]:
    path = shared(name)
    return {p.arxiv_id: p for p in parse_feed(path.read_bytes(), path.name).papers}


@pytest.fixture(scope="module")
def api(shared: Callable[[str], Path]) -> dict[str, Paper]:
    return {
        **papers(shared, "data/arxiv-api/api-query-cat-cs.LG-OR-cs.AI-2026-04-30.xml"),
        **papers(shared, "data/arxiv-api/api-2026-search-all-testing-100.xml"),
        **papers(shared, "data/arxiv-api/api-legacy-2016-id_list-1111.2011v2.xml"),
    }


@pytest.mark.parametrize(
    ("arxiv_id", "venue"),
    [
        ("2604.26922", "STOC 2026"),  # "To appear in the 58th ACM Symposium ... (STOC 2026)"
        ("2301.05651", "ICST 2023"),  # "Accepted to the International Conference ... (ICST2023)"
        ("2501.09657", "ICST 2025"),  # "Accepted ... at 2025 IEEE Conference on ... (ICST)"
        ("2005.14124", "ISSTA 2020"),  # journal_ref and comment agree
        ("2604.26881", "EdgeSys 2026 Workshop"),  # "... 9th International Workshop on ..."
        ("1111.2011", "Phys. Rev. B"),  # a journal, by its name, without volume or pages
        ("2311.09714", "Software Testing, Verification and Reliability"),
        ("1706.08286", "IEEE Transactions on Information Theory"),
        # Stated nothing, or something that is not this paper's venue:
        ("2604.26851", None),  # "submitted January 2026, accepted March 2026": no venue named
        ("2604.26841", None),  # "Also see arXiv:2505.21777 for a related work"
        ("2504.04921", None),  # "submitted to Software Testing, ... journal"
        ("2102.08864", None),  # "Currently under review at Journal of ..."
        ("2007.10224", None),  # "Submitted to IEEE International Workshop ... (AIST 2020)"
        ("2505.05162", None),  # "Extended version of paper ... on POPL 2026"
        ("2604.26919", None),  # "8 pages, 11 figures"
    ],
)
def test_venue_from_real_api_metadata(
    api: dict[str, Paper], arxiv_id: str, venue: str | None
) -> None:
    paper = api[arxiv_id]
    assert venue_from(paper.journal_ref, paper.comment) == venue


def test_code_url_from_real_api_metadata(
    api: dict[str, Paper], shared: Callable[[str], Path]
) -> None:
    tide = api["2604.26951"]  # comment: "15 pages, 3 figures. Code: https://github.com/..."
    assert paper_metadata(tide.abstract, tide.comment, tide.journal_ref).code_url == (
        "https://github.com/PKU-YuanGroup/TIDE"
    )
    notebook = api["1706.00679"]  # "... code and Jupyter notebook available at https://..."
    assert code_url_from(notebook.abstract, notebook.comment) == (
        "https://github.com/ydecastro/super-resolution-testing"
    )
    # In the abstract of an announcement-feed item, with a journal_ref for the venue.
    feed = papers(shared, "data/arxiv-rss/rss-all-archives-2024-11-28.xml")
    filters = feed["2411.18388"]
    meta = paper_metadata(filters.abstract, filters.comment, filters.journal_ref)
    assert meta.venue == "IJCNN 2023"
    assert meta.code_url == "https://github.com/Criscraft/PredefinedFilterNetworks"
    # No repository link: no code URL, whatever else the text links to.
    assert all(
        code_url_from(p.abstract, p.comment) is None
        for p in api.values()
        if "github" not in f"{p.abstract} {p.comment}".lower()
        and "gitlab" not in f"{p.abstract} {p.comment}".lower()
    )


@pytest.mark.parametrize(
    ("comment", "venue"),
    [
        ("Accepted at ICML 2024", "ICML 2024"),
        ("NeurIPS 2023", "NeurIPS 2023"),
        ("Camera-ready version, NIPS 2017", "NeurIPS 2017"),
        ("ICLR'24 spotlight; 20 pages", "ICLR 2024"),
        ("Accepted at the ICML 2024 Workshop on High-dimensional Learning Dynamics",
         "ICML 2024 Workshop"),
        ("Submitted to NeurIPS 2023", None),
        ("Under review at ICLR 2025", None),
        ("12 pages. Previously rejected from ICML 2022", None),
        ("v2: fixed typos", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_venue_from_comment_states_or_says_nothing(comment: str | None, venue: str | None) -> None:
    assert venue_from_comment(comment) == venue


def test_journal_ref_comes_before_the_comment() -> None:
    assert (
        venue_from("Proceedings of ICML 2020, pp. 1-9", "Submitted to NeurIPS 2019") == "ICML 2020"
    )
    assert venue_from(None, "Accepted to AISTATS 2022") == "AISTATS 2022"
    assert venue_from_journal_ref("   ") is None
    assert (
        venue_from_journal_ref("Nature Communications 15, 10121 (2024)") == "Nature Communications"
    )


def test_user_pages_and_trailing_punctuation_are_not_repositories() -> None:
    assert code_url_from("See https://github.com/openai for more.") is None
    assert code_url_from("Code is available at https://github.com/a/b.") == "https://github.com/a/b"
    assert code_url_from("Code: github.com/a/b.git") == "https://github.com/a/b"
    text = "We build on https://github.com/x/base. Our code is at https://gitlab.com/me/mine."
    assert code_url_from(text) == "https://gitlab.com/me/mine"
