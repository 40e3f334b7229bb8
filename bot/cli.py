"""The `paperbot` command line: what can be typed (the parser) and the entry point.

Parsing, `--help`, `--version` and usage mistakes load nothing else; a command's work lives
in `bot.commands`, imported once the command line is known to be right, so a mistyped
option or a help page answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bot import __version__
from bot.logs import LEVELS
from bot.policy import REMOVALS_UNASKED
from bot.serve import add_serve_command
from db.types import CandidateStatus


def _year_range(text: str) -> tuple[int | None, int | None]:
    """`--year`: the core's reading of a year filter, as an argparse error when it is none."""
    from bot.app import InvalidYears, year_range

    try:
        return year_range(text)
    except InvalidYears as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` (to `high`)."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {span}")
        return value

    return check


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        # An unknown option is the command's mistake: point to that command's help.
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            self.exit(
                2,
                f"{prog}: error: unrecognized arguments: {' '.join(extras)} (see {prog} --help)\n",
            )
        return parsed


def _feed_url(text: str) -> str:
    from bot.settings import ConfigError, check_feed_url

    try:
        return check_feed_url(text, where="--feed")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--feed: ")) from None


def _common_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--config",
        default=default,
        help="config file (default: $PAPERBOT_CONFIG or ./paperbot.toml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default,
        help="log paperbot's details (DEBUG) to stderr",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", type=str.upper, choices=LEVELS, default=default,
        help="log level (default: [logging] level for run, WARNING for one-shot commands;"
        " DEBUG also shows the libraries' logs)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="paperbot",
        description="Keep a community-curated awesome list of arXiv papers alive.",
    )
    parser.add_argument("--version", action="version", version=f"paperbot {__version__}")
    _common_options(parser, argparse.SUPPRESS)
    common = _Parser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, help: str) -> argparse.ArgumentParser:
        # --config and -v are taken before or after the command's name.
        return sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                              parents=[common])  # fmt: skip

    p = command("run", help="run the Discord bot with its scheduled poll and digest jobs")
    p.add_argument(
        "--no-discord",
        action="store_true",
        help="run only the scheduled worker (polls and stores candidates, no Discord)",
    )

    p = command("poll", help="poll the arXiv feeds and show the candidates")
    p.add_argument("--once", action="store_true", help="poll once and exit (default: on schedule)")
    p.add_argument("--dry-run", action="store_true", help="store nothing, change no feed state")
    p.add_argument(
        "--feed", action="append", type=_feed_url, metavar="URL",
        help="poll this feed instead of the configured ones (repeatable; a file needs file://)",
    )  # fmt: skip
    p.add_argument(
        "--limit", type=_at_least(1), default=50, help="candidates to print (default 50)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("search", help="search the catalog")
    p.add_argument("query", help="words to look for (any text is safe)")
    p.add_argument("--section", help="only this section")
    p.add_argument("--year", type=_year_range, help="a year or a range like 2018-2020")
    p.add_argument("--author", help="only papers with an author containing this text")
    p.add_argument(
        "--limit", type=_at_least(1, 100), default=10, help="results per page (1-100, default 10)"
    )
    p.add_argument("--page", type=_at_least(1), default=1, help="page of results (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("show", help="show one catalog paper or candidate")
    p.add_argument("id", help="arXiv id or URL, or a catalog key such as openreview:…")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("add", help="make a paper a candidate, with metadata from the arXiv API")
    p.add_argument("id", metavar="ID_OR_URL", help="arXiv id or abs/pdf URL")

    p = command("approve", help="approve a candidate into the catalog")
    p.add_argument("id", help="the candidate's arXiv id or URL")
    p.add_argument("--section", help="put it in this section")
    p.add_argument(
        "--no-recheck", action="store_true",
        help="write the entry from the announced metadata, without asking arXiv again",
    )  # fmt: skip
    p.add_argument("--by", default="cli", help="name recorded in the audit log")

    p = command("reject", help="reject a candidate")
    p.add_argument("id", help="the candidate's arXiv id or URL")
    p.add_argument("--by", default="cli", help="name recorded in the audit log")

    p = command("candidates", help="list candidates, best score first")
    p.add_argument(
        "--status", action="append", choices=[str(s) for s in CandidateStatus],
        metavar="STATUS", help="only these: " + ", ".join(CandidateStatus),
    )  # fmt: skip
    p.add_argument(
        "--limit", type=_at_least(1, 10_000), default=50, metavar="N",
        help="show at most N (1 to 10000, default 50; --json lists them all)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("feeds", help="health of every feed")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--forget", metavar="URL", action="append",
        help="drop a feed that is no longer configured (and its failures) from the catalog",
    )  # fmt: skip

    p = command("import-awesome", help="import an awesome-list README into the catalog")
    p.add_argument("readme", type=Path, help="the list's README file (Markdown)")
    p.add_argument(
        "--dry-run", action="store_true",
        help="say what the import would add, update and remove; change nothing",
    )  # fmt: skip
    p.add_argument(
        "--yes", action="store_true",
        help=f"import even when it removes more than {REMOVALS_UNASKED} papers from the catalog",
    )  # fmt: skip

    p = command("export-awesome", help="write the awesome list from the catalog")
    p.add_argument(
        "--into",
        type=Path,
        metavar="README",
        help="insert approved papers not yet in this README and write it back (default: print"
        " the imported README with them inserted)",
    )
    p.add_argument("--dry-run", action="store_true", help="print a unified diff, write nothing")

    p = command(
        "publish",
        help="commit approved papers to a branch of the list's repository (and open or update"
        " its pull request when [publish] github_repo is set)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be committed and what the pull request would say; write nothing",
    )
    p.add_argument("--push", action="store_true", help="push the branch to [publish] remote")

    p = command(
        "sync",
        help="follow the list's repository: fetch it, import its README when it changed, and"
        " bring the branch and pull request level",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="say what changed upstream; import nothing"
    )

    p = command("doctor", help="check the catalog, feeds, model, list and repository settings")
    p.add_argument("--full", action="store_true", help="check every page and index (slower)")
    p.add_argument("--quiet", action="store_true", help="print only problems and warnings")
    p.add_argument(
        "--repair", action="store_true",
        help="rebuild a damaged full-text index from the papers (the one repair it makes)",
    )  # fmt: skip
    p.add_argument(
        "--service", action="store_true",
        help="also check that a running service does its jobs and polls on schedule (a"
        " health check: the Docker image's HEALTHCHECK)",
    )  # fmt: skip

    p = command("backup", help="write a consistent copy of the catalog (safe while the bot runs)")
    p.add_argument("target", type=Path, metavar="FILE", help="where to write the copy")

    add_serve_command(sub, [common])

    p = command("model", help="show the relevance model in use")
    p.add_argument("--retrain", action="store_true", help="train a new model from the catalog now")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("evaluate", help="replay an awesome list against real arXiv announcements")
    p.add_argument("readme", type=Path, metavar="LIST.md", help="the awesome list to replay")
    p.add_argument(
        "--background",
        type=Path,
        action="append",
        metavar="FILE",
        help="arXiv announcements to test against: JSONL(.gz) or an arXiv feed (repeatable;"
        " default: the bundled sample)",
    )
    p.add_argument(
        "--guide",
        type=Path,
        metavar="FILE",
        help='section descriptions to rank with, as lines "- `Section`: what belongs there"'
        " (default: [sections] guide and [sections.descriptions])",
    )
    p.add_argument(
        "--test-year",
        type=int,
        metavar="YEAR",
        help="for a time split: test on this year's entries, trained on the years before"
        " (default: the newest year)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage mistake already said
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        print("paperbot: interrupted", file=sys.stderr, flush=True)
        return 130
    args.config = getattr(args, "config", None)
    args.verbose = getattr(args, "verbose", False)
    args.log_level = getattr(args, "log_level", None)
    from bot.commands import execute

    return execute(args)
