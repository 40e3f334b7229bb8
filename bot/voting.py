"""The voting rule: when a candidate's reactions amount to a decision."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    approved: bool
    reason: str  # "curator" | "votes"
    actor: str  # the curator's id, or "votes"


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
        return Verdict(True, "curator", curator_yes[0])
    if curator_no and not curator_yes:
        return Verdict(False, "curator", curator_no[0])
    if curator_yes and curator_no:
        return None  # curators disagree: leave it to them, not to the crowd
    net = len(yes) - len(no)
    if net >= approve_threshold:
        return Verdict(True, "votes", "votes")
    if -net >= reject_threshold:
        return Verdict(False, "votes", "votes")
    return None
