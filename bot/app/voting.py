"""The voting rule: when a candidate's reactions amount to a decision."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from db.types import AddedHow


@dataclass(frozen=True)
class Verdict:
    approved: bool
    how: AddedHow  # CURATOR or VOTE
    actor: str  # the curator's id, or "vote"


def judge(
    approve: Collection[str],
    reject: Collection[str],
    curators: Collection[str],
    *,
    approve_threshold: int,
    reject_threshold: int,
) -> Verdict | None:
    """Decide from the current votes, or None while undecided.

    A member holding both reactions counts as neither. A curator decides alone; a curator
    holding both is likewise undecided. Otherwise approvals minus rejections must reach the
    approve threshold, or rejections minus approvals the reject threshold.
    """
    both = set(approve) & set(reject)
    yes = set(approve) - both
    no = set(reject) - both
    curator_yes = sorted(yes & set(curators))
    curator_no = sorted(no & set(curators))
    if curator_yes and not curator_no:
        return Verdict(True, AddedHow.CURATOR, curator_yes[0])
    if curator_no and not curator_yes:
        return Verdict(False, AddedHow.CURATOR, curator_no[0])
    if curator_yes and curator_no:
        return None  # curators disagree: leave it to them, not to the crowd
    net = len(yes) - len(no)
    if net >= approve_threshold:
        return Verdict(True, AddedHow.VOTE, "vote")
    if -net >= reject_threshold:
        return Verdict(False, AddedHow.VOTE, "vote")
    return None
