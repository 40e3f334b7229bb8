"""Per-test behaviours of the fake GitHub: rate limits, injected failures, delays."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from tests.loopback import RouteMatcher

from .models import DOCS

RATE_LIMIT_DOCS = DOCS + "/overview/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
WINDOW_SECONDS = 3600.0


@dataclass
class RateWindow:
    """GitHub's primary limit: `limit` requests per hour-long window, opened on first use.

    `reset_at` is epoch seconds (as the `x-ratelimit-reset` header tells it). A window
    past its reset starts afresh at the next request.
    """

    limit: int
    used: int = 0
    reset_at: float = 0.0

    def _roll(self, now: float) -> None:
        if now >= self.reset_at:
            self.used = 0
            self.reset_at = now + WINDOW_SECONDS

    def take(self, now: float | None = None) -> bool:
        """Count one request; False (and nothing counted) when the window is used up."""
        now = time.time() if now is None else now
        self._roll(now)
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def exhaust(self, reset_in: float) -> None:
        now = time.time()
        self.used = self.limit
        self.reset_at = now + reset_in

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """`{"limit", "used", "remaining", "reset"}` as GET /rate_limit shows it."""
        self._roll(time.time() if now is None else now)
        return {
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
            "reset": math.ceil(self.reset_at),
        }

    def headers(self) -> dict[str, str]:
        """The headers every answer carries (GitHub spells them in lower case)."""
        snap = self.snapshot()
        return {
            "x-ratelimit-limit": str(snap["limit"]),
            "x-ratelimit-remaining": str(snap["remaining"]),
            "x-ratelimit-reset": str(snap["reset"]),
            "x-ratelimit-used": str(snap["used"]),
            "x-ratelimit-resource": "core",
        }


@dataclass
class SecondaryLimit:
    """A secondary limit in force: refuse until `until` (time.monotonic), or `times` refusals."""

    until: float
    status: int
    times: int | None
    refused: int = 0

    def active(self) -> bool:
        if self.times is not None and self.refused >= self.times:
            return False
        return time.monotonic() < self.until

    def retry_after(self) -> int:
        """Whole seconds, rounded up, at least 1 (what the `retry-after` header says)."""
        return max(1, math.ceil(self.until - time.monotonic()))


# GitHub's message for the statuses tests inject most; others use the HTTP reason phrase.
DEFAULT_MESSAGES: dict[int, str] = {
    400: "Problems parsing JSON",
    401: "Bad credentials",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    500: "Server Error",
    502: "Server Error",
}


def default_error_body(status: int) -> dict[str, Any]:
    message = DEFAULT_MESSAGES.get(status) or HTTPStatus(status).phrase
    return {"message": message, "documentation_url": DOCS, "status": str(status)}


@dataclass
class InjectedFailure:
    """The next `remaining` requests matching `matcher` get `status`, `body` and `headers`."""

    matcher: RouteMatcher
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    hits: int = 0

    def claim(self) -> None:
        self.remaining -= 1
        self.hits += 1

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0
