"""The server reads and merges a real bare repository: pushes, deletions and merges show."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakegithub import FakeGitHub, MergeConflict, commit_files, delete_branch, show
from tests.fakegithub.client import BRANCH, NAME, OWNER, README, README_B, Api
from tests.fakegithub.git import MergeMethod, git, git_env, rev_parse

PULLS = f"/repos/{OWNER}/{NAME}/pulls"


async def test_head_and_base_shas_come_from_git_and_follow_pushes(
    repo_gh: FakeGitHub, api: Api, bare: Path, tmp_path: Path
) -> None:
    pr = (await api.create()).body
    assert pr["head"]["sha"] == rev_parse(bare, BRANCH)
    assert pr["base"]["sha"] == rev_parse(bare, "master")

    # A push from an ordinary clone, as the app publishes.
    work = tmp_path / "clone"
    env = git_env()
    git("clone", "--quiet", "--branch", BRANCH, str(bare), str(work), env=env)
    (work / "c.md").write_text("C\n", encoding="utf-8")
    git("add", "c.md", cwd=work, env=env)
    git("commit", "--quiet", "-m", "Add C", cwd=work, env=env)
    git("push", "--quiet", "origin", BRANCH, cwd=work, env=env)

    after = (await api.call("GET", f"{PULLS}/1")).body
    assert after["head"]["sha"] == rev_parse(bare, BRANCH) != pr["head"]["sha"]
    assert (after["commits"], after["changed_files"]) == (2, 2)
    assert after["updated_at"] >= pr["updated_at"]
    assert repo_gh.pull(1).head_sha == after["head"]["sha"]


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
async def test_merge_pull_merges_for_real(
    repo_gh: FakeGitHub, api: Api, bare: Path, method: MergeMethod
) -> None:
    await api.create()
    head_sha = rev_parse(bare, BRANCH)
    old_base = rev_parse(bare, "master")
    assert show(bare, "master", "README.md") == README

    merged = repo_gh.merge_pull(1, method=method)

    tip = rev_parse(bare, "master")
    assert tip is not None and tip != old_base
    assert show(bare, "master", "README.md") == README_B
    assert (merged.state, merged.merged, merged.merge_commit_sha) == ("closed", True, tip)
    assert merged.merged_at is not None and merged.merged_by is not None
    parents = git("rev-list", "--parents", "-n", "1", tip, git_dir=bare).stdout.split()[1:]
    message = git("log", "-1", "--format=%B", tip, git_dir=bare).stdout.strip()
    committer = git("log", "-1", "--format=%cn", tip, git_dir=bare).stdout.strip()
    assert committer == "GitHub"
    if method == "merge":
        assert parents == [old_base, head_sha]
        assert message == f"Merge pull request #1 from {OWNER}/{BRANCH}\n\nAdd B"
    elif method == "squash":
        assert parents == [old_base]
        assert message == "Add B (#1)"
    else:
        assert parents == [old_base] and tip != head_sha
        assert message == "Add B"

    answer = (await api.call("GET", f"{PULLS}/1")).body
    assert (answer["state"], answer["merged"], answer["merge_commit_sha"]) == ("closed", True, tip)
    assert (answer["mergeable"], answer["merged_by"]["login"]) == (None, "maintainer")
    assert (answer["commits"], answer["additions"]) == (1, 1)
    assert answer["head"]["sha"] == head_sha
    listed = (await api.call("GET", f"{PULLS}?state=closed")).body
    assert [p["merged_at"] for p in listed] == [answer["merged_at"]]
    with pytest.raises(ValueError, match="closed"):
        repo_gh.merge_pull(1)


async def test_conflicts_show_as_unmergeable_and_refuse_to_merge(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    await api.create()
    commit_files(bare, "master", {"README.md": "# Rewritten by hand\n"}, "Rewrite")
    pr = (await api.call("GET", f"{PULLS}/1")).body
    assert (pr["mergeable"], pr["mergeable_state"]) == (False, "dirty")
    before = rev_parse(bare, "master")
    with pytest.raises(MergeConflict):
        repo_gh.merge_pull(1)
    assert rev_parse(bare, "master") == before
    assert repo_gh.pull(1).state == "open"


async def test_a_head_without_commits_or_branch_is_refused_then_accepted(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    git("branch", "empty", "master", git_dir=bare)  # a branch at master's tip: no commits
    nothing = await api.create(head="empty")
    assert nothing.status == 422
    assert nothing.body["errors"][0]["message"] == "No commits between master and empty"
    missing = await api.create(head="later")
    assert missing.body["errors"] == [
        {"resource": "PullRequest", "field": "head", "code": "invalid"}
    ]
    commit_files(bare, "later", {"d.md": "D\n"}, "Add D", start_from="master")
    assert (await api.create(head="later")).status == 201


async def test_deleting_the_head_branch_closes_the_pull_request(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    created = (await api.create()).body
    delete_branch(bare, BRANCH)
    pr = (await api.call("GET", f"{PULLS}/1")).body
    assert (pr["state"], pr["merged"]) == ("closed", False)
    assert pr["head"]["sha"] == created["head"]["sha"]  # the last tip seen
    reopen = await api.call("PATCH", f"{PULLS}/1", {"state": "open"})
    assert reopen.status == 422
    # Restored, the branch lets the pull request be reopened.
    commit_files(bare, BRANCH, {"README.md": README_B}, "Add B again", start_from="master")
    again = await api.call("PATCH", f"{PULLS}/1", {"state": "open"})
    assert again.status == 200 and again.body["head"]["sha"] == rev_parse(bare, BRANCH)


async def test_a_head_merged_by_a_push_marks_the_pull_request_merged(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    await api.create()
    head = rev_parse(bare, BRANCH)
    assert head is not None
    git("update-ref", "refs/heads/master", head, git_dir=bare)  # a fast-forward push
    pr = (await api.call("GET", f"{PULLS}/1")).body
    assert (pr["state"], pr["merged"], pr["merge_commit_sha"]) == ("closed", True, head)
    assert pr["commits"] == 1
    assert (await api.call("GET", PULLS)).body == []


async def test_git_dir_must_be_a_bare_repository(fake_github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a bare git repository"):
        fake_github.add_repo(OWNER, NAME, git_dir=tmp_path)
