"""Embeds and messages stay within Discord's limits on any input, and ping nobody."""

from __future__ import annotations

import random

import pytest

from bot.discord.embeds import (
    CONTENT_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    CandidateView,
    candidate_embed,
    short_authors,
    split_messages,
    truncate,
)


def test_truncate_keeps_whole_words() -> None:
    text = "alpha beta gamma delta"
    assert truncate(text, 100) == text
    out = truncate(text, 14)
    assert out == "alpha beta…"
    assert len(out) <= 14


def test_truncate_never_breaks_a_markdown_link() -> None:
    text = "see [the paper](https://arxiv.org/abs/2003.01054) and more words here"
    for limit in range(5, len(text)):
        out = truncate(text, limit)
        assert len(out) <= limit
        assert out.count("[") == out.count("]") == out.count("(") == out.count(")")


def test_truncate_one_giant_word() -> None:
    out = truncate("x" * 5000, 256)
    assert len(out) == 256 and out.endswith("…")


def test_short_authors() -> None:
    assert short_authors(["A", "B"]) == "A, B"
    many = [f"Author {i}" for i in range(40)]
    text = short_authors(many)
    assert "Author 0" in text and "Author 39" in text and "40 authors" in text
    assert short_authors([]) == "unknown authors"


def _view(**kw: object) -> CandidateView:
    base: dict[str, object] = dict(
        arxiv_id="2003.01054",
        version=2,
        title="Double Trouble in Double Descent",
        authors=["Stéphane d'Ascoli", "Maria Refinetti"],
        abstract="We study double descent.",
        categories=["cs.LG", "stat.ML"],
        section="Deep Learning Theory",
        score=4.5,
        reasons=['"double descent" in title'],
    )
    base.update(kw)
    return CandidateView(**base)  # type: ignore[arg-type]


def _check_limits(embed) -> None:  # type: ignore[no-untyped-def]
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= TITLE_LIMIT
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert 0 < len(field.name) <= 256
        assert 0 < len(field.value) <= FIELD_VALUE_LIMIT


def test_candidate_embed_normal() -> None:
    embed = candidate_embed(_view())
    _check_limits(embed)
    assert embed.url == "https://arxiv.org/abs/2003.01054"
    values = {f.name: f.value for f in embed.fields}
    assert values["Suggested section"] == "Deep Learning Theory"
    assert "double descent" in values["Why"]
    assert "https://arxiv.org/pdf/2003.01054v2" in values["Links"]


def test_candidate_embed_hostile_input_stays_within_limits() -> None:
    rng = random.Random(7)
    alphabet = "ab @everyone<@123>[]()*_~`|\\\n\t😀" + "x" * 10
    for _ in range(50):
        words = lambda n: "".join(rng.choice(alphabet) for _ in range(n))  # noqa: E731
        view = _view(
            title=words(rng.randint(0, 3000)),
            authors=[words(rng.randint(0, 300)) for _ in range(rng.randint(0, 300))],
            abstract=words(rng.randint(0, 20000)),
            categories=[words(20) for _ in range(rng.randint(0, 50))],
            section=words(rng.randint(0, 500)),
            reasons=[words(rng.randint(0, 800)) for _ in range(rng.randint(0, 40))],
            status=rng.choice(["posted", "approved", "rejected", "expired"]),
            decided_by=words(300),
        )
        _check_limits(candidate_embed(view))


def test_mentions_are_neutralised_in_text() -> None:
    embed = candidate_embed(_view(abstract="hello @everyone and <@123>", title="@here title"))
    assert "@everyone" not in (embed.description or "").replace("@\u200beveryone", "")


@pytest.mark.parametrize("n", [0, 1, 50, 500])
def test_split_messages(n: int) -> None:
    blocks = [f"• line {i} " + "w" * (i % 90) for i in range(n)]
    messages = split_messages(blocks)
    assert all(len(m) <= CONTENT_LIMIT for m in messages)
    joined = "\n".join(messages)
    assert all(b in joined for b in blocks)
    if n:
        assert len(messages) <= 1 + sum(len(b) + 1 for b in blocks) // (CONTENT_LIMIT // 2)
