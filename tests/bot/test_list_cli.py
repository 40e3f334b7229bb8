"""The list as it is today, through the command line: its own sections, entries written as the
maintainer writes them, the round trip the README promises, and publishing as commits."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from db.awesome import parse_awesome
from tests.bot.cli_helpers import Cli
from tests.bot.discord.helpers import Item, write_feed
from tests.lists import LIST_2022, SECTIONS_2022

Shared = Callable[[str], Path]


@pytest.fixture
def list_2022(shared: Shared, tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_bytes(shared(LIST_2022).read_bytes())
    return path


@pytest.mark.parametrize("which", ["seed", "2022"])
def test_import_then_export_with_no_argument_gives_the_list_back_byte_for_byte(
    cli: Cli, which: str, seed_file: Path, list_2022: Path
) -> None:
    readme = seed_file if which == "seed" else list_2022
    cli("import-awesome", str(readme))
    out = cli("export-awesome")
    assert out.stdout == readme.read_bytes().decode("utf-8")


def _candidates(cli: Cli, tmp_path: Path, n: int) -> list[str]:
    """n on-topic papers from a feed, as open candidates (rules alone, no model)."""
    items = [
        Item(f"2411.{93000 + i}", f"Grokking and double descent in neural networks, part {i}",
             f"We show that grokking and double descent share one cause, number {i}. "
             "We find that the neural tangent kernel predicts the transition. "
             "Our experiments on vision transformers confirm it.")
        for i in range(n)
    ]  # fmt: skip
    url = write_feed(tmp_path / "feed.xml", items)
    cli.configure(f'feeds = ["{url}"]\n[model]\nenabled = false\n')
    cli("poll", "--once")
    return [i.arxiv_id for i in items]


def test_approve_into_each_section_of_the_2022_list_writes_the_maintainers_entry(
    cli: Cli, list_2022: Path, tmp_path: Path
) -> None:
    cli("import-awesome", str(list_2022))
    ids = _candidates(cli, tmp_path, len(SECTIONS_2022))
    for arxiv_id, section in zip(ids, SECTIONS_2022, strict=True):
        # Sections are the list's, matched forgivingly (case, spacing).
        typed = "  " + section.upper().replace(" ", "  ") + " "
        out = cli("approve", arxiv_id, "--section", typed).stdout
        # (the API is a closed port here: the entry is written from the announced metadata)
        assert out.split(";")[0].strip() == f"{arxiv_id}: approved into {section}"
        assert "arXiv not re-checked" in out
    exported = cli("export-awesome").stdout
    original = list_2022.read_text(encoding="utf-8")
    doc = parse_awesome(exported)
    # Nothing the maintainer wrote changed: the export is the list plus the new entries.
    new_lines = set(exported.splitlines()) - set(original.splitlines())
    assert all("2411.93" in line or not line.startswith("- ") for line in new_lines)
    for arxiv_id, section in zip(ids, SECTIONS_2022, strict=True):
        entry = next(e for e in doc.entries if e.arxiv_id == arxiv_id)
        assert entry.section == section
        assert entry.year == 2024
        assert 1 <= len(entry.keywords) <= 6, entry.raw  # this list writes Key Word on every entry
        assert entry.digest and 2 <= len(re.findall(r"[.!?](?:\s|$)", entry.digest)) <= 4
        assert "<details><summary>Digest</summary>" in entry.raw and "</details>" in entry.raw
    assert len(doc.entries) == len(parse_awesome(original).entries) + len(ids)


def test_an_unknown_section_names_the_lists_own(cli: Cli, list_2022: Path, tmp_path: Path) -> None:
    cli("import-awesome", str(list_2022))
    (arxiv_id,) = _candidates(cli, tmp_path, 1)
    proc = cli("approve", arxiv_id, "--section", "Understanding Robustness", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("paperbot: error: unknown section 'Understanding Robustness'")
    assert "Interactions with Neuroscience" in proc.stderr and "Others" in proc.stderr


def test_a_section_added_to_the_readme_is_usable_after_reimport(
    cli: Cli, list_2022: Path, tmp_path: Path
) -> None:
    cli("import-awesome", str(list_2022))
    (arxiv_id,) = _candidates(cli, tmp_path, 1)
    assert cli("approve", arxiv_id, "--section", "Grokking", check=False).returncode == 2
    text = list_2022.read_text(encoding="utf-8")
    ninth = (
        "## Grokking\n\n### Grokking: 2022\n\n"
        "- A Made-Up Study of Grokking in Tiny Transformers."
        " [[paper]](https://arxiv.org/abs/2205.99999)\n"
        "  - Ada Lovelace, Alan Turing.\n"
        "  - Key Word: Grokking; Representation Learning.\n"
        "  - <details><summary>Digest</summary> We aim to understand grokking. </details>\n\n"
    )
    list_2022.write_text(text.replace("## Others", ninth + "## Others", 1), encoding="utf-8")
    out = cli("import-awesome", str(list_2022)).stdout
    assert "1 added" in out
    assert (
        cli("approve", arxiv_id, "--section", "grokking")
        .stdout.split(";")[0]
        .endswith("into Grokking")
    )
    doc = parse_awesome(cli("export-awesome").stdout)
    assert next(e for e in doc.entries if e.arxiv_id == arxiv_id).section == "Grokking"


def test_reimport_reflects_what_the_maintainer_removed_and_keeps_approved_papers(
    cli: Cli, list_2022: Path, tmp_path: Path
) -> None:
    cli("import-awesome", str(list_2022))
    ids = _candidates(cli, tmp_path, 2)
    for arxiv_id in ids:
        cli("approve", arxiv_id, "--section", "Others")
    # The maintainer merged the first paper and, by hand, removed an old entry.
    merged = cli("export-awesome").stdout
    doc = parse_awesome(merged)
    second = next(e for e in doc.entries if e.arxiv_id == ids[1])
    lines = merged.splitlines(keepends=True)
    del lines[second.line - 1 : second.end_line]
    victim = next(e for e in doc.entries if e.arxiv_id == "2212.12206")
    lines = [line for n, line in enumerate(lines, 1) if not victim.line <= n <= victim.end_line]
    list_2022.write_text("".join(lines), encoding="utf-8")
    out = cli("import-awesome", str(list_2022)).stdout
    assert "1 removed" in out
    assert cli("show", "2212.12206", check=False).returncode == 2  # gone from the catalog
    # The approved paper the README does not have yet is kept, and inserted again.
    again = parse_awesome(cli("export-awesome").stdout)
    assert {e.arxiv_id for e in again.entries} >= set(ids)


def test_approval_rechecks_arxiv_for_venue_and_code_link(
    cli: Cli, list_2022: Path, api_lg: str
) -> None:
    cli.configure("[model]\nenabled = false\n", api_base=api_lg)
    cli("import-awesome", str(list_2022))
    for arxiv_id in ("2604.26922", "2604.26951"):
        assert "added as a candidate" in cli("add", arxiv_id).stdout
        cli("approve", arxiv_id, "--section", "Others")
    doc = parse_awesome(cli("export-awesome").stdout)
    stoc = next(e for e in doc.entries if e.arxiv_id == "2604.26922")
    assert stoc.venue is not None and "STOC 2026" in stoc.venue
    assert stoc.code_url is None  # no repository is named: none is guessed
    tide = next(e for e in doc.entries if e.arxiv_id == "2604.26951")
    assert tide.code_url == "https://github.com/PKU-YuanGroup/TIDE"
    assert tide.venue is None  # "15 pages, 3 figures" names no venue
    shown = json.loads(cli("show", "2604.26951", "--json").stdout)
    assert shown["keywords"] and shown["digest"]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def test_publish_makes_one_commit_per_approved_paper_and_reruns_commit_nothing(
    cli: Cli, list_2022: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "list.git"
    _git(tmp_path, "init", "--bare", "-b", "main", str(bare))
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", str(bare), str(clone))
    (clone / "README.md").write_bytes(list_2022.read_bytes())
    _git(clone, "add", "README.md")
    _git(clone, "-c", "user.name=m", "-c", "user.email=m@x", "commit", "-qm", "the list")
    _git(clone, "push", "-q", "origin", "main")
    cli("import-awesome", str(clone / "README.md"))
    ids = _candidates(cli, tmp_path, 2)
    publish = f'[publish]\nrepo = "{clone}"\nremote = "origin"\n'
    cli.config.write_text(cli.config.read_text(encoding="utf-8") + publish, encoding="utf-8")
    for arxiv_id in ids:
        cli("approve", arxiv_id, "--section", "Deep Double Descent")
    out = cli("publish", "--push").stdout
    assert "2 paper(s) committed on paperbot/additions" in out and "pushed to origin" in out
    log = _git(bare, "log", "--format=%s", "paperbot/additions")
    assert log.splitlines()[:2] == [
        f"Add Grokking and double descent in neural networks, part 1 ({ids[1]}) to Deep Double Descent",
        f"Add Grokking and double descent in neural networks, part 0 ({ids[0]}) to Deep Double Descent",
    ]
    again = cli("publish").stdout
    assert "0 paper(s) committed" in again and "2 already in the README" in again
    (clone / "notes.txt").write_text("wip\n", encoding="utf-8")
    dirty = cli("publish", check=False)
    assert dirty.returncode == 2 and len(dirty.stderr.strip().splitlines()) == 1


def test_the_terminal_gets_names_and_times_not_python_reprs(
    cli: Cli, list_2022: Path, tmp_path: Path
) -> None:
    cli("import-awesome", str(list_2022))
    shown = cli("show", "1912.02292").stdout
    assert "authors: Preetum Nakkiran, Gal Kaplun, Yamini Bansal" in shown
    assert "['" not in shown and "+00:00" not in shown
    assert re.search(r"added_at: \d{4}-\d\d-\d\d \d\d:\d\d UTC\n", shown)
    ids = _candidates(cli, tmp_path, 7)
    table = cli("candidates", "--limit", "3").stdout.splitlines()
    assert table[0].split() == ["status", "score", "arXiv", "id", "section", "title"]
    rows = table[1:4]
    scores = [float(row.split()[1]) for row in rows]
    assert scores == sorted(scores, reverse=True) and len(rows) == 3
    assert table[4] == "… and 4 more (--limit, or --json for all)"
    assert {row.split()[2] for row in rows} <= set(ids)
    assert len(json.loads(cli("candidates", "--json").stdout)) == 7
    feeds = cli("feeds").stdout
    assert re.search(r"last success \d{4}-\d\d-\d\d \d\d:\d\d UTC;", feeds), feeds


def test_a_poll_counts_skipped_items_apart_from_what_it_says_about_the_feed(
    cli: Cli, tmp_path: Path
) -> None:
    from tests.bot.discord.helpers import STRONG, rss_feed

    data = rss_feed([STRONG, Item("notanid", "A title", "An abstract")])
    feed = tmp_path / "odd.xml"
    feed.write_bytes(data.replace(b"</channel>", b"<bogus>&undefined;</bogus></channel>"))
    cli.configure(f'feeds = ["{feed.as_uri()}"]\n[model]\nenabled = false\n')
    line = cli("poll", "--once", "--dry-run").stdout.splitlines()[0]
    assert ", 1 item(s) skipped; the feed itself: malformed XML" in line, line
