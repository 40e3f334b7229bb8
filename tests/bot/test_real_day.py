"""A whole real day of every arXiv archive, as a new user meets it: import the list, dry-run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import feedparser

from bot.evaluate import near_deep_learning
from tests.bot.cli_helpers import FEED_2024, Cli
from tests.lists import SEED_LIST


def _categories(path: Path) -> tuple[dict[str, list[str]], int]:
    parsed = feedparser.parse(path.read_bytes())
    cats = {e.id.rsplit(":", 1)[-1].split("v")[0]: [t.term for t in e.tags] for e in parsed.entries}
    new = sum(1 for e in parsed.entries if not e.get("arxiv_announce_type", "").startswith("rep"))
    return cats, new


def test_a_day_of_every_archive_flags_three_percent_and_nothing_far(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    day = shared(FEED_2024)
    cli.configure(model=True)
    cli("import-awesome", str(shared(SEED_LIST)))
    out = cli("poll", "--once", "--dry-run", "--json", "--feed", day.as_uri())
    found = json.loads(out.stdout)["candidates"]
    cats, new = _categories(day)
    assert new == 935
    assert len(found) == round(0.03 * new)  # the day's best 3 %, not a share of the model's
    assert all(near_deep_learning(cats[c["arxiv_id"]]) for c in found)
    assert all(c["categories"] == cats[c["arxiv_id"]] for c in found)
    # every candidate names a runner-up section and says where it ranked in its day
    assert all(c["runner_up"] and c["runner_up"] != c["section"] for c in found)
    assert (
        found[0]["reasons"][0].startswith("#")
        and "of the 935 new that day" in found[0]["reasons"][0]
    )


def test_a_poll_teaches_the_model_the_day_at_once(cli: Cli, shared: Callable[[str], Path]) -> None:
    """A real poll retrains on the day's unflagged announcements; the next dry run ranks
    against them (it used to rank exactly as before until the nightly retrain)."""
    day = shared(FEED_2024)
    cli.configure(f'feeds = ["{day.as_uri()}"]\n', model=True)
    cli("import-awesome", str(shared(SEED_LIST)))
    before = json.loads(cli("model", "--json").stdout)
    polled = cli("poll", "--once")
    assert "retraining the model with the new announcements as background" in polled.stderr
    after = json.loads(cli("model", "--json").stdout)
    assert after["version"] == before["version"] + 1
    assert after["background"] == before["background"]  # the same size, the day's own now
    again = cli("poll", "--once")  # nothing new: no second retrain
    assert "retraining" not in again.stderr
    assert json.loads(cli("model", "--json").stdout)["version"] == after["version"]
