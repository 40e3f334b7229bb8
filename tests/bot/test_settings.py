"""The config file: defaults, every kind of mistake named, secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paperbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.config_path is None
    assert settings.database_path == tmp_path / "data" / "paperbot.db"
    assert settings.discord.approve_threshold == 2
    assert settings.discord_token is None
    assert "paperbot/" in settings.user_agent and "mailto:" in settings.user_agent


def test_the_example_config_is_valid_and_complete() -> None:
    example = Path(__file__).resolve().parents[2] / "paperbot.example.toml"
    settings = load_settings(example, env={})
    assert settings.arxiv.feeds and settings.digest.timezone == "UTC"


def test_values_and_relative_paths(tmp_path: Path) -> None:
    path = write(tmp_path, """
[catalog]
data_dir = "state"
rules = "my-rules.toml"
[discord]
guild_id = "123456789012345678"
approve_threshold = 3
open_threads = true
[digest]
time = "07:30"
timezone = "Europe/Paris"
""")
    settings = load_settings(path, env={"DISCORD_TOKEN": "secret", "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10"})
    assert settings.database_path == tmp_path / "state" / "paperbot.db"
    assert settings.rules_path == tmp_path / "my-rules.toml"
    assert settings.discord.guild_id == 123456789012345678
    assert settings.discord.approve_threshold == 3
    assert settings.discord.open_threads is True
    assert settings.discord_token == "secret"
    assert "secret" not in repr(settings)
    assert settings.discord_api_base == "http://127.0.0.1:1/api/v10"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[arxiv\nfeeds=1", "not valid TOML"),
        ("[nope]\nx = 1", "unknown table [nope]"),
        ("[arxiv]\nfeedz = []", "unknown key 'feedz' in [arxiv]"),
        ("[arxiv]\nfeeds = []", "at least one feed"),
        ("[arxiv]\nfeeds = ['ftp://x']", "is not an http(s):// or file:// URL"),
        ("[arxiv]\ntimeout = 'soon'", "[arxiv] timeout: expected a number"),
        ("[arxiv]\ncontact = 'nobody'", "contact must be an e-mail or URL"),
        ("[discord]\nguild_id = 1.5", "[discord] guild_id: expected a whole number"),
        ("[discord]\nopen_threads = 'yes'", "expected true or false"),
        ("[discord]\napprove_threshold = 0", "thresholds must be at least 1"),
        ("[discord]\nreject_emoji = '✅'", "must differ"),
        ("[digest]\ntime = '25:00'", "[digest] time must be HH:MM"),
        ("[digest]\ntimezone = 'Mars/Olympus'", "is not a known time zone"),
        ("[digest]\nwhen_empty = 'shout'", "when_empty"),
        ("[model]\nselection = 'vibes'", "selection"),
        ("arxiv = 3", "must be a table"),
        ("[arxiv]\npoll_cron = 'every day'", "[arxiv] poll_cron 'every day' is not a crontab"),
        ("[model]\nretrain_cron = '61 * * * *'", "[model] retrain_cron"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert message in str(info.value)
    assert str(path) in str(info.value) or "not valid TOML" not in message


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", env={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(None, env={"PAPERBOT_CONFIG": str(tmp_path / "absent.toml")})
