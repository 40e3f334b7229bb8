"""Credentials, permissions, rate limits, renames and the failures a test switches on."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.fakegithub import FakeGitHub
from tests.fakegithub.client import BRANCH, NAME, OWNER, Api

ROOT = Path(__file__).resolve().parents[2]
PULLS = f"/repos/{OWNER}/{NAME}/pulls"
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
)


async def test_both_authorization_schemes_and_401s(fake_github: FakeGitHub, api: Api) -> None:
    assert (await api.call("GET", "/user", scheme="Bearer")).status == 200
    assert (await api.call("GET", "/user", scheme="token")).status == 200
    missing = await api.call("GET", "/user", token=None)
    assert missing.status == 401
    assert missing.body == {
        "message": "Requires authentication",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    for token, scheme in (("ghp_wrong", "Bearer"), (fake_github.token, "Basic"), ("", "Bearer")):
        garbage = await api.call("GET", "/user", token=token, scheme=scheme)
        assert garbage.status == 401 and garbage.body["message"] == "Bad credentials"
        # Without valid credentials the address's limit of 60 applies, as on GitHub.
        assert garbage.headers["x-ratelimit-limit"] == "60"
        assert "X-OAuth-Scopes" not in garbage.headers
    assert [r.authorized for r in fake_github.requests] == [True, True, False, False, False, False]


async def test_a_revoked_token_fails_every_call_until_a_new_one(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    old = fake_github.token
    fake_github.revoke_token()
    for method, path in (("GET", "/user"), ("GET", PULLS), ("POST", PULLS), ("GET", "/rate_limit")):
        answer = await api.call(method, path, {"title": "t", "head": "b", "base": "master"})
        assert (answer.status, answer.body["message"]) == (401, "Bad credentials"), path
    assert fake_github.pulls(OWNER, NAME) == []
    new = fake_github.new_token()
    assert new != old and new.startswith("ghp_") and len(new) == 40
    assert (await api.call("GET", "/user")).status == 200
    assert (await api.call("GET", "/user", token=old)).status == 401


async def test_without_push_pull_requests_cannot_be_written(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    assert (await api.create()).status == 201
    fake_github.set_permissions(push=False)
    repo = (await api.call("GET", f"/repos/{OWNER}/{NAME}")).body
    assert repo["permissions"]["push"] is False and repo["permissions"]["pull"] is True
    for answer in (
        await api.create(head="other"),
        await api.call("PATCH", f"{PULLS}/1", {"title": "x"}),
    ):
        assert answer.status == 403
        assert answer.body["message"] == "Resource not accessible by personal access token"
        assert answer.headers["X-Accepted-GitHub-Permissions"] == "pull_requests=write"
    assert (await api.call("GET", f"{PULLS}/1")).status == 200  # reading still works
    assert [p.title for p in fake_github.pulls(OWNER, NAME)] == ["Add B"]
    fake_github.set_permissions(push=True)
    assert (await api.call("PATCH", f"{PULLS}/1", {"title": "x"})).status == 200


async def test_without_pull_a_private_repository_is_not_found(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME, private=True)
    fake_github.add_repo(OWNER, "public")
    fake_github.set_permissions(pull=False)
    assert (await api.call("GET", f"/repos/{OWNER}/{NAME}")).status == 404
    assert (await api.call("GET", PULLS)).status == 404
    assert (await api.call("GET", f"/repos/{OWNER}/public")).status == 200


async def test_every_answer_counts_and_carries_rate_limit_headers(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    answers = [
        await api.call("GET", "/user"),
        await api.call("GET", f"/repos/{OWNER}/missing"),
        await api.create(),
        await api.create(),  # 422
    ]
    assert [a.status for a in answers] == [200, 404, 201, 422]
    for n, answer in enumerate(answers, start=1):
        assert all(h in answer.headers for h in RATE_HEADERS)
        assert answer.headers["x-ratelimit-used"] == str(n)
        assert answer.headers["x-ratelimit-remaining"] == str(5000 - n)
        assert answer.headers["x-ratelimit-resource"] == "core"
    reset = int(answers[0].headers["x-ratelimit-reset"])
    assert time.time() + 3590 < reset <= time.time() + 3601
    # GET /rate_limit does not count, as on GitHub, but shows the count.
    limits = await api.call("GET", "/rate_limit")
    assert limits.headers["x-ratelimit-used"] == "4"
    assert limits.body["resources"]["core"]["used"] == 4
    assert (await api.call("GET", "/rate_limit")).headers["x-ratelimit-used"] == "4"


async def test_the_primary_limit_runs_out_by_use(api: Api) -> None:
    async with FakeGitHub(rate_limit=2) as small:
        api.server = small
        answers = [await api.call("GET", "/user") for _ in range(3)]
        assert [a.status for a in answers] == [200, 200, 403]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
        assert answers[2].body["message"] == "API rate limit exceeded for user ID 1."


@pytest.mark.parametrize("status", [403, 429])
async def test_exhausted_primary_limit_until_reset(
    fake_github: FakeGitHub, api: Api, status: int
) -> None:
    fake_github.exhaust_rate_limit(reset_in=0.3, status=status)
    refused = await api.call("GET", "/user")
    assert refused.status == status
    assert refused.body == {
        "message": "API rate limit exceeded for user ID 1.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        "status": str(status),
    }
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-used"] == "5000"
    assert int(refused.headers["x-ratelimit-reset"]) <= time.time() + 1.3
    assert "retry-after" not in refused.headers
    assert (await api.call("GET", "/rate_limit")).body["resources"]["core"]["remaining"] == 0
    await asyncio.sleep(0.35)
    again = await api.call("GET", "/user")
    assert again.status == 200 and again.headers["x-ratelimit-remaining"] == "4999"


@pytest.mark.parametrize("status", [403, 429])
async def test_secondary_limit_with_retry_after_then_lifted(
    fake_github: FakeGitHub, api: Api, status: int
) -> None:
    fake_github.add_repo(OWNER, NAME)
    fake_github.secondary_rate_limit(retry_after=0.3, status=status)
    refused = await api.create()
    assert refused.status == status
    assert refused.body["message"].startswith("You have exceeded a secondary rate limit.")
    assert refused.headers["retry-after"] == "1"
    # What tells it from the primary limit: requests remain.
    assert int(refused.headers["x-ratelimit-remaining"]) > 0
    assert (await api.call("GET", "/user")).status == status
    assert fake_github.pulls(OWNER, NAME) == []
    await asyncio.sleep(0.35)
    assert (await api.create()).status == 201

    fake_github.secondary_rate_limit(retry_after=60, times=1)
    limited = await api.call("GET", "/user")
    assert limited.status == 403 and int(limited.headers["retry-after"]) == 60
    assert (await api.call("GET", "/user")).status == 200


async def test_fail_next_by_template_or_regex_then_back_to_normal(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    failure = fake_github.fail_next("POST", "/repos/{owner}/{repo}/pulls", 502, times=2)
    assert [(await api.create()).status for _ in range(3)] == [502, 502, 201]
    assert failure.hits == 2
    fake_github.fail_next(
        "*", r"/repos/.*/pulls/\d+", 409, body={"message": "Busy"}, headers={"X-Why": "test"}
    )
    odd = await api.call("GET", f"{PULLS}/1")
    assert (odd.status, odd.body, odd.headers["X-Why"]) == (409, {"message": "Busy"}, "test")
    assert "x-ratelimit-remaining" in odd.headers
    assert (await api.call("GET", f"{PULLS}/1")).status == 200
    server_error = fake_github.fail_next("GET", "/user", 500)
    answer = await api.call("GET", "/user")
    assert (answer.status, answer.body["message"], server_error.hits) == (500, "Server Error", 1)
    with pytest.raises(ValueError, match="no route template"):
        fake_github.fail_next("GET", "/repos/{owner}/{repo}/pull", 500)


async def test_delay_holds_answers_and_a_client_timeout_sees_it(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    fake_github.delay(0.4)
    with pytest.raises(asyncio.TimeoutError):
        await api.create(timeout=0.1)
    await fake_github.wait_for(lambda: fake_github.calls("POST"))
    fake_github.delay(None)
    assert (await api.call("GET", "/user")).status == 200
    await asyncio.sleep(0.4)  # the hold is over: the call the client gave up on changed nothing
    assert fake_github.pulls(OWNER, NAME) == []

    # "reply": handled at once, answered late: the pull request exists though unheard of.
    fake_github.delay(5.0, phase="reply")
    with pytest.raises(asyncio.TimeoutError):
        await api.create(timeout=0.2)
    await fake_github.wait_for(lambda: fake_github.pulls(OWNER, NAME))
    fake_github.delay(0.1)
    started = time.monotonic()
    assert (await api.create()).status == 422  # the retry meets its own pull request
    assert time.monotonic() - started >= 0.1
    assert [r.delayed for r in fake_github.calls("POST")] == [True, True, True]


async def test_dropped_connections_answer_nothing_and_change_nothing(
    fake_github: FakeGitHub, api: Api
) -> None:
    fake_github.add_repo(OWNER, NAME)
    fake_github.drop_connections(True)
    for attempt in (api.create(), api.call("GET", "/user")):
        with pytest.raises(aiohttp.ClientConnectionError):
            await attempt
    assert fake_github.pulls(OWNER, NAME) == []
    assert all(r.dropped and r.status == 0 for r in fake_github.requests)
    fake_github.drop_connections(False)
    assert (await api.create()).status == 201


async def test_an_unsupported_api_version_is_refused(api: Api) -> None:
    answer = await api.call("GET", "/user", headers={"X-GitHub-Api-Version": "2021-01-01"})
    assert answer.status == 400 and "2021-01-01" in answer.body["message"]
    assert (
        await api.call("GET", "/user", headers={"X-GitHub-Api-Version": "2022-11-28"})
    ).status == 200


async def test_a_renamed_repository_redirects_like_github(
    fake_github: FakeGitHub, api: Api
) -> None:
    repo = fake_github.add_repo(OWNER, NAME)
    assert (await api.create()).status == 201
    fake_github.rename_repo(OWNER, NAME, "awesome-papers")
    moved = await api.call("GET", f"/repos/{OWNER}/{NAME}")
    location = f"{fake_github.base_url}/repositories/{repo.id}"
    assert moved.status == 301 and moved.headers["Location"] == location
    assert moved.body["message"] == "Moved Permanently" and moved.body["url"] == location
    listed = await api.call("GET", f"{PULLS}?state=all")
    assert listed.status == 301
    assert listed.headers["Location"] == f"{location}/pulls?state=all"
    created = await api.create(head="other")
    assert created.status == 307 and created.headers["Location"] == f"{location}/pulls"
    assert len(fake_github.pulls(OWNER, "awesome-papers")) == 1  # nothing made by a redirect

    # Following the redirect works, and URLs now carry the new name.
    followed = await api.call("GET", f"/repositories/{repo.id}/pulls/1")
    assert followed.body["html_url"] == f"https://github.com/{OWNER}/awesome-papers/pull/1"
    again = await api.call(
        "POST", f"/repositories/{repo.id}/pulls", {"title": "t", "head": "x", "base": "master"}
    )
    assert again.status == 201 and again.body["number"] == 2
    assert (await api.call("GET", f"/repos/{OWNER}/awesome-papers")).body[
        "name"
    ] == "awesome-papers"
    # An aiohttp client follows the 301 by itself.
    async with api.session.get(
        f"{fake_github.base_url}/repos/{OWNER}/{NAME}",
        headers={"Authorization": f"token {fake_github.token}"},
    ) as response:
        assert response.status == 200 and (await response.json())["id"] == repo.id
    # A new repository with the old name ends the redirect.
    fake_github.add_repo(OWNER, NAME)
    assert (await api.call("GET", f"/repos/{OWNER}/{NAME}")).status == 200


async def test_concurrent_creates_for_one_head_make_one_pull_request(
    repo_gh: FakeGitHub, api: Api
) -> None:
    answers = await asyncio.gather(*(api.create() for _ in range(4)))
    assert sorted(a.status for a in answers) == [201, 422, 422, 422]
    assert [p.head for p in repo_gh.pulls(OWNER, NAME)] == [BRANCH]


async def test_standalone_prints_one_json_line_and_serves(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakegithub",
        "--repo",
        f"{OWNER}/{NAME}",
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        info = json.loads(line)
        assert info["GITHUB_API_BASE"] == info["base_url"]
        assert info["token"] == info["GITHUB_TOKEN"] and info["repos"] == [f"{OWNER}/{NAME}"]
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                info["base_url"] + f"/repos/{OWNER}/{NAME}",
                headers={"Authorization": f"Bearer {info['token']}"},
            ) as response,
        ):
            assert response.status == 200
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
