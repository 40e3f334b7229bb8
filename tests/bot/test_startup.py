"""What a command loads when it starts: the everyday commands answer at once because they
never load the ranking's libraries, the catalog's migration library or the HTTP client.

Not a timing (those are in benchmarks/bench_cli.py): the modules each command has loaded
when it is done, in a process of its own, with a trained model and a section guide
configured, so that nothing heavy is left out merely because nothing asked for it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bot.cli_helpers import Cli, clean_env

# Run `paperbot ARGS…` as `python -m bot` does, then say which libraries it loaded.
PROBE = """
import runpy, sys
sys.argv = ["paperbot", *sys.argv[1:]]
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print("LOADED", *sorted({name.split(".")[0] for name in sys.modules}), file=sys.stderr)
"""
# The ranking's libraries, the catalog's migration library (and the numpy it loads), the
# HTTP client, the feed parser, Discord and the scheduler.
HEAVY = {"numpy", "scipy", "sklearn", "sqlite_utils", "aiohttp", "feedparser", "discord"}


def _loaded(cli: Cli, *args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *cli.argv(args)],
        cwd=cli.home, env=clean_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, proc.stderr
    return set(lines[-1].split()[1:])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, shared: Callable[[str], Path]) -> Cli:
    """The 2020 list imported with the model on (trained), its guide configured, one
    candidate polled."""
    home = tmp_path_factory.mktemp("startup")
    cli = Cli(home)
    guide = shared("data/awesome/AGENTS-2026.md")
    cli.configure(f'[sections]\nguide = "{guide}"\n', model=True)
    seed = shared("seeds/000_94920e77fcbe4d6f.txt")
    cli.subprocess("import-awesome", str(seed))
    assert "model v1" in cli.subprocess("doctor").stdout
    return cli


@pytest.mark.parametrize(
    "args",
    [
        ("search", "double descent"),
        ("search", "double descent", "--year", "2019-2020"),
        ("show", "1912.02292"),
        ("candidates",),
        ("feeds",),
        ("doctor", "--quiet", "--service"),
    ],
    ids=lambda args: " ".join(args),
)
def test_the_everyday_commands_load_no_heavy_library(trained: Cli, args: tuple[str, ...]) -> None:
    loaded = _loaded(trained, *args)
    assert "bot" in loaded and "sqlite3" in loaded  # it did run, and read the catalog
    assert loaded & HEAVY == set()


def test_help_and_usage_mistakes_load_neither_the_settings_nor_the_catalog(trained: Cli) -> None:
    for args in (("--help",), ("search", "--help"), ("search",), ("model", "--bogus")):
        loaded = _loaded(trained, *args)
        assert "bot" in loaded
        assert loaded & (HEAVY | {"pydantic", "sqlite3"}) == set(), args


def test_the_commands_that_rank_do_load_the_model(trained: Cli) -> None:
    """The probe sees a heavy library when a command does need it (it can fail)."""
    loaded = _loaded(trained, "model")
    assert {"numpy", "scipy"} <= loaded


def test_the_health_check_asks_no_remote_and_no_model(cli: Cli, seed_file: Path) -> None:
    """Each minute, the health check used to load the model and ask the list's host and
    remote; it now reads the catalog alone. A person's doctor still asks them all."""
    cli.configure(
        f'[publish]\nrepo = "{cli.home / "nowhere"}"\nremote = "origin"\ngithub_repo = "o/r"\n'
    )
    cli("import-awesome", str(seed_file))
    person = cli("doctor", check=False)
    assert person.returncode == 1
    assert "PROBLEM repository" in person.stdout and "PROBLEM pull request" in person.stdout
    assert "ok      model: the model is off" in person.stdout
    health = cli("doctor", "--service", check=False)
    assert health.returncode == 1  # no service has run on this catalog
    lines = health.stdout.splitlines()
    assert [line.split(":")[0] for line in lines if not line.startswith("ok ")] == [
        "warning feed",  # never polled yet
        "PROBLEM service",
    ]
    assert {line.split(":")[0].split(maxsplit=1)[1] for line in lines} == {
        "catalog",
        "feed",
        "service",
    }
