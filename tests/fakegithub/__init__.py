"""A fake GitHub (REST API v3 on loopback) for the parts of paperbot that open pull requests."""

from __future__ import annotations

from .behaviours import InjectedFailure, RateWindow
from .git import GitError, MergeConflict, commit_files, delete_branch, init_bare, show
from .models import Account, GitHubError, Permissions, PullRequest, Repo
from .server import FakeGitHub, RecordedRequest

__all__ = [
    "Account",
    "FakeGitHub",
    "GitError",
    "GitHubError",
    "InjectedFailure",
    "MergeConflict",
    "Permissions",
    "PullRequest",
    "RateWindow",
    "RecordedRequest",
    "Repo",
    "commit_files",
    "delete_branch",
    "init_bare",
    "show",
]
