"""The records the fake GitHub keeps (repositories, pull requests) and their JSON payloads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

API_VERSION = "2022-11-28"
WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"
PULLS_DOCS = DOCS + "/pulls/pulls"

PullState = Literal["open", "closed"]


def utc_now_iso() -> str:
    """A timestamp as GitHub writes them: seconds, UTC, a Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class GitHubError(Exception):
    """An error answered the way GitHub does: a status and a JSON body.

    The body is `{"message", "documentation_url", "status"}` (the status as a string, as
    GitHub has sent it since 2024) plus `errors` for 422 Validation Failed.
    """

    def __init__(
        self,
        status: int,
        message: str,
        documentation_url: str = DOCS,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.documentation_url = documentation_url
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, **self.extra}
        if self.errors is not None:
            data["errors"] = self.errors
        data["documentation_url"] = self.documentation_url
        data["status"] = str(self.status)
        return data


def validation_failed(documentation_url: str, *errors: dict[str, Any]) -> GitHubError:
    """422 Validation Failed with GitHub's `errors` list."""
    return GitHubError(422, "Validation Failed", documentation_url, errors=list(errors))


def invalid_request(documentation_url: str, detail: str) -> GitHubError:
    """422 for a body that does not fit the route's JSON schema, in GitHub's words."""
    return GitHubError(422, f"Invalid request.\n\n{detail}", documentation_url)


@dataclass(frozen=True)
class Account:
    """A GitHub user or organisation as payloads show it."""

    login: str
    id: int
    type: Literal["User", "Organization"] = "User"

    def payload(self, api: str) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": self.id,
            "node_id": f"U_fake{self.id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.id}?v=4",
            "url": f"{api}/users/{self.login}",
            "html_url": f"{WEB}/{self.login}",
            "type": self.type,
            "site_admin": False,
        }


@dataclass
class Permissions:
    """What the token may do on every repository (GitHub's `permissions` object)."""

    admin: bool = False
    maintain: bool = False
    push: bool = True
    triage: bool = True
    pull: bool = True

    def payload(self) -> dict[str, bool]:
        return {
            "admin": self.admin,
            "maintain": self.maintain,
            "push": self.push,
            "triage": self.triage,
            "pull": self.pull,
        }


@dataclass(eq=False)
class Repo:
    """A repository: its names (the current one and former ones), branch and pull requests.

    With `git_dir` (a bare repository on disk) branches and commits are read from git.
    """

    id: int
    owner: Account
    name: str
    default_branch: str
    private: bool
    git_dir: Path | None
    created_at: str = field(default_factory=utc_now_iso)
    former_names: list[str] = field(default_factory=list)
    pulls: list[PullRequest] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def html_url(self) -> str:
        return f"{WEB}/{self.full_name}"

    @property
    def clone_url(self) -> str:
        return f"{self.html_url}.git"

    def pull(self, number: int) -> PullRequest | None:
        return self.pulls[number - 1] if 1 <= number <= len(self.pulls) else None

    def payload(self, api: str, permissions: Permissions) -> dict[str, Any]:
        url = f"{api}/repos/{self.full_name}"
        return {
            "id": self.id,
            "node_id": f"R_fake{self.id}",
            "name": self.name,
            "full_name": self.full_name,
            "private": self.private,
            "owner": self.owner.payload(api),
            "html_url": self.html_url,
            "description": None,
            "fork": False,
            "url": url,
            "pulls_url": url + "/pulls{/number}",
            "clone_url": self.clone_url,
            "git_url": f"git://github.com/{self.full_name}.git",
            "ssh_url": f"git@github.com:{self.full_name}.git",
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "pushed_at": self.created_at,
            "archived": False,
            "disabled": False,
            "visibility": "private" if self.private else "public",
            "default_branch": self.default_branch,
            "allow_merge_commit": True,
            "allow_squash_merge": True,
            "allow_rebase_merge": True,
            "delete_branch_on_merge": False,
            "permissions": permissions.payload(),
        }


@dataclass(eq=False)
class PullRequest:
    """A pull request as GitHub keeps it. `head` and `base` are branch names of `repo`.

    `head_sha` and `base_sha` are the tips last seen (live from git while the pull request
    is open, frozen once it is closed or merged).
    """

    repo: Repo = field(repr=False)
    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    user: Account
    head_sha: str
    base_sha: str
    draft: bool = False
    maintainer_can_modify: bool = True
    state: PullState = "open"
    merged: bool = False
    created_at: str = field(default_factory=utc_now_iso)
    updated_at: str = ""
    closed_at: str | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    merged_by: Account | None = None

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    @property
    def html_url(self) -> str:
        return f"{self.repo.html_url}/pull/{self.number}"

    @property
    def head_label(self) -> str:
        return f"{self.repo.owner.login}:{self.head}"

    def touch(self) -> None:
        self.updated_at = utc_now_iso()

    def close(self) -> None:
        self.state = "closed"
        self.closed_at = utc_now_iso()
        self.updated_at = self.closed_at

    def _ref(self, api: str, permissions: Permissions, ref: str, sha: str) -> dict[str, Any]:
        owner = self.repo.owner
        return {
            "label": f"{owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": owner.payload(api),
            "repo": self.repo.payload(api, permissions),
        }

    def payload(
        self,
        api: str,
        permissions: Permissions,
        *,
        full: bool,
        mergeable: bool | None = None,
        stats: tuple[int, int, int, int] = (1, 0, 0, 0),
    ) -> dict[str, Any]:
        """The list form (`full=False`, as GET …/pulls answers) or the full form.

        The full form adds merged, mergeable, mergeable_state, merged_by, counts and
        maintainer_can_modify; `stats` is (commits, additions, deletions, changed_files).
        """
        url = f"{api}/repos/{self.repo.full_name}/pulls/{self.number}"
        issue_url = f"{api}/repos/{self.repo.full_name}/issues/{self.number}"
        data: dict[str, Any] = {
            "url": url,
            "id": self.id,
            "node_id": f"PR_fake{self.id}",
            "html_url": self.html_url,
            "diff_url": self.html_url + ".diff",
            "patch_url": self.html_url + ".patch",
            "issue_url": issue_url,
            "commits_url": url + "/commits",
            "comments_url": issue_url + "/comments",
            "number": self.number,
            "state": self.state,
            "locked": False,
            "title": self.title,
            "user": self.user.payload(api),
            "body": self.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
            "merged_at": self.merged_at,
            "merge_commit_sha": self.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._ref(api, permissions, self.head, self.head_sha),
            "base": self._ref(api, permissions, self.base, self.base_sha),
            "author_association": "COLLABORATOR",
            "auto_merge": None,
            "draft": self.draft,
        }
        if not full:
            return data
        if self.state == "closed":
            mergeable, state = None, "unknown"
        elif self.draft:
            state = "draft"
        else:
            state = {True: "clean", False: "dirty", None: "unknown"}[mergeable]
        commits, additions, deletions, changed_files = stats
        data.update(
            {
                "merged": self.merged,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": state,
                "merged_by": self.merged_by.payload(api) if self.merged_by else None,
                "comments": 0,
                "review_comments": 0,
                "maintainer_can_modify": self.maintainer_can_modify,
                "commits": commits,
                "additions": additions,
                "deletions": deletions,
                "changed_files": changed_files,
            }
        )
        return data
