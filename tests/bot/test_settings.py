"""The settings schema: defaults, every key range-checked in one line, environment overrides,
the token kept secret, and where the data goes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from bot.settings import (
    CatalogSettings,
    ConfigError,
    Settings,
    check_feed_url,
    choose_data_dir,
    closed_choices,
    documented_keys,
    env_variable,
    is_checkout,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "paperbot.example.toml"
TOKEN = "MTIz.secret-token-value.XyZ"  # what a Discord bot token looks like, roughly
LOOPBACK_ONLY = '[arxiv]\nfeeds = ["file:///srv/feed.xml"]\napi_base = "http://127.0.0.1:9/api"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paperbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current folder that is no checkout, with the user data dir under tmp_path."""
    folder = tmp_path / "somewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return folder


# -- defaults and the example file ------------------------------------------------------------


def test_defaults_without_a_file(elsewhere: Path, tmp_path: Path) -> None:
    settings = load_settings(env={})
    assert settings.config_path is None
    assert settings.data_dir == tmp_path / "xdg" / "paperbot"
    assert settings.data_dir_source == "user data dir"
    assert settings.database_path == tmp_path / "xdg" / "paperbot" / "paperbot.db"
    assert str(settings.data_dir) in settings.data_dir_description
    assert "user data dir" in settings.data_dir_description
    assert settings.discord.approve_threshold == 2
    assert settings.model.selection == "rate"
    assert settings.model.flag_rate == 0.03
    assert settings.sections.catch_all == "Others"
    assert settings.publish.repo == "" and settings.publish_repo is None
    assert settings.publish.branch == "paperbot/additions"
    assert settings.logging.level == "INFO"
    assert settings.discord.section_channels == {}
    assert settings.discord_token is None and settings.token is None
    assert "paperbot/" in settings.user_agent and "mailto:" in settings.user_agent
    # Loading says where the data would go; it creates nothing, here or there.
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "xdg").exists()


def test_the_example_config_is_valid_and_complete() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.arxiv.feeds and settings.digest.timezone == "UTC"
    assert settings == load_settings(EXAMPLE, env={})
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    # Every key of the schema is documented in the example, and nothing else is there.
    assert {table: sorted(keys) for table, keys in example.items()} == {
        table: sorted(keys) for table, keys in documented_keys().items()
    }
    # The example shows the defaults.
    defaults = Settings()
    for table, keys in example.items():
        for key, value in keys.items():
            assert getattr(getattr(defaults, table), key) == value, f"[{table}] {key}"


def test_closed_choices_are_declared() -> None:
    assert closed_choices("digest", "when_empty") == ("note", "skip")
    assert closed_choices("model", "selection") == ("rate", "budget", "threshold")
    assert closed_choices("logging", "level") == ("DEBUG", "INFO", "WARNING", "ERROR")


def test_values_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[catalog]
data_dir = "state"
rules = "my-rules.toml"
awesome_readme = "list/README.md"
[discord]
guild_id = "123456789012345678"
approve_threshold = 3
open_threads = true
section_roles = { "Grokking" = "223456789012345678" }
[digest]
time = "07:30"
timezone = "Europe/Paris"
[publish]
repo = "clone"
remote = "origin"
push = true
[sections.descriptions]
"Grokking" = "Late generalisation."
""",
    )
    settings = load_settings(
        path, env={"DISCORD_TOKEN": TOKEN, "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10"}
    )
    assert settings.config_path == path.resolve()
    assert settings.database_path == tmp_path / "state" / "paperbot.db"
    assert settings.data_dir_source == "config"
    assert settings.rules_path == tmp_path / "my-rules.toml"
    assert settings.awesome_readme == tmp_path / "list" / "README.md"
    assert settings.publish_repo == tmp_path / "clone"
    assert settings.discord.guild_id == 123456789012345678
    assert settings.discord.section_roles == {"Grokking": 223456789012345678}
    assert settings.discord.approve_threshold == 3
    assert settings.discord.open_threads is True
    assert settings.sections.descriptions == {"Grokking": "Late generalisation."}
    assert settings.token == TOKEN
    assert settings.discord_api_base == "http://127.0.0.1:1/api/v10"


# -- every key of the example, with a bad value -------------------------------------------------

# One bad TOML value per key; a key added to the example without one fails the walk.
BAD_TOML: dict[tuple[str, str], str] = {
    ("arxiv", "feeds"): '["ftp://x"]',
    ("arxiv", "api_base"): '"ftp://x"',
    ("arxiv", "contact"): '"nobody"',
    ("arxiv", "poll_cron"): '"every day"',
    ("arxiv", "poll_on_start"): '"yes"',
    ("arxiv", "min_interval"): "0.5",
    ("arxiv", "timeout"): "0",
    ("arxiv", "retries"): "-1",
    ("arxiv", "max_bytes"): "0",
    ("arxiv", "deadline"): "0",
    ("catalog", "data_dir"): "5",
    ("catalog", "database"): "5",
    ("catalog", "rules"): "[]",
    ("catalog", "awesome_readme"): "true",
    ("catalog", "list_title"): '""',
    ("discord", "guild_id"): "1.5",
    ("discord", "review_channel_id"): "-1",
    ("discord", "admin_channel_id"): '"abc"',
    ("discord", "curator_role"): '""',
    ("discord", "approve_emoji"): '""',
    ("discord", "reject_emoji"): '"✅"',
    ("discord", "approve_threshold"): "0",
    ("discord", "reject_threshold"): "-2",
    ("discord", "max_posts_per_poll"): "0",
    ("discord", "open_threads"): '"yes"',
    ("discord", "expire_days"): "0",
    ("discord", "guild_ready_timeout"): "-1.0",
    ("discord", "section_roles"): '{ "Grokking" = "not an id" }',
    ("discord", "section_channels"): "3",
    ("digest", "time"): '"25:00"',
    ("digest", "timezone"): '"Mars/Olympus"',
    ("digest", "when_empty"): '"shout"',
    ("digest", "expiring_within_days"): "-1",
    ("health", "max_failures"): "0",
    ("health", "stale_announcement_days"): "-3",
    ("model", "enabled"): "1",
    ("model", "selection"): '"vibes"',
    ("model", "flag_rate"): "0.0",
    ("model", "threshold"): "7",
    ("model", "daily_budget"): "0",
    ("model", "retrain_every"): "0",
    ("model", "retrain_cron"): '"61 * * * *"',
    ("model", "background_sample"): "-1",
    ("sections", "catch_all"): '""',
    ("sections", "guide"): "[]",
    ("sections", "descriptions"): '{ "Grokking" = "" }',
    ("publish", "repo"): "3",
    ("publish", "readme"): '"../elsewhere.md"',
    ("publish", "branch"): '"two words"',
    ("publish", "author_name"): '""',
    ("publish", "author_email"): '"nobody"',
    ("publish", "remote"): "7",
    ("publish", "push"): "true",  # without a remote
    ("publish", "github_repo"): '"just-a-name"',
    ("publish", "base"): '"two words"',
    ("publish", "cron"): '"every evening"',
    ("publish", "sync_cron"): '"*/30 * * *"',
    ("logging", "level"): '"LOUD"',
}
# The same as environment strings; free-form text keys have no bad string.
BAD_ENV: dict[tuple[str, str], str] = {
    ("arxiv", "feeds"): "feeds/cs.LG.xml",
    ("arxiv", "api_base"): "ftp://x",
    ("arxiv", "contact"): "nobody",
    ("arxiv", "poll_cron"): "every day",
    ("arxiv", "poll_on_start"): "maybe",
    ("arxiv", "min_interval"): "0.5",
    ("arxiv", "timeout"): "soon",
    ("arxiv", "retries"): "-1",
    ("arxiv", "max_bytes"): "0",
    ("arxiv", "deadline"): "-5",
    ("catalog", "list_title"): " ",
    ("discord", "guild_id"): "1.5",
    ("discord", "review_channel_id"): "-1",
    ("discord", "admin_channel_id"): "abc",
    ("discord", "curator_role"): " ",
    ("discord", "approve_emoji"): " ",
    ("discord", "reject_emoji"): "✅",
    ("discord", "approve_threshold"): "0",
    ("discord", "reject_threshold"): "-2",
    ("discord", "max_posts_per_poll"): "1000",
    ("discord", "open_threads"): "2",
    ("discord", "expire_days"): "-3",
    ("discord", "guild_ready_timeout"): "-1",
    ("discord", "section_roles"): '{"Grokking": "x"}',
    ("discord", "section_channels"): "{not json",
    ("digest", "time"): "9 am",
    ("digest", "timezone"): "Mars/Olympus",
    ("digest", "when_empty"): "shout",
    ("digest", "expiring_within_days"): "-1",
    ("health", "max_failures"): "0",
    ("health", "stale_announcement_days"): "0",
    ("model", "enabled"): "perhaps",
    ("model", "selection"): "vibes",
    ("model", "flag_rate"): "0.9",
    ("model", "threshold"): "-3",
    ("model", "daily_budget"): "0",
    ("model", "retrain_every"): "0",
    ("model", "retrain_cron"): "61 * * * *",
    ("model", "background_sample"): "-1",
    ("sections", "catch_all"): "",
    ("sections", "descriptions"): '["not", "a", "table"]',
    ("publish", "readme"): "/etc/passwd",
    ("publish", "branch"): "a..b",
    ("publish", "author_name"): " ",
    ("publish", "author_email"): "nobody",
    ("publish", "push"): "true",
    ("publish", "github_repo"): "owner/name/extra",
    ("publish", "base"): "a..b",
    ("publish", "cron"): "61 * * * *",
    ("publish", "sync_cron"): "daily",
    ("logging", "level"): "loud",
}
FREE_TEXT = {
    ("catalog", "data_dir"),
    ("catalog", "database"),
    ("catalog", "rules"),
    ("catalog", "awesome_readme"),
    ("sections", "guide"),
    ("publish", "repo"),
    ("publish", "remote"),
}


def _example_keys() -> list[tuple[str, str]]:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    return [(table, key) for table, keys in example.items() for key in keys]


def test_every_key_has_a_bad_value_to_try() -> None:
    keys = set(_example_keys())
    assert set(BAD_TOML) == keys
    assert set(BAD_ENV) | FREE_TEXT == keys
    assert not set(BAD_ENV) & FREE_TEXT


@pytest.mark.parametrize(("table", "key"), _example_keys())
def test_a_bad_value_in_the_file_is_one_line_naming_file_table_and_key(
    tmp_path: Path, table: str, key: str
) -> None:
    path = write(tmp_path, f"[{table}]\n{key} = {BAD_TOML[(table, key)]}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: [{table}] {key}")
    assert "Input should" not in message and "pydantic" not in message


@pytest.mark.parametrize(("table", "key"), sorted(BAD_ENV))
def test_a_bad_environment_value_names_the_variable(elsewhere: Path, table: str, key: str) -> None:
    variable = env_variable(table, key)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={variable: BAD_ENV[(table, key)]})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(variable)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[arxiv\nfeeds=1", "not valid TOML"),
        ("[nope]\nx = 1", "unknown table [nope]"),
        ("[arxiv]\nfeedz = []", "unknown key 'feedz' in [arxiv]"),
        ("[arxiv]\nfeeds = []", "[arxiv] feeds: must list at least one feed URL"),
        ("[arxiv]\nfeeds = ['ftp://x']", "is not an http(s):// or file:// URL"),
        ("[arxiv]\nfeeds = ['feed.xml']", "is a path, not a URL: use file:///"),
        ("[arxiv]\nretries = -1", "[arxiv] retries: must be between 0 and 10, got -1"),
        ("[arxiv]\nmax_bytes = 0", "[arxiv] max_bytes: must be between"),
        ("[arxiv]\ntimeout = 'soon'", "[arxiv] timeout: expected a number, got 'soon'"),
        ("[arxiv]\ncontact = 'nobody'", "[arxiv] contact: must be an e-mail or URL"),
        ("[arxiv]\nmin_interval = 0.5", "[arxiv] min_interval: must be at least 3 s"),
        ("[discord]\nguild_id = 1.5", "[discord] guild_id: expected a whole number"),
        ("[discord]\nopen_threads = 'yes'", "expected true or false, got 'yes'"),
        ("[discord]\napprove_threshold = 0", "[discord] approve_threshold: must be between 1"),
        ("[discord]\nreject_emoji = '✅'", "[discord] reject_emoji: must differ"),
        ("[digest]\ntime = '25:00'", "[digest] time: must be HH:MM"),
        ("[digest]\ntimezone = 'Mars/Olympus'", "is not a known time zone"),
        ("[digest]\nwhen_empty = 'shout'", "[digest] when_empty: must be one of 'note' or 'skip'"),
        ("[model]\nselection = 'vibes'", "[model] selection: must be one of"),
        ("[model]\nthreshold = 7", "[model] threshold: must be between 0 and 1, got 7"),
        ("arxiv = 3", "must be a table"),
        ("[arxiv]\npoll_cron = 'every day'", "[arxiv] poll_cron: 'every day' is not a crontab"),
        ("[model]\nretrain_cron = '61 * * * *'", "[model] retrain_cron"),
        ("[publish]\npush = true", "[publish] push: needs [publish] remote"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_min_interval_below_arxivs_pace_is_fine_off_arxiv(tmp_path: Path) -> None:
    path = write(tmp_path, LOOPBACK_ONLY + "min_interval = 0.0\n")
    assert load_settings(path, env={}).arxiv.min_interval == 0.0
    # ...but not once the API, or any one feed, is on an arXiv host.
    path = write(tmp_path, '[arxiv]\nfeeds = ["file:///srv/feed.xml"]\nmin_interval = 1\n')
    with pytest.raises(ConfigError, match=r"export\.arxiv\.org"):
        load_settings(path, env={})
    path = write(
        tmp_path,
        LOOPBACK_ONLY.replace('"]', '", "http://export.arxiv.org/rss/cs.LG"]')
        + "min_interval = 2.9\n",
    )
    with pytest.raises(ConfigError, match=r"\[arxiv\] min_interval: .*got 2\.9"):
        load_settings(path, env={})


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", env={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(None, env={"PAPERBOT_CONFIG": str(tmp_path / "absent.toml")})


# -- the environment ----------------------------------------------------------------------------


def test_runs_from_environment_variables_alone(elsewhere: Path, tmp_path: Path) -> None:
    env = {
        "PAPERBOT_ARXIV__FEEDS": "https://rss.arxiv.org/rss/cs.LG, https://rss.arxiv.org/rss/stat.ML",
        "PAPERBOT_ARXIV__CONTACT": "mailto:ops@example.org",
        "PAPERBOT_ARXIV__POLL_ON_START": "no",
        "PAPERBOT_DISCORD__GUILD_ID": "123456789012345678",
        "PAPERBOT_DISCORD__REVIEW_CHANNEL_ID": "223456789012345678",
        "PAPERBOT_DISCORD__SECTION_ROLES": '{"Grokking": "323456789012345678"}',
        "PAPERBOT_DIGEST__TIMEZONE": "Europe/Paris",
        "PAPERBOT_MODEL__SELECTION": "budget",
        "PAPERBOT_MODEL__FLAG_RATE": "0.05",
        "PAPERBOT_LOGGING__LEVEL": "debug",
        "PAPERBOT_DATA_DIR": str(tmp_path / "state"),
        "DISCORD_TOKEN": TOKEN,
        "PAPERBOT_SHARED": "/not/a/setting",  # other PAPERBOT_ variables are not settings
    }
    settings = load_settings(env=env)
    assert settings.config_path is None
    assert settings.arxiv.feeds == [
        "https://rss.arxiv.org/rss/cs.LG",
        "https://rss.arxiv.org/rss/stat.ML",
    ]
    assert settings.arxiv.poll_on_start is False
    assert settings.discord.guild_id == 123456789012345678
    assert settings.discord.review_channel_id == 223456789012345678
    assert settings.discord.section_roles == {"Grokking": 323456789012345678}
    assert settings.digest.timezone == "Europe/Paris"
    assert settings.model.selection == "budget"
    assert settings.model.flag_rate == 0.05
    assert settings.logging.level == "DEBUG"
    assert settings.data_dir == tmp_path / "state"
    assert settings.data_dir_source == "environment"
    assert settings.token == TOKEN


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, LOOPBACK_ONLY + "retries = 2\n[discord]\nguild_id = 5\n")
    run_from = tmp_path / "cwd"
    run_from.mkdir()
    monkeypatch.chdir(run_from)
    settings = load_settings(
        path,
        env={
            "PAPERBOT_ARXIV__RETRIES": "7",
            "PAPERBOT_ARXIV__FEEDS": '["file:///a.xml", "file:///b.xml"]',
            "PAPERBOT_CATALOG__RULES": "rules.toml",
        },
    )
    assert settings.arxiv.retries == 7
    assert settings.arxiv.feeds == ["file:///a.xml", "file:///b.xml"]
    assert settings.arxiv.api_base == "http://127.0.0.1:9/api"  # the file's, untouched
    assert settings.discord.guild_id == 5
    # A relative path from the environment is relative to where paperbot runs.
    assert settings.rules_path == run_from / "rules.toml"


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("PAPERBOT_ARXIV__FEEDZ", "PAPERBOT_ARXIV__FEEDZ: unknown key 'feedz' in [arxiv]"),
        ("PAPERBOT_NOPE__X", "PAPERBOT_NOPE__X: no table [nope]"),
    ],
)
def test_unknown_environment_overrides_are_named(
    elsewhere: Path, variable: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={variable: "1"})
    assert str(caught.value).startswith(message)


def test_bad_environment_value_names_variable_and_key(elsewhere: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"PAPERBOT_ARXIV__RETRIES": "-1"})
    assert str(caught.value) == (
        "PAPERBOT_ARXIV__RETRIES ([arxiv] retries): must be between 0 and 10, got -1"
    )


def test_discord_endpoints_are_checked(elsewhere: Path) -> None:
    with pytest.raises(ConfigError, match="DISCORD_GATEWAY_URL: must be"):
        load_settings(env={"DISCORD_GATEWAY_URL": "gateway.local"})
    with pytest.raises(ConfigError, match="DISCORD_API_BASE: must be"):
        load_settings(env={"DISCORD_API_BASE": "ftp://x"})
    with pytest.raises(ConfigError, match="GITHUB_API_BASE: must be"):
        load_settings(env={"GITHUB_API_BASE": "api.github.local"})
    settings = load_settings(env={"GITHUB_API_BASE": "http://127.0.0.1:8/api/v3"})
    assert settings.github_api_base == "http://127.0.0.1:8/api/v3"


# -- the token is a secret ---------------------------------------------------------------------


def test_the_token_never_prints(elsewhere: Path) -> None:
    settings = load_settings(env={"DISCORD_TOKEN": TOKEN})
    assert settings.token == TOKEN
    for shown in (
        repr(settings),
        str(settings),
        str(settings.discord_token),
        repr(settings.discord_token),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
    ):
        assert TOKEN not in shown
    # A token set by a program is kept as a secret too.
    settings.discord_token = "another-" + TOKEN  # type: ignore[assignment]
    assert settings.token == "another-" + TOKEN
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("variable", ["DISCORD_TOKEN", "GITHUB_TOKEN"])
def test_a_bad_token_is_refused_without_showing_it(elsewhere: Path, variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={variable: TOKEN + "\n" + TOKEN})
    assert str(caught.value) == f"{variable}: contains spaces or line breaks (value not shown)"
    assert TOKEN not in str(caught.value)


def test_the_github_token_never_prints(elsewhere: Path) -> None:
    settings = load_settings(env={"GITHUB_TOKEN": TOKEN})
    assert settings.github_token is not None
    assert settings.github_token.get_secret_value() == TOKEN
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert TOKEN not in shown


def test_the_token_is_never_in_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[arxiv]\nretries = -1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={"DISCORD_TOKEN": TOKEN})
    assert TOKEN not in str(caught.value)


# -- feed URLs for the command line ------------------------------------------------------------


def test_check_feed_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_feed_url(" https://rss.arxiv.org/rss/cs.LG ") == "https://rss.arxiv.org/rss/cs.LG"
    assert check_feed_url("file:///srv/feed.xml") == "file:///srv/feed.xml"
    with pytest.raises(ConfigError) as caught:
        check_feed_url("feeds/cs.LG.xml", where="--feed")
    assert str(caught.value) == (
        f"--feed: 'feeds/cs.LG.xml' is a path, not a URL: use {(tmp_path / 'feeds/cs.LG.xml').as_uri()}"
    )
    with pytest.raises(ConfigError, match=r"ftp:// is not supported"):
        check_feed_url("ftp://export.arxiv.org/rss/cs.LG")
    with pytest.raises(ConfigError, match=r"use file:///abs/path"):
        check_feed_url("file://feed.xml")
    with pytest.raises(ConfigError, match="has no host"):
        check_feed_url("https:///rss")
    with pytest.raises(ConfigError, match="empty"):
        check_feed_url("  ")


# -- where the data goes -----------------------------------------------------------------------


def test_a_checkout_keeps_its_data_in_dot_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "paperbot"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.data_dir == tmp_path / "data"
    assert settings.data_dir_source == "checkout"
    assert is_checkout(ROOT)


def test_another_project_is_not_a_checkout(elsewhere: Path, tmp_path: Path) -> None:
    (elsewhere / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    settings = load_settings(env={})
    assert settings.data_dir_source == "user data dir"
    assert settings.data_dir == tmp_path / "xdg" / "paperbot"


def test_a_config_keeps_data_beside_it_unless_the_environment_says(tmp_path: Path) -> None:
    path = write(tmp_path, LOOPBACK_ONLY)
    settings = load_settings(path, env={})
    assert settings.data_dir == tmp_path / "data"
    assert settings.data_dir_source == "config"
    assert str(path) in settings.data_dir_description

    path = write(tmp_path, LOOPBACK_ONLY + '[catalog]\ndata_dir = "mine"\n')
    settings = load_settings(path, env={"PAPERBOT_DATA_DIR": str(tmp_path / "env")})
    assert settings.data_dir == tmp_path / "env"
    assert settings.data_dir_source == "environment"


def test_a_read_only_config_folder_sends_data_to_slash_data(tmp_path: Path) -> None:
    def unused() -> Path:
        raise AssertionError("no user data dir for a config file")

    choice = choose_data_dir(
        config_dir=Path("/config"),
        config_dir_writable=False,
        env_data_dir=None,
        cwd=tmp_path,
        user_data_dir=unused,
    )
    assert (choice.path, choice.source) == (Path("/data"), "container")
    choice = choose_data_dir(
        config_dir=Path("/config"),
        config_dir_writable=False,
        env_data_dir="/srv/paperbot",
        cwd=tmp_path,
        user_data_dir=unused,
    )
    assert (choice.path, choice.source) == (Path("/srv/paperbot"), "environment")
    # What paperbot writes goes under the data folder; what it only reads stays beside the config.
    settings = Settings(
        catalog=CatalogSettings(awesome_readme="README.md", rules="rules.toml", database="x.db"),
        base_dir=tmp_path / "config",
        config_dir_writable=False,
        default_data_dir=tmp_path / "data",
        data_dir_source="container",
    )
    assert settings.awesome_readme == tmp_path / "data" / "README.md"
    assert settings.database_path == tmp_path / "data" / "x.db"
    assert settings.rules_path == tmp_path / "config" / "rules.toml"
    assert "read-only" in settings.data_dir_description
