"""Section descriptions from the list's own guide (`[sections] guide`, `evaluate --guide`):
read once, named forgivingly, overridden by `[sections.descriptions]`, and refused in one
line when the file is missing or describes nothing."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path

import pytest

import bot.evaluate as evaluate
from bot.app import App
from bot.settings import load_settings
from tests.bot.cli_helpers import Cli
from tests.lists import LIST_2022

# Written as a list's contributing guide writes its categories (AGENTS.md's form), with
# the names spelt loosely and one section the list does not have.
GUIDE = """# How to add a paper

- `README.md`: the list itself (a file, not a section).

Allowed paper categories:

- `deep learning theory`: generalization bounds, optimization landscapes, expressivity.
- `Empirical  Study`: broad empirical analyses of how networks behave when trained.
- **Interpretability**: what a trained network represents, and how to read it.
- `Grokking`: generalization long after the training set is fit.

Other text, not a description: - `nope` this line has no colon after the name
"""


def _guide(cli: Cli, text: str = GUIDE) -> Path:
    path = cli.home / "AGENTS.md"
    path.write_text(text, encoding="utf-8")
    return path


def _ranker_descriptions(cli: Cli) -> dict[str, frozenset[str]]:
    async def read() -> dict[str, frozenset[str]]:
        app = await App.open(load_settings(cli.config, env={}))
        async with app:
            return {s: frozenset(words) for s, words in app.ranker.descriptions.items()}

    return asyncio.run(read())


def test_the_guide_describes_the_lists_sections_and_the_config_wins(
    cli: Cli, seed_file: Path
) -> None:
    _guide(cli)
    cli.configure(
        '[sections]\nguide = "AGENTS.md"\n'
        '[sections.descriptions]\n"Interpretability" = "Saliency maps and probing classifiers."\n'
    )
    cli("import-awesome", str(seed_file))
    found = _ranker_descriptions(cli)
    # the seed's own names; Grokking is not one of its sections
    assert set(found) == {"Deep Learning Theory", "Empirical Study", "Interpretability"}
    assert "expressivity" in found["Deep Learning Theory"]
    assert "saliency" in found["Interpretability"]  # the config's text, not the guide's
    assert "represents" not in found["Interpretability"]


def test_a_guide_is_relative_to_the_config_file(cli: Cli, seed_file: Path, tmp_path: Path) -> None:
    _guide(cli)
    cli.configure('[sections]\nguide = "AGENTS.md"\n')
    cli("import-awesome", str(seed_file))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.MonkeyPatch.context() as m:
        m.chdir(elsewhere)
        assert "Empirical Study" in _ranker_descriptions(cli)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "AGENTS.md: cannot read: No such file or directory"),
        ("# A guide\n\nNo categories here.\n", "[sections] guide has no section descriptions"),
        (b"\xff\xfe", "AGENTS.md: not UTF-8 text"),
    ],
)
def test_a_guide_that_cannot_be_used_is_one_line(
    cli: Cli, seed_file: Path, text: str | bytes | None, message: str
) -> None:
    path = cli.home / "AGENTS.md"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text, encoding="utf-8")
    cli.configure('[sections]\nguide = "AGENTS.md"\n')
    for command in (["import-awesome", str(seed_file)], ["search", "lottery"]):
        result = cli(*command, check=False)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert "Traceback" not in result.stderr
    doctor = cli("doctor", check=False)
    assert doctor.returncode != 0 and message in doctor.stdout + doctor.stderr


def test_doctor_says_what_the_guide_describes(cli: Cli) -> None:
    _guide(cli)
    cli.configure('[sections]\nguide = "AGENTS.md"\n')
    out = cli("doctor").stdout
    assert "AGENTS.md: describes 4 section(s)" in out


def test_evaluate_ranks_with_the_guide_it_is_given(
    cli: Cli, seed_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real replay, on smaller backgrounds than the command's own (seconds, not a minute).
    monkeypatch.setattr(
        evaluate,
        "run_evaluation",
        functools.partial(evaluate.run_evaluation, train_background=300, test_background=300),
    )
    guide = _guide(cli)
    cli.configure()
    out = cli("evaluate", str(seed_file), "--guide", str(guide.relative_to(cli.home))).stdout
    assert "section descriptions used: 3 of 5 sections" in out
    assert "section accuracy" in out
    # without one (and none configured), none is used
    out = cli("evaluate", str(seed_file)).stdout
    assert "section descriptions used" not in out


@pytest.mark.parametrize(
    ("year", "message"),
    [
        ("2016", "test year 2016: the list's entries are from 2016 to 2022, and some must come"),
        ("2030", "test year 2030: the list's entries are from 2016 to 2022"),
    ],
)
def test_a_test_year_the_list_cannot_split_at_is_one_line(
    cli: Cli, shared: Callable[[str], Path], year: str, message: str
) -> None:
    readme = shared(LIST_2022)
    cli.configure()
    result = cli("evaluate", str(readme), "--test-year", year, check=False)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"paperbot: error: {message}"), line


def test_a_test_year_on_a_list_replayed_leave_one_out_is_one_line(
    cli: Cli, seed_file: Path
) -> None:
    cli.configure()
    result = cli("evaluate", str(seed_file), "--test-year", "2020", check=False)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "replayed leave-one-out" in line
