"""Fixtures of the fake GitHub's own tests: a client, a bare repository with a branch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakegithub import FakeGitHub, commit_files, init_bare
from tests.fakegithub.client import BRANCH, NAME, OWNER, README, README_B, Api


@pytest.fixture
async def api(fake_github: FakeGitHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(fake_github, session)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A bare repository: master with the README, BRANCH one commit ahead adding paper B."""
    git_dir = init_bare(tmp_path / "list.git", files={"README.md": README})
    commit_files(git_dir, BRANCH, {"README.md": README_B}, "Add B", start_from="master")
    return git_dir


@pytest.fixture
def repo_gh(fake_github: FakeGitHub, bare: Path) -> FakeGitHub:
    """The fake with OWNER/NAME backed by `bare`."""
    fake_github.add_repo(OWNER, NAME, git_dir=bare)
    return fake_github
