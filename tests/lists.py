"""The awesome lists the tests use, by their path under ../shared, and what they hold."""

from __future__ import annotations

SEED_LIST = "seeds/000_94920e77fcbe4d6f.txt"
LIST_2022 = "data/awesome/README-2022-12-29-9a17759.md"
# The `##` sections of the 2022 list that hold papers, in the order the README has them.
SECTIONS_2022 = (
    "Empirical Study",
    "Neural Collapse",
    "Deep Double Descent",
    "Lottery Ticket Hypothesis",
    "Interactions with Neuroscience",
    "Information Bottleneck",
    "Neural Tangent Kernel",
    "Others",
)
