"""Tests for writing entries as the list's maintainer does: sections, tags, digests, previews."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from db.awesome import (
    catch_all_section,
    insert_entry,
    match_section,
    parse_awesome,
    section_format,
)
from db.digest import digest_of, split_sentences
from db.entries import compose_entry, preview_entry
from db.errors import SectionNotInList
from db.keywords import choose_keywords, jaccard, tag_key, vocabulary
from feeds.models import Paper
from feeds.parse import parse_feed
from tests.lists import LIST_2022 as README_2022
from tests.lists import SECTIONS_2022

EMERGENCE = (
    "## Emergence and Phase Transitions\n\n"
    "### Emergence and Phase Transitions: 2022\n\n"
    "- Omnigrok: Grokking Beyond Algorithmic Data. [[paper]](https://arxiv.org/abs/2210.01117)\n"
    "  - Ziming Liu, Eric J. Michaud, Max Tegmark.\n"
    "  - Key Word: Grokking Dynamics.\n"
    "  - <details><summary>Digest</summary> We aim to understand grokking.</details>\n\n"
)


@pytest.fixture(scope="module")
def text_2022(shared: Callable[[str], Path]) -> str:
    return shared(README_2022).read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def api_paper(shared: Callable[[str], Path]) -> Paper:
    path = shared("data/arxiv-api/api-query-cat-cs.LG-OR-cs.AI-2026-04-30.xml")
    found = {p.arxiv_id: p for p in parse_feed(path.read_bytes(), path.name).papers}
    return found["2604.26951"]  # its comment gives a code URL


def lines_added(before: str, after: str) -> list[str]:
    a, b = before.split("\n"), after.split("\n")
    extra = len(b) - len(a)
    for start in range(len(a), -1, -1):
        if b[:start] == a[:start] and b[start + extra :] == a[start:]:
            return b[start : start + extra]
    raise AssertionError("lines other than the inserted ones changed")


def with_ninth_section(text: str) -> str:
    # Moved out of Empirical Study the way the list later did: Omnigrok is not there twice.
    start = text.index("- Omnigrok: Grokking Beyond Algorithmic Data.")
    end = text.index("\n- ", start + 1) + 1
    text = text[:start] + text[end:]
    return text.replace("## Others\n", EMERGENCE + "## Others\n", 1)


# --------------------------------------------------------------------------- sections


def test_sections_come_from_the_list(text_2022: str, seed_text: str) -> None:
    doc = parse_awesome(text_2022)
    assert doc.render() == text_2022
    assert [s.name for s in doc.paper_sections] == list(SECTIONS_2022)
    assert catch_all_section(doc) == "Others"
    seed = parse_awesome(seed_text)
    assert seed.render() == seed_text
    assert seed.paper_sections[0].name == "Deep Learning Theory"
    assert catch_all_section(seed) is None


def test_a_new_section_in_the_list_is_a_section(text_2022: str) -> None:
    text = with_ninth_section(text_2022)
    doc = parse_awesome(text)
    names = [s.name for s in doc.paper_sections]
    assert len(names) == 9 and names[-2:] == ["Emergence and Phase Transitions", "Others"]
    assert match_section("emergence & phase transition", doc.paper_sections) == (
        "Emergence and Phase Transitions"
    )
    new = compose_entry(
        doc,
        "Emergence and Phase Transitions",
        arxiv_id="2301.05217",
        title="Progress measures for grokking via mechanistic interpretability",
        authors=["Neel Nanda", "Lawrence Chan", "Tom Lieberum", "Jess Smith", "Jacob Steinhardt"],
        abstract=(
            "Neural networks often exhibit emergent behavior. We study the phenomenon of "
            "grokking in small transformers trained on modular addition. We find that "
            "grokking, rather than being a sudden shift, arises from the gradual amplification "
            "of structured mechanisms encoded in the weights."
        ),
    )
    # Tags the list already uses and the text names ("grokking", "transformers").
    assert new.keywords[:2] == ["Grokking", "Transformers"]
    assert 3 <= len(new.keywords) <= 6
    outcome = insert_entry(text, new)
    assert outcome.inserted, outcome.reason
    assert lines_added(text, outcome.text)[0] == "### Emergence and Phase Transitions: 2023"
    assert parse_awesome(outcome.text).find("2301.05217").section == (  # type: ignore[union-attr]
        "Emergence and Phase Transitions"
    )


def test_sections_of_links_and_the_contents_are_not_paper_sections() -> None:
    text = (
        "# L\n\n## Table of Contents\n\n- [Topic](#topic)\n\n## Topic\n\n### Topic: 2024\n\n"
        "- A. [[paper]](https://arxiv.org/abs/2401.00001)\n  - X.\n\n"
        "## Related Resources\n\n- [A workshop](http://deep-phenomena.org/)\n\n"
        "## Miscellaneous\n\n- B. [[paper]](https://arxiv.org/abs/2402.00001)\n  - Y.\n"
    )
    doc = parse_awesome(text)
    assert [s.name for s in doc.paper_sections] == ["Topic", "Miscellaneous"]
    assert catch_all_section(doc) == "Miscellaneous"


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("Neural Collapse", "Neural Collapse"),
        ("neural  collapse", "Neural Collapse"),
        ("Interactions With Neuroscience", "Interactions with Neuroscience"),
        ("interactions-with-neuroscience", "Interactions with Neuroscience"),
        ("Other", "Others"),
        ("lottery tickets hypothesis", "Lottery Ticket Hypothesis"),
        ("**Neural Tangent Kernel**", "Neural Tangent Kernel"),
        ("Optimisation", None),
        ("", None),
    ],
)
def test_match_section_forgives_how_a_name_is_written(
    text_2022: str, asked: str, found: str | None
) -> None:
    sections = parse_awesome(text_2022).paper_sections
    assert match_section(asked, sections) == found
    assert match_section(asked, [s.name for s in sections]) == found


def test_heading_styles_the_list_uses_are_matched() -> None:
    names = ["Emergence & Phase Transitions", "Neural Collapse :brain:"]
    assert match_section("emergence and phase transitions", names) == names[0]
    assert match_section("neural collapse", names) == names[1]


# --------------------------------------------------------------------------- inserting


@pytest.mark.parametrize("section", SECTIONS_2022)
def test_insert_into_each_section_of_the_2022_list(
    text_2022: str, api_paper: Paper, section: str
) -> None:
    doc = parse_awesome(text_2022)
    new = compose_entry(
        doc,
        section,
        arxiv_id=api_paper.arxiv_id,
        title=api_paper.title,
        authors=api_paper.authors,
        abstract=api_paper.abstract,
        comment=api_paper.comment,
        journal_ref=api_paper.journal_ref,
    )
    outcome = insert_entry(text_2022, new)
    assert outcome.inserted, outcome.reason
    added = lines_added(text_2022, outcome.text)
    # A 2026 paper opens a new year heading at the top of its section, in the section's style.
    prefix = doc.section(section).years[0].prefix
    assert added[0] == f"### {prefix}: 2026"
    entry = added[2:6]
    assert entry == preview_entry(doc, new).split("\n")
    assert entry[0].startswith(f"- {' '.join(api_paper.title.split())}")
    assert entry[0].endswith(
        "[[paper]](https://arxiv.org/abs/2604.26951) [[code]](https://github.com/PKU-YuanGroup/TIDE)"
    )
    assert entry[1] == "  - " + ", ".join(api_paper.authors) + "."
    assert entry[2].startswith("  - Key Word: ") and entry[2].endswith(".")
    assert 3 <= len(new.keywords) <= 6
    assert entry[3].startswith("  - <details><summary>Digest</summary> ")
    assert entry[3].endswith("</details>")
    after = parse_awesome(outcome.text)
    assert after.render() == outcome.text
    found = after.find("2604.26951")
    assert found is not None and found.section == section and found.year == 2026
    assert found.keywords == new.keywords and found.digest == new.digest


def test_entries_follow_a_section_that_has_no_key_word_lines(seed_text: str) -> None:
    doc = parse_awesome(seed_text)
    fmt = section_format(doc, "Empirical Study")
    assert not fmt.keyword_line and fmt.digest == "line"
    new = compose_entry(
        doc,
        "empirical study",
        arxiv_id="2006.00001v2",
        title="A Study\n of Things",
        authors=["A B", "C D"],
        abstract="We show one thing. We find another thing, which matters. Code: github.com/a/b",
        comment="Accepted at ICML 2020",
    )
    assert new.keywords == [] and new.section == "Empirical Study"
    assert new.venue == "ICML 2020" and new.code_url == "https://github.com/a/b"
    assert new.title == "A Study of Things" and new.arxiv_id == "2006.00001"
    preview = preview_entry(seed_text, new).split("\n")
    assert preview == [
        "- A Study of Things. [[paper]](https://arxiv.org/abs/2006.00001) [[code]](https://github.com/a/b)",
        "  - A B, C D. *ICML 2020*",
        "  - Digest: We show one thing. We find another thing, which matters.",
    ]
    outcome = insert_entry(seed_text, new)
    assert preview[0] in outcome.text.split("\n")


def test_compose_refuses_a_section_the_list_does_not_have(text_2022: str) -> None:
    with pytest.raises(SectionNotInList):
        compose_entry(
            parse_awesome(text_2022), "Robustness", arxiv_id="2401.00001",
            title="T", authors=["A"], abstract="We show it.",
        )  # fmt: skip


# --------------------------------------------------------------------------- key words


def test_key_words_are_drawn_from_the_lists_vocabulary(text_2022: str) -> None:
    doc = parse_awesome(text_2022)
    vocab = vocabulary(doc)
    assert vocab.tags[tag_key("lottery tickets hypothesis")].text == "Lottery Ticket Hypothesis"
    choice = choose_keywords(
        vocab,
        "Lottery Ticket Hypothesis",
        "Sparse winning tickets for federated learning",
        "We find winning lottery tickets in federated learning with stochastic gradient descent "
        "and show that they transfer across clients.",
    )
    assert choice.tags[:1] == ["Lottery Ticket Hypothesis"]
    assert {"Federated Learning", "Stochastic Gradient Descent"} <= set(choice.tags)
    assert 3 <= len(choice.tags) <= 6
    assert all(tag_key(t) in vocab.tags for t in choice.from_vocabulary)


def test_a_held_out_entrys_own_tags_are_not_in_the_vocabulary(text_2022: str) -> None:
    doc = parse_awesome(text_2022)
    held = doc.find("2211.07625")  # "Self-Supervised Memorization Quantification", used once
    assert held is not None
    vocab = vocabulary(doc, leave_out=[held])
    assert tag_key(held.keywords[0]) not in vocab.tags
    assert tag_key(held.keywords[0]) in vocabulary(doc).tags
    choice = choose_keywords(vocab, held.section, held.title, held.digest or "")
    assert 1 <= len(choice.tags) <= 6
    assert held.keywords[0] not in choice.from_vocabulary


def test_falls_back_to_the_papers_own_key_phrases() -> None:
    empty = vocabulary(parse_awesome(""))
    choice = choose_keywords(
        empty,
        None,
        "Mixture-of-Experts Models Forget: Catastrophic Interference in Sparse Experts",
        "We show that sparse mixture-of-experts (MoE) models suffer catastrophic interference.",
    )
    assert choice.from_vocabulary == []
    assert choice.tags[0] == "Mixture-of-Experts"
    assert "Catastrophic Interference" in choice.tags
    assert jaccard(["Catastrophic interference"], ["catastrophic-interference"]) == 1.0


# --------------------------------------------------------------------------- digests


def test_digest_keeps_tex_and_picks_what_the_paper_shows(shared: Callable[[str], Path]) -> None:
    path = shared("data/arxiv-api/api-2026-search-all-testing-100.xml")
    found = {p.arxiv_id: p for p in parse_feed(path.read_bytes(), path.name).papers}
    for paper in found.values():
        digest = digest_of(paper.abstract)
        sentences = split_sentences(paper.abstract)
        assert len(digest.sentences) == min(len(sentences), len(digest.sentences))
        assert min(2, len(sentences)) <= len(digest.sentences) <= 4
        assert all(s in sentences for s in digest.sentences)
        assert digest.text.count("$") % 2 == 0  # no formula cut in half
    tex = digest_of(found["2507.16734"].abstract)
    assert "$X \\sim N(\\mathbfθ, I_\\infty)$" in tex.text  # "i.e." and TeX do not split
    assert tex.sentences[0].startswith("We study the Gaussian sequence model, i.e.")


def test_digest_prefers_claims_to_background_and_boilerplate() -> None:
    abstract = (
        "Deep networks have achieved remarkable success in many domains. "
        "However, why they generalize remains poorly understood, e.g. in the work of "
        "Zhang et al. on memorization. We show that label noise slows the learning of "
        "simple features. Our results suggest a new view of $\\ell_2$ regularization. "
        "Code is available at https://github.com/a/b."
    )
    digest = digest_of(abstract)
    assert digest.sentences == [
        "We show that label noise slows the learning of simple features.",
        "Our results suggest a new view of $\\ell_2$ regularization.",
    ] or (len(digest.sentences) == 3 and "github" not in digest.text)
    assert "github" not in digest.text
    assert len(split_sentences(abstract)) == 5
    assert digest_of("One sentence only.").sentences == ["One sentence only."]
    assert digest_of("").text == ""


def test_year_headings_typed_without_a_colon_are_year_headings(text_2022: str) -> None:
    doc = parse_awesome(text_2022)
    collapse = doc.section("Neural Collapse")
    assert [(h.year, h.prefix) for h in collapse.years] == [
        (2022, "Neural Collapse"),
        (2021, "Neural Collapse"),
        (2020, "Neural Collapse"),
    ]
    assert {e.year for e in doc.entries_in(collapse)} == {2022, 2021, 2020}
    new = compose_entry(
        doc,
        "neural collapse",
        arxiv_id="2212.99999",
        title="Neural collapse in the last layer",
        authors=["A B"],
        abstract="We show that class means collapse to a simplex ETF. We find it late in training.",
    )
    outcome = insert_entry(text_2022, new)
    added = lines_added(text_2022, outcome.text)
    # Under the existing `### Neural Collapse 2022`, first (newest id), no new heading.
    assert not any(line.startswith("###") for line in added)
    after = parse_awesome(outcome.text)
    first = after.entries_in(after.section("Neural Collapse"))[0]
    assert first.arxiv_id == "2212.99999"
    assert "Neural Collapse" in new.keywords


def test_the_2022_list_round_trips_with_crlf(text_2022: str) -> None:
    crlf = text_2022.replace("\n", "\r\n")
    doc = parse_awesome(crlf)
    assert doc.render() == crlf
    assert [e.key for e in doc.entries] == [e.key for e in parse_awesome(text_2022).entries]
    assert len(doc.entries) == 360 and doc.warnings == []
