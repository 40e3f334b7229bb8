"""Every route over real HTTP: payloads, filters, pagination, and each error GitHub answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.fakegithub import FakeGitHub, commit_files
from tests.fakegithub.client import BRANCH, NAME, OWNER, Api

PULLS = f"/repos/{OWNER}/{NAME}/pulls"


def _errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert body["message"] == "Validation Failed"
    assert body["documentation_url"].startswith("https://docs.github.com/rest/pulls/pulls#")
    assert body["status"] == "422"
    errors: list[dict[str, Any]] = body["errors"]
    return errors


async def test_user_and_rate_limit(fake_github: FakeGitHub, api: Api) -> None:
    user = await api.call("GET", "/user")
    assert user.status == 200
    assert (user.body["login"], user.body["id"], user.body["type"]) == ("paperbot-bot", 1, "User")
    assert user.headers["X-OAuth-Scopes"] == "repo"
    assert user.headers["Content-Type"] == "application/json; charset=utf-8"
    assert user.headers["X-GitHub-Api-Version-Selected"] == "2022-11-28"

    limits = await api.call("GET", "/rate_limit")
    assert limits.status == 200
    core = limits.body["resources"]["core"]
    assert core["limit"] == 5000 and core["used"] == 1 and core["remaining"] == 4999
    assert limits.body["rate"] == core
    assert int(limits.headers["x-ratelimit-reset"]) == core["reset"]


async def test_get_repo_payload_404_and_names_are_case_insensitive(
    fake_github: FakeGitHub, api: Api
) -> None:
    repo = fake_github.add_repo(OWNER, NAME, default_branch="main", private=True)
    answer = await api.call("GET", f"/repos/{OWNER}/{NAME}")
    assert answer.status == 200
    body = answer.body
    assert (body["id"], body["name"], body["full_name"]) == (repo.id, NAME, f"{OWNER}/{NAME}")
    assert body["owner"]["login"] == OWNER and body["owner"]["type"] == "Organization"
    assert (body["default_branch"], body["private"]) == ("main", True)
    assert body["html_url"] == f"https://github.com/{OWNER}/{NAME}"
    assert body["clone_url"] == f"https://github.com/{OWNER}/{NAME}.git"
    assert body["permissions"] == {
        "admin": False,
        "maintain": False,
        "push": True,
        "triage": True,
        "pull": True,
    }
    upper = await api.call("GET", f"/repos/{OWNER.upper()}/{NAME.upper()}")
    assert upper.status == 200 and upper.body["id"] == repo.id
    by_id = await api.call("GET", f"/repositories/{repo.id}")
    assert by_id.status == 200 and by_id.body["full_name"] == f"{OWNER}/{NAME}"

    missing = await api.call("GET", f"/repos/{OWNER}/nope")
    assert missing.status == 404
    assert missing.body == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
        "status": "404",
    }
    assert (await api.call("GET", "/repositories/999999")).status == 404
    assert (await api.call("GET", f"/repos/{OWNER}/nope/pulls")).status == 404


async def test_create_pull_answers_201_with_the_pull_request(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    answer = await api.create(draft=True, maintainer_can_modify=False)
    assert answer.status == 201
    pr = answer.body
    assert answer.headers["Location"] == f"{repo_gh.base_url}/repos/{OWNER}/{NAME}/pulls/1"
    assert pr["url"] == answer.headers["Location"]
    assert (pr["number"], pr["state"], pr["title"], pr["body"]) == (
        1,
        "open",
        "Add B",
        "One paper.",
    )
    assert pr["html_url"] == f"https://github.com/{OWNER}/{NAME}/pull/1"
    assert pr["user"]["login"] == "paperbot-bot"
    assert pr["head"]["ref"] == BRANCH and pr["head"]["label"] == f"{OWNER}:{BRANCH}"
    assert pr["base"]["ref"] == "master"
    assert re.fullmatch(r"[0-9a-f]{40}", pr["head"]["sha"])
    assert pr["head"]["sha"] != pr["base"]["sha"]
    assert (pr["merged"], pr["merged_at"], pr["merge_commit_sha"]) == (False, None, None)
    assert (pr["draft"], pr["maintainer_can_modify"], pr["mergeable_state"]) == (
        True,
        False,
        "draft",
    )
    assert (pr["commits"], pr["additions"], pr["deletions"], pr["changed_files"]) == (1, 1, 0, 1)
    assert pr["created_at"].endswith("Z") and pr["updated_at"] == pr["created_at"]

    (record,) = repo_gh.pulls(OWNER, NAME)
    assert (record.number, record.title, record.head, record.base, record.state) == (
        1,
        "Add B",
        BRANCH,
        "master",
        "open",
    )
    assert record.html_url == pr["html_url"] and record.user.login == "paperbot-bot"
    assert not record.merged and record.draft

    # The head may also be written owner:branch, as for a fork.
    second = await api.create(head=f"{OWNER}:{BRANCH}", base="master")
    assert second.status == 422  # …and is then the same head: a duplicate


async def test_create_pull_validation_errors(repo_gh: FakeGitHub, api: Api) -> None:
    duplicate_body = (await api.create()).body
    assert duplicate_body["number"] == 1

    duplicate = await api.create()
    assert duplicate.status == 422
    assert _errors(duplicate.body) == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": f"A pull request already exists for {OWNER}:{BRANCH}.",
        }
    ]
    no_title = await api.call("POST", PULLS, {"head": BRANCH, "base": "master", "title": " "})
    assert _errors(no_title.body) == [
        {"resource": "Issue", "code": "missing_field", "field": "title"}
    ]
    neither = await api.call("POST", PULLS, {"title": "x"})
    assert neither.status == 422
    assert neither.body["message"] == 'Invalid request.\n\n"base", "head" weren\'t supplied.'
    no_base = await api.call("POST", PULLS, {"title": "x", "head": BRANCH})
    assert no_base.body["message"] == 'Invalid request.\n\n"base" wasn\'t supplied.'
    bad_type = await api.call(
        "POST", PULLS, {"title": "x", "head": BRANCH, "base": "master", "draft": "yes"}
    )
    assert bad_type.status == 422
    assert (
        bad_type.body["message"]
        == "Invalid request.\n\nFor 'properties/draft', \"yes\" is not a boolean."
    )

    for head in ("no-such-branch", f"someone-else:{BRANCH}", f"{OWNER}:"):
        invalid = await api.create(head=head)
        assert invalid.status == 422, head
        assert _errors(invalid.body) == [
            {"resource": "PullRequest", "field": "head", "code": "invalid"}
        ]
    bad_base = await api.create(base="no-such-base")
    assert _errors(bad_base.body) == [
        {"resource": "PullRequest", "field": "base", "code": "invalid"}
    ]

    nothing = await api.create(head="master", base="master")
    assert _errors(nothing.body) == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": "No commits between master and master",
        }
    ]
    not_json = await api.call(
        "POST", PULLS, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status == 400 and not_json.body["message"] == "Problems parsing JSON"
    assert len(repo_gh.pulls(OWNER, NAME)) == 1


async def test_get_pull_and_404(repo_gh: FakeGitHub, api: Api) -> None:
    created = (await api.create()).body
    answer = await api.call("GET", f"{PULLS}/1")
    assert answer.status == 200
    pr = answer.body
    assert pr["id"] == created["id"] and pr["head"]["sha"] == created["head"]["sha"]
    assert (pr["mergeable"], pr["mergeable_state"], pr["rebaseable"]) == (True, "clean", True)
    missing = await api.call("GET", f"{PULLS}/2")
    assert missing.status == 404
    assert missing.body["documentation_url"].endswith("#get-a-pull-request")
    # Not a number: no such route on GitHub either.
    assert (await api.call("GET", f"{PULLS}/abc")).status == 404
    repo_gh.unknown_requests.clear()


async def test_list_pulls_filters_by_state_head_and_base(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    await api.create()
    commit_files(bare, "other", {"other.md": "o\n"}, "Other", start_from="master")
    assert (await api.create(head="other", base=BRANCH, title="Other")).status == 201
    repo_gh.close_pull(2)

    async def numbers(query: str) -> list[int]:
        answer = await api.call("GET", f"{PULLS}{query}")
        assert answer.status == 200
        return [p["number"] for p in answer.body]

    assert await numbers("") == [1]
    assert await numbers("?state=closed") == [2]
    assert await numbers("?state=all") == [2, 1]  # newest first
    assert await numbers("?state=all&direction=asc") == [1, 2]
    assert await numbers(f"?state=all&head={OWNER}:{BRANCH}") == [1]
    assert await numbers(f"?state=all&head={OWNER.upper()}:{BRANCH}") == [1]
    assert await numbers(f"?state=all&head=someone-else:{BRANCH}") == []
    # A head without "owner:" is ignored by GitHub: every pull request comes back.
    assert await numbers(f"?state=all&head={BRANCH}") == [2, 1]
    assert await numbers("?state=all&base=master") == [1]
    listed = (await api.call("GET", PULLS)).body[0]
    # The list form has no merged/mergeable fields; merged_at is how a list tells merged.
    assert "merged" not in listed and "mergeable" not in listed and listed["merged_at"] is None


async def test_list_pulls_paginates_with_link_headers(fake_github: FakeGitHub, api: Api) -> None:
    repo = fake_github.add_repo(OWNER, NAME)  # no git: every branch exists
    for n in range(5):
        assert (await api.create(head=f"branch-{n}")).status == 201
    first = await api.call("GET", f"{PULLS}?state=all&per_page=2")
    assert [p["number"] for p in first.body] == [5, 4]
    url = f"{fake_github.base_url}/repositories/{repo.id}/pulls"
    assert first.headers["Link"] == (
        f'<{url}?state=all&per_page=2&page=2>; rel="next", <{url}?state=all&per_page=2&page=3>; rel="last"'
    )
    middle = await api.call("GET", f"{PULLS}?state=all&per_page=2&page=2")
    assert [p["number"] for p in middle.body] == [3, 2]
    rels = re.findall(r'page=(\d)>; rel="(\w+)"', middle.headers["Link"])
    assert rels == [("1", "prev"), ("3", "next"), ("3", "last"), ("1", "first")]
    # The links work: they name the repository by id.
    link = (
        middle.headers["Link"].split(">", 1)[0].removeprefix("<").removeprefix(fake_github.base_url)
    )
    last = await api.call("GET", link.replace("page=1", "page=3"))
    assert [p["number"] for p in last.body] == [1]
    assert 'rel="next"' not in last.headers["Link"]
    single = await api.call("GET", f"{PULLS}?state=all")
    assert len(single.body) == 5 and "Link" not in single.headers
    capped = await api.call("GET", f"{PULLS}?state=all&per_page=1000&page=x")
    assert len(capped.body) == 5
    assert (await api.call("GET", f"{PULLS}?per_page=2&page=9")).body == []


async def test_update_pull_title_body_state_and_base(
    repo_gh: FakeGitHub, api: Api, bare: Path
) -> None:
    await api.create()
    commit_files(bare, "next", {"x.md": "x\n"}, "A next branch", start_from="master")
    answer = await api.call(
        "PATCH", f"{PULLS}/1", {"title": "Add B and C", "body": None, "base": "next"}
    )
    assert answer.status == 200
    assert (answer.body["title"], answer.body["body"], answer.body["base"]["ref"]) == (
        "Add B and C",
        None,
        "next",
    )
    record = repo_gh.pull(1)
    assert (record.title, record.body, record.base) == ("Add B and C", None, "next")

    closed = await api.call("PATCH", f"{PULLS}/1", {"state": "closed"})
    assert (closed.body["state"], closed.body["merged"]) == ("closed", False)
    assert closed.body["closed_at"] is not None
    assert (await api.call("GET", PULLS)).body == []

    moved = await api.call("PATCH", f"{PULLS}/1", {"state": "open", "base": "master"})
    assert moved.status == 422
    assert (
        _errors(moved.body)[0]["message"]
        == "Cannot change the base branch of a closed pull request."
    )
    reopened = await api.call("PATCH", f"{PULLS}/1", {"state": "open"})
    assert reopened.status == 200 and reopened.body["state"] == "open"
    assert reopened.body["closed_at"] is None

    bad_state = await api.call("PATCH", f"{PULLS}/1", {"state": "merged"})
    assert bad_state.status == 422
    assert "is not a member of" in bad_state.body["message"]
    bad_base = await api.call("PATCH", f"{PULLS}/1", {"base": "gone"})
    assert _errors(bad_base.body) == [
        {"resource": "PullRequest", "field": "base", "code": "invalid"}
    ]
    assert (await api.call("PATCH", f"{PULLS}/7", {"title": "x"})).status == 404


async def test_reopening_a_merged_pull_request_is_refused(repo_gh: FakeGitHub, api: Api) -> None:
    await api.create()
    repo_gh.merge_pull(1)
    answer = await api.call("PATCH", f"{PULLS}/1", {"state": "open"})
    assert answer.status == 422
    (error,) = _errors(answer.body)
    assert (error["code"], error["field"]) == ("custom", "state")
    assert repo_gh.pull(1).state == "closed"


async def test_reopening_is_refused_while_another_is_open_for_the_head(
    repo_gh: FakeGitHub, api: Api
) -> None:
    await api.create()
    repo_gh.close_pull(1)
    assert (await api.create()).status == 201  # a closed one does not block a new one
    answer = await api.call("PATCH", f"{PULLS}/1", {"state": "open"})
    assert (
        _errors(answer.body)[0]["message"] == f"A pull request already exists for {OWNER}:{BRANCH}."
    )


async def test_unknown_routes_answer_404_and_are_recorded(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    answer = await api.call("PUT", f"{PULLS}/1/merge", {"merge_method": "squash"})
    assert answer.status == 404
    assert answer.body == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }
    assert "x-ratelimit-remaining" in answer.headers
    # A known path with a method it does not take is unknown too.
    assert (await api.call("DELETE", f"/repos/{OWNER}/{NAME}")).status == 404
    assert [(r.method, r.path, r.json) for r in fake_github.unknown_requests] == [
        ("PUT", f"{PULLS}/1/merge", {"merge_method": "squash"}),
        ("DELETE", f"/repos/{OWNER}/{NAME}", None),
    ]
    fake_github.unknown_requests.clear()  # on purpose: the fixture would fail the test


async def test_requests_are_recorded_without_the_token(fake_github: FakeGitHub, api: Api) -> None:
    fake_github.add_repo(OWNER, NAME)
    await api.call("GET", f"{PULLS}?state=all", headers={"User-Agent": "paperbot"})
    (record,) = fake_github.calls("GET", r"/repos/.*/pulls")
    assert (record.method, record.path, record.query, record.status) == (
        "GET",
        PULLS,
        {"state": "all"},
        200,
    )
    assert record.route == "/repos/{owner}/{repo}/pulls" and record.authorized
    assert record.headers["User-Agent"] == "paperbot"
    assert all(k.lower() != "authorization" for k in record.headers)
    assert fake_github.token not in repr(fake_github.requests)


def test_readme_lists_every_route() -> None:
    readme = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`((?:GET|POST|PATCH) /[^`]*)`", readme))
    assert listed == set(FakeGitHub().route_templates)
