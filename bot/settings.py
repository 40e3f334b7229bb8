"""Settings: the TOML config file, environment secrets, and their validation."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from feeds.errors import PaperbotError

DEFAULT_CONFIG_NAME = "paperbot.toml"
DEFAULT_FEED = "https://rss.arxiv.org/rss/cs.LG+stat.ML+cs.AI+cs.CV+cs.CL+cs.NE"


class ConfigError(PaperbotError):
    """A config file or environment value that cannot be used."""


@dataclass
class ArxivSettings:
    feeds: list[str] = field(default_factory=lambda: [DEFAULT_FEED])
    api_base: str = "https://export.arxiv.org/api"
    contact: str = "mailto:paperbot@example.org"
    poll_cron: str = "15 1,7,13,19 * * *"
    poll_on_start: bool = True
    min_interval: float = 3.0
    timeout: float = 30.0
    retries: int = 4
    max_bytes: int = 10_000_000


@dataclass
class CatalogSettings:
    data_dir: str = "data"
    database: str = ""  # empty: <data_dir>/paperbot.db
    rules: str = ""  # empty: the built-in rules
    awesome_readme: str = ""  # the list README that export inserts into
    list_title: str = "Awesome Deep Phenomena"


@dataclass
class DiscordSettings:
    guild_id: int = 0
    review_channel_id: int = 0
    admin_channel_id: int = 0  # 0: alerts go to the review channel
    curator_role: str = "curator"  # a role name or id
    approve_emoji: str = "✅"
    reject_emoji: str = "❌"
    approve_threshold: int = 2
    reject_threshold: int = 2
    max_posts_per_poll: int = 10
    open_threads: bool = False
    expire_days: int = 14
    guild_ready_timeout: float = 2.0  # discord.py's wait after the last GUILD_CREATE


@dataclass
class DigestSettings:
    time: str = "09:00"
    timezone: str = "UTC"
    when_empty: str = "note"  # "note" | "skip"
    expiring_within_days: int = 2


@dataclass
class HealthSettings:
    max_failures: int = 3
    stale_announcement_days: int = 2


@dataclass
class ModelSettings:
    enabled: bool = True
    selection: str = "threshold"  # "threshold" | "budget"
    threshold: float = 0.43  # combined score; about 3% of an ML announcement day
    daily_budget: int = 8
    retrain_every: int = 10  # decisions between retrains
    retrain_cron: str = "30 3 * * *"
    background_sample: int = 2000


@dataclass
class Settings:
    """Everything paperbot reads from its config file and environment."""

    arxiv: ArxivSettings = field(default_factory=ArxivSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    config_path: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    # Secrets and endpoints come from the environment only.
    discord_token: str | None = field(default=None, repr=False)
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None

    @property
    def data_dir(self) -> Path:
        return self._resolve(self.catalog.data_dir)

    @property
    def database_path(self) -> Path:
        if self.catalog.database:
            return self._resolve(self.catalog.database)
        return self.data_dir / "paperbot.db"

    @property
    def rules_path(self) -> Path | None:
        return self._resolve(self.catalog.rules) if self.catalog.rules else None

    @property
    def awesome_readme(self) -> Path | None:
        return self._resolve(self.catalog.awesome_readme) if self.catalog.awesome_readme else None

    @property
    def user_agent(self) -> str:
        from bot import __version__

        return f"paperbot/{__version__} (+{self.arxiv.contact})"

    @property
    def digest_zone(self) -> ZoneInfo:
        return ZoneInfo(self.digest.timezone)

    def _resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


_SECTIONS: dict[str, type] = {
    "arxiv": ArxivSettings,
    "catalog": CatalogSettings,
    "discord": DiscordSettings,
    "digest": DigestSettings,
    "health": HealthSettings,
    "model": ModelSettings,
}


def _coerce(where: str, value: Any, default: Any) -> Any:
    """Check a TOML value against the type of the field's default."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            # Discord ids pasted as strings are common; accept digit strings.
            if isinstance(value, str) and value.strip().isdigit():
                return int(value)
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported value {value!r}")  # pragma: no cover


def _validate(settings: Settings, source: str) -> None:
    if not settings.arxiv.feeds:
        raise ConfigError(f"{source}: [arxiv] feeds must list at least one feed URL")
    for url in settings.arxiv.feeds:
        if not re.match(r"^(https?|file)://", url):
            raise ConfigError(f"{source}: [arxiv] feeds: {url!r} is not an http(s):// or file:// URL")
    if not re.search(r"(mailto:|@|https?://)", settings.arxiv.contact):
        raise ConfigError(
            f"{source}: [arxiv] contact must be an e-mail or URL arXiv can reach you at"
        )
    if settings.arxiv.min_interval < 0 or settings.arxiv.timeout <= 0:
        raise ConfigError(f"{source}: [arxiv] min_interval and timeout must be positive")
    for table, key in (("arxiv", "poll_cron"), ("model", "retrain_cron")):
        expression = getattr(getattr(settings, table), key)
        try:
            CronTrigger.from_crontab(expression, timezone="UTC")
        except ValueError as exc:
            raise ConfigError(f"{source}: [{table}] {key} {expression!r} is not a crontab: {exc}") from exc
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", settings.digest.time):
        raise ConfigError(f"{source}: [digest] time must be HH:MM, got {settings.digest.time!r}")
    try:
        ZoneInfo(settings.digest.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{source}: [digest] timezone {settings.digest.timezone!r} is not a known time zone"
        ) from exc
    if settings.digest.when_empty not in ("note", "skip"):
        raise ConfigError(f"{source}: [digest] when_empty must be \"note\" or \"skip\"")
    if settings.model.selection not in ("threshold", "budget"):
        raise ConfigError(f"{source}: [model] selection must be \"threshold\" or \"budget\"")
    d = settings.discord
    if d.approve_threshold < 1 or d.reject_threshold < 1:
        raise ConfigError(f"{source}: [discord] thresholds must be at least 1")
    if d.approve_emoji == d.reject_emoji:
        raise ConfigError(f"{source}: [discord] approve_emoji and reject_emoji must differ")
    if d.guild_ready_timeout < 0:
        raise ConfigError(f"{source}: [discord] guild_ready_timeout must not be negative")
    if d.max_posts_per_poll < 1:
        raise ConfigError(f"{source}: [discord] max_posts_per_poll must be at least 1")


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the config file (explicit path, $PAPERBOT_CONFIG, ./paperbot.toml, or defaults)."""
    env = dict(os.environ) if env is None else env
    explicit = path is not None or "PAPERBOT_CONFIG" in env
    candidate = Path(path or env.get("PAPERBOT_CONFIG") or DEFAULT_CONFIG_NAME).expanduser()
    settings = Settings()
    if candidate.exists():
        source = str(candidate)
        try:
            raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        settings.config_path = candidate.resolve()
        settings.base_dir = candidate.resolve().parent
        for name, table in raw.items():
            if name not in _SECTIONS:
                known = ", ".join(f"[{s}]" for s in _SECTIONS)
                raise ConfigError(f"{source}: unknown table [{name}] (known: {known})")
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: {name} must be a table like [{name}]")
            target = getattr(settings, name)
            allowed = {f.name: f for f in fields(target)}
            for key, value in table.items():
                if key not in allowed:
                    raise ConfigError(
                        f"{source}: unknown key {key!r} in [{name}] "
                        f"(known: {', '.join(sorted(allowed))})"
                    )
                where = f"{source}: [{name}] {key}"
                setattr(target, key, _coerce(where, value, getattr(target, key)))
    elif explicit:
        raise ConfigError(f"{candidate}: config file not found")
    else:
        source = "defaults"
    settings.discord_token = env.get("DISCORD_TOKEN") or None
    settings.discord_api_base = env.get("DISCORD_API_BASE") or None
    settings.discord_gateway_url = env.get("DISCORD_GATEWAY_URL") or None
    if env.get("PAPERBOT_DATA_DIR"):
        settings.catalog.data_dir = env["PAPERBOT_DATA_DIR"]
    _validate(settings, source)
    return settings
