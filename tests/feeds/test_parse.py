"""Tests for feeds.parse on the real arXiv feeds in ../shared/data and on synthetic bad input."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.errors import FeedError, ParseError
from feeds.models import AnnounceType, Paper
from feeds.parse import ParsedFeed, parse_feed

Shared = Callable[[str], Path]

FULL_RSS = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"
COMBINED_RSS = "data/arxiv-rss/rss-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24-trimmed4.xml"
ATOM = "data/arxiv-rss/atom-cs.LG-2026-09-25-trimmed3.xml"
RSS1 = "data/arxiv-rss/rss1-rdf-cs-2018-08-30.xml"
ERROR_RSS = "data/arxiv-rss/rss-error-bad-archive-2024-11-28.xml"
EMPTY_RSS = "data/arxiv-rss/rss-test-archive-empty-2024-11-28.xml"
API_CURRENT = "data/arxiv-api/api-query-cat-cs.LG-OR-cs.AI-2026-04-30.xml"
API_LEGACY_ONE = "data/arxiv-api/api-legacy-2016-id_list-1111.2011v2.xml"
API_LEGACY_SEARCH = "data/arxiv-api/api-legacy-2016-search-au-del_maestro.xml"
API_OLD_STYLE = "data/arxiv-api/api-2026-id_list-astro-ph-0601001-oldstyle-id.xml"
API_ERROR = "data/arxiv-api/api-2026-id_list-abc-error.xml"
API_EMPTY = "data/arxiv-api/api-2026-id_list-0000.0000-empty.xml"

NEW, CROSS = AnnounceType.NEW, AnnounceType.CROSS
REPLACE, REPLACE_CROSS = AnnounceType.REPLACE, AnnounceType.REPLACE_CROSS


_PARSED: dict[str, ParsedFeed] = {}


def _parse(shared: Shared, name: str) -> ParsedFeed:
    """Parse a real file once per session; the tests only read the result."""
    if name not in _PARSED:
        _PARSED[name] = parse_feed(shared(name).read_bytes(), name)
    return _PARSED[name]


def _by_id(feed: ParsedFeed) -> dict[str, Paper]:
    return {paper.arxiv_id: paper for paper in feed.papers}


def _types(feed: ParsedFeed) -> Counter[str | None]:
    return Counter(p.announce_type.value if p.announce_type else None for p in feed.papers)


@pytest.fixture
def full_feed(shared: Shared) -> ParsedFeed:
    return _parse(shared, FULL_RSS)


# Every real XML file: kind, item count, announce types, quiet or not.
REAL_FILES = [
    (FULL_RSS, "rss2", 1504, {"new": 926, "replace": 569, "cross": 9}),
    ("data/arxiv-rss/rss-cs.LG-2026-04-27-trimmed3.xml", "rss2", 3, {"new": 3}),
    ("data/arxiv-rss/rss-cs.AI-2026-04-27-trimmed3.xml", "rss2", 3, {"new": 3}),
    ("data/arxiv-rss/rss-cs.CL-2026-04-27-trimmed3.xml", "rss2", 3, {"new": 3}),
    (COMBINED_RSS, "rss2", 4, {"new": 2, "cross": 1, "replace": 1}),
    (ATOM, "atom", 3, {"new": 1, "cross": 1, "replace": 1}),
    (RSS1, "rss1", 185, {"new": 103, "cross": 8, "replace": 63, "replace-cross": 11}),
    (EMPTY_RSS, "rss2", 0, {}),
    (API_CURRENT, "api", 20, {None: 20}),
    ("data/arxiv-api/api-2026-search-all-testing-100.xml", "api", 100, {None: 100}),
    ("data/arxiv-api/api-2026-id_list-0808.05394-1707.08567.xml", "api", 1, {None: 1}),
    (API_OLD_STYLE, "api", 1, {None: 1}),
    (API_EMPTY, "api", 0, {}),
    (API_LEGACY_SEARCH, "api", 10, {None: 10}),
    (API_LEGACY_ONE, "api", 1, {None: 1}),
]


@pytest.mark.parametrize(("name", "kind", "count", "types"), REAL_FILES)
def test_real_files(
    shared: Shared, name: str, kind: str, count: int, types: dict[str | None, int]
) -> None:
    feed = _parse(shared, name)
    assert feed.kind == kind
    assert feed.source == name
    assert len(feed.papers) == count
    assert dict(_types(feed)) == types
    assert feed.warnings == []
    assert feed.quiet is (count == 0)
    assert len({p.arxiv_id for p in feed.papers}) == count


def test_every_real_file_is_covered(shared: Shared) -> None:
    data_dir = shared(FULL_RSS).parent.parent.parent
    on_disk = {str(p.relative_to(data_dir)) for p in data_dir.glob("data/arxiv-*/*.xml")}
    covered = {name for name, *_ in REAL_FILES} | {ERROR_RSS, API_ERROR}
    assert on_disk == covered


def test_every_real_paper_is_well_formed(shared: Shared) -> None:
    for name, *_ in REAL_FILES:
        for paper in _parse(shared, name).papers:
            assert paper.title and paper.title == paper.title.strip(), (name, paper.arxiv_id)
            assert "  " not in paper.title and "\n" not in paper.abstract, (name, paper.arxiv_id)
            assert paper.abstract, (name, paper.arxiv_id)
            assert paper.authors and all(a and a == a.strip() for a in paper.authors)
            assert paper.categories, (name, paper.arxiv_id)
            assert paper.version is not None and paper.version >= 1
            for stamp in (paper.announced, paper.published, paper.updated):
                assert stamp is None or stamp.tzinfo is not None


# --- rss.arxiv.org RSS 2.0 -------------------------------------------------------------


def test_full_feed_first_item(full_feed: ParsedFeed) -> None:
    paper = full_feed.papers[0]
    assert paper.arxiv_id == "2411.17700"
    assert paper.version == 1
    assert paper.title == (
        "Exploring the Impact of Generative AI on Cross-Border E-Commerce Brand Building "
        "in Chinese Tianjin's Manufacturing Sector"
    )
    assert paper.authors == ["Jun Cui"]
    assert paper.abstract.startswith("This study investigates the influence of generative")
    assert paper.abstract.endswith("structural equations (PLS-SEM).")
    assert "Abstract:" not in paper.abstract and "Announce Type" not in paper.abstract
    assert paper.categories == ["cs.CY"]
    assert paper.announce_type is NEW
    assert paper.announced == datetime(2024, 11, 28, tzinfo=UTC)
    assert paper.doi is None and paper.journal_ref is None and paper.comment is None


def test_full_feed_title_and_metadata(full_feed: ParsedFeed) -> None:
    assert full_feed.title.startswith("astro-ph, cond-mat, physics, quant-ph, math, cs,")
    assert full_feed.total_results is None
    assert {p.announced for p in full_feed.papers} == {datetime(2024, 11, 28, tzinfo=UTC)}
    assert sum(1 for p in full_feed.papers if p.doi) == 111
    assert sum(1 for p in full_feed.papers if p.journal_ref) == 97


def test_full_feed_doi_and_journal_reference(full_feed: ParsedFeed) -> None:
    paper = _by_id(full_feed)["2411.18045"]
    assert paper.title == (
        "Structural and magnetic characterization of CeTa$_7$O$_{19}$ and YbTa$_7$O$_{19}$ "
        "with two-dimensional pseudospin-1/2 triangular lattice"
    )
    assert paper.categories == ["cond-mat.str-el", "cond-mat.mtrl-sci", "cond-mat.supr-con"]
    assert paper.doi == "10.1103/PhysRevB.110.174448"
    assert paper.journal_ref == "Phys. Rev. B 110(2024)174448"
    assert paper.authors[:3] == ["Feihao Pan", "Songnan Sun", "Alexander I. Kolesnikov"]


def test_full_feed_category_counts_match_the_data_readme(full_feed: ParsedFeed) -> None:
    counts = Counter(c for p in full_feed.papers for c in p.categories)
    assert (counts["cs.LG"], counts["cs.CV"], counts["cs.AI"]) == (218, 227, 194)
    assert (counts["cs.CL"], counts["stat.ML"]) == (102, 36)
    assert len(counts) == 144


def test_cross_and_replace_items_keep_primary_first_and_version(full_feed: ParsedFeed) -> None:
    papers = _by_id(full_feed)
    cross = papers["2411.16552"]
    assert cross.announce_type is CROSS
    assert cross.categories == ["stat.AP", "cs.LG", "econ.EM", "stat.ME", "stat.ML"]
    assert cross.primary_category == "stat.AP"
    replaced = papers["2202.06515"]
    assert (replaced.announce_type, replaced.version) == (CROSS, 3)
    last = full_feed.papers[-1]
    assert (last.arxiv_id, last.version, last.announce_type) == ("2411.17697", 2, REPLACE)
    assert last.is_update


def test_tex_is_kept_as_written(full_feed: ParsedFeed) -> None:
    # feedparser's HTML sanitiser would turn `<s<1` into `<s><1`.
    abstract = _by_id(full_feed)["2411.17730"].abstract
    assert r"where $\frac{1}{3}<s<1$ and $V(x):\mathbb{R}^4\rightarrow \mathbb{R}$" in abstract


def test_authors_with_affiliations_and_tex_accents(full_feed: ParsedFeed) -> None:
    papers = _by_id(full_feed)
    assert papers["2411.18171"].authors == ["Alexandre Benoist", "Jean Kieffer"]
    assert papers["2402.19390"].authors == [
        "Patrik Penc",
        "Cătălin Paşcu Moca",  # C\u{a}t\u{a}lin Pa\c{s}cu Moca in the feed
        "Örs Legeza",
        "Tomaž Prosen",
        "Gergely Zaránd",
        "Miklós Antal Werner",
    ]


def test_combined_feed_fields(shared: Shared) -> None:
    feed = _parse(shared, COMBINED_RSS)
    assert feed.title == "cs.LG, cs.AI, cs.CL, stat.ML updates on arXiv.org"
    cross = _by_id(feed)["2205.06398"]
    assert cross.title == "Outlier Detection for Multi-Network Data"
    assert cross.authors == ["Pritam Dey", "Zhengwu Zhang", "David B. Dunson"]
    assert cross.categories == ["stat.ME", "stat.AP", "stat.ML"]
    assert cross.doi == "10.1093/bioinformatics/btac431"
    assert (cross.version, cross.announce_type) == (2, CROSS)
    assert cross.abstract.startswith("It has become routine in neuroscience studies")
    assert cross.announced == datetime(2026, 9, 24, tzinfo=UTC)
    replaced = _by_id(feed)["2009.13987"]
    assert (replaced.version, replaced.announce_type) == (3, REPLACE)
    assert replaced.authors == ["Michael Joswig", "Marek Kaluba", "Lukas Ruff"]


def test_entities_are_decoded(shared: Shared) -> None:
    feed = _parse(shared, "data/arxiv-rss/rss-cs.LG-2026-04-27-trimmed3.xml")
    assert "visual resolution & stride" in _by_id(feed)["2604.21952"].abstract


# --- rss.arxiv.org Atom ----------------------------------------------------------------


def test_atom_feed(shared: Shared) -> None:
    feed = _parse(shared, ATOM)
    assert feed.title == "cs.LG updates on arXiv.org"
    first, cross, replaced = feed.papers
    assert first.arxiv_id == "2609.28553"
    assert first.title.startswith("SMILESGNN: Interpretable Clinical Toxicity Prediction")
    assert first.authors[0] == "Quang Minh Nguyen" and len(first.authors) == 6
    assert first.journal_ref == (
        "2026 International Conference on Multimedia Analysis and Pattern Recognition (MAPR)"
    )
    assert first.doi == "10.1109/MAPR72750.2026.11685822"
    assert first.abstract.startswith("Drug toxicity prediction is critical")
    assert first.announced == datetime(2026, 9, 25, tzinfo=UTC)
    assert (cross.arxiv_id, cross.version, cross.announce_type) == ("2402.10149", 3, CROSS)
    assert cross.categories == ["hep-ph", "cs.LG", "hep-ex"]
    assert cross.doi == "10.1103/PhysRevD.111.032004"
    assert (replaced.arxiv_id, replaced.announce_type) == ("2401.08875", REPLACE)


# --- legacy RSS 1.0 --------------------------------------------------------------------


def test_rss1_markers_and_categories(shared: Shared) -> None:
    feed = _parse(shared, RSS1)
    papers = _by_id(feed)
    assert feed.title == "cs updates on arXiv.org"

    plain = papers["1808.09964"]
    assert plain.title == "Semi-Metrification of the Dynamic Time Warping Distance"
    assert (plain.version, plain.categories, plain.announce_type) == (1, ["cs.LG"], NEW)
    assert plain.authors == ["Brijnesh J. Jain"]
    assert plain.abstract.startswith("The dynamic time warping (dtw) distance fails")
    assert "<p>" not in plain.abstract and "</p>" not in plain.abstract

    updated = papers["1301.1107"]
    assert updated.title == "Spectral Condition-Number Estimation of Large Sparse Matrices"
    assert (updated.version, updated.categories, updated.announce_type) == (6, ["cs.NA"], REPLACE)

    # No marker but a primary outside `cs`: a cross-list; UPDATED and outside: replace-cross.
    assert papers["1808.09955"].announce_type is CROSS
    assert papers["1808.09955"].categories == ["astro-ph.IM"]
    assert papers["1309.3014"].announce_type is REPLACE_CROSS
    assert papers["1309.3014"].version == 2
    assert papers["1808.10026"].categories == ["stat.ML"]


def test_rss1_titles_keep_their_own_punctuation(shared: Shared) -> None:
    papers = _by_id(_parse(shared, RSS1))
    assert papers["1806.02908"].title == (
        "Is preprocessing of text really worth your time for online comment classification?"
    )
    assert all(not re.search(r"\(arXiv:", p.title) for p in papers.values())


def test_rss1_html_authors_and_abstracts(shared: Shared) -> None:
    papers = _by_id(_parse(shared, RSS1))
    assert papers["1808.10026"].authors == [
        "Andrés F. López-Lopera",
        "Nicolas Durrande",
        "Mauricio A. Alvarez",
    ]
    # Affiliations after the author links are not names.
    assert papers["1808.10240"].authors == ["Thomas Chatain", "Stefan Haar", "Loïc Paulevé"]
    assert "of the form x < c or y < d for constants c and d." in papers["1808.10068"].abstract
    assert r"QuasarNET defines a sample $99.51\pm0.03$\% pure" in papers["1808.09955"].abstract
    assert papers["1808.09955"].authors == ["Nicolas Busca", "Christophe Balland"]


def test_rss1_announced_is_the_listing_day(shared: Shared) -> None:
    feed = _parse(shared, RSS1)
    assert {p.announced for p in feed.papers} == {datetime(2018, 8, 31, tzinfo=UTC)}


# --- export.arxiv.org API --------------------------------------------------------------


def test_api_legacy_single_paper(shared: Shared) -> None:
    feed = _parse(shared, API_LEGACY_ONE)
    assert feed.total_results == 1
    (paper,) = feed.papers
    assert paper.arxiv_id == "1111.2011"
    assert paper.version == 2
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert paper.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    assert paper.abstract.startswith(
        "Theoretical description of anisotropic systems, such as layered superconductors"
    )
    assert paper.abstract.endswith("describing a single node.")
    assert paper.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert paper.doi == "10.1103/PhysRevB.85.115117"
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.comment == "8 pages, 3 figures. Published version"
    assert paper.published == datetime(2011, 11, 8, 18, 48, 36, tzinfo=UTC)
    assert paper.updated == datetime(2012, 4, 2, 12, 38, 54, tzinfo=UTC)
    assert paper.announce_type is None and paper.announced is None


def test_api_legacy_search(shared: Shared) -> None:
    feed = _parse(shared, API_LEGACY_SEARCH)
    assert feed.total_results == 31
    assert feed.title.startswith("ArXiv Query: search_query=au:del_maestro&id_list=")
    assert all(any(a.endswith("Del Maestro") for a in p.authors) for p in feed.papers)
    assert feed.papers[4].authors == ["B. Kulchytskyy", "G. Gervais", "A. Del Maestro"]


def test_api_old_style_id(shared: Shared) -> None:
    (paper,) = _parse(shared, API_OLD_STYLE).papers
    assert (paper.arxiv_id, paper.version) == ("astro-ph/0601001", 1)
    assert paper.categories == ["astro-ph"]
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert paper.comment is not None and paper.comment.startswith("62 pages including 16 figures")
    assert paper.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert "following Gould & Morgan (2003)" in paper.abstract
    assert "limit of V_max<17.5." in paper.abstract
    assert paper.published == datetime(2006, 1, 2, 14, 57, 58, tzinfo=UTC)


def test_api_current_format(shared: Shared) -> None:
    feed = _parse(shared, API_CURRENT)
    assert feed.total_results == 364218
    first = feed.papers[0]
    assert first.arxiv_id == "2604.26951"
    assert first.title == (
        "Turning the TIDE: Cross-Architecture Distillation for Diffusion Large Language Models"
    )
    assert first.categories == ["cs.CL", "cs.AI", "cs.LG"]
    assert first.comment == "15 pages, 3 figures. Code: https://github.com/PKU-YuanGroup/TIDE"
    assert first.authors[:2] == ["Gongbo Zhang", "Wen Wang"]
    assert first.published == datetime(2026, 4, 29, 17, 59, 1, tzinfo=UTC)
    assert all(
        p.primary_category in ("cs.LG", "cs.AI")
        or "cs.LG" in p.categories
        or "cs.AI" in p.categories
        for p in feed.papers
    )


def test_api_primary_category_comes_first(shared: Shared) -> None:
    # The real responses list the primary first anyway: move it last to prove the rule.
    data = shared(API_LEGACY_ONE).read_bytes()
    primary_tag = b'<category term="cond-mat.str-el" scheme="http://arxiv.org/schemas/atom"/>'
    assert primary_tag in data
    moved = data.replace(primary_tag, b"").replace(b"</entry>", primary_tag + b"</entry>")
    (paper,) = parse_feed(moved, "moved").papers
    assert paper.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]


def test_api_error_raises_feed_error_with_arxiv_text(shared: Shared) -> None:
    with pytest.raises(FeedError) as caught:
        _parse(shared, API_ERROR)
    assert type(caught.value) is FeedError
    assert "incorrect id format for abc" in str(caught.value)
    assert caught.value.feed == API_ERROR


def test_api_empty_result_is_quiet(shared: Shared) -> None:
    feed = _parse(shared, API_EMPTY)
    assert feed.quiet and feed.papers == [] and feed.total_results == 0


# --- error feeds, empty feeds, bad bodies ----------------------------------------------


def test_error_feed_for_bad_archive(shared: Shared) -> None:
    with pytest.raises(ParseError) as caught:
        _parse(shared, ERROR_RSS)
    message = str(caught.value)
    assert message.startswith(ERROR_RSS + ": ")
    assert "Bad archive 'astroph'" in message


def test_empty_feed_is_quiet(shared: Shared) -> None:
    feed = _parse(shared, EMPTY_RSS)
    assert feed.quiet
    assert (feed.kind, feed.title, feed.warnings) == ("rss2", "test updates on arXiv.org", [])


def test_html_page(local_data: Path) -> None:
    body = (local_data / "feeds" / "html-maintenance-page.html").read_bytes()
    with pytest.raises(ParseError, match=r"html-page: an HTML page .*scheduled maintenance"):
        parse_feed(body, "html-page")


@pytest.mark.parametrize("body", [b"", b"   \n\t "])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty body"):
        parse_feed(body, "empty")


def test_random_bytes() -> None:
    noise = random.Random(20241128).randbytes(4096)
    with pytest.raises(ParseError, match=r"^noise: "):
        parse_feed(noise, "noise")


@pytest.mark.parametrize(
    "body", [b"hello, world", b'{"entries": []}', b"<note><to>you</to></note>"]
)
def test_bodies_that_are_not_feeds(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(body, "other")


def test_bytes_naming_a_file_are_not_opened(shared: Shared) -> None:
    # feedparser would read the file a bytes value names: the body must be parsed, not opened.
    path = bytes(shared(COMBINED_RSS))
    with pytest.raises(ParseError):
        parse_feed(path, "path")


@pytest.mark.parametrize(
    ("name", "fraction"),
    [(FULL_RSS, 0.0005), (FULL_RSS, 0.05), (COMBINED_RSS, 0.5), (COMBINED_RSS, 0.9995)],
)
def test_truncated_real_feed(shared: Shared, name: str, fraction: float) -> None:
    data = shared(name).read_bytes()
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(ParseError) as caught:
        parse_feed(cut, "cut")
    assert caught.value.feed == "cut"


def test_truncated_just_before_the_closing_tags(shared: Shared) -> None:
    # All items are there, but nothing proves the download was complete.
    data = shared(COMBINED_RSS).read_bytes()
    cut = data[: data.rindex(b"</channel>")]
    with pytest.raises(ParseError, match="truncated"):
        parse_feed(cut, "cut")


def test_truncated_before_any_item_is_not_quiet(shared: Shared) -> None:
    data = shared(EMPTY_RSS).read_bytes()
    with pytest.raises(ParseError):
        parse_feed(data[: data.index(b"</channel>")], "cut")


def test_malformed_but_complete_feed_is_used_with_a_warning(shared: Shared) -> None:
    data = shared(COMBINED_RSS).read_bytes()
    title = b"Outlier Detection for Multi-Network Data"
    broken = data.replace(title, b"Outlier Detection & Multi-Network Data")
    feed = parse_feed(broken, "amp")
    assert len(feed.papers) == 4
    assert _by_id(feed)["2205.06398"].title == "Outlier Detection & Multi-Network Data"
    assert len(feed.warnings) == 1 and "malformed XML" in feed.warnings[0]


def test_malformed_api_response_must_hold_the_announced_count(shared: Shared) -> None:
    data = shared(API_LEGACY_SEARCH).read_bytes()
    broken = data.replace(b"<title>", b"<title>R&D ", 2)
    feed = parse_feed(broken, "api")
    assert len(feed.papers) == 10 and "malformed XML" in feed.warnings[0]

    # Drop one entry: 9 items where the response announces 10 is not plausibly complete.
    start = broken.index(b"<entry>")
    end = broken.index(b"</entry>", start) + len(b"</entry>")
    with pytest.raises(ParseError, match="announces 10"):
        parse_feed(broken[:start] + broken[end:], "api")


def test_malformed_rss1_must_hold_every_listed_item(shared: Shared) -> None:
    data = shared(RSS1).read_bytes()
    broken = data.replace(b"Ologisms.", b"Ologisms & Co.")
    assert len(parse_feed(broken, "rss1").papers) == 185
    start = broken.index(b"<item ")
    end = broken.index(b"</item>", start) + len(b"</item>")
    with pytest.raises(ParseError, match="announces 185"):
        parse_feed(broken[:start] + broken[end:], "rss1")


# --- bad items among good ones (synthetic feed in arXiv's format) ------------------------


def test_bad_items_are_skipped_with_a_warning_each(local_data: Path) -> None:
    body = (local_data / "feeds" / "rss-mixed-bad-items.xml").read_bytes()
    feed = parse_feed(body, "mixed")
    assert [p.arxiv_id for p in feed.papers] == ["2610.01234", "2301.00002"]
    assert len(feed.warnings) == 3
    no_id, bad_id, no_title = feed.warnings
    assert no_id.startswith("item 2 ") and "no arXiv id" in no_id
    assert bad_id.startswith("item 3 ") and "2613.00001" in bad_id and "month 13" in bad_id
    assert no_title.startswith("item 4 ") and "no title" in no_title


def test_synthetic_item_fields(local_data: Path) -> None:
    body = (local_data / "feeds" / "rss-mixed-bad-items.xml").read_bytes()
    first, second = parse_feed(body, "mixed").papers
    assert first.title == r"Grokking in Shallow Networks: a $\ell_2$ Story"
    assert first.authors == ["Ada Lovelace", "Charles Babbage", "Mary Somerville"]
    assert first.abstract == (
        r"We study delayed generalisation when $0<\lambda<1$ and the width exceeds $n^{1/2}$."
    )
    assert first.announced == datetime(2026, 10, 6, tzinfo=UTC)
    assert second.announce_type is REPLACE_CROSS and second.is_update
    assert second.version == 3
    assert second.authors == ["Emmy Noether", "David Hilbert"]
    assert second.abstract == "Ideals meet gradients & more."
    assert second.categories == ["math.AC", "cs.LG"]
    assert second.doi == "10.1000/example.2026.42"
    assert second.journal_ref == "J. Algebra Learn. 1 (2026) 1-10"


def test_every_item_bad_is_a_parse_error(local_data: Path) -> None:
    body = (local_data / "feeds" / "rss-all-items-bad.xml").read_bytes()
    with pytest.raises(ParseError, match="none of the 2 items could be read; first: item 1 "):
        parse_feed(body, "all-bad")


def test_duplicate_items_are_skipped(shared: Shared) -> None:
    data = shared(COMBINED_RSS).read_bytes()
    first_item = data[data.index(b"<item>") : data.index(b"</item>") + len(b"</item>")]
    doubled = data.replace(b"</channel>", first_item + b"</channel>")
    feed = parse_feed(doubled, "dup")
    assert len(feed.papers) == 4
    assert feed.warnings == ["item 5 (2609.26811): duplicate of item 1"]


def test_tex_in_real_author_lists_becomes_the_letters_their_owners_write(shared: Shared) -> None:
    names = {a for p in _parse(shared, FULL_RSS).papers for a in p.authors}
    for written in ("Serdar Kadıoğlu", "Przemysław Olbratowski", "Jarosław Żygierewicz",
                    "Sofie Castro Holbæk", "Rasmus Maråk", "Pablo Gómez", "Adam Bartoš",
                    "Mirna Džamonja", "Wiesław Kubiś", "Guðmundur K. Stefánsson"):  # fmt: skip
        assert written in names, written
    # What is left with a backslash is TeX that is not an accent (none on this day).
    assert [a for a in names if "\\" in a] == []


@pytest.mark.parametrize(
    ("tex", "name"),
    [
        (r"Paul Erd\H{o}s", "Paul Erdős"),
        (r"Fran\c{c}ois", "François"),
        (r"J\"urgen M\"{u}ller", "Jürgen Müller"),
        (r"Jos\'{e}", "José"),
        (r"{\O}ystein", "Øystein"),
        (r"Stra{\ss}e", "Straße"),
        (r"\'{\i}", "í"),
        ("Plain Name", "Plain Name"),
        (r"\alpha-team", r"\alpha-team"),  # not an accent: left alone
    ],
)
def test_tex_accents_and_letters(tex: str, name: str) -> None:
    from feeds.parse import untex

    assert untex(tex) == name
