"""The list's host (a forge): its repository and the one pull request paperbot keeps open.

`Forge` is the seam: five calls, enough for one branch's pull request. `GitHub` implements
it over GitHub's REST API with aiohttp, which paperbot already uses for arXiv and Discord: a
client library (PyGithub, githubkit) would add a dependency tree and a second HTTP stack
for five routes. Another host (GitLab's merge requests, Gitea's pulls) is another class
with the same five methods.

Faults become one-line `ForgeError`s naming what to do. The host's rate limits are obeyed,
never hammered: a wait of up to `MAX_WAIT` seconds is waited out once; a longer one ends the
call with `ForgeRateLimited`, and every later call of the same client fails at once, without
a request, until the limit resets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from feeds.errors import PaperbotError

log = logging.getLogger(__name__)

GITHUB_API = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_WAIT = 60.0  # seconds of a rate limit waited out within one call; longer: the next run
TIMEOUT = 30.0  # seconds for any one request
_REPO_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")

PullState = Literal["open", "closed", "merged"]


class ForgeError(PaperbotError):
    """A call to the list's host failed; one line saying what and what to do."""


class ForgeAuthError(ForgeError):
    """No token, a token the host refuses (401), or one without the permission (403)."""


class ForgeRateLimited(ForgeError):
    """The host's rate limit: nothing more until `until` (UTC)."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class ForgeUnreachable(ForgeError):
    """The host did not answer (network down, DNS, a timeout, a 5xx)."""


class ForgeNotFound(ForgeError):
    """The repository (or pull request) is not there, or the token cannot see it."""


@dataclass(frozen=True)
class Repository:
    full_name: str  # owner/name as the host spells it now (a rename shows here)
    default_branch: str
    can_push: bool
    html_url: str
    renamed_from: str | None = None  # the configured name, when the host moved it


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: PullState  # "merged" is a closed pull request whose head went in
    title: str
    body: str
    head: str  # branch name in the repository
    base: str
    html_url: str

    @property
    def is_open(self) -> bool:
        return self.state == "open"


class Forge(Protocol):
    """What publishing needs of the list's host."""

    name: str  # e.g. "GitHub", for messages

    async def repository(self) -> Repository:
        """The repository. Raises ForgeError."""
        ...

    async def open_pull(self, head: str) -> PullRequest | None:
        """The open pull request from branch `head` of the repository itself, if any."""
        ...

    async def get_pull(self, number: int) -> PullRequest:
        """Pull request `number`. Raises ForgeNotFound when there is none."""
        ...

    async def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request from `head` into `base`. Raises ForgeError."""
        ...

    async def update_pull(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> PullRequest:
        """Change a pull request's title, body or state. Raises ForgeError."""
        ...


def check_repo_name(value: str) -> str:
    """`owner/name`, or ValueError saying what is wrong."""
    value = value.strip()
    if not _REPO_NAME.match(value):
        raise ValueError(f"{value!r} is not owner/name")
    return value


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M UTC")


class GitHub:
    """GitHub's REST API for one repository (github.com or an Enterprise server)."""

    name = "GitHub"

    def __init__(
        self,
        repo: str,
        token: str | None,
        *,
        api_base: str | None = None,
        user_agent: str = "paperbot",
        timeout: float = TIMEOUT,
        max_wait: float = MAX_WAIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = check_repo_name(repo)
        self._token = token
        self.api_base = (api_base or GITHUB_API).rstrip("/")
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_wait = max_wait
        self.clock = clock
        self._blocked_until: float | None = None  # epoch seconds of a rate limit's reset
        self._renamed_from: str | None = None

    # -- the five calls ---------------------------------------------------------------

    async def repository(self) -> Repository:
        data = await self._call("GET", f"/repos/{self.repo}", follow_rename=True)
        perms = data.get("permissions") or {}
        return Repository(
            full_name=str(data.get("full_name") or self.repo),
            default_branch=str(data.get("default_branch") or "main"),
            can_push=bool(perms.get("push")),
            html_url=str(data.get("html_url") or ""),
            renamed_from=self._renamed_from,
        )

    async def open_pull(self, head: str) -> PullRequest | None:
        owner = self.repo.split("/")[0]
        found = await self._call(
            "GET",
            f"/repos/{self.repo}/pulls",
            params={"state": "open", "head": f"{owner}:{head}", "per_page": "100"},
        )
        pulls = [_pull(item) for item in found] if isinstance(found, list) else []
        pulls = [p for p in pulls if p.head == head]
        return min(pulls, key=lambda p: p.number) if pulls else None

    async def get_pull(self, number: int) -> PullRequest:
        return _pull(await self._call("GET", f"/repos/{self.repo}/pulls/{number}"))

    async def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        payload = {"title": title, "head": head, "base": base, "body": body}
        return _pull(await self._call("POST", f"/repos/{self.repo}/pulls", payload=payload))

    async def update_pull(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> PullRequest:
        payload = {
            k: v for k, v in (("title", title), ("body", body), ("state", state)) if v is not None
        }
        return _pull(
            await self._call("PATCH", f"/repos/{self.repo}/pulls/{number}", payload=payload)
        )

    # -- one request ------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        payload: Mapping[str, Any] | None = None,
        follow_rename: bool = False,
    ) -> Any:
        if not self._token:
            raise ForgeAuthError(
                "GITHUB_TOKEN is not set: paperbot needs a token with access to the"
                f" repository's pull requests to open one on {self.repo}"
            )
        blocked = self._blocked_until
        if blocked is not None and self.clock() < blocked:
            raise ForgeRateLimited(
                f"GitHub's rate limit is spent until {_when(blocked)}; the next run tries again",
                datetime.fromtimestamp(blocked, UTC),
            )
        for attempt in range(2):
            status, headers, data = await self._request(method, path, params, payload)
            if status in (301, 302, 307, 308) and follow_rename and attempt == 0:
                moved = await self._moved_to(headers, data)
                log.warning("GitHub: %s was renamed %s", self.repo, moved)
                self._renamed_from = self._renamed_from or self.repo
                self.repo = moved
                path = f"/repos/{moved}"
                continue
            wait = self._rate_limit_wait(status, headers, data)
            if wait is None:
                return self._result(method, path, status, data)
            if wait <= self.max_wait and attempt == 0:
                log.warning("GitHub's rate limit: waiting %.0f s before one more try", wait)
                await asyncio.sleep(max(wait, 0.0))
                continue
            until = self.clock() + wait
            self._blocked_until = until
            raise ForgeRateLimited(
                f"GitHub's rate limit: no more calls until {_when(until)}; the next run tries"
                " again",
                datetime.fromtimestamp(until, UTC),
            )
        raise ForgeError(f"GitHub: {method} {path} did not settle")  # pragma: no cover

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        payload: Mapping[str, Any] | None,
    ) -> tuple[int, Mapping[str, str], Any]:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "User-Agent": self.user_agent,
            "X-GitHub-Api-Version": API_VERSION,
        }
        import aiohttp  # here: a command that never reaches the host does not load it

        url = self.api_base + path
        host = urlsplit(self.api_base).netloc or self.api_base
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as s,
                s.request(
                    method, url, params=params, json=payload, headers=headers, allow_redirects=False
                ) as response,
            ):
                raw = await response.read()
                got = dict(response.headers)
                status = response.status
        except TimeoutError as exc:
            raise ForgeUnreachable(
                f"GitHub at {host} did not answer within {self.timeout:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ForgeUnreachable(f"cannot reach GitHub at {host}: {reason}") from exc
        lowered = {k.lower(): v for k, v in got.items()}
        try:
            data = json.loads(raw) if raw.strip() else None
        except ValueError:
            data = None
        return status, lowered, data

    async def _moved_to(self, headers: Mapping[str, str], data: Any) -> str:
        """owner/name of a renamed repository: GitHub answers its old name with a 301 whose
        Location (or body `url`) is the repository's address by id (or by its new name)."""
        where = headers.get("location") or (data.get("url") if isinstance(data, dict) else None)
        base = urlsplit(self.api_base).path.rstrip("/")
        path = urlsplit(str(where or "")).path
        if not where or not path.startswith(base + "/"):
            raise ForgeError(f"GitHub moved {self.repo} and did not say where")
        status, _, moved = await self._request("GET", path[len(base) :], None, None)
        name = moved.get("full_name") if isinstance(moved, dict) and status == 200 else None
        if not isinstance(name, str) or not _REPO_NAME.match(name):
            raise ForgeError(f"GitHub moved {self.repo} and its new address did not answer")
        return name

    def _rate_limit_wait(self, status: int, headers: Mapping[str, str], data: Any) -> float | None:
        """Seconds to wait when the answer is a rate limit, else None."""
        if status not in (403, 429):
            return None
        message = str(data.get("message", "")) if isinstance(data, dict) else ""
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), 7 * 24 * 3600.0)
            except ValueError:
                return 60.0
        if headers.get("x-ratelimit-remaining") == "0":
            try:
                reset = float(headers.get("x-ratelimit-reset", "0"))
            except ValueError:
                reset = 0.0
            return min(max(reset - self.clock(), 1.0), 7 * 24 * 3600.0)
        if status == 429 or "rate limit" in message.lower():
            return 60.0  # a secondary limit without a hint: GitHub asks for a minute
        return None

    def _result(self, method: str, path: str, status: int, data: Any) -> Any:
        if 200 <= status < 300:
            return data
        message = ""
        if isinstance(data, dict):
            message = str(data.get("message") or "")
            details = [
                str(e.get("message") or e.get("code") or "")
                for e in data.get("errors") or []
                if isinstance(e, dict)
            ]
            details = [d for d in details if d]
            if details:
                message = f"{message}: {'; '.join(details)}" if message else "; ".join(details)
        said = f" ({status} {' '.join(message.split())[:200]})" if message else f" ({status})"
        if status == 401:
            raise ForgeAuthError(
                f"GitHub refused the token{said}: it was revoked or has expired; set a new"
                " GITHUB_TOKEN"
            )
        if status == 403:
            raise ForgeAuthError(
                f"the token may not do this on {self.repo}{said}: it needs read and write"
                " access to the repository's contents and pull requests"
            )
        if status == 404:
            what = "pull request" if "/pulls/" in path else "repository"
            raise ForgeNotFound(
                f"GitHub has no {what} {self.repo}{path.split(self.repo, 1)[-1]}{said}, or the"
                " token cannot see it"
            )
        if status >= 500:
            raise ForgeUnreachable(f"GitHub failed {method} {path}{said}")
        raise ForgeError(f"GitHub refused {method} {path}{said}")


def _pull(data: Any) -> PullRequest:
    if not isinstance(data, dict) or "number" not in data:
        raise ForgeError("GitHub answered with something that is not a pull request")
    state: PullState = "open" if data.get("state") == "open" else "closed"
    if state == "closed" and (data.get("merged") or data.get("merged_at")):
        state = "merged"
    head = data.get("head") or {}
    base = data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        state=state,
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        head=str(head.get("ref") or ""),
        base=str(base.get("ref") or ""),
        html_url=str(data.get("html_url") or ""),
    )
