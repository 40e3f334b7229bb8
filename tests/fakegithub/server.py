"""A GitHub-compatible REST API (v3, 2022-11-28) on loopback: what a bot keeping one pull
request open needs, answered with GitHub's statuses, headers and error bodies."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlencode

from aiohttp import web

from tests.loopback import RouteMatcher

from . import git
from .behaviours import (
    RATE_LIMIT_DOCS,
    SECONDARY_MESSAGE,
    InjectedFailure,
    RateWindow,
    SecondaryLimit,
    default_error_body,
)
from .git import MergeMethod
from .models import (
    API_VERSION,
    DOCS,
    PULLS_DOCS,
    Account,
    GitHubError,
    Permissions,
    PullRequest,
    Repo,
    invalid_request,
    validation_failed,
)

JSON_TYPE = "application/json; charset=utf-8"
REDIRECT_DOCS = "https://docs.github.com/v3/#http-redirects"
REPO_DOCS = DOCS + "/repos/repos#get-a-repository"
USER_DOCS = DOCS + "/users/users#get-the-authenticated-user"
LIST_DOCS = PULLS_DOCS + "#list-pull-requests"
CREATE_DOCS = PULLS_DOCS + "#create-a-pull-request"
GET_DOCS = PULLS_DOCS + "#get-a-pull-request"
UPDATE_DOCS = PULLS_DOCS + "#update-a-pull-request"
OAUTH_SCOPES = "repo"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
# Permission a fine-grained token needs to write pull requests (sent with the 403).
PULLS_WRITE = "pull_requests=write"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DelayPhase = Literal["request", "reply"]
_BODY_KEY: web.RequestKey[Any] = web.RequestKey("fakegithub_body", object)
_NOT_JSON = object()  # the request had a body that is not JSON


@dataclass
class RecordedRequest:
    """One call as the server saw it. `headers` has no Authorization (the token stays out).

    `route` is the matched template ("/repos/{owner}/{repo}/pulls"), "" for an unknown one;
    `status` 0 for a dropped connection.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    route: str = ""
    authorized: bool = False
    status: int = 0
    dropped: bool = False
    delayed: bool = False
    at: float = field(default_factory=time.monotonic)


def _json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


def _new_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "ghp_" + "".join(secrets.choice(alphabet) for _ in range(36))


def _request_id() -> str:
    return ":".join(secrets.token_hex(n).upper() for n in (2, 2, 3, 3, 4))


def _fake_sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


@dataclass(frozen=True)
class _GitView:
    """What git says about one open pull request's branches right now."""

    head: str | None
    base: str | None
    head_in_base: bool


class FakeGitHub:
    """GitHub's REST API for one token: repositories, their pull requests, rate limits.

    `async with FakeGitHub() as gh:` serves on 127.0.0.1 (a free port); point the app at
    `gh.base_url` with `gh.token`. Add repositories with `add_repo` (with `git_dir`, a bare
    repository the server reads and merges for real), act as the maintainer with
    `merge_pull` / `close_pull` / `rename_repo`, and switch on GitHub's failures per test:
    `revoke_token`, `set_permissions`, `exhaust_rate_limit`, `secondary_rate_limit`,
    `fail_next`, `delay`, `drop_connections`. README.md lists the routes and behaviours.
    """

    def __init__(
        self,
        *,
        login: str = "paperbot-bot",
        user_id: int = 1,
        rate_limit: int = 5000,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.token = _new_token()
        self._tokens = {self.token}
        self.user = Account(login, user_id)
        self.maintainer = Account("maintainer", user_id + 1)
        self.permissions = Permissions()
        self.rate = RateWindow(rate_limit)
        # Calls without valid credentials count against the address's 60 an hour.
        self.anonymous_rate = RateWindow(60)
        self._primary_status = 403
        self._secondary: SecondaryLimit | None = None
        self._failures: list[InjectedFailure] = []
        self._delay: float | None = None
        self._delay_phase: DelayPhase = "request"
        self._drop = False

        self._repos: dict[str, Repo] = {}  # casefolded full name -> repo
        self._moved: dict[str, Repo] = {}  # casefolded former full name -> repo
        self._next_repo_id = 1000
        self._next_pull_id = 5000

        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()

        self._app = web.Application(middlewares=[self._middleware])
        self._route_keys: set[str] = set()
        self._add_routes()
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._stopping.clear()
        self._runner = web.AppRunner(
            self._app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # With port 0 the OS picked a free port; read it back.
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._stopping.set()  # ends every delay at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The API root, what the app uses as GITHUB_API_BASE (api.github.com's stand-in)."""
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for an app process pointed at this server."""
        return {"GITHUB_API_BASE": self.base_url, "GITHUB_TOKEN": self.token}

    @property
    def route_templates(self) -> list[str]:
        """Every route the server implements, as "METHOD /template"."""
        return sorted(self._route_keys)

    # ------------------------------------------------------------ state for tests

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (re-checked after every request); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return result

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded calls, filtered by method and a regex the whole path must match."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or re.fullmatch(path, r.path))
        ]

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        default_branch: str = "master",
        git_dir: Path | None = None,
        private: bool = False,
    ) -> Repo:
        """A repository the token can see (and, by default, push to).

        With `git_dir` (a bare repository) branches and commits come from git: a pull
        request needs its head branch there and commits beyond the base, and `merge_pull`
        merges for real. Without it every branch exists and merging only changes records.
        Reusing a renamed repository's former name ends that name's redirect, as on GitHub.
        """
        key = f"{owner}/{name}".casefold()
        if key in self._repos:
            raise ValueError(f"repository {owner}/{name} exists already")
        if git_dir is not None:
            git_dir = Path(git_dir)
            if not git.is_bare_repository(git_dir):
                raise ValueError(f"{git_dir} is not a bare git repository")
        kind: Literal["User", "Organization"] = (
            "User" if owner.casefold() == self.user.login.casefold() else "Organization"
        )
        repo = Repo(
            id=self._next_repo_id,
            owner=Account(owner, _account_id(owner), kind),
            name=name,
            default_branch=default_branch,
            private=private,
            git_dir=git_dir,
        )
        self._next_repo_id += 1
        self._repos[key] = repo
        self._moved.pop(key, None)
        return repo

    def repo(self, owner: str, name: str) -> Repo:
        """A repository by its name or a former one."""
        key = f"{owner}/{name}".casefold()
        repo = self._repos.get(key) or self._moved.get(key)
        if repo is None:
            raise KeyError(f"no repository {owner}/{name}")
        return repo

    def pulls(self, owner: str, name: str) -> list[PullRequest]:
        """A repository's pull requests, by number (as last seen; a GET refreshes them from git)."""
        return list(self.repo(owner, name).pulls)

    def _only_repo(self, repo: str | None) -> Repo:
        if repo is not None:
            owner, _, name = repo.partition("/")
            return self.repo(owner, name)
        if len(self._repos) != 1:
            raise ValueError(f"{len(self._repos)} repositories: say which (repo='owner/name')")
        return next(iter(self._repos.values()))

    def pull(self, number: int, *, repo: str | None = None) -> PullRequest:
        """Pull request `number` of `repo` ("owner/name"; optional when there is one repo)."""
        found = self._only_repo(repo).pull(number)
        if found is None:
            raise KeyError(f"no pull request #{number}")
        return found

    def merge_pull(
        self,
        number: int,
        *,
        repo: str | None = None,
        method: MergeMethod = "merge",
        by: str | None = None,
    ) -> PullRequest:
        """Merge an open pull request as the maintainer does with github.com's button.

        With a git_dir the merge is real: a temporary clone merges the head into the base
        (`--no-ff` merge commit "Merge pull request #N from owner/head", a squash commit
        "title (#N)", or the head's commits rebased), pushed back to the bare repository.
        The pull request becomes closed, merged, with merged_at, merge_commit_sha (the new
        base tip) and merged_by. git.MergeConflict when the branches conflict.
        """
        pr = self.pull(number, repo=repo)
        self._apply_git(pr.repo, self._read_git(pr.repo))
        if pr.state != "open":
            raise ValueError(f"pull request #{number} is {pr.state}")
        merger = Account(by, _account_id(by)) if by else self.maintainer
        if pr.repo.git_dir is None:
            sha = _fake_sha(pr.repo.id, pr.number, "merge")
        else:
            messages = {
                "merge": f"Merge pull request #{pr.number} from {pr.repo.owner.login}/{pr.head}\n\n{pr.title}",
                "squash": f"{pr.title} (#{pr.number})",
                "rebase": "",
            }
            author = (merger.login, f"{merger.id}+{merger.login}@users.noreply.github.com")
            sha = git.merge(
                pr.repo.git_dir,
                pr.base,
                pr.head,
                method=method,
                message=messages[method],
                author=author,
            )
        pr.close()
        pr.merged = True
        pr.merged_at = pr.closed_at
        pr.merge_commit_sha = sha
        pr.merged_by = merger
        return pr

    def close_pull(self, number: int, *, repo: str | None = None) -> PullRequest:
        """Close an open pull request without merging it."""
        pr = self.pull(number, repo=repo)
        if pr.state != "open":
            raise ValueError(f"pull request #{number} is {pr.state}")
        pr.close()
        return pr

    def rename_repo(self, owner: str, name: str, new_name: str) -> Repo:
        """Rename a repository: its old path then redirects (301 for GET, 307 for the rest)."""
        repo = self.repo(owner, name)
        new_key = f"{repo.owner.login}/{new_name}".casefold()
        if new_key in self._repos:
            raise ValueError(f"repository {repo.owner.login}/{new_name} exists already")
        old_key = repo.full_name.casefold()
        del self._repos[old_key]
        repo.former_names.append(repo.name)
        repo.name = new_name
        self._repos[new_key] = repo
        self._moved[old_key] = repo
        self._moved.pop(new_key, None)
        return repo

    # ------------------------------------------------- tokens, limits, failures

    def revoke_token(self) -> None:
        """Every token stops working: each call answers 401 Bad credentials."""
        self._tokens.clear()

    def new_token(self) -> str:
        """Issue a fresh valid token (after `revoke_token`, the only one); also `self.token`."""
        self.token = _new_token()
        self._tokens.add(self.token)
        return self.token

    def set_permissions(
        self,
        *,
        admin: bool | None = None,
        maintain: bool | None = None,
        push: bool | None = None,
        triage: bool | None = None,
        pull: bool | None = None,
    ) -> None:
        """Change what the token may do on every repository (unnamed flags keep their value).

        Without push, creating or updating pull requests answers 403 "Resource not
        accessible by personal access token"; without pull, private repositories answer
        404 Not Found (GitHub hides what a token cannot read).
        """
        for flag, value in (
            ("admin", admin),
            ("maintain", maintain),
            ("push", push),
            ("triage", triage),
            ("pull", pull),
        ):
            if value is not None:
                setattr(self.permissions, flag, value)

    def exhaust_rate_limit(self, reset_in: float = 60.0, *, status: int = 403) -> None:
        """Use up the primary limit: `status` (403 or 429) "API rate limit exceeded for user
        ID …" with x-ratelimit-remaining 0 until `reset_in` seconds have passed, then a
        fresh window."""
        if status not in (403, 429):
            raise ValueError("GitHub answers a primary rate limit with 403 or 429")
        self._primary_status = status
        self.rate.exhaust(reset_in)

    def secondary_rate_limit(
        self, retry_after: float = 60.0, *, status: int = 403, times: int | None = None
    ) -> None:
        """Refuse calls with GitHub's secondary-limit answer for `retry_after` seconds (or
        only the next `times` calls): `status` (403 or 429), a `retry-after` header in whole
        seconds, and x-ratelimit-remaining untouched (how a client tells it from the primary)."""
        if status not in (403, 429):
            raise ValueError("GitHub answers a secondary rate limit with 403 or 429")
        self._secondary = SecondaryLimit(time.monotonic() + retry_after, status, times)

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> InjectedFailure:
        """Answer the next `times` matching calls with `status` instead of handling them.

        `method` may be "*"; `path_pattern` is a route template (see `route_templates`) or a
        regex the whole path must match. The body defaults to GitHub's for the status
        (`{"message": "Server Error", …}` for 500). Rate-limit headers are added as usual.
        """
        templates = {key.split(" ", 1)[1] for key in self._route_keys}
        if re.search(r"\{[a-z_]+\}", path_pattern) and path_pattern not in templates:
            # A mistyped template would otherwise be a regex that silently matches nothing.
            raise ValueError(f"no route template {path_pattern!r}; known: {self.route_templates}")
        failure = InjectedFailure(
            RouteMatcher(method, path_pattern, templates),
            status,
            default_error_body(status) if body is None else body,
            dict(headers or {}),
            times,
        )
        self._failures.append(failure)
        return failure

    def delay(self, seconds: float | None, *, phase: DelayPhase = "request") -> None:
        """Hold every answer `seconds` (None or 0: no more delays), for hanging-host tests.

        Phase "request" holds a call before it is handled (a client that gives up changed
        nothing); "reply" handles it at once and holds the answer (the pull request exists
        although the client never heard so). Stopping the server ends every hold.
        """
        self._delay = seconds or None
        self._delay_phase = phase

    def drop_connections(self, drop: bool = True) -> None:
        """While on, every call has its connection closed without an answer (host unreachable
        mid-call); the calls are recorded with `dropped=True` and change nothing."""
        self._drop = drop

    # ------------------------------------------------------------------- git

    def _read_git(self, repo: Repo) -> dict[int, _GitView]:
        """Blocking: the tips of every open pull request's branches."""
        if repo.git_dir is None:
            return {}
        views = {}
        for pr in repo.pulls:
            if pr.state != "open":
                continue
            head = git.rev_parse(repo.git_dir, pr.head)
            base = git.rev_parse(repo.git_dir, pr.base)
            inside = bool(head and base and git.is_ancestor(repo.git_dir, head, base))
            views[pr.number] = _GitView(head, base, inside)
        return views

    def _apply_git(self, repo: Repo, views: Mapping[int, _GitView]) -> None:
        """Bring open pull requests up to date with git, as GitHub does on every push.

        A new head tip moves head.sha (and updated_at). A deleted head branch closes the
        pull request. A head whose commits reached the base by a push (merged by hand) is
        merged, its merge_commit_sha the base tip; a head reset into the base is closed.
        """
        for number, view in views.items():
            pr = repo.pulls[number - 1]
            if pr.state != "open":
                continue
            if view.head is None:
                pr.close()
            elif view.head_in_base and view.head == pr.head_sha:
                # base_sha stays the last tip seen before the push, where the head forked.
                pr.close()
                pr.merged = True
                pr.merged_at = pr.closed_at
                pr.merge_commit_sha = view.base
                pr.merged_by = self.maintainer
            elif view.head_in_base:
                pr.head_sha = view.head
                pr.close()
            else:
                pr.base_sha = view.base or pr.base_sha
                if view.head != pr.head_sha:
                    pr.head_sha = view.head
                    pr.touch()

    async def _sync(self, repo: Repo) -> None:
        if repo.git_dir is not None:
            self._apply_git(repo, await asyncio.to_thread(self._read_git, repo))

    async def _tip(self, repo: Repo, branch: str) -> str | None:
        if repo.git_dir is None:
            return _fake_sha(repo.id, branch)
        return await asyncio.to_thread(git.rev_parse, repo.git_dir, branch)

    def _describe_blocking(self, pr: PullRequest) -> tuple[bool | None, tuple[int, int, int, int]]:
        """Blocking: (mergeable, (commits, additions, deletions, changed_files))."""
        git_dir = pr.repo.git_dir
        if git_dir is None:
            return (True if pr.state == "open" else None), (1, 0, 0, 0)
        merge_ok = git.mergeable(git_dir, pr.base_sha, pr.head_sha) if pr.state == "open" else None
        # base_sha is frozen at the last tip seen before a merge, so these hold afterwards too.
        commits = git.commits_between(git_dir, pr.base_sha, pr.head_sha)
        added, deleted, files = git.diff_stats(git_dir, pr.base_sha, pr.head_sha)
        return merge_ok, (commits, added, deleted, files)

    async def _full_payload(self, pr: PullRequest) -> dict[str, Any]:
        merge_ok, stats = await asyncio.to_thread(self._describe_blocking, pr)
        return pr.payload(
            self.base_url, self.permissions, full=True, mergeable=merge_ok, stats=stats
        )

    # ------------------------------------------------------------------- routes

    def _add_routes(self) -> None:
        r = self._app.router
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/user", self._get_user),
            ("GET", "/rate_limit", self._get_rate_limit),
        ]
        for prefix in ("/repos/{owner}/{repo}", "/repositories/{repository_id:\\d+}"):
            routes += [
                ("GET", prefix, self._get_repo),
                ("GET", prefix + "/pulls", self._list_pulls),
                ("POST", prefix + "/pulls", self._create_pull),
                ("GET", prefix + "/pulls/{pull_number:\\d+}", self._get_pull),
                ("PATCH", prefix + "/pulls/{pull_number:\\d+}", self._update_pull),
            ]
        for method, path, handler in routes:
            resource = r.add_route(method, path, handler).resource
            assert resource is not None
            self._route_keys.add(f"{method} {resource.canonical}")
        r.add_route("*", "/{tail:.*}", self._unknown)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_template(request)
        request[_BODY_KEY] = body = await _read_body(request)
        token = _token_of(request.headers.get("Authorization"))
        authorized = token is not None and token in self._tokens
        record = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            None if body is _NOT_JSON else body,
            {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            route,
            authorized,
        )
        self.requests.append(record)
        if not route:
            self.unknown_requests.append(record)
        try:
            if self._drop:
                record.dropped = True
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=503)  # never sent: the connection is gone
            if self._delay is not None:
                record.delayed = True
                if self._delay_phase == "request":
                    await self._hold(self._delay)
                    transport = request.transport
                    if self._stopping.is_set() or transport is None or transport.is_closing():
                        # The client gave up (or the server stops) before it was handled.
                        return web.Response(status=503)
            response = await self._answer(request, handler, record, body)
            record.status = response.status
            if record.delayed and self._delay_phase == "reply" and self._delay is not None:
                await self._hold(self._delay)
            return response
        finally:
            self._notify()

    async def _hold(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _answer(
        self, request: web.Request, handler: Handler, record: RecordedRequest, body: Any
    ) -> web.StreamResponse:
        """The answer, in GitHub's order: credentials, limits, then the route itself."""
        window = self.rate if record.authorized else self.anonymous_rate
        headers = {
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": API_VERSION,
            "X-GitHub-Request-Id": _request_id(),
            "Server": "GitHub.com",
        }
        if record.authorized:
            headers |= {"X-OAuth-Scopes": OAUTH_SCOPES, "X-Accepted-OAuth-Scopes": ""}
        counted = record.route != "/rate_limit"  # GET /rate_limit is free, as on GitHub
        response: web.StreamResponse
        try:
            failure = self._take_failure(request.method, request.path, record.route)
            if failure is not None:
                if counted:
                    window.take()
                response = _json_response(failure.body, failure.status, failure.headers)
            else:
                response = await self._checked(request, handler, record, body, window, counted)
        except GitHubError as exc:
            response = _json_response(exc.body(), exc.status, exc.headers)
        for key, value in {**headers, **window.headers()}.items():
            response.headers.setdefault(key, value)
        return response

    async def _checked(
        self,
        request: web.Request,
        handler: Handler,
        record: RecordedRequest,
        body: Any,
        window: RateWindow,
        counted: bool,
    ) -> web.StreamResponse:
        if not record.authorized:
            if counted:
                window.take()
            if request.headers.get("Authorization") is None:
                raise GitHubError(401, "Requires authentication")
            raise GitHubError(401, "Bad credentials")
        version = request.headers.get("X-GitHub-Api-Version")
        if version is not None and version != API_VERSION:
            raise GitHubError(
                400,
                f"API version {version!r} is not supported.",
                DOCS + "/about-the-rest-api/api-versions",
            )
        secondary = self._secondary
        if secondary is not None and secondary.active():
            secondary.refused += 1
            raise GitHubError(
                secondary.status,
                SECONDARY_MESSAGE,
                RATE_LIMIT_DOCS + "#about-secondary-rate-limits",
                headers={"retry-after": str(secondary.retry_after())},
            )
        if counted and not window.take():
            raise GitHubError(
                self._primary_status,
                f"API rate limit exceeded for user ID {self.user.id}.",
                RATE_LIMIT_DOCS,
            )
        if body is _NOT_JSON and request.method in ("POST", "PATCH", "PUT"):
            raise GitHubError(400, "Problems parsing JSON", DOCS)
        return await handler(request)

    def _take_failure(self, method: str, path: str, route: str) -> InjectedFailure | None:
        for failure in self._failures:
            if failure.matcher.matches(method, path, route):
                failure.claim()
                if failure.exhausted:
                    self._failures.remove(failure)
                return failure
        return None

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        raise GitHubError(404, "Not Found", DOCS)

    # ------------------------------------------------------------ route helpers

    def _repo_for(self, request: web.Request, docs: str) -> Repo:
        """The route's repository; 404 unknown (or unreadable private), 301/307 renamed."""
        info = request.match_info
        repo: Repo | None
        if "repository_id" in info:
            wanted = int(info["repository_id"])
            repo = next((r for r in self._repos.values() if r.id == wanted), None)
        else:
            key = f"{info['owner']}/{info['repo']}".casefold()
            repo = self._repos.get(key)
            moved = self._moved.get(key)
            if repo is None and moved is not None:
                rest = request.path.split("/", 4)[4:]
                location = f"{self.base_url}/repositories/{moved.id}"
                location += "/" + rest[0] if rest else ""
                if request.query_string:
                    location += "?" + request.query_string
                permanent = request.method in ("GET", "HEAD")
                raise GitHubError(
                    301 if permanent else 307,
                    "Moved Permanently" if permanent else "Temporary Redirect",
                    REDIRECT_DOCS,
                    headers={"Location": location},
                    extra={"url": location},
                )
        if repo is None or (repo.private and not self.permissions.pull):
            raise GitHubError(404, "Not Found", docs)
        return repo

    def _require_push(self, docs: str) -> None:
        if not self.permissions.push:
            raise GitHubError(
                403,
                "Resource not accessible by personal access token",
                docs,
                headers={"X-Accepted-GitHub-Permissions": PULLS_WRITE},
            )

    @staticmethod
    def _object_body(request: web.Request, docs: str) -> dict[str, Any]:
        body = request[_BODY_KEY]
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise GitHubError(400, "Problems parsing JSON", docs)
        return body

    def _pull_for(self, repo: Repo, request: web.Request, docs: str) -> PullRequest:
        pr = repo.pull(int(request.match_info["pull_number"]))
        if pr is None:
            raise GitHubError(404, "Not Found", docs)
        return pr

    # --------------------------------------------------------------- handlers

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        data = self.user.payload(self.base_url) | {
            "name": self.user.login,
            "email": None,
            "created_at": "2024-01-01T00:00:00Z",
        }
        return _json_response(data)

    async def _get_rate_limit(self, request: web.Request) -> web.StreamResponse:
        core = self.rate.snapshot()
        reset = core["reset"]
        return _json_response(
            {
                "resources": {
                    "core": core,
                    "search": {"limit": 30, "used": 0, "remaining": 30, "reset": reset},
                    "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": reset},
                },
                # Deprecated by GitHub, still sent: the same as resources.core.
                "rate": dict(core),
            }
        )

    async def _get_repo(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo_for(request, REPO_DOCS)
        return _json_response(repo.payload(self.base_url, self.permissions))

    async def _list_pulls(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo_for(request, LIST_DOCS)
        query = request.query
        state = query.get("state", "open")
        state = state if state in ("open", "closed", "all") else "open"
        async with self._lock:
            await self._sync(repo)
            pulls = [p for p in repo.pulls if state == "all" or p.state == state]
        head = query.get("head")
        if head and ":" in head:  # GitHub ignores a head filter without "owner:"
            owner, _, branch = head.partition(":")
            pulls = [
                p
                for p in pulls
                if p.repo.owner.login.casefold() == owner.casefold() and p.head == branch
            ]
        if query.get("base"):
            pulls = [p for p in pulls if p.base == query["base"]]
        sort = query.get("sort", "created")
        descending = query.get("direction", "desc") != "asc"
        if sort == "updated":
            pulls.sort(key=lambda p: (p.updated_at, p.number), reverse=descending)
        else:
            pulls.sort(key=lambda p: p.number, reverse=descending)
        per_page = min(MAX_PER_PAGE, max(1, _int(query.get("per_page"), DEFAULT_PER_PAGE)))
        page = max(1, _int(query.get("page"), 1))
        last = max(1, -(-len(pulls) // per_page))
        shown = pulls[(page - 1) * per_page : page * per_page]
        headers = {}
        link = _link_header(f"{self.base_url}/repositories/{repo.id}/pulls", query, page, last)
        if link:
            headers["Link"] = link
        data = [p.payload(self.base_url, self.permissions, full=False) for p in shown]
        return _json_response(data, headers=headers)

    async def _create_pull(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo_for(request, CREATE_DOCS)
        self._require_push(CREATE_DOCS)
        body = self._object_body(request, CREATE_DOCS)
        _check_types(
            body,
            CREATE_DOCS,
            strings=("title", "head", "base"),
            booleans=("draft", "maintainer_can_modify"),
        )
        missing = [name for name in ("base", "head") if name not in body]
        if missing:
            verb = "wasn't" if len(missing) == 1 else "weren't"
            raise invalid_request(
                CREATE_DOCS, f"{', '.join(json.dumps(m) for m in missing)} {verb} supplied."
            )
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise validation_failed(
                CREATE_DOCS, {"resource": "Issue", "code": "missing_field", "field": "title"}
            )
        base = body["base"]
        head_owner, _, head = body["head"].rpartition(":")
        async with self._lock:
            await self._sync(repo)
            base_sha = await self._tip(repo, base) if base else None
            if base_sha is None:
                raise validation_failed(
                    CREATE_DOCS, {"resource": "PullRequest", "field": "base", "code": "invalid"}
                )
            same_owner = not head_owner or head_owner.casefold() == repo.owner.login.casefold()
            head_sha = await self._tip(repo, head) if head and same_owner else None
            if head_sha is None:
                raise validation_failed(
                    CREATE_DOCS, {"resource": "PullRequest", "field": "head", "code": "invalid"}
                )
            label = f"{repo.owner.login}:{head}"
            if any(p.state == "open" and p.head == head and p.base == base for p in repo.pulls):
                raise validation_failed(
                    CREATE_DOCS,
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {label}.",
                    },
                )
            if repo.git_dir is None:
                ahead = int(head != base)
            else:
                ahead = await asyncio.to_thread(git.commits_between, repo.git_dir, base, head)
            if ahead == 0:
                raise validation_failed(
                    CREATE_DOCS,
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head}",
                    },
                )
            pr = PullRequest(
                repo=repo,
                number=len(repo.pulls) + 1,
                id=self._next_pull_id,
                title=title,
                body=body.get("body"),
                head=head,
                base=base,
                user=self.user,
                head_sha=head_sha,
                base_sha=base_sha,
                draft=bool(body.get("draft", False)),
                maintainer_can_modify=bool(body.get("maintainer_can_modify", True)),
            )
            self._next_pull_id += 1
            repo.pulls.append(pr)
            data = await self._full_payload(pr)
        return _json_response(data, 201, {"Location": data["url"]})

    async def _get_pull(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo_for(request, GET_DOCS)
        async with self._lock:
            await self._sync(repo)
            pr = self._pull_for(repo, request, GET_DOCS)
            data = await self._full_payload(pr)
        return _json_response(data)

    async def _update_pull(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo_for(request, UPDATE_DOCS)
        self._require_push(UPDATE_DOCS)
        body = self._object_body(request, UPDATE_DOCS)
        _check_types(
            body,
            UPDATE_DOCS,
            strings=("title", "state", "base"),
            booleans=("maintainer_can_modify",),
        )
        state = body.get("state")
        if state is not None and state not in ("open", "closed"):
            raise invalid_request(
                UPDATE_DOCS,
                f'For \'properties/state\', {json.dumps(state)} is not a member of ["open", "closed"].',
            )
        async with self._lock:
            await self._sync(repo)
            pr = self._pull_for(repo, request, UPDATE_DOCS)
            if "title" in body and not body["title"].strip():
                raise validation_failed(
                    UPDATE_DOCS, {"resource": "Issue", "code": "missing_field", "field": "title"}
                )
            new_base = body.get("base")
            base_sha = None
            if new_base is not None and new_base != pr.base:
                if pr.state == "closed":  # reopening in the same call changes nothing
                    raise validation_failed(
                        UPDATE_DOCS,
                        {
                            "message": "Cannot change the base branch of a closed pull request.",
                            "resource": "PullRequest",
                            "field": "base",
                            "code": "invalid",
                        },
                    )
                base_sha = await self._tip(repo, new_base)
                if base_sha is None:
                    raise validation_failed(
                        UPDATE_DOCS, {"resource": "PullRequest", "field": "base", "code": "invalid"}
                    )
            reopened_head = None
            if state == "open" and pr.state == "closed":
                reopened_head = await self._check_reopen(repo, pr)
            if new_base is not None and base_sha is not None:
                pr.base, pr.base_sha = new_base, base_sha
            if "title" in body:
                pr.title = body["title"]
            if "body" in body:
                pr.body = body["body"]
            if "maintainer_can_modify" in body:
                pr.maintainer_can_modify = body["maintainer_can_modify"]
            if state == "closed" and pr.state == "open":
                pr.close()
            elif reopened_head is not None:
                pr.state, pr.closed_at, pr.head_sha = "open", None, reopened_head
            pr.touch()
            data = await self._full_payload(pr)
        return _json_response(data)

    async def _check_reopen(self, repo: Repo, pr: PullRequest) -> str:
        """GitHub refuses to reopen a merged pull request, or one whose head branch is gone,
        or one whose head already has another open pull request to the same base."""
        refused = {
            "resource": "PullRequest",
            "code": "custom",
            "field": "state",
            "message": "state cannot be changed. The pull request cannot be reopened.",
        }
        if pr.merged:
            raise validation_failed(UPDATE_DOCS, refused)
        head_sha = await self._tip(repo, pr.head)
        if head_sha is None:
            raise validation_failed(UPDATE_DOCS, refused)
        if any(p.state == "open" and p.head == pr.head and p.base == pr.base for p in repo.pulls):
            raise validation_failed(
                UPDATE_DOCS,
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {pr.head_label}.",
                },
            )
        return head_sha


def _account_id(login: str) -> int:
    """A stable id for an account named in a test (above the token user's small ids)."""
    return 10_000 + int(hashlib.sha1(login.casefold().encode()).hexdigest()[:6], 16)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _link_header(url: str, query: Mapping[str, str], page: int, last: int) -> str:
    """GitHub's pagination links: prev/next/last/first, as far as they exist."""
    params = {k: v for k, v in query.items() if k != "page"}

    def link(number: int, rel: str) -> str:
        return f'<{url}?{urlencode({**params, "page": number})}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links.append(link(1, "first"))
    return ", ".join(links)


def _check_types(
    body: Mapping[str, Any], docs: str, *, strings: tuple[str, ...], booleans: tuple[str, ...]
) -> None:
    """GitHub's schema check of the fields a route knows (others are ignored, as GitHub does)."""
    for name in strings:
        if name in body and not isinstance(body[name], str):
            raise invalid_request(
                docs, f"For 'properties/{name}', {json.dumps(body[name])} is not a string."
            )
    if "body" in body and body["body"] is not None and not isinstance(body["body"], str):
        raise invalid_request(
            docs, f"For 'properties/body', {json.dumps(body['body'])} is not a string or null."
        )
    for name in booleans:
        if name in body and not isinstance(body[name], bool):
            raise invalid_request(
                docs, f"For 'properties/{name}', {json.dumps(body[name])} is not a boolean."
            )


def _token_of(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <t>` or `token <t>`; None when absent or malformed."""
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


async def _read_body(request: web.Request) -> Any:
    """The JSON body, None without one, `_NOT_JSON` when it does not parse."""
    if not request.can_read_body:
        return None
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _route_template(request: web.Request) -> str:
    """The matched route's template, "" for the catch-all."""
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    return "" if canonical == "/{tail}" else canonical
