"""The section classifier on real list entries: every section a class, stored without pickle."""

from __future__ import annotations

import numpy as np
import pytest

from db.awesome import parse_awesome
from feeds.relevance import TextFeatures, example_text
from feeds.sections import SectionClassifier


@pytest.fixture(scope="module")
def seed_entries(seed_text: str) -> list:
    return [e for e in parse_awesome(seed_text).entries if e.title]


def _rows(features: TextFeatures, entries: list) -> object:
    return features.transform(example_text(e.title, e.digest or "") for e in entries)


def test_each_section_is_a_class_and_placed_papers_follow_their_entries(seed_entries: list) -> None:
    features = TextFeatures.fit([example_text(e.title, e.digest or "") for e in seed_entries])
    labels = [e.section for e in seed_entries]
    clf = SectionClassifier.train(_rows(features, seed_entries), labels)
    assert clf.sections == sorted(set(labels))
    probs = clf.probabilities(_rows(features, seed_entries))
    assert probs.shape == (len(seed_entries), len(clf.sections))
    assert np.allclose(probs.sum(axis=1), 1.0)
    # on its own training entries, class-balanced: most land in their own section
    right = [clf.sections[int(np.argmax(p))] == s for p, s in zip(probs, labels, strict=True)]
    assert sum(right) / len(right) > 0.8


def test_round_trip_through_plain_arrays(seed_entries: list) -> None:
    features = TextFeatures.fit([example_text(e.title, e.digest or "") for e in seed_entries])
    rows = _rows(features, seed_entries)
    clf = SectionClassifier.train(rows, [e.section for e in seed_entries])
    arrays = clf.arrays()
    assert all(a.dtype != object for a in arrays.values())
    back = SectionClassifier.from_arrays(arrays, features.size)
    assert back.sections == clf.sections
    assert np.array_equal(back.probabilities(rows), clf.probabilities(rows))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        SectionClassifier.from_arrays(arrays, 3)


def test_one_or_two_sections(seed_entries: list) -> None:
    features = TextFeatures.fit([example_text(e.title, e.digest or "") for e in seed_entries])
    rows = _rows(features, seed_entries)
    one = SectionClassifier.train(rows, ["Only"] * len(seed_entries))
    assert np.allclose(one.probabilities(rows), 1.0)
    two_labels = ["Theory" if "heor" in e.section else "Other" for e in seed_entries]
    two = SectionClassifier.train(rows, two_labels)
    p = two.probabilities(rows)
    picked = [two.sections[int(np.argmax(r))] for r in p]
    assert sum(a == b for a, b in zip(picked, two_labels, strict=True)) > 0.8 * len(two_labels)
    with pytest.raises(ValueError, match="no labelled entries"):
        SectionClassifier.train(rows[:0], [])
