"""Feed health: each feed's state for people, and which alerts to send or clear."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.app.base import Part
from feeds.errors import PaperbotError
from feeds.models import FeedState

AlertKind = Literal["failing", "stalled", "recovered"]

# meta keys the running service writes, so that a health check can tell it is at work
WORKER_STARTED = "worker_started_at"  # when its scheduler started
WORKER_ALIVE = "worker_alive_at"  # its heartbeat, every HEARTBEAT_EVERY seconds
POLL_STARTED = "poll_started_at"  # when its last poll began
HEARTBEAT_EVERY = 60.0


@dataclass(frozen=True)
class FeedHealth:
    """One feed as `paperbot feeds` and `/paper feeds` show it."""

    url: str
    configured: bool
    state: FeedState | None

    @property
    def healthy(self) -> bool:
        s = self.state
        return bool(s and s.consecutive_failures == 0 and s.last_success)

    @property
    def label(self) -> Literal["ok", "never polled", "FAILING"]:
        if self.healthy:
            return "ok"
        return (
            "never polled" if self.state is None or self.state.last_checked is None else "FAILING"
        )


@dataclass(frozen=True)
class HealthAlert:
    """A message for the admins about one feed; `state` is what to store once it is sent."""

    url: str
    kind: AlertKind
    text: str
    state: FeedState


def stale(last_changed: datetime | None, now: datetime, announcement_days: int) -> bool:
    """More than `announcement_days` weekday announcements passed without the feed changing."""
    if last_changed is None:
        return False
    days = 0
    cursor = last_changed
    while cursor < now:
        cursor += timedelta(days=1)
        # arXiv announces Sunday to Thursday evenings (US Eastern): weekday mornings in UTC.
        if cursor <= now and cursor.weekday() < 5:
            days += 1
    return days > announcement_days


def alerts_for(
    states: list[FeedState],
    configured: list[str],
    now: datetime,
    *,
    max_failures: int,
    stale_days: int,
) -> list[HealthAlert]:
    """One alert when a feed fails or stalls, one message when it recovers; never a storm."""
    out: list[HealthAlert] = []
    for state in states:
        if state.url not in configured:
            continue
        failing = state.consecutive_failures >= max_failures
        stalled = stale(state.last_changed, now, stale_days)
        if (failing or stalled) and not state.alerted:
            if failing:
                text = (f"⚠️ Feed {state.url} failed {state.consecutive_failures} times in a row: "
                        f"{state.last_error or 'unknown error'}")  # fmt: skip
                kind: AlertKind = "failing"
            else:
                assert state.last_changed is not None
                text = (f"⚠️ Feed {state.url} has not changed since "
                        f"{state.last_changed:%Y-%m-%d %H:%M} UTC")  # fmt: skip
                kind = "stalled"
            out.append(HealthAlert(state.url, kind, text, _with_alerted(state, True)))
        elif state.alerted and not failing and not stalled:
            out.append(HealthAlert(state.url, "recovered", f"✅ Feed {state.url} has recovered.",
                                   _with_alerted(state, False)))  # fmt: skip
    return out


def _with_alerted(state: FeedState, alerted: bool) -> FeedState:
    return dataclasses.replace(state, alerted=alerted)


class Health(Part):
    """The service's heartbeat and the feeds' health, and the alerts it warrants."""

    async def note_started(self) -> None:
        """The service's scheduler started: its jobs run from now on."""
        now = self.clock().isoformat()
        await self.catalog.meta_set(WORKER_STARTED, now)
        await self.catalog.meta_set(WORKER_ALIVE, now)

    async def note_alive(self) -> None:
        """The service's heartbeat: it is running its jobs and can write the catalog."""
        await self.catalog.meta_set(WORKER_ALIVE, self.clock().isoformat())

    async def note_poll_started(self) -> None:
        """Record that a poll started now (what `doctor --service` reads)."""
        await self.catalog.meta_set(POLL_STARTED, self.clock().isoformat())

    async def service_times(self) -> dict[str, datetime | None]:
        """When the service started, last checked in and last began a poll (None: never)."""
        out: dict[str, datetime | None] = {}
        for key in (WORKER_STARTED, WORKER_ALIVE, POLL_STARTED):
            raw = await self.catalog.meta_get(key)
            try:
                out[key] = datetime.fromisoformat(raw) if raw else None
            except ValueError:
                out[key] = None
        return out

    async def feed_health(self) -> list[FeedHealth]:
        """Every configured feed, then any other feed the catalog remembers."""
        states = {s.url: s for s in await self.catalog.feed_states()}
        configured = self.settings.arxiv.feeds
        urls = list(dict.fromkeys([*configured, *states]))
        return [FeedHealth(url, url in configured, states.get(url)) for url in urls]

    async def health_alerts(self) -> list[HealthAlert]:
        """The alerts to send now; call `alert_sent` for each once it reached people."""
        h = self.settings.health
        return alerts_for(
            await self.catalog.feed_states(),
            self.settings.arxiv.feeds,
            self.clock(),
            max_failures=h.max_failures,
            stale_days=h.stale_announcement_days,
        )

    async def forget_feed(self, url: str) -> None:
        """Drop a feed the config no longer lists (its FAILING record with it)."""
        if url in self.settings.arxiv.feeds:
            raise PaperbotError(
                f"{url} is still configured in [arxiv] feeds: remove it there first"
            )
        if not await self.catalog.forget_feed(url):
            raise PaperbotError(f"{url}: no such feed in the catalog (see paperbot feeds)")

    async def alert_sent(self, alert: HealthAlert) -> None:
        """Record that a feed-health alert was sent, so it is not sent again."""
        await self.catalog.save_feed_state(alert.state)
