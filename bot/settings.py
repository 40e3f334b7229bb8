"""Settings: one schema for the TOML config file and its environment overrides, with its checks."""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from feeds.errors import PaperbotError

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "paperbot.toml"
DEFAULT_FEED = "https://rss.arxiv.org/rss/cs.LG+stat.ML+cs.AI+cs.CV+cs.CL+cs.NE"
ENV_PREFIX = "PAPERBOT_"
ENV_SEPARATOR = "__"
# Where a container keeps its data when its config sits on a read-only mount.
CONTAINER_DATA_DIR = Path("/data")
# arXiv's terms for automated clients: no more than one request every 3 seconds per host.
ARXIV_MIN_INTERVAL = 3.0
_ARXIV_HOST = re.compile(r"(^|\.)arxiv\.org$")

DataDirSource = Literal["config", "environment", "checkout", "user data dir", "container"]
WhenEmpty = Literal["note", "skip"]
Selection = Literal["rate", "budget", "threshold"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConfigError(PaperbotError):
    """A config file or environment value that cannot be used."""


# -- reusable checks ------------------------------------------------------------------------

N = TypeVar("N", int, float)


def _fail(reason: str, key: str | None = None) -> PydanticCustomError:
    # The reason goes in the context, never in the template: braces in a user's value
    # must not be read as placeholders.
    context: dict[str, str] = {"reason": reason}
    if key is not None:
        context["key"] = key
    return PydanticCustomError("paperbot", "{reason}", context)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return repr(value)


def _between(low: N, high: N) -> AfterValidator:
    def check(value: N) -> N:
        if not low <= value <= high:
            raise _fail(f"must be between {_show(low)} and {_show(high)}, got {_show(value)}")
        return value

    return AfterValidator(check)


def _above(low: float, high: float) -> AfterValidator:
    def check(value: float) -> float:
        if not low < value <= high:
            raise _fail(
                f"must be more than {_show(low)} and at most {_show(high)}, got {_show(value)}"
            )
        return value

    return AfterValidator(check)


def _text(max_length: int = 200) -> AfterValidator:
    def check(value: str) -> str:
        if not value.strip():
            raise _fail("must not be empty")
        if len(value) > max_length:
            raise _fail(f"must be at most {max_length} characters, got {len(value)}")
        return value

    return AfterValidator(check)


def _digits_to_int(value: object) -> object:
    # Discord ids pasted as strings are common (they overflow JavaScript numbers).
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _check_snowflake(value: int) -> int:
    if not 0 <= value < 2**64:
        raise _fail(f"must be a Discord id (a whole number of up to 20 digits), got {value}")
    return value


def _check_cron(value: str) -> str:
    try:
        from apscheduler.triggers.cron import CronTrigger  # only when a cron is given

        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise _fail(f"{value!r} is not a crontab ({exc})") from exc
    return value


def _check_contact(value: str) -> str:
    if not re.search(r"(mailto:|@|https?://)", value):
        raise _fail(f"must be an e-mail or URL arXiv can reach you at, got {value!r}")
    return value


def _check_time(value: str) -> str:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
        raise _fail(f"must be HH:MM, got {value!r}")
    return value


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(f'{value!r} is not a known time zone (e.g. "Europe/Paris")') from exc
    return value


def _check_http_base(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _fail(f"must be an http:// or https:// URL, got {value!r}")
    if parts.query or parts.fragment:
        raise _fail(f"must be a base URL without ?query or #fragment, got {value!r}")
    return value


def _check_branch(value: str) -> str:
    # git's own refname rules, the parts a person is likely to trip on.
    bad = (
        not value
        or value.startswith(("-", "/"))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "//" in value
        or "@{" in value
        or re.search(r"[\s~^:?*\[\\\x00-\x1f\x7f]", value) is not None
    )
    if bad:
        raise _fail(f"{value!r} is not a usable git branch name")
    return value


def _check_base(value: str) -> str:
    return _check_branch(value) if value else ""


def _check_inside_repo(value: str) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or value.startswith("~"):
        raise _fail(f'must be a path inside the repository, like "README.md", got {value!r}')
    return value


def _check_email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise _fail(f"must be an e-mail address, got {value!r}")
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def feed_url_problem(text: str) -> str | None:
    """Why `text` cannot be a feed URL, or None when it can."""
    value = text.strip()
    if not value:
        return "is empty; give an http(s):// or file:// URL"
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme or (len(scheme) == 1 and os.name == "nt"):
        absolute = Path(value).expanduser().absolute()
        return f"{value!r} is a path, not a URL: use {absolute.as_uri()}"
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            # file://feed.xml: the name was read as a host.
            guess = Path(parts.netloc + parts.path).expanduser().absolute()
            return f"{value!r} names a host, not a file: use file:///abs/path ({guess.as_uri()})"
        from urllib.request import url2pathname  # 40 ms of imports, for file:// URLs only

        if not Path(url2pathname(parts.path)).is_absolute():
            return f"{value!r} is not an absolute file:// URL: use file:///abs/path"
        return None
    if scheme not in ("http", "https"):
        return f"{value!r} is not an http(s):// or file:// URL ({scheme}:// is not supported)"
    if not parts.hostname:
        return f"{value!r} has no host"
    return None


def check_feed_url(text: str, *, where: str | None = None) -> str:
    """`text` as a feed URL (stripped); ConfigError with a hint when it is not one.

    `where` names the source for the message, e.g. "--feed".
    """
    problem = feed_url_problem(text)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}" if where else problem)
    return text.strip()


def _check_feeds(value: list[str]) -> list[str]:
    if not value:
        raise _fail("must list at least one feed URL")
    for url in value:
        problem = feed_url_problem(url)
        if problem is not None:
            raise _fail(problem)
    if len(set(value)) != len(value):
        twice = next(url for url in value if value.count(url) > 1)
        raise _fail(f"lists {twice!r} twice")
    return [url.strip() for url in value]


def _check_descriptions(value: dict[str, str]) -> dict[str, str]:
    for name, text in value.items():
        if not name.strip():
            raise _fail("a section name must not be empty")
        if not text.strip() or len(text) > 600:
            raise _fail(f"{name!r}: a description is one or two sentences (1 to 600 characters)")
    return value


def _check_names(value: dict[str, int]) -> dict[str, int]:
    for name in value:
        if not name.strip():
            raise _fail("a section name must not be empty")
    return value


def _is_arxiv_host(url: str) -> str | None:
    host = (urlsplit(url.strip()).hostname or "").lower()
    return host if _ARXIV_HOST.search(host) else None


Snowflake = Annotated[int, BeforeValidator(_digits_to_int), AfterValidator(_check_snowflake)]
Cron = Annotated[str, AfterValidator(_check_cron)]


def _check_optional_cron(value: str) -> str:
    return _check_cron(value) if value.strip() else ""


def _check_github_repo(value: str) -> str:
    if not value.strip():
        return ""
    from bot.forge import check_repo_name

    try:
        return check_repo_name(value)
    except ValueError as exc:
        raise _fail(f'{exc} (the list\'s repository on GitHub, e.g. "owner/awesome-list")') from exc


OptionalCron = Annotated[str, AfterValidator(_check_optional_cron)]
Days = Annotated[int, _between(1, 3650)]


class _Table(BaseModel):
    # Strict: TOML has types, and "yes" is not true; environment strings are converted
    # before they get here. Not validated on assignment: a program may change a value.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


# -- the tables -----------------------------------------------------------------------------


class ArxivSettings(_Table):
    feeds: Annotated[list[str], AfterValidator(_check_feeds)] = Field(
        default_factory=lambda: [DEFAULT_FEED]
    )
    api_base: Annotated[str, AfterValidator(_check_http_base)] = "https://export.arxiv.org/api"
    contact: Annotated[str, AfterValidator(_check_contact)] = "mailto:paperbot@example.org"
    poll_cron: Cron = "15 1,7,13,19 * * *"
    poll_on_start: bool = True
    min_interval: Annotated[float, _between(0.0, 3600.0)] = ARXIV_MIN_INTERVAL
    timeout: Annotated[float, _above(0.0, 600.0)] = 30.0
    retries: Annotated[int, _between(0, 10)] = 4
    max_bytes: Annotated[int, _between(1_000, 1_000_000_000)] = 10_000_000
    deadline: Annotated[float, _between(1.0, 3600.0)] = 600.0

    @model_validator(mode="after")
    def _arxiv_pace(self) -> ArxivSettings:
        if self.min_interval < ARXIV_MIN_INTERVAL:
            for url in [*self.feeds, self.api_base]:
                host = _is_arxiv_host(url)
                if host is not None:
                    raise _fail(
                        f"must be at least {ARXIV_MIN_INTERVAL:g} s when a feed or the API is "
                        f"on an arXiv host ({host}), got {_show(self.min_interval)}",
                        key="min_interval",
                    )
        return self


class CatalogSettings(_Table):
    data_dir: str = ""  # empty: see the rule in paperbot.example.toml
    database: str = ""  # empty: <data_dir>/paperbot.db
    rules: str = ""  # empty: the built-in rules
    awesome_readme: str = ""  # the list README that export inserts into
    list_title: Annotated[str, _text()] = "Awesome Deep Phenomena"


class DiscordSettings(_Table):
    guild_id: Snowflake = 0
    review_channel_id: Snowflake = 0
    admin_channel_id: Snowflake = 0  # 0: alerts go to the review channel
    curator_role: Annotated[str, _text(100)] = "curator"  # a role name or id
    approve_emoji: Annotated[str, _text(100)] = "✅"
    reject_emoji: Annotated[str, _text(100)] = "❌"
    approve_threshold: Annotated[int, _between(1, 100)] = 2
    reject_threshold: Annotated[int, _between(1, 100)] = 2
    max_posts_per_poll: Annotated[int, _between(1, 100)] = 10
    open_threads: bool = False
    expire_days: Days = 14
    guild_ready_timeout: Annotated[float, _between(0.0, 60.0)] = 2.0
    section_roles: Annotated[dict[str, Snowflake], AfterValidator(_check_names)] = Field(
        default_factory=dict
    )
    section_channels: Annotated[dict[str, Snowflake], AfterValidator(_check_names)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _distinct_emoji(self) -> DiscordSettings:
        if self.approve_emoji == self.reject_emoji:
            raise _fail("must differ from approve_emoji", key="reject_emoji")
        return self


class DigestSettings(_Table):
    time: Annotated[str, AfterValidator(_check_time)] = "09:00"
    timezone: Annotated[str, AfterValidator(_check_zone)] = "UTC"
    when_empty: WhenEmpty = "note"
    expiring_within_days: Annotated[int, _between(0, 3650)] = 2


class HealthSettings(_Table):
    max_failures: Annotated[int, _between(1, 1000)] = 3
    stale_announcement_days: Days = 2


class ModelSettings(_Table):
    enabled: bool = True
    selection: Selection = "rate"
    flag_rate: Annotated[float, _above(0.0, 0.5)] = 0.03
    threshold: Annotated[float, _between(0.0, 1.0)] = 0.43
    daily_budget: Annotated[int, _between(1, 1000)] = 8
    retrain_every: Annotated[int, _between(1, 100_000)] = 10
    retrain_cron: Cron = "30 3 * * *"
    background_sample: Annotated[int, _between(0, 1_000_000)] = 2000


class SectionsSettings(_Table):
    catch_all: Annotated[str, _text()] = "Others"
    # a Markdown file describing the sections (the list's AGENTS.md or CONTRIBUTING.md)
    guide: str = ""
    descriptions: Annotated[dict[str, str], AfterValidator(_check_descriptions)] = Field(
        default_factory=dict
    )


class PublishSettings(_Table):
    repo: str = ""  # a local clone of the list's repository; empty: publishing is off
    readme: Annotated[str, AfterValidator(_check_inside_repo)] = "README.md"
    branch: Annotated[str, AfterValidator(_check_branch)] = "paperbot/additions"
    author_name: Annotated[str, _text(100)] = "paperbot"
    author_email: Annotated[str, AfterValidator(_check_email)] = "paperbot@example.org"
    remote: str = ""  # a remote name or URL; empty: none
    push: bool = False
    # The pull request on GitHub: owner/name; empty: no pull request (commits only).
    github_repo: Annotated[str, AfterValidator(_check_github_repo)] = ""
    base: Annotated[str, AfterValidator(_check_base)] = ""  # empty: the repository's default
    cron: OptionalCron = ""  # publish on a schedule; empty: by hand (CLI, /paper publish)
    sync_cron: OptionalCron = ""  # follow the list's repository; empty: by hand (`sync`)

    @model_validator(mode="after")
    def _push_needs_remote(self) -> PublishSettings:
        if self.push and not self.remote.strip():
            raise _fail("needs [publish] remote to push to", key="push")
        for key in ("github_repo", "sync_cron"):
            if getattr(self, key) and not self.remote.strip():
                raise _fail("needs [publish] remote: the list's repository to follow", key=key)
        if (self.github_repo or self.sync_cron or self.cron) and not self.repo.strip():
            key = "github_repo" if self.github_repo else "sync_cron" if self.sync_cron else "cron"
            raise _fail("needs [publish] repo: a local clone of the list", key=key)
        return self


class LoggingSettings(_Table):
    level: Annotated[LogLevel, BeforeValidator(_upper)] = "INFO"


TABLES: dict[str, type[_Table]] = {
    "arxiv": ArxivSettings,
    "catalog": CatalogSettings,
    "discord": DiscordSettings,
    "digest": DigestSettings,
    "health": HealthSettings,
    "model": ModelSettings,
    "sections": SectionsSettings,
    "publish": PublishSettings,
    "logging": LoggingSettings,
}
# Keys holding paths: from the environment they are relative to the current folder.
_PATH_KEYS = {
    ("catalog", "data_dir"),
    ("catalog", "database"),
    ("catalog", "rules"),
    ("catalog", "awesome_readme"),
    ("publish", "repo"),
    ("sections", "guide"),
}


class Settings(BaseModel):
    """Everything paperbot reads from its config file and environment."""

    # Assignments are validated so a token set by a program is a secret too.
    model_config = ConfigDict(validate_assignment=True, extra="forbid", defer_build=True)

    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    sections: SectionsSettings = Field(default_factory=SectionsSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    config_path: Path | None = None
    base_dir: Path = Field(default_factory=Path.cwd)
    # Where data goes when [catalog] data_dir is empty, and why (the CLI says so).
    default_data_dir: Path | None = None
    data_dir_source: DataDirSource = "config"
    # False for a config on a read-only mount: what paperbot writes goes under data_dir.
    config_dir_writable: bool = True
    # Secrets and endpoints come from the environment only.
    discord_token: SecretStr | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    github_token: SecretStr | None = None
    github_api_base: str | None = None

    @property
    def token(self) -> str | None:
        """The Discord token itself, for the one call that needs it."""
        return self.discord_token.get_secret_value() if self.discord_token else None

    @property
    def data_dir(self) -> Path:
        if self.catalog.data_dir:
            return self._resolve(self.catalog.data_dir)
        return (
            self.default_data_dir if self.default_data_dir is not None else self.base_dir / "data"
        )

    @property
    def data_dir_description(self) -> str:
        """One line for a person: where the data is and what decided it."""
        why = {
            "config": f"from {self.config_path}" if self.config_path else "from the settings",
            "environment": "from the environment",
            "checkout": "the checkout's ./data",
            "user data dir": "the user data dir; set PAPERBOT_DATA_DIR or [catalog] data_dir to move it",
            "container": "the config folder is read-only",
        }[self.data_dir_source]
        return f"data in {self.data_dir} ({why})"

    @property
    def database_path(self) -> Path:
        if self.catalog.database:
            return self._resolve_written(self.catalog.database)
        return self.data_dir / "paperbot.db"

    @property
    def rules_path(self) -> Path | None:
        return self._resolve(self.catalog.rules) if self.catalog.rules else None

    @property
    def awesome_readme(self) -> Path | None:
        if not self.catalog.awesome_readme:
            return None
        return self._resolve_written(self.catalog.awesome_readme)

    @property
    def section_guide(self) -> Path | None:
        """The file whose ``- `Section`: ...`` lines describe the sections; None: none."""
        return self._resolve(self.sections.guide) if self.sections.guide else None

    @property
    def publish_repo(self) -> Path | None:
        """The local clone publishing commits to; None when publishing is off."""
        return self._resolve_written(self.publish.repo) if self.publish.repo else None

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

    def _resolve_written(self, value: str) -> Path:
        # A file paperbot writes can never live on a read-only mount: relative to data_dir.
        path = Path(value).expanduser()
        if path.is_absolute():
            return path
        return (self.base_dir if self.config_dir_writable else self.data_dir) / path


# -- where the data goes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataDirChoice:
    """Where data goes when [catalog] data_dir is empty, and why."""

    path: Path
    source: DataDirSource


def choose_data_dir(
    *,
    config_dir: Path | None,
    config_dir_writable: bool,
    env_data_dir: str | None,
    cwd: Path,
    user_data_dir: Callable[[], Path],
) -> DataDirChoice:
    """The data folder when the config sets none; pure, so the rule can be tested as it is.

    $PAPERBOT_DATA_DIR wins; then <config folder>/data; a read-only config folder (a
    container's /config mount) sends data to /data; without a config, a paperbot checkout
    keeps ./data (what `make run` uses) and anywhere else the user's data directory does,
    so no command run from some folder leaves a ./data behind there.
    """
    if env_data_dir:
        path = Path(env_data_dir).expanduser()
        return DataDirChoice(path if path.is_absolute() else cwd / path, "environment")
    if config_dir is not None:
        if config_dir_writable:
            return DataDirChoice(config_dir / "data", "config")
        return DataDirChoice(CONTAINER_DATA_DIR, "container")
    if is_checkout(cwd):
        return DataDirChoice(cwd / "data", "checkout")
    return DataDirChoice(user_data_dir(), "user data dir")


def is_checkout(folder: Path) -> bool:
    """Whether `folder` is a paperbot source checkout (its pyproject.toml names paperbot)."""
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    table = project.get("project")
    return isinstance(table, dict) and table.get("name") == "paperbot"


def _writable_dir(folder: Path) -> bool:
    # os.access alone says yes to root on a read-only mount; the mount flag does not lie.
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("paperbot", appauthor=False))


# -- environment overrides ------------------------------------------------------------------


def _env_value(variable: str, raw: str, default: object) -> object:
    """An environment string as the type of the key's default; ConfigError naming it."""
    text = raw.strip()
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{variable}: expected true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{variable}: expected a whole number, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{variable}: expected a number, got {raw!r}") from None
    if isinstance(default, list):
        if text.startswith("["):
            return _env_json(variable, text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(default, dict):
        if not text:
            return {}
        return _env_json(variable, text)
    return raw


def _env_json(variable: str, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{variable}: not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None


def _default_of(table: str, key: str) -> object:
    info = TABLES[table].model_fields[key]
    factory = info.default_factory
    if factory is not None:
        return factory()  # type: ignore[call-arg]
    return info.default


def env_variable(table: str, key: str) -> str:
    """The environment variable that overrides [table] key, e.g. PAPERBOT_ARXIV__RETRIES."""
    return f"{ENV_PREFIX}{table.upper()}{ENV_SEPARATOR}{key.upper()}"


# PAPERBOT_* variables that are not a [table] key: read where they are needed (the tests'
# and benchmarks' PAPERBOT_SHARED names the shared test data).
ENV_OWN = frozenset({"PAPERBOT_CONFIG", "PAPERBOT_DATA_DIR", "PAPERBOT_SHARED"})


def _env_overrides(env: Mapping[str, str], cwd: Path) -> dict[tuple[str, str], tuple[str, object]]:
    found: dict[tuple[str, str], tuple[str, object]] = {}
    for variable, raw in env.items():
        if variable.upper().startswith(ENV_PREFIX) and variable not in ENV_OWN:
            # A misspelt name would otherwise be ignored without a word.
            if not variable.startswith(ENV_PREFIX):
                raise ConfigError(
                    f"{variable}: paperbot's variables are upper case"
                    f" ({variable.upper()}); this one would be ignored"
                )
            if ENV_SEPARATOR not in variable:
                known = ", ".join(sorted(ENV_OWN - {"PAPERBOT_SHARED"}))
                raise ConfigError(
                    f"{variable}: not a paperbot variable (a setting is"
                    f" PAPERBOT_<TABLE>__<KEY> with two underscores, such as"
                    f" {env_variable('arxiv', 'retries')}; others: {known})"
                )
        if not variable.startswith(ENV_PREFIX) or ENV_SEPARATOR not in variable:
            continue
        table, _, key = variable[len(ENV_PREFIX) :].partition(ENV_SEPARATOR)
        table, key = table.lower(), key.lower()
        if table not in TABLES:
            known = ", ".join(sorted(TABLES))
            raise ConfigError(f"{variable}: no table [{table}] to override (known: {known})")
        if key not in TABLES[table].model_fields:
            known = ", ".join(TABLES[table].model_fields)
            raise ConfigError(f"{variable}: unknown key {key!r} in [{table}] (known: {known})")
        value = _env_value(f"{variable} ([{table}] {key})", raw, _default_of(table, key))
        if (table, key) in _PATH_KEYS and isinstance(value, str) and value:
            path = Path(value).expanduser()
            value = str(path if path.is_absolute() else cwd / path)
        found[(table, key)] = (variable, value)
    return found


# -- errors for a person --------------------------------------------------------------------

_TYPE_WORDS = {
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "int_parsing": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
}


def _explain(error: Mapping[str, Any], origins: Mapping[tuple[str, str], str], source: str) -> str:
    loc = [str(part) for part in error["loc"]]
    context = error.get("ctx") or {}
    if context.get("key"):
        loc = [*loc[:1], str(context["key"])]
    table = loc[0] if loc else ""
    key = loc[1] if len(loc) > 1 else ""
    where = f"[{table}] {key}".strip()
    for part in loc[2:]:
        where += f"[{part}]" if part.isdigit() else f".{part}"
    kind = error["type"]
    value = error.get("input")
    variable = origins.get((table, key))
    if variable is not None and variable.startswith(ENV_PREFIX):
        prefix = f"{variable} ({where})"
    else:
        prefix = f"{source}: {where}"
    if kind == "extra_forbidden":
        known = ", ".join(TABLES[table].model_fields) if table in TABLES else ""
        return f"{source}: unknown key {key!r} in [{table}] (known: {known})"
    if kind == "paperbot":
        reason = str(context["reason"])
    elif kind == "literal_error":
        reason = f"must be one of {context.get('expected', '')}, got {_show(value)}"
    elif kind in _TYPE_WORDS:
        reason = f"{_TYPE_WORDS[kind]}, got {_show(value)}"
    else:
        reason = str(error["msg"])
    return f"{prefix}: {reason}"


def _check_endpoint(variable: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        shown = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{variable}: must be a {shown} URL, got {value!r}")
    return value


# -- loading --------------------------------------------------------------------------------


def _read_toml(candidate: Path) -> dict[str, Any]:
    source = str(candidate)
    try:
        return tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{source}: is a folder, not a config file") from exc
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    """A token from the environment (unset or empty: None), never shown in an error."""
    value = env.get(name) or None
    if value is not None and (value != value.strip() or any(c.isspace() for c in value)):
        raise ConfigError(f"{name}: contains spaces or line breaks (value not shown)")
    return SecretStr(value) if value is not None else None


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (explicit path, $PAPERBOT_CONFIG, ./paperbot.toml, or none),
    then the environment over it (PAPERBOT_<TABLE>__<KEY>, DISCORD_TOKEN, ...), and check
    every value; a ConfigError names the file or variable, the table and the key."""
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd()
    explicit = path is not None or bool(env.get("PAPERBOT_CONFIG"))
    candidate = Path(path or env.get("PAPERBOT_CONFIG") or DEFAULT_CONFIG_NAME).expanduser()
    raw: dict[str, Any] = {}
    origins: dict[tuple[str, str], str] = {}
    config_path: Path | None = None
    if candidate.exists():
        source = str(candidate)
        raw = _read_toml(candidate)
        config_path = candidate.resolve()
        for name, table in raw.items():
            if name not in TABLES:
                known = ", ".join(f"[{t}]" for t in TABLES)
                raise ConfigError(f"{source}: unknown table [{name}] (known: {known})")
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: {name} must be a table like [{name}]")
            for key in table:
                origins[(name, key)] = source
    elif explicit:
        raise ConfigError(f"{candidate}: config file not found")
    else:
        source = "defaults"
    for (table, key), (variable, value) in _env_overrides(env, cwd).items():
        raw.setdefault(table, {})[key] = value
        origins[(table, key)] = variable
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ConfigError(_explain(first, origins, source)) from None

    base_dir = config_path.parent if config_path is not None else cwd
    writable = _writable_dir(base_dir) if config_path is not None else True
    choice = choose_data_dir(
        config_dir=config_path.parent if config_path is not None else None,
        config_dir_writable=writable,
        env_data_dir=env.get("PAPERBOT_DATA_DIR") or None,
        cwd=cwd,
        user_data_dir=_user_data_dir,
    )
    settings.config_path = config_path
    settings.base_dir = base_dir
    settings.config_dir_writable = writable
    settings.default_data_dir = choice.path
    from_variable = origins.get(("catalog", "data_dir"), "").startswith(ENV_PREFIX)
    if env.get("PAPERBOT_DATA_DIR") and not from_variable:
        # $PAPERBOT_DATA_DIR (a container's) wins over a data_dir in the file.
        settings.catalog.data_dir = ""
    if settings.catalog.data_dir:
        settings.data_dir_source = "environment" if from_variable else "config"
    else:
        settings.data_dir_source = choice.source

    settings.discord_token = _secret(env, "DISCORD_TOKEN")
    if env.get("DISCORD_API_BASE"):
        settings.discord_api_base = _check_endpoint(
            "DISCORD_API_BASE", env["DISCORD_API_BASE"], ("http", "https")
        )
    if env.get("DISCORD_GATEWAY_URL"):
        settings.discord_gateway_url = _check_endpoint(
            "DISCORD_GATEWAY_URL", env["DISCORD_GATEWAY_URL"], ("ws", "wss", "http", "https")
        )
    settings.github_token = _secret(env, "GITHUB_TOKEN")
    if env.get("GITHUB_API_BASE"):
        settings.github_api_base = _check_endpoint(
            "GITHUB_API_BASE", env["GITHUB_API_BASE"], ("http", "https")
        )
    logger.debug("settings from %s; %s", source, settings.data_dir_description)
    return settings


def documented_keys() -> dict[str, list[str]]:
    """Every table and its keys, in schema order (for checks that the docs are complete)."""
    return {name: list(model.model_fields) for name, model in TABLES.items()}


def closed_choices(table: str, key: str) -> tuple[str, ...]:
    """The allowed values of a Literal key, e.g. ("note", "skip") for [digest] when_empty."""
    annotation = TABLES[table].model_fields[key].annotation
    return tuple(str(arg) for arg in get_args(annotation))
