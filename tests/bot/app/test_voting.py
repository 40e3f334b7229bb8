"""The voting rule, case by case."""

from __future__ import annotations

import pytest

from bot.app.voting import Verdict, judge
from db.types import AddedHow


def run(approve: set[str], reject: set[str], curators: set[str] = frozenset(), t: int = 2):  # type: ignore[assignment]
    return judge(approve, reject, curators, approve_threshold=t, reject_threshold=t)


@pytest.mark.parametrize(
    ("approve", "reject", "expected"),
    [
        (set(), set(), None),
        ({"a"}, set(), None),
        ({"a", "b"}, set(), Verdict(True, AddedHow.VOTE, "vote")),
        ({"a", "b"}, {"c"}, None),  # net 1 < 2
        ({"a", "b", "c"}, {"d"}, Verdict(True, AddedHow.VOTE, "vote")),
        (set(), {"a", "b"}, Verdict(False, AddedHow.VOTE, "vote")),
        ({"a", "b"}, {"a"}, None),  # a holds both: counts as neither, net 1
        ({"a", "b", "c"}, {"a"}, Verdict(True, AddedHow.VOTE, "vote")),
    ],
)
def test_threshold_rule(approve: set[str], reject: set[str], expected: Verdict | None) -> None:
    assert run(approve, reject) == expected


def test_a_curator_decides_alone() -> None:
    assert run({"cur"}, set(), {"cur"}) == Verdict(True, AddedHow.CURATOR, "cur")
    assert run(set(), {"cur"}, {"cur"}) == Verdict(False, AddedHow.CURATOR, "cur")
    # The curator's word beats a crowd going the other way.
    assert run({"a", "b", "c"}, {"cur"}, {"cur"}) == Verdict(False, AddedHow.CURATOR, "cur")


def test_a_curator_holding_both_decides_nothing() -> None:
    assert run({"cur"}, {"cur"}, {"cur"}) is None


def test_curators_disagreeing_leave_it_open() -> None:
    assert run({"c1", "a", "b"}, {"c2"}, {"c1", "c2"}) is None


def test_threshold_of_one() -> None:
    assert run({"a"}, set(), t=1) == Verdict(True, AddedHow.VOTE, "vote")
