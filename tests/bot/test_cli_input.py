"""Odd command-line and environment input: one line naming the mistake, exit 2, nothing done."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import catalog_key
from bot.settings import ConfigError, load_settings
from feeds.errors import IdentifierError
from tests.bot.cli_helpers import Cli
from tests.lists import LIST_2022, SEED_LIST


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("poll", "--once", "--dry-run", "--limit", "-5"),
            "--limit: -5 is out of range: give 1 or more",
        ),
        (("poll", "--once", "--dry-run", "--limit", "0"), "--limit: 0 is out of range"),
        (("search", "double", "--limit", "0"), "--limit: 0 is out of range: give from 1 to 100"),
        (("search", "double", "--limit", "101"), "--limit: 101 is out of range"),
        (("search", "double", "--page", "0"), "--page: 0 is out of range: give 1 or more"),
        (("search", "double", "--limit", "ten"), "--limit: 'ten' is not a whole number"),
        (("search", "double", "--year", "2020-2010"), "'2020-2010' runs backwards"),
        (("search", "double", "--year", "20"), "a year is four digits"),
        (("search", ""), "has no word to look for"),
        (("search", "%"), "'%' has no word to look for"),
        (("search", "  * "), "has no word to look for"),
        (("show", ""), "give an arXiv id, a URL or a catalog key"),
        (("show", "notanid"), "'notanid': not an arXiv id (2401.01234), a URL or a catalog key"),
        (("approve", "notanid"), "not an arXiv id"),
    ],
)
def test_odd_arguments_are_one_line_and_exit_2(
    cli: Cli, shared: Callable[[str], Path], args: tuple[str, ...], said: str
) -> None:
    cli.configure()
    cli("import-awesome", str(shared(SEED_LIST)))
    result = cli(*args, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], result.stderr
    assert result.stdout == ""


def test_what_the_checks_let_through(cli: Cli, shared: Callable[[str], Path]) -> None:
    cli.configure()
    cli("import-awesome", str(shared(SEED_LIST)))
    assert "Double Descent" in cli("search", "double", "--year", "2019-").stdout
    assert "Double Descent" in cli("search", "double", "--year", "-2020", "--limit", "100").stdout
    # no words, but a filter: the papers of a section
    listed = cli("search", "", "--section", "empirical study").stdout
    assert listed.strip() and "error" not in listed
    # a catalog key that is no arXiv id (an OpenReview entry of the seed)
    assert "openreview" in cli("show", "openreview:ry_WPG-A-").stdout


def test_catalog_keys_a_person_types() -> None:
    assert catalog_key(" https://arxiv.org/abs/1912.02292v2 ") == "1912.02292"
    assert catalog_key("openreview:H1gBsgBYwH") == "openreview:H1gBsgBYwH"
    assert catalog_key("https://openreview.net/forum?id=ry_WPG-A-").startswith("openreview:")
    for text in ("", "   ", "notanid", "2401.1", "open review:x"):
        with pytest.raises(IdentifierError):
            catalog_key(text)


@pytest.mark.parametrize(
    ("variable", "said"),
    [
        ("PAPERBOT_ARXIV_RETRIES", "not a paperbot variable"),  # one underscore
        ("PAPERBOT_RETRIES", "not a paperbot variable"),
        ("paperbot_arxiv__retries", "paperbot's variables are upper case"),
        ("Paperbot_Arxiv__Retries", "paperbot's variables are upper case"),
    ],
)
def test_a_misspelt_variable_is_an_error_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={variable: "1"})
    message = str(caught.value)
    assert message.startswith(variable) and said in message and "\n" not in message


def test_the_variables_paperbot_reads_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        env={
            "PAPERBOT_ARXIV__RETRIES": "1",
            "PAPERBOT_arxiv__timeout": "7",  # the table and key in any case
            "PAPERBOT_DATA_DIR": str(tmp_path / "d"),
            "PAPERBOT_SHARED": "/somewhere",
            "PAPERBOTS": "not ours",  # another program's prefix
        }
    )
    assert settings.arxiv.retries == 1 and settings.arxiv.timeout == 7


def test_a_failed_first_training_does_not_claim_a_previous_model(cli: Cli) -> None:
    tiny = cli.home / "tiny.md"
    tiny.write_text(
        "# Tiny\n\n## Theory\n\n- Deep Double Descent. [[paper]](https://arxiv.org/abs/1912.02292)\n",
        encoding="utf-8",
    )
    cli.configure(model=True)
    out = cli("import-awesome", str(tiny))
    assert "the rules alone rank candidates until a model trains" in out.stderr
    assert "keeping the previous model" not in out.stderr


def test_import_says_what_it_is_doing_and_refuses_a_file_too_big_to_be_a_list(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    cli.configure(model=True)
    out = cli("import-awesome", str(shared(SEED_LIST)))
    said = out.stderr.splitlines()
    assert said[0] == "34 entries in 5 sections; catalog updated"
    assert "the list changed: training the relevance model on it" in said
    assert any(line.startswith("model v1 trained on ") for line in said)
    again = cli("import-awesome", str(shared(SEED_LIST)))  # unchanged: nothing to train
    assert "training" not in again.stderr
    huge = cli.home / "huge.md"
    with huge.open("wb") as f:
        f.truncate(40_000_000)
    refused = cli("import-awesome", str(huge), check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"paperbot: error: {huge}: 40 MB is no awesome-list README (at most 32 MB is read)"
    )


def test_every_command_and_option_says_what_it_is_for() -> None:
    import argparse

    from bot.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, parser in sub.choices.items():
        assert parser.description, name
        for action in parser._actions:
            assert action.help, (name, action.option_strings or action.dest)


def test_an_unknown_option_points_to_its_commands_help(cli: Cli) -> None:
    cli.configure()
    result = cli("model", "--bogus", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "paperbot model: error: unrecognized arguments: --bogus (see paperbot model --help)"
    )


def test_a_paper_listed_twice_is_named_and_an_unchanged_list_changes_nothing(cli: Cli) -> None:
    listed = cli.home / "list.md"
    listed.write_text(
        "# A list\n\n## Theory\n\n"
        "- Deep Double Descent. [[paper]](https://arxiv.org/abs/1912.02292)\n"
        "- Neural Collapse. [[paper]](https://arxiv.org/abs/2008.08186)\n\n"
        "## Others\n\n"
        "- Deep Double Descent. [[paper]](https://arxiv.org/abs/1912.02292)\n",
        encoding="utf-8",
    )
    cli.configure()
    first = cli("import-awesome", str(listed))
    note = (
        "note: listed 2 times: Deep Double Descent (1912.02292), in Theory, Others; the"
        " catalog keeps the first, in Theory"
    )
    assert note in first.stderr.splitlines()
    assert "2 added, 0 updated" in first.stdout
    again = cli("import-awesome", str(listed))
    assert "0 added, 0 updated, 2 unchanged, 0 removed" in again.stdout
    shown = json.loads(cli("show", "1912.02292", "--json").stdout)
    assert shown["section"] == "Theory"


def test_an_import_that_would_empty_the_catalog_asks_first(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    """Importing another list used to remove the seed's papers without a word."""
    cli.configure()
    cli("import-awesome", str(shared(SEED_LIST)))
    other = str(shared(LIST_2022))
    refused = cli("import-awesome", other, check=False)
    assert refused.returncode == 2 and refused.stdout == ""
    line = refused.stderr.strip()
    assert "importing it would remove 15 papers from the catalog" in line and "\n" not in line
    assert "--dry-run" in line and "--yes" in line
    assert json.loads(cli("show", "1905.13655", "--json").stdout)["kind"] == "paper"  # kept
    dry = cli("import-awesome", other, "--dry-run")
    assert "(dry run, nothing changed)" in dry.stdout and "remove 15" in dry.stdout
    assert dry.stdout.count("  - remove ") == 15
    assert "(1905.13655)" in dry.stdout
    assert json.loads(cli("show", "1905.13655", "--json").stdout)["kind"] == "paper"
    done = cli("import-awesome", other, "--yes")
    assert "15 removed" in done.stdout
    assert cli("show", "1905.13655", check=False).returncode == 2  # gone now


def test_an_approval_that_could_not_re_check_arxiv_says_so(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    url = shared("data/arxiv-rss/rss-all-archives-2024-11-28.xml").as_uri()
    cli.configure(f'feeds = ["{url}"]\n')  # the API at a closed port: arXiv unreachable
    cli("import-awesome", str(shared(SEED_LIST)))
    cli("poll", "--once")
    (first, *_) = json.loads(cli("candidates", "--json").stdout)
    said = cli("approve", first["arxiv_id"]).stdout.strip()
    assert said.startswith(f"{first['arxiv_id']}: approved into ")
    assert "; arXiv not re-checked (" in said and "written from the announced metadata" in said
    quiet = cli("approve", first["arxiv_id"]).stdout  # already approved: nothing re-checked
    assert "re-checked" not in quiet


def test_a_configured_catalog_that_does_not_exist_is_created_with_a_line_saying_so(
    cli: Cli, tmp_path: Path
) -> None:
    where = tmp_path / "not" / "there" / "x.db"
    cli.configure(f'[catalog]\ndatabase = "{where}"\n')
    result = cli("candidates")
    assert result.stderr.splitlines() == [
        f"paperbot: {where} does not exist yet ([catalog] database): creating a new, empty"
        " catalog there"
    ]
    assert where.exists()
    assert cli("candidates").stderr == ""  # said once: it exists now
