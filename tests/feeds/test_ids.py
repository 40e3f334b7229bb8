"""Tests for feeds.ids: what a pasted identifier or URL becomes, and how ids order."""

from __future__ import annotations

import pytest

from feeds.errors import IdentifierError
from feeds.ids import arxiv_id_from_url, canonical_id, id_sort_key, id_year_month, parse_arxiv_id

ACCEPTED = [
    ("2401.01234", ("2401.01234", None)),
    ("2401.01234v3", ("2401.01234", 3)),
    ("2401.01234v12", ("2401.01234", 12)),
    ("arXiv:2401.01234", ("2401.01234", None)),
    ("ARXIV:2401.01234v2", ("2401.01234", 2)),
    ("arxiv: 2401.01234", ("2401.01234", None)),
    ("arXiv:2401.01234v1 [cs.LG]", ("2401.01234", 1)),
    ("0704.0001", ("0704.0001", None)),
    ("1412.9999v2", ("1412.9999", 2)),
    ("1501.00001", ("1501.00001", None)),
    ("  2401.01234\n", ("2401.01234", None)),
    ("<2401.01234>", ("2401.01234", None)),
    ("https://arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("https://arxiv.org/abs/2401.01234v3", ("2401.01234", 3)),
    ("http://arxiv.org/abs/2401.01234v3", ("2401.01234", 3)),
    ("https://www.arxiv.org/abs/2401.01234", ("2401.01234", None)),
    ("http://export.arxiv.org/abs/2401.01234v2", ("2401.01234", 2)),
    ("https://arxiv.org/pdf/2401.01234", ("2401.01234", None)),
    ("https://arxiv.org/pdf/2401.01234v3.pdf", ("2401.01234", 3)),
    ("https://arxiv.org/pdf/2401.01234.pdf", ("2401.01234", None)),
    ("https://arxiv.org/html/2401.01234v2", ("2401.01234", 2)),
    ("https://arxiv.org/html/2401.01234v2/", ("2401.01234", 2)),
    ("https://arxiv.org/abs/2401.01234/", ("2401.01234", None)),
    ("https://arxiv.org/abs/2401.01234?context=cs.LG", ("2401.01234", None)),
    ("https://arxiv.org/html/2401.01234v1#S3.SS2", ("2401.01234", 1)),
    ("<https://arxiv.org/abs/2401.01234v3>", ("2401.01234", 3)),
    ("  <https://arxiv.org/abs/2401.01234>  ", ("2401.01234", None)),
    ("HTTPS://ARXIV.ORG/ABS/2401.01234", ("2401.01234", None)),
    ("arxiv.org/abs/1706.03762", ("1706.03762", None)),
    ("hep-th/9901001", ("hep-th/9901001", None)),
    ("hep-th/9901001v2", ("hep-th/9901001", 2)),
    ("arXiv:hep-th/9901001", ("hep-th/9901001", None)),
    ("math.CA/0611800v2", ("math/0611800", 2)),
    ("math/0611800", ("math/0611800", None)),
    ("cond-mat.stat-mech/0601001", ("cond-mat/0601001", None)),
    ("cs/9901001", ("cs/9901001", None)),
    ("astro-ph/0601001", ("astro-ph/0601001", None)),
    ("cmp-lg/9404001", ("cmp-lg/9404001", None)),
    ("hep-th/9108001", ("hep-th/9108001", None)),
    ("https://arxiv.org/abs/hep-th/9901001v1", ("hep-th/9901001", 1)),
    ("https://arxiv.org/pdf/math.CA/0611800v2.pdf", ("math/0611800", 2)),
    ("http://arxiv.org/abs/astro-ph/0601001v1", ("astro-ph/0601001", 1)),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_inputs(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_arxiv_id(text) == expected


REJECTED = [
    ("abc", "not an arXiv identifier"),
    ("", "empty"),
    ("   ", "empty"),
    ("<>", "empty"),
    ("2401.1234", "5-digit"),
    ("2401.123456", "not an arXiv identifier"),
    ("1412.12345", "4-digit"),
    ("2413.00001", "month 13"),
    ("2400.00001", "month 00"),
    ("0703.0001", "April 2007"),
    ("0000.0000", "month 00"),
    ("2401.01234v0", "v1"),
    ("2401.01234 extra", "not an arXiv identifier"),
    ("hepth/9901001", "'hepth' is not an arXiv archive"),
    ("stat/0601001", "'stat' is not an arXiv archive"),
    ("gr-qc.XX/9901001", "no subject classes"),
    ("hep-th/9913001", "month 13"),
    ("hep-th/0801001", "9107 to 0703"),
    ("hep-th/990100", "not an arXiv identifier"),
    ("https://example.com/abs/2401.01234", "not an arXiv URL"),
    ("https://arxiv.org.evil.example/abs/2401.01234", "not an arXiv URL"),
    ("https://openreview.net/forum?id=B1l8L6EtDS", "not an arXiv URL"),
    ("https://arxiv.org/list/cs.LG/recent", "not one of a paper"),
    ("https://arxiv.org/abs/2413.00001", "month 13"),
    ("doi:10.1103/PhysRevB.85.115117", "not an arXiv identifier"),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_rejected_inputs_name_the_input(text: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_arxiv_id(text)
    assert reason in caught.value.reason
    assert caught.value.text == text
    assert repr(text) in str(caught.value)


def test_identifier_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'abc'"):
        parse_arxiv_id("abc")


def test_canonical_id_drops_version_and_subject_class() -> None:
    assert canonical_id("https://arxiv.org/abs/math.CA/0611800v2") == "math/0611800"
    assert canonical_id("arXiv:2003.01054v4") == "2003.01054"


@pytest.mark.parametrize(
    ("arxiv_id", "expected"),
    [
        ("2003.01054", (2020, 3)),
        ("2003.01054v2", (2020, 3)),
        ("hep-th/9901001", (1999, 1)),
        ("0704.0001", (2007, 4)),
        ("math/0611800", (2006, 11)),
        ("astro-ph/0703999", (2007, 3)),
        ("hep-th/9108001", (1991, 8)),
        ("1501.00001", (2015, 1)),
        ("https://arxiv.org/abs/2412.19437", (2024, 12)),
    ],
)
def test_id_year_month(arxiv_id: str, expected: tuple[int, int]) -> None:
    assert id_year_month(arxiv_id) == expected


def test_id_year_month_rejects_garbage() -> None:
    with pytest.raises(IdentifierError):
        id_year_month("not-an-id")


def test_id_sort_key_orders_chronologically_then_by_number() -> None:
    shuffled = [
        "2401.01234",
        "hep-th/9901001",
        "1501.00001",
        "0704.0001",
        "2401.00002",
        "math/0611800",
        "astro-ph/9901001",
        "1412.9999",
        "hep-th/9108001",
        "2312.10000",
        "0704.0002",
        "astro-ph/0703001",
    ]
    assert sorted(shuffled, key=id_sort_key) == [
        "hep-th/9108001",
        "astro-ph/9901001",
        "hep-th/9901001",
        "math/0611800",
        "astro-ph/0703001",
        "0704.0001",
        "0704.0002",
        "1412.9999",
        "1501.00001",
        "2312.10000",
        "2401.00002",
        "2401.01234",
    ]


def test_id_sort_key_compares_numbers_not_strings() -> None:
    # 4-digit and 5-digit numbers must not compare as text.
    assert id_sort_key("1412.9999") < id_sort_key("1501.00001")
    assert id_sort_key("2401.09999") < id_sort_key("2401.10000")
    assert id_sort_key("2401.01234v9") == id_sort_key("2401.01234")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/1706.03762", "1706.03762"),
        ("https://arxiv.org/pdf/1706.03762v7.pdf", "1706.03762"),
        ("http://arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001"),
        ("<https://arxiv.org/abs/1611.03530>", "1611.03530"),
        ("https://openreview.net/forum?id=B1l8L6EtDS", None),
        ("https://github.com/user/repo", None),
        ("https://arxiv.org/list/cs.LG/recent", None),
        ("https://arxiv.org/abs/2413.00001", None),
        ("1706.03762", None),
        ("", None),
    ],
)
def test_arxiv_id_from_url(url: str, expected: str | None) -> None:
    assert arxiv_id_from_url(url) == expected
