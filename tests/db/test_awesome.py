"""Tests for db.awesome: reading the awesome list exactly, inserting where a maintainer would."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from db.awesome import (
    AwesomeDoc,
    Entry,
    EntryFormat,
    NewEntry,
    insert_entries,
    insert_entry,
    parse_awesome,
    render_entry,
    render_list,
    section_format,
)
from db.errors import SectionNotInList
from feeds.ids import id_sort_key

STYLE_2024 = "awesome_2024_style.md"

SEED_COUNTS = {
    ("Deep Learning Theory", 2020): 1,
    ("Deep Learning Theory", 2019): 4,
    ("Deep Learning Theory", 2018): 4,
    ("Deep Learning Theory", 2017): 1,
    ("Deep Learning Theory", 2015): 1,
    ("Empirical Study", 2020): 4,
    ("Empirical Study", 2019): 3,
    ("Empirical Study", 2018): 1,
    ("Empirical Study", 2017): 2,
    ("Empirical Study", 2016): 1,
    ("Understanding Robustness", 2020): 3,
    ("Understanding Robustness", 2019): 2,
    ("Representation Learning", 2019): 3,
    ("Interpretability", 2019): 1,
    ("Interpretability", 2016): 2,
    ("Interpretability", 2015): 1,
}


@pytest.fixture
def style_2024(local_data: Path) -> str:
    return (local_data / STYLE_2024).read_bytes().decode("utf-8")


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def inserted_block(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`, asserting nothing else changed."""
    a, b = lines_of(before), lines_of(after)
    extra = len(b) - len(a)
    assert extra > 0, "nothing was inserted"
    for start in range(len(a), -1, -1):
        if b[:start] == a[:start] and b[start + extra :] == a[start:]:
            return b[start : start + extra]
    raise AssertionError("lines other than the inserted ones changed")


def new(arxiv_id: str, section: str, **fields: object) -> NewEntry:
    values: dict[str, object] = {
        "title": f"Paper {arxiv_id}",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "venue": None,
        "digest": f"What {arxiv_id} found.",
    }
    values.update(fields)
    return NewEntry(arxiv_id=arxiv_id, section=section, **values)  # type: ignore[arg-type]


FIELDS = (
    "key", "arxiv_id", "title", "authors", "section", "year", "venue",
    "paper_url", "code_url", "digest", "keywords",
)  # fmt: skip


def fields(entry: Entry) -> dict[str, object]:
    """The attributes the catalog importer reads, for comparing entries."""
    return {name: getattr(entry, name) for name in FIELDS}


def all_fields(doc: AwesomeDoc) -> list[dict[str, object]]:
    return [fields(e) for e in doc.entries]


def block_ids(doc: AwesomeDoc, section: str, year: int) -> list[str | None]:
    return [e.arxiv_id for e in doc.entries if e.section == section and e.year == year]


# --------------------------------------------------------------------------- parsing the seed


def test_seed_entries_match_the_parsed_seed_papers(
    seed_text: str, shared: Callable[[str], Path]
) -> None:
    doc = parse_awesome(seed_text)
    rows = [
        json.loads(line)["seed_list"]
        for line in shared("data/seed-papers.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(rows) == len(doc.entries) == 34
    for entry, row in zip(doc.entries, rows, strict=True):
        assert entry.title == row["list_title"].removesuffix(".")
        assert entry.arxiv_id == row["arxiv_id"]
        assert entry.paper_url == row["paper_url"]
        assert entry.code_url == row["code_url"]
        assert entry.venue == row["venue"]
        assert entry.section == row["list_section"]
        assert entry.year == int(row["list_year"])
        assert entry.authors == row["list_authors"]
        assert entry.digest == row["list_digest"]
        assert entry.style == "classic"
        assert entry.keywords == []


def test_seed_sections_years_and_counts(seed_text: str) -> None:
    doc = parse_awesome(seed_text)
    assert doc.warnings == []
    assert Counter((e.section, e.year) for e in doc.entries) == SEED_COUNTS
    assert [s.name for s in doc.sections] == [
        "Deep Learning Theory",
        "Empirical Study",
        "Understanding Robustness",
        "Representation Learning",
        "Interpretability",
    ]
    assert [h.year for h in doc.sections[0].years] == [2020, 2019, 2018, 2017, 2015]
    assert all(s.heading_style == "plain" for s in doc.sections)


def test_seed_entry_details(seed_text: str) -> None:
    doc = parse_awesome(seed_text)
    first = doc.entries[0]
    assert first.span == (17, 19)
    assert first.raw.startswith("- Double Trouble in Double Descent")
    assert first.authors[0] == "Stéphane d'Ascoli"
    keys = [e.key for e in doc.entries if e.arxiv_id is None]
    assert keys == ["openreview:H1gBsgBYwH", "openreview:ry_WPG-A-"]
    benchmark = doc.find("1903.12261")
    assert benchmark is not None
    assert benchmark.code_url is None
    assert ("dataset", "https://github.com/hendrycks/robustness") in benchmark.links
    # Title ends with "?": nothing to strip; the leading double space of "-  Synthesizing" is not kept.
    assert doc.find("1709.06129").title == "When is a Convolutional Filter Easy To Learn?"  # type: ignore[union-attr]
    assert doc.find("1605.09304").title.startswith("Synthesizing the preferred")  # type: ignore[union-attr]
    assert doc.find("1910.04284").venue is None  # type: ignore[union-attr]
    assert "[recent theoretical work](https://arxiv.org/abs/1703.00810)" in (
        doc.find("openreview:ry_WPG-A-").digest or ""  # type: ignore[union-attr]
    )
    assert not hasattr(first, "to_dict") and not hasattr(NewEntry, "from_dict")


# --------------------------------------------------------------------------- round trips


def test_seed_round_trips_byte_for_byte(seed_text: str) -> None:
    assert parse_awesome(seed_text).render() == seed_text


@pytest.mark.parametrize(
    "variant",
    ["crlf", "no-final-newline", "trailing-spaces", "form-feed-in-digest", "empty"],
)
def test_variants_round_trip_and_parse_the_same(seed_text: str, variant: str) -> None:
    text = {
        "crlf": seed_text.replace("\n", "\r\n"),
        "no-final-newline": seed_text.rstrip("\n"),
        "trailing-spaces": "\n".join(line + "  \t" for line in seed_text.split("\n")),
        # str.splitlines would cut a line at U+2028 or a form feed; Markdown does not.
        "form-feed-in-digest": seed_text.replace("Digest: We study", "Digest: We\u2028 \x0cstudy"),
        "empty": "",
    }[variant]
    doc = parse_awesome(text)
    assert doc.render() == text
    if variant == "empty":
        assert doc.entries == [] and doc.sections == []
        return
    plain = parse_awesome(seed_text)
    assert [e.key for e in doc.entries] == [e.key for e in plain.entries]
    if variant != "form-feed-in-digest":
        assert all_fields(doc) == all_fields(plain)
    assert doc.warnings == []


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("- When is a Convolutional Filter Easy To Learn? [paper](https://arxiv.org/abs/1709.06129)",
         "without a [[paper]](url) link"),
        ("- [[paper]](https://arxiv.org/abs/1709.06129)", "without a title"),
        ("- When is a Convolutional Filter Easy To Learn? [[paper]]()", "empty [[paper]]() link"),
        ("- When is a Convolutional Filter Easy To Learn? [[code]](https://github.com/x/y)",
         "without a [[paper]](url) link"),
    ],
)  # fmt: skip
def test_malformed_entry_is_kept_as_text_and_warned(
    seed_text: str, broken: str, reason: str
) -> None:
    original = "- When is a Convolutional Filter Easy To Learn? [[paper]](https://arxiv.org/abs/1709.06129)"
    assert original in seed_text
    text = seed_text.replace(original, broken)
    line = lines_of(text).index(broken) + 1
    doc = parse_awesome(text)
    assert doc.render() == text
    assert len(doc.entries) == 33
    assert doc.find("1709.06129") is None
    assert len(doc.warnings) == 1
    assert doc.warnings[0].startswith(f"line {line}: ")
    assert reason in doc.warnings[0]
    # The entries after it are still read.
    assert doc.find("1503.02406") is not None


def test_prose_bullets_outside_entries_are_not_warnings() -> None:
    text = "# L\n\n## Contributing\n\n- Open a pull request.\n- Be kind.\n"
    doc = parse_awesome(text)
    assert doc.entries == [] and doc.warnings == []
    assert [s.name for s in doc.sections] == ["Contributing"]


def test_2024_style_round_trips_and_parses(style_2024: str) -> None:
    doc = parse_awesome(style_2024)
    assert doc.render() == style_2024
    assert doc.warnings == []
    # The entry template inside the HTML comment is not an entry.
    assert len(doc.entries) == 14
    assert {e.style for e in doc.entries} == {"details"}
    assert [s.name for s in doc.sections] == [
        "Empirical Study",
        "Deep Double Descent",
        "Lottery Ticket Hypothesis",
        "Neural Tangent Kernel",
    ]
    empirical = doc.sections[0]
    assert empirical.heading_style == "named"
    assert [(h.year, h.prefix) for h in empirical.years] == [
        (2022, "Empirical Study"),
        (2021, "Empirical Study"),
        (2020, "Empirical Study"),
    ]
    assert doc.sections[3].years == [] and doc.sections[3].heading_style is None
    assert Counter((e.section, e.year) for e in doc.entries) == {
        ("Empirical Study", 2022): 3,
        ("Empirical Study", 2021): 3,
        ("Empirical Study", 2020): 1,
        ("Deep Double Descent", 2020): 2,
        ("Deep Double Descent", 2019): 2,
        ("Lottery Ticket Hypothesis", 2019): 2,
        ("Lottery Ticket Hypothesis", 2018): 1,
    }

    closed = doc.find("2206.10011")
    assert closed is not None
    assert closed.keywords == ["Re-initialization", "Regularization"]
    assert closed.venue is None
    assert closed.digest is not None and closed.digest.endswith("classification benchmarks.")
    assert "<" not in closed.digest

    unclosed = doc.find("2111.06377")
    assert unclosed is not None
    assert unclosed.digest == (
        "This paper shows that masked autoencoders (MAE) are scalable self-supervised "
        "learners for computer vision."
    )
    assert unclosed.venue == "CVPR 2022"
    assert unclosed.authors[-1] == "Ross Girshick"

    multiline = doc.find("2202.12837")
    assert multiline is not None
    assert multiline.span[1] - multiline.span[0] == 5
    assert multiline.digest is not None
    assert multiline.digest.startswith("We show that ground truth demonstrations")
    assert multiline.digest.endswith("key drivers of end task performance.")

    assert doc.find("2110.02095").keywords == ["Pre-training"]  # type: ignore[union-attr]  # "Key Words:"
    openreview = doc.find("openreview:H1gBsgBYwH")
    assert openreview is not None and openreview.arxiv_id is None and openreview.year == 2019


def test_2024_style_round_trips_with_crlf(style_2024: str) -> None:
    text = style_2024.replace("\n", "\r\n")
    doc = parse_awesome(text)
    assert doc.render() == text
    assert all_fields(doc) == all_fields(parse_awesome(style_2024))


# --------------------------------------------------------------------------- rendering one entry


def test_render_entry_classic_and_details() -> None:
    paper = new(
        "2301.00001",
        "S",
        title="  A Title\n  over two lines",
        venue="ICML 2023",
        code_url="https://github.com/a/b",
        keywords=["One", "Two"],
        digest="First line\nsecond line.",
    )
    assert render_entry(paper, "classic") == [
        "- A Title over two lines. [[paper]](https://arxiv.org/abs/2301.00001) [[code]](https://github.com/a/b)",
        "  - Ada Lovelace, Alan Turing. *ICML 2023*",
        "  - Digest: First line second line.",
    ]
    assert render_entry(paper, "details") == [
        "- A Title over two lines. [[paper]](https://arxiv.org/abs/2301.00001) [[code]](https://github.com/a/b)",
        "  - Ada Lovelace, Alan Turing. *ICML 2023*",
        "  - Key Word: One; Two.",
        "  - <details><summary>Digest</summary> First line second line.</details>",
    ]
    question = new("2301.00001", "S", title="Is It?", venue=None, digest=None)
    assert render_entry(question) == [
        "- Is It? [[paper]](https://arxiv.org/abs/2301.00001)",
        "  - Ada Lovelace, Alan Turing.",
    ]


def test_long_author_lists_are_shortened_with_et_al() -> None:
    many = [f"Author {n}" for n in range(1, 16)]
    lines = render_entry(new("2301.00001", "S", authors=many))
    assert lines[1] == "  - " + ", ".join(many[:10]) + ", et al."
    twelve = many[:12]
    assert (
        render_entry(new("2301.00001", "S", authors=twelve))[1] == "  - " + ", ".join(twelve) + "."
    )
    text = "## S\n\n### 2023\n\n" + "\n".join(lines) + "\n"
    assert parse_awesome(text).entries[0].authors == many[:10]


# --------------------------------------------------------------------------- inserting


def test_insert_new_year_heading_first_in_section(seed_text: str) -> None:
    outcome = insert_entry(seed_text, new("2101.00001", "Deep Learning Theory", year=2021))
    assert outcome.inserted, outcome.reason
    expected = seed_text.replace(
        "## Deep Learning Theory\n\n### 2020\n",
        "## Deep Learning Theory\n\n### 2021\n\n"
        "- Paper 2101.00001. [[paper]](https://arxiv.org/abs/2101.00001)\n"
        "  - Ada Lovelace, Alan Turing.\n"
        "  - Digest: What 2101.00001 found.\n"
        "\n### 2020\n",
        1,
    )
    assert outcome.text == expected
    assert (
        outcome.line
        == lines_of(expected).index(
            "- Paper 2101.00001. [[paper]](https://arxiv.org/abs/2101.00001)"
        )
        + 1
    )
    doc = parse_awesome(outcome.text)
    assert [h.year for h in doc.sections[0].years] == [2021, 2020, 2019, 2018, 2017, 2015]


def test_insert_new_year_heading_between_years(seed_text: str) -> None:
    outcome = insert_entry(seed_text, new("1609.00001", "Deep Learning Theory", year=2016))
    block = inserted_block(seed_text, outcome.text)
    assert block == [
        "### 2016",
        "",
        "- Paper 1609.00001. [[paper]](https://arxiv.org/abs/1609.00001)",
        "  - Ada Lovelace, Alan Turing.",
        "  - Digest: What 1609.00001 found.",
        "",
    ]
    doc = parse_awesome(outcome.text)
    assert [h.year for h in doc.sections[0].years] == [2020, 2019, 2018, 2017, 2016, 2015]
    after = lines_of(outcome.text)
    heading = after.index("### 2016")
    assert after[heading - 1] == "" and after[heading + 6] == "### 2015"


def test_insert_new_year_heading_last_in_section(seed_text: str) -> None:
    outcome = insert_entry(seed_text, new("1412.6572", "Understanding Robustness", year=2014))
    doc = parse_awesome(outcome.text)
    assert [h.year for h in doc.sections[2].years] == [2020, 2019, 2014]
    assert len(inserted_block(seed_text, outcome.text)) == 6
    lines = lines_of(outcome.text)
    heading = lines.index("### 2014")
    assert lines[heading - 1] == ""
    assert lines[heading + 1] == ""
    assert lines[heading + 2].startswith("- Paper 1412.6572.")
    assert lines[heading + 5 : heading + 7] == ["", "## Representation Learning"]
    assert lines[heading - 2].startswith(
        "  - Digest: In this work, we decompose the prediction error"
    )


def test_insert_new_named_heading_in_2024_style(style_2024: str) -> None:
    outcome = insert_entry(
        style_2024,
        new("2305.00001", "Empirical Study", year=2023, keywords=["Scaling"], venue="NeurIPS 2023"),
    )
    block = inserted_block(style_2024, outcome.text)
    assert block == [
        "### Empirical Study: 2023",
        "",
        "- Paper 2305.00001. [[paper]](https://arxiv.org/abs/2305.00001)",
        "  - Ada Lovelace, Alan Turing. *NeurIPS 2023*",
        "  - Key Word: Scaling.",
        "  - <details><summary>Digest</summary> What 2305.00001 found.</details>",
        "",
    ]
    lines = lines_of(outcome.text)
    assert lines[lines.index("### Empirical Study: 2023") + 7] == "### Empirical Study: 2022"


def test_insert_into_empty_section_uses_document_styles(style_2024: str) -> None:
    outcome = insert_entry(style_2024, new("2006.00002", "Neural Tangent Kernel", year=2020))
    assert outcome.text == style_2024 + (
        "\n### Neural Tangent Kernel: 2020\n\n"
        "- Paper 2006.00002. [[paper]](https://arxiv.org/abs/2006.00002)\n"
        "  - Ada Lovelace, Alan Turing.\n"
        "  - <details><summary>Digest</summary> What 2006.00002 found.</details>\n"
    )
    # Without a final newline the file keeps not having one.
    bare = style_2024.rstrip("\n")
    outcome = insert_entry(bare, new("2006.00002", "Neural Tangent Kernel", year=2020))
    assert outcome.text.endswith("What 2006.00002 found.</details>")
    assert outcome.text.startswith(bare + "\n\n### Neural Tangent Kernel: 2020\n")


def test_insert_at_top_of_existing_year(seed_text: str) -> None:
    outcome = insert_entry(seed_text, new("2006.00001", "Deep Learning Theory", year=2020))
    expected = seed_text.replace(
        "### 2020\n\n- Double Trouble",
        "### 2020\n\n"
        "- Paper 2006.00001. [[paper]](https://arxiv.org/abs/2006.00001)\n"
        "  - Ada Lovelace, Alan Turing.\n"
        "  - Digest: What 2006.00001 found.\n"
        "- Double Trouble",
        1,
    )
    assert outcome.text == expected
    assert outcome.line == 17
    assert outcome.reason == "2006.00001 inserted into Deep Learning Theory / 2020 (line 17)"


def test_insert_in_middle_of_year_orders_by_id(seed_text: str) -> None:
    text, outcomes = insert_entries(
        seed_text,
        [
            new("1905.12000", "Deep Learning Theory", year=2019),
            new("1905.13700", "Deep Learning Theory", year=2019),
            new("1911.00001", "Deep Learning Theory", year=2019),
        ],
    )
    assert all(o.inserted for o in outcomes)
    doc = parse_awesome(text)
    # The OpenReview entry keeps its place at the top; arXiv ones stay newest first.
    assert block_ids(doc, "Deep Learning Theory", 2019) == [
        None,
        "1911.00001",
        "1910.04284",
        "1905.13700",
        "1905.13655",
        "1905.12000",
        "1904.11955",
    ]
    assert doc.warnings == []
    assert len(doc.entries) == 37


def test_insert_uses_first_version_sort_key_when_given(seed_text: str) -> None:
    paper = new("1905.12000", "Deep Learning Theory", year=2019)
    paper.first_version_sort_key = id_sort_key("1912.99999")
    doc = parse_awesome(insert_entry(seed_text, paper).text)
    assert block_ids(doc, "Deep Learning Theory", 2019)[:3] == [None, "1905.12000", "1910.04284"]


def test_insert_at_end_of_year(seed_text: str) -> None:
    outcome = insert_entry(seed_text, new("1801.00001", "Deep Learning Theory", year=2018))
    block = inserted_block(seed_text, outcome.text)
    # Entries of this 2018 block are mostly separated by nothing: no blank line added.
    assert block == [
        "- Paper 1801.00001. [[paper]](https://arxiv.org/abs/1801.00001)",
        "  - Ada Lovelace, Alan Turing.",
        "  - Digest: What 1801.00001 found.",
    ]
    lines = lines_of(outcome.text)
    at = lines.index(block[0])
    assert lines[at - 2] == "  - Sanjeev Arora, Rong Ge, Behnam Neyshabur, Yi Zhang. *ICML 2018*"
    assert lines[at + 3 : at + 5] == ["", "### 2017"]
    doc = parse_awesome(outcome.text)
    assert block_ids(doc, "Deep Learning Theory", 2018)[-1] == "1801.00001"


def test_insert_into_details_section_follows_its_conventions(style_2024: str) -> None:
    paper = new(
        "2204.00001",
        "Empirical Study",
        year=2022,
        title="Neural Networks Do Things",
        code_url="https://github.com/x/y",
        venue="ICML 2022",
        keywords=["Generalization", "Benchmarks"],
        digest="We find\n  things.",
    )
    outcome = insert_entry(style_2024, paper)
    block = inserted_block(style_2024, outcome.text)
    entry_lines = [
        "- Neural Networks Do Things. [[paper]](https://arxiv.org/abs/2204.00001) [[code]](https://github.com/x/y)",
        "  - Ada Lovelace, Alan Turing. *ICML 2022*",
        "  - Key Word: Generalization; Benchmarks.",
        "  - <details><summary>Digest</summary> We find things.</details>",
    ]
    # Blank-separated like its neighbours: the block is the entry plus one blank line.
    assert block in ([*entry_lines, ""], ["", *entry_lines])
    lines = lines_of(outcome.text)
    at = lines.index(entry_lines[0])
    assert lines[at - 1] == "" and lines[at + 4] == ""
    assert lines[at - 5].startswith("- How You Start Matters")
    assert lines[at + 5].startswith("- Rethinking the Role of Demonstrations")

    doc = parse_awesome(outcome.text)
    entry = doc.find("2204.00001")
    assert entry is not None
    assert fields(entry) == {
        "key": "2204.00001",
        "arxiv_id": "2204.00001",
        "title": "Neural Networks Do Things",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "section": "Empirical Study",
        "year": 2022,
        "venue": "ICML 2022",
        "paper_url": "https://arxiv.org/abs/2204.00001",
        "code_url": "https://github.com/x/y",
        "digest": "We find things.",
        "keywords": ["Generalization", "Benchmarks"],
    }
    assert entry.style == "details"


def test_reparsed_insert_has_every_field_and_nothing_else_changed(seed_text: str) -> None:
    paper = NewEntry(
        arxiv_id="2005.14165v4",
        title="Language Models are Few-Shot Learners",
        authors=["Tom B. Brown", "Benjamin Mann", "Nick Ryder"],
        section="empirical  study",  # case and spacing are forgiven
        year=2020,
        venue="NeurIPS 2020",
        code_url="https://github.com/openai/gpt-3",
        digest="Scaling up language models greatly improves few-shot performance.",
    )
    outcome = insert_entry(seed_text, paper)
    assert outcome.inserted and outcome.key == "2005.14165"
    assert len(inserted_block(seed_text, outcome.text)) in (3, 4)
    before = {e.key: fields(e) for e in parse_awesome(seed_text).entries}
    doc = parse_awesome(outcome.text)
    after = {e.key: fields(e) for e in doc.entries}
    added = after.pop("2005.14165")
    assert after == before
    assert added == {
        "key": "2005.14165",
        "arxiv_id": "2005.14165",
        "title": "Language Models are Few-Shot Learners",
        "authors": ["Tom B. Brown", "Benjamin Mann", "Nick Ryder"],
        "section": "Empirical Study",
        "year": 2020,
        "venue": "NeurIPS 2020",
        "paper_url": "https://arxiv.org/abs/2005.14165",
        "code_url": "https://github.com/openai/gpt-3",
        "digest": "Scaling up language models greatly improves few-shot performance.",
        "keywords": [],
    }
    assert block_ids(doc, "Empirical Study", 2020) == [
        "2006.03509", "2005.14165", "2002.11328", "2002.08791", "2001.07384",
    ]  # fmt: skip
    assert doc.find("2005.14165").line == outcome.line  # type: ignore[union-attr]


def test_insert_keeps_crlf(seed_text: str) -> None:
    text = seed_text.replace("\n", "\r\n")
    outcome = insert_entry(text, new("2006.00001", "Interpretability", year=2020))
    assert outcome.inserted
    assert "\n" not in outcome.text.replace("\r\n", "")
    plain = insert_entry(seed_text, new("2006.00001", "Interpretability", year=2020))
    assert outcome.text == plain.text.replace("\n", "\r\n")


@pytest.mark.parametrize(
    ("arxiv_id", "line_of"),
    [
        ("2003.01054", "- Double Trouble in Double Descent"),
        ("2003.01054v2", "- Double Trouble in Double Descent"),
        ("https://arxiv.org/pdf/1806.07572v3.pdf", "- Neural Tangent Kernel"),
        # Listed under its own entry too, but first mentioned inside another entry's digest.
        ("1703.00810", "  - Digest: This submission explores [recent theoretical work]"),
    ],
)
def test_duplicate_is_refused(seed_text: str, arxiv_id: str, line_of: str) -> None:
    outcome = insert_entry(seed_text, new(arxiv_id, "Deep Learning Theory", year=2020))
    assert not outcome.inserted
    assert outcome.text == seed_text
    lines = lines_of(seed_text)
    line = next(n for n, text in enumerate(lines, 1) if text.startswith(line_of))
    canonical = outcome.key
    assert outcome.reason == f"{canonical} is already in the list (line {line})"
    assert outcome.line == line


def test_duplicate_written_as_versioned_pdf_url_is_refused(seed_text: str) -> None:
    text = seed_text.replace(
        "[[paper]](https://arxiv.org/abs/1611.03530)",
        "[[paper]](https://arxiv.org/pdf/1611.03530v2.pdf)",
    )
    outcome = insert_entry(text, new("1611.03530", "Empirical Study", year=2016))
    assert not outcome.inserted and outcome.text == text
    assert outcome.reason.startswith("1611.03530 is already in the list (line ")


def test_duplicate_only_inside_a_digest_is_refused(style_2024: str) -> None:
    # 2006.15081 is not an entry of this list, only a versioned pdf link in a digest.
    assert parse_awesome(style_2024).find("2006.15081") is None
    outcome = insert_entry(style_2024, new("2006.15081", "Empirical Study", year=2020))
    assert not outcome.inserted
    line = next(n for n, t in enumerate(lines_of(style_2024), 1) if "2006.15081v2.pdf" in t)
    assert outcome.reason == f"2006.15081 is already in the list (line {line})"


def test_unknown_section_is_an_error_naming_the_choices(seed_text: str) -> None:
    with pytest.raises(SectionNotInList) as caught:
        insert_entry(seed_text, new("2006.00001", "Optimisation", year=2020))
    message = str(caught.value)
    assert "'Optimisation'" in message
    assert "Deep Learning Theory, Empirical Study, Understanding Robustness" in message
    assert caught.value.existing[-1] == "Interpretability"


def test_insert_entries_reports_failures_and_batch_duplicates(seed_text: str) -> None:
    first = NewEntry(
        arxiv_id="2006.00001",
        title="From The Catalog",
        authors=["A B"],
        section="Interpretability",
        year=2020,
        paper_url="https://arxiv.org/abs/2006.00001",
    )
    text, outcomes = insert_entries(
        seed_text, [first, replace(first), replace(first, arxiv_id="2006.00003", section="Nope")]
    )
    assert [o.inserted for o in outcomes] == [True, False, False]
    assert "already in the list" in outcomes[1].reason
    assert isinstance(outcomes[2].error, SectionNotInList)
    assert "'Nope'" in outcomes[2].reason
    assert text == outcomes[0].text
    doc = parse_awesome(text)
    assert [h.year for h in doc.sections[-1].years] == [2020, 2019, 2016, 2015]


# --------------------------------------------------------------------------- rendering a whole list


@pytest.mark.parametrize(("style", "heading_style"), [("classic", "plain"), ("details", "named")])
def test_render_list_reads_back_to_the_same_entries(
    seed_text: str, style: str, heading_style: str
) -> None:
    seed = parse_awesome(seed_text)
    sections = [s.name for s in seed.sections]
    entries = [NewEntry.of(e) for e in seed.entries]
    for entry in entries:
        entry.keywords = ["Generalization", "Theory"] if style == "details" else []
    text = render_list(
        "Awesome Deep Phenomena",
        "Papers about deep learning phenomena.",
        sections,
        entries,
        style,  # type: ignore[arg-type]
        heading_style=heading_style,  # type: ignore[arg-type]
    )
    doc = parse_awesome(text)
    assert doc.warnings == []
    assert doc.render() == text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert [s.name for s in doc.sections] == sections
    expected = {
        e.key: {**fields(e), "keywords": k.keywords}
        for e, k in zip(seed.entries, entries, strict=True)
    }
    assert {e.key: fields(e) for e in doc.entries} == expected
    assert {e.style for e in doc.entries} == {style}
    for section in doc.sections:
        years = [h.year for h in section.years]
        assert years == sorted(years, reverse=True)
        assert {h.style for h in section.years} == {heading_style}
        for year in years:
            ids = [i for i in block_ids(doc, section.name, year) if i]
            assert ids == sorted(ids, key=id_sort_key, reverse=True)
    assert "- [Understanding Robustness](#understanding-robustness)" in lines_of(text)
    assert lines_of(text)[0].startswith("# Awesome Deep Phenomena [![Awesome]")


def test_render_list_then_insert(seed_text: str) -> None:
    entries = [NewEntry.of(e) for e in parse_awesome(seed_text).entries]
    text = render_list("L", "", ["Empirical Study", "Extra"], entries, badge=False)
    doc = parse_awesome(text)
    # Sections only the entries name come after the given ones.
    assert [s.name for s in doc.sections] == [
        "Empirical Study",
        "Extra",
        "Deep Learning Theory",
        "Understanding Robustness",
        "Representation Learning",
        "Interpretability",
    ]
    assert lines_of(text)[0] == "# L"
    outcome = insert_entry(text, new("2101.00001", "Extra", year=2021))
    assert outcome.inserted
    assert parse_awesome(outcome.text).find("2101.00001").section == "Extra"  # type: ignore[union-attr]
    inserted_block(text, outcome.text)


def test_insert_under_an_empty_year_heading_and_into_a_flat_section() -> None:
    text = (
        "## S\n\n### 2020\n\n### 2019\n\n- A. [[paper]](https://arxiv.org/abs/1901.00001)\n  - X.\n"
    )
    outcome = insert_entry(text, new("2001.00002", "S", year=2020, digest=None, authors=["Y"]))
    assert outcome.text == text.replace(
        "### 2020\n\n",
        "### 2020\n\n- Paper 2001.00002. [[paper]](https://arxiv.org/abs/2001.00002)\n  - Y.\n\n",
    )
    assert outcome.line == 5
    # A section that lists papers without year headings stays flat, ordered by id.
    flat = (
        "## S\n\n- A. [[paper]](https://arxiv.org/abs/1901.00001)\n  - X.\n"
        "- C. [[paper]](https://arxiv.org/abs/1801.00001)\n  - X.\n"
    )
    outcome = insert_entry(flat, new("1811.00002", "S", digest=None, authors=["Y"]))
    assert outcome.text == flat.replace(
        "- C.", "- Paper 1811.00002. [[paper]](https://arxiv.org/abs/1811.00002)\n  - Y.\n- C."
    )
    assert parse_awesome(outcome.text).find("1811.00002").year is None  # type: ignore[union-attr]


def test_section_format_follows_the_newest_entries(style_2024: str, seed_text: str) -> None:
    doc = parse_awesome(style_2024)
    closed = doc.find("2206.10011")
    assert closed is not None and closed.has_keyword_line and closed.digest_form == "details"
    assert section_format(doc, "Empirical Study") == EntryFormat(True, "details")
    # A section without entries follows the document.
    assert section_format(doc, "Neural Tangent Kernel") == EntryFormat(True, "details")
    seed = parse_awesome(seed_text)
    assert seed.entries[0].digest_form == "line" and not seed.entries[0].has_keyword_line
    assert section_format(seed, "Interpretability") == EntryFormat(False, "line")
    # A section whose newest entries dropped the Key Word line writes none.
    text = (
        "## S\n\n### S: 2023\n\n- A. [[paper]](https://arxiv.org/abs/2301.00001)\n  - X.\n"
        "  - Digest: New style.\n\n### S: 2020\n\n"
        "- B. [[paper]](https://arxiv.org/abs/2001.00001)\n  - Y.\n  - Key Word: Old.\n"
        "  - <details><summary>Digest</summary> Old style.</details>\n"
    )
    assert section_format(parse_awesome(text), "S") == EntryFormat(False, "line")
    paper = new("2302.00001", "S", keywords=["Ignored"])
    assert (
        render_entry(paper, EntryFormat(False, "line"))[-1] == "  - Digest: What 2302.00001 found."
    )
    assert render_entry(paper, EntryFormat(True, "line"))[-2:] == [
        "  - Key Word: Ignored.",
        "  - Digest: What 2302.00001 found.",
    ]
