"""Which rules a community's ranking uses: its own file when it names one, else the bundled
file the imported list fits, chosen again when a re-import changes the list's shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import load_settings
from tests.bot.cli_helpers import Cli
from tests.lists import LIST_2022


@pytest.fixture
def list_2022(shared: Callable[[str], Path]) -> Path:
    return shared(LIST_2022)


def _rules_source(cli: Cli) -> str:
    async def read() -> str:
        async with await App.open(load_settings(cli.config, env={})) as app:
            return app.ranker.rules.source

    return asyncio.run(read())


def test_each_list_gets_the_bundled_rules_it_fits_and_a_reimport_switches(
    cli: Cli, seed_file: Path, list_2022: Path
) -> None:
    cli.configure()
    out = cli("import-awesome", str(seed_file))
    said = out.stdout + out.stderr
    assert (
        "rules: the bundled feeds/default_rules.toml (5 of its 5 sections are the list's)" in said
    )
    assert _rules_source(cli) == "feeds/default_rules.toml"

    # the list as it is today (it drops 15 of the seed's papers: confirmed)
    out = cli("import-awesome", str(list_2022), "--yes")
    said = out.stdout + out.stderr
    assert (
        "rules: the bundled feeds/phenomena_rules.toml (8 of its 9 sections are the list's)" in said
    )
    # the one category the list does not have yet only boosts relevance, and is said so
    assert "only boost relevance): Emergence and Phase Transitions" in said
    assert _rules_source(cli) == "feeds/phenomena_rules.toml"


def test_a_communitys_own_rules_file_is_kept_whatever_the_list(cli: Cli, list_2022: Path) -> None:
    own = cli.home / "our-rules.toml"
    own.write_text(
        '[sections."Neural Collapse"]\nphrases = ["neural collapse", "simplex ETF"]\n',
        encoding="utf-8",
    )
    cli.configure('[catalog]\nrules = "our-rules.toml"\n')
    out = cli("import-awesome", str(list_2022))
    assert "bundled" not in out.stdout + out.stderr
    assert _rules_source(cli) == str(own)
