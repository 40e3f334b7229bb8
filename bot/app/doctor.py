"""`paperbot doctor`: is this installation able to work? The catalog, feeds, model, list, repository."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from apscheduler.triggers.cron import CronTrigger

from bot.app.health import HEARTBEAT_EVERY, POLL_STARTED, WORKER_ALIVE, WORKER_STARTED
from bot.settings import Settings
from db.maintenance import CatalogCheck, check_catalog, rebuild_search_index
from feeds.errors import PaperbotError

if TYPE_CHECKING:
    from bot.app.core import App

Level = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Finding:
    level: Level
    what: str  # "catalog", "feed", "model", "list", "repository"
    text: str


@dataclass
class Diagnosis:
    findings: list[Finding] = field(default_factory=list)
    catalog: CatalogCheck | None = None

    def add(self, level: Level, what: str, text: str) -> None:
        self.findings.append(Finding(level, what, text))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]

    @property
    def ok(self) -> bool:
        return not self.problems


def _catalog_findings(d: Diagnosis, check: CatalogCheck) -> None:
    if not check.exists:
        if check.not_writable is not None:
            d.add("problem", "catalog", f"{check.path}: no catalog yet, and paperbot cannot"
                  f" make one: {check.not_writable}")  # fmt: skip
        else:
            d.add("warning", "catalog", f"{check.path}: no catalog yet (any command creates it)")
        return
    for problem in check.problems:
        d.add("problem", "catalog", problem)
    if check.ok:
        kind = "full integrity check" if check.full else "quick check"
        counts = ", ".join(f"{n} {name}" for name, n in check.counts.items())
        d.add("ok", "catalog", f"{check.path}: {kind} passed; schema {len(check.migrations)}"
              f" migration(s); {counts}")  # fmt: skip
    if check.pending:
        d.add("warning", "catalog",
              f"{check.path}: migrations {', '.join(check.pending)} not applied yet"
              " (the next command applies them)")  # fmt: skip


def _repository_findings(d: Diagnosis, settings: Settings) -> None:
    repo = settings.publish_repo
    if repo is None:
        return
    if shutil.which("git") is None:
        d.add("problem", "repository", "git is not installed: paperbot publish needs it")
        return
    try:
        top = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        d.add("problem", "repository", f"{repo}: git did not answer: {exc}")
        return
    if top.returncode != 0:
        d.add("problem", "repository", f"{repo}: not a git work tree ([publish] repo)")
        return
    readme = repo / settings.publish.readme
    if not readme.is_file():
        d.add(
            "problem", "repository", f"{readme}: no such file in the repository ([publish] readme)"
        )
        return
    d.add("ok", "repository", f"{repo}: a git work tree; publishes {settings.publish.readme}"
          f" on {settings.publish.branch}")  # fmt: skip
    remote = settings.publish.remote.strip()
    if not remote:
        return
    try:
        reached = subprocess.run(
            ["git", "-C", str(repo), "ls-remote", "--symref", remote, "HEAD"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        d.add("problem", "repository", f"remote {remote}: git did not answer: {exc}")
        return
    if reached.returncode != 0:
        said = [line for line in reached.stderr.splitlines() if line.strip()]
        d.add("problem", "repository", f"remote {remote}: cannot be reached"
              f" ({said[-1].strip() if said else 'no message'})")  # fmt: skip
        return
    d.add("ok", "repository", f"remote {remote}: reachable")


async def _forge_findings(d: Diagnosis, settings: Settings) -> None:
    """The pull request's host: the token is there, accepted, and may push to the list."""
    p = settings.publish
    if not p.github_repo:
        return
    from bot.forge import ForgeError, GitHub

    token = settings.github_token
    if token is None:
        d.add("problem", "pull request", "GITHUB_TOKEN is not set: paperbot can push its branch"
              f" but not open the pull request on {p.github_repo}")  # fmt: skip
        return
    forge = GitHub(p.github_repo, token.get_secret_value(), api_base=settings.github_api_base,
                   user_agent=settings.user_agent, max_wait=0.0)  # fmt: skip
    try:
        repository = await forge.repository()
        await forge.open_pull(p.branch)  # the pull requests can be read
    except ForgeError as exc:
        d.add("problem", "pull request", str(exc))
        return
    if repository.renamed_from:
        d.add("warning", "pull request", f"{repository.renamed_from} is now"
              f' {repository.full_name}: set [publish] github_repo = "{repository.full_name}"')  # fmt: skip
    if not repository.can_push:
        d.add("problem", "pull request", f"the token may read {repository.full_name} but not"
              " push to it: it needs write access to contents and pull requests")  # fmt: skip
        return
    base = p.base or repository.default_branch
    d.add("ok", "pull request", f"{repository.full_name} on GitHub: the token may push and open"
          f" pull requests into {base}")  # fmt: skip


# A heartbeat older than this many beats: the service's jobs are not running.
STALE_BEATS = 3
# How late a poll may start before it counts as missed: the scheduler's misfire grace
# (bot/runtime.py) on top of the poll's own deadline.
POLL_GRACE = timedelta(minutes=10)


def _service_findings(
    d: Diagnosis, settings: Settings, times: dict[str, datetime | None], now: datetime
) -> None:
    """Healthy means a service is running its jobs on this catalog and polls on schedule."""
    alive, started, polled = times[WORKER_ALIVE], times[WORKER_STARTED], times[POLL_STARTED]
    if alive is None:
        d.add("problem", "service", "no paperbot service has run its jobs on this catalog"
              " (its scheduler starts once Discord is reached)")  # fmt: skip
        return
    age = (now - alive).total_seconds()
    if age > STALE_BEATS * HEARTBEAT_EVERY:
        d.add("problem", "service", f"the service last checked in {age / 60:.0f} min ago"
              f" ({alive:%Y-%m-%d %H:%M} UTC): its jobs are not running, or the catalog"
              " takes no writes")  # fmt: skip
        return
    d.add("ok", "service", f"running its jobs (checked in {age:.0f} s ago)")
    trigger = CronTrigger.from_crontab(settings.arxiv.poll_cron, timezone="UTC")
    if polled is not None:
        due = trigger.get_next_fire_time(None, polled)
    elif started is not None:
        due = started if settings.arxiv.poll_on_start else trigger.get_next_fire_time(None, started)
    else:
        due = None
    grace = POLL_GRACE + timedelta(seconds=settings.arxiv.deadline)
    if due is not None and now > due + grace:
        d.add("problem", "poll", f"the poll due at {due:%Y-%m-%d %H:%M} UTC has not started")
    elif polled is not None and due is not None:
        d.add("ok", "poll", f"last poll started {polled:%Y-%m-%d %H:%M} UTC; next due"
              f" {due:%Y-%m-%d %H:%M} UTC")  # fmt: skip


async def diagnose(
    settings: Settings, *, full: bool = False, service: bool = False, repair: bool = False
) -> Diagnosis:
    """Every check; a damaged catalog is reported, never opened for writing, except that with
    `repair` a damaged full-text index (the papers intact) is rebuilt from the papers. With
    `service`, also whether a running service does its jobs and polls on schedule."""
    d = Diagnosis()
    # The health check (`--service`, each minute) leaves the full-text index's own check to
    # a doctor run by a person: it reads the whole index.
    deep = full or repair or not service
    check = await asyncio.to_thread(
        check_catalog, settings.database_path, full=full, search_index=deep
    )
    if repair and check.search_index_damaged:
        indexed = await asyncio.to_thread(rebuild_search_index, settings.database_path)
        d.add("ok", "catalog", f"rebuilt the full-text index from the {indexed} papers")
        check = await asyncio.to_thread(check_catalog, settings.database_path, full=full)
    d.catalog = check
    _catalog_findings(d, check)
    readme = settings.awesome_readme
    if readme is not None and not readme.is_file():
        d.add("problem", "list", f"{readme}: [catalog] awesome_readme does not exist")
    # The health check asks one thing each minute: does the service do its jobs on this
    # catalog. What a person checks once (the guide, the repository and its remote, the
    # token against GitHub, that the model loads) would cost a network round trip, a
    # rate-limited API call and the model's libraries every minute, and none of it is
    # health: a remote that is down for an hour does not stop the service.
    if not service:
        await _setup_findings(d, settings)
    if not check.ok or check.pending:
        if service:
            d.add("problem", "service", "the catalog cannot be used: the service cannot work")
        return d
    from bot.app.core import App  # opened only on a healthy, current catalog

    try:
        async with await App.open(settings, ranking=not service) as app:
            await _app_findings(d, settings, app, service)
    except PaperbotError as exc:
        d.add("problem", "catalog", str(exc))
    return d


async def _setup_findings(d: Diagnosis, settings: Settings) -> None:
    if settings.section_guide is not None:
        from bot.app.core import section_descriptions

        try:
            found = section_descriptions(settings)
        except PaperbotError as exc:
            d.add("problem", "list", str(exc))
        else:
            d.add("ok", "list", f"{settings.section_guide}: describes {len(found)} section(s)")
    await asyncio.to_thread(_repository_findings, d, settings)
    await _forge_findings(d, settings)


async def _app_findings(d: Diagnosis, settings: Settings, app: App, service: bool) -> None:
    for feed in await app.feed_health():
        s = feed.state
        if s is not None and s.consecutive_failures >= settings.health.max_failures:
            d.add("warning", "feed", f"{feed.url}: {s.consecutive_failures} failures in a row;"
                  f" last error: {s.last_error}")  # fmt: skip
        elif feed.configured:
            d.add("ok" if feed.healthy else "warning", "feed", f"{feed.url}: {feed.label}")
    if service:
        _service_findings(d, settings, await app.service_times(), datetime.now(UTC))
        return
    status = await app.model_status()
    if not settings.model.enabled:
        d.add("ok", "model", "the model is off ([model] enabled = false): rules alone")
    elif status is None or status.version is None:
        d.add("warning", "model", "no model trained yet: candidates are ranked by the rules alone")
    else:
        d.add("ok", "model", f"model v{status.version} trained {status.trained_at:%Y-%m-%d}"
              f" on {status.training_set} examples")  # fmt: skip
    if status is not None and status.last_error:
        d.add("warning", "model", f"last retrain failed: {status.last_error}")
    stored = await app.catalog.current_list()
    if stored is None and settings.awesome_readme is None:
        d.add("warning", "list", "no list imported yet: run paperbot import-awesome README.md")
    elif stored is not None:
        d.add("ok", "list", f"list imported from {stored.source} on {stored.imported_at:%Y-%m-%d}")
