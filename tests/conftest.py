"""Shared fixtures: the one gateway to ../shared (real arXiv data and the seed list)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakediscord.fixtures import fake_discord  # noqa: F401  (a fixture)
from tests.fakegithub.fixtures import fake_github  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
SEED_LIST = "seeds/000_94920e77fcbe4d6f.txt"
LOCAL_DATA = Path(__file__).resolve().parent / "data"


def shared_path(relative: str) -> Path:
    """Path of a file under ../shared; a skip when absent, a failure when CI is set."""
    path = SHARED / relative
    if not path.exists():
        message = f"shared data file missing: {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared() -> Callable[[str], Path]:
    """`shared("arxiv-rss/x.xml")` -> Path. The only way tests read ../shared."""
    return shared_path


@pytest.fixture(scope="session")
def seed_text(shared: Callable[[str], Path]) -> str:
    """The Awesome Deep Phenomena README, exactly as stored (bytes decoded as UTF-8)."""
    return shared(SEED_LIST).read_bytes().decode("utf-8")


@pytest.fixture
def local_data() -> Path:
    """tests/data: fixtures written for this project (synthetic feeds in arXiv's format)."""
    return LOCAL_DATA
