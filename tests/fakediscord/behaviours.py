"""Per-test REST behaviours of the fake Discord: rate-limit buckets, held replies, injected errors."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from tests.loopback import RouteMatcher

# Route keys are "METHOD /template" with the template relative to /api/v10, e.g.
# "PATCH /channels/{channel_id}/messages/{message_id}".
RouteKey = str

# Discord keys a bucket by its hash plus the route's "major parameter": the channel,
# the guild or the webhook (an interaction token is a webhook here).
MAJOR_PARAMETERS = ("channel_id", "guild_id", "token")


@dataclass(frozen=True)
class RateLimitRule:
    """`limit` requests per `per` seconds; rules naming the same `bucket` share one counter."""

    bucket: str
    limit: int
    per: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.per <= 0:
            raise ValueError(f"a rate limit needs limit >= 1 and per > 0, not {self}")


_REACTIONS = RateLimitRule("reactions", 1, 0.25)
_WEBHOOK = RateLimitRule("webhook", 5, 2.0)

# The figures Discord reports for a bot on these routes (it may change them at any time;
# a test that depends on one sets it explicitly with `set_rate_limit`). Routes not listed,
# interaction callbacks among them, are not limited and carry no rate-limit headers.
DEFAULT_RATE_LIMITS: dict[RouteKey, RateLimitRule] = {
    "POST /channels/{channel_id}/messages": RateLimitRule("message-create", 5, 5.0),
    "PATCH /channels/{channel_id}/messages/{message_id}": RateLimitRule("message-edit", 5, 5.0),
    "DELETE /channels/{channel_id}/messages/{message_id}": RateLimitRule("message-delete", 5, 1.0),
    "GET /channels/{channel_id}/messages": RateLimitRule("message-list", 5, 1.0),
    "GET /channels/{channel_id}/messages/{message_id}": RateLimitRule("message-get", 5, 1.0),
    "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": _REACTIONS,
    "DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": _REACTIONS,
    "DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}": _REACTIONS,
    "GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}": RateLimitRule(
        "reaction-list", 5, 1.0
    ),
    "POST /channels/{channel_id}/messages/{message_id}/threads": RateLimitRule(
        "thread-create", 5, 5.0
    ),
    "GET /guilds/{guild_id}/members/{user_id}": RateLimitRule("member-get", 5, 1.0),
    "POST /webhooks/{app_id}/{token}": _WEBHOOK,
    "PATCH /webhooks/{app_id}/{token}/messages/{message_id}": _WEBHOOK,
}


@dataclass
class _Window:
    remaining: int
    resets_at: float  # time.monotonic()


@dataclass(frozen=True)
class RateLimitDecision:
    """What the limiter decided for one request: its headers, and the wait if refused."""

    headers: dict[str, str]
    retry_after: float | None  # None: allowed

    @property
    def limited(self) -> bool:
        return self.retry_after is not None


class RateLimiter:
    """Fixed windows per (bucket, major parameter), opened by the first request, like Discord."""

    def __init__(self) -> None:
        self.enabled = False
        self.rules: dict[RouteKey, RateLimitRule] = dict(DEFAULT_RATE_LIMITS)
        self._windows: dict[tuple[str, str], _Window] = {}

    def reset(self) -> None:
        """Forget every window (full buckets everywhere)."""
        self._windows.clear()

    def check(self, route: RouteKey, match_info: Mapping[str, str]) -> RateLimitDecision | None:
        """Count one request on `route`; None when it is not limited."""
        rule = self.rules.get(route)
        if not self.enabled or rule is None:
            return None
        major = next((match_info[p] for p in MAJOR_PARAMETERS if p in match_info), "")
        now = time.monotonic()
        window = self._windows.get((rule.bucket, major))
        if window is None or now >= window.resets_at:
            window = _Window(rule.limit, now + rule.per)
            self._windows[(rule.bucket, major)] = window
        # Rounded up to the millisecond so that a client waiting exactly this long is on time.
        reset_after = math.ceil((window.resets_at - now) * 1000) / 1000
        retry_after = None
        if window.remaining > 0:
            window.remaining -= 1
        else:
            retry_after = reset_after
        headers = {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash(rule.bucket),
        }
        if retry_after is not None:
            headers["X-RateLimit-Scope"] = "user"
        return RateLimitDecision(headers, retry_after)


def bucket_hash(bucket: str) -> str:
    """A stable opaque id for a bucket name, shaped like Discord's."""
    return hashlib.sha1(bucket.encode()).hexdigest()[:32]


def too_many_requests_headers(retry_after: float, *, is_global: bool = False) -> dict[str, str]:
    """The headers of every 429: `Via` tells discord.py this is Discord, not a Cloudflare ban."""
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": "global" if is_global else "user",
        "Via": "1.1 google",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return headers


def too_many_requests_body(retry_after: float, *, is_global: bool = False) -> dict[str, Any]:
    return {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }


# Discord's JSON error for the statuses tests inject most.
DEFAULT_ERRORS: dict[int, tuple[int, str]] = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50001, "Missing Access"),
    404: (10008, "Unknown Message"),
    500: (0, "500: Internal Server Error"),
}


@dataclass
class InjectedFailure:
    """The next `remaining` calls matching `matcher` fail with `status`; `hits` counts them."""

    matcher: RouteMatcher
    status: int
    remaining: int
    retry_after: float
    is_global: bool
    body: dict[str, Any]
    hits: int = 0

    def claim(self) -> None:
        self.remaining -= 1
        self.hits += 1

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0


def error_body(status: int, code: int | None, message: str | None) -> dict[str, Any]:
    default_code, default_message = DEFAULT_ERRORS.get(
        status, (0, f"{status}: {HTTPStatus(status).phrase}")
    )
    return {
        "message": default_message if message is None else message,
        "code": default_code if code is None else code,
    }


DelayPhase = Literal["request", "reply"]


@dataclass
class Delay:
    """Holds matching requests: before the handler runs ("request") or after it ("reply").

    With phase "reply" the answer is computed when the request arrives (a reaction list is
    a snapshot of that moment) and delivered late. `arrived` is set once a request is being
    held; a hold ends after `seconds`, or on `release()` (with `seconds=None`, only then).
    `times=None` holds every matching request until the delay is cancelled.
    """

    matcher: RouteMatcher
    seconds: float | None
    times: int | None
    phase: DelayPhase
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0
    claimed: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def claim(self) -> None:
        self.claimed += 1

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.claimed >= self.times

    def release(self) -> None:
        """End every current and future hold of this delay now."""
        self._released.set()

    async def wait_arrived(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until a matching request is being held."""
        await asyncio.wait_for(self.arrived.wait(), timeout)

    async def hold(self) -> None:
        self.held += 1
        self.arrived.set()
        if self._released.is_set():
            return
        if self.seconds is None:
            await self._released.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), self.seconds)
