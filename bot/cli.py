"""The `paperbot` command line: the same pipeline as the bot, without Discord."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import __version__
from bot.settings import ConfigError, Settings, load_settings
from feeds.errors import PaperbotError

log = logging.getLogger("paperbot")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _print_json(value: Any) -> None:
    json.dump(_jsonable(value), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _year_range(text: str) -> tuple[int | None, int | None]:
    """`2020`, `2018-2020`, `2018-` or `-2020`."""
    try:
        if "-" in text:
            low, high = text.split("-", 1)
            return (int(low) if low else None, int(high) if high else None)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a year or a range like 2018-2020"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperbot",
        description="Keep a community-curated awesome list of arXiv papers alive.",
    )
    parser.add_argument("--version", action="version", version=f"paperbot {__version__}")
    parser.add_argument("--config", help="config file (default: $PAPERBOT_CONFIG or ./paperbot.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="run the Discord bot with its scheduled poll and digest jobs")
    p.add_argument(
        "--no-discord",
        action="store_true",
        help="run only the scheduled worker (polls and stores candidates, no Discord)",
    )

    p = sub.add_parser("poll", help="poll the arXiv feeds and show the candidates")
    p.add_argument("--once", action="store_true", help="poll once and exit (default: on schedule)")
    p.add_argument("--dry-run", action="store_true", help="store nothing, change no feed state")
    p.add_argument("--feed", action="append", metavar="URL", help="poll this feed (repeatable)")
    p.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("search", help="search the catalog")
    p.add_argument("query", help="words to look for (any text is safe)")
    p.add_argument("--section", help="only this section")
    p.add_argument("--year", type=_year_range, help="a year or a range like 2018-2020")
    p.add_argument("--author", help="only papers with an author containing this text")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("show", help="show one catalog paper or candidate")
    p.add_argument("id", help="arXiv id or URL")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("add", help="make a paper a candidate, with metadata from the arXiv API")
    p.add_argument("id", metavar="ID_OR_URL")

    p = sub.add_parser("approve", help="approve a candidate into the catalog")
    p.add_argument("id")
    p.add_argument("--section", help="put it in this section")
    p.add_argument("--by", default="cli", help="name recorded in the audit log")

    p = sub.add_parser("reject", help="reject a candidate")
    p.add_argument("id")
    p.add_argument("--by", default="cli", help="name recorded in the audit log")

    p = sub.add_parser("candidates", help="list candidates")
    p.add_argument("--status", action="append", help="new, posted, approved, rejected, expired")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("feeds", help="health of every feed")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("import-awesome", help="import an awesome-list README into the catalog")
    p.add_argument("readme", type=Path)

    p = sub.add_parser("export-awesome", help="write the awesome list from the catalog")
    p.add_argument(
        "--into",
        type=Path,
        metavar="README",
        help="insert approved papers not yet in this README (default: print the whole list)",
    )
    p.add_argument("--dry-run", action="store_true", help="print a unified diff, write nothing")

    p = sub.add_parser("model", help="show the relevance model in use")
    p.add_argument("--retrain", action="store_true", help="train a new model from the catalog now")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("evaluate", help="replay an awesome list against real arXiv announcements")
    p.add_argument("readme", type=Path, nargs="?", help="the list (default: the seed list)")
    p.add_argument("--shared", type=Path, help="folder with the arXiv data (default: ../shared)")
    p.add_argument("--background", type=int, help="cap the background size")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings(args.config)
        handler = COMMANDS[args.command]
        return asyncio.run(handler(settings, args)) or 0
    except (ConfigError, PaperbotError) as exc:
        _stderr(f"paperbot: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _stderr("paperbot: interrupted")
        return 130
    except BrokenPipeError:
        # `paperbot candidates | head`: the reader left, which is not an error worth a
        # traceback. stdout is pointed at devnull so the interpreter's final flush is quiet.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


async def _open(settings: Settings) -> Any:
    from bot.pipeline import Services

    return await Services.open(settings)


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run

    return await run(settings, discord=not args.no_discord)


async def cmd_poll(settings: Settings, args: argparse.Namespace) -> int:
    from bot.pipeline import poll_feeds

    if not args.once:
        from bot.runner import run

        return await run(settings, discord=False, feeds=args.feed, dry_run=args.dry_run)
    progress = (lambda m: None) if args.json else _stderr
    async with await _open(settings) as services:
        report = await poll_feeds(services, args.feed, dry_run=args.dry_run, progress=progress)
        if not args.dry_run and settings.model.enabled and services.ranker.model is None:
            from bot.learning import retrain

            await retrain(services, progress=progress)
    if args.json:
        _print_json(
            {
                "feeds": report.feeds,
                "candidates": [
                    {
                        "arxiv_id": p.arxiv_id,
                        "version": p.version,
                        "title": p.title,
                        "score": round(m.score, 3),
                        "section": m.section,
                        "reasons": m.reasons,
                        "url": p.abs_url,
                    }
                    for p, m in report.matched
                ],
                "stored": report.stored,
                "dry_run": args.dry_run,
            }
        )
    else:
        for outcome in report.feeds:
            line = f"{outcome.url}: {outcome.status}"
            if outcome.error:
                line += f" ({outcome.error})"
            else:
                line += f", {outcome.items} items, {outcome.candidates} candidates"
                if outcome.warnings:
                    line += f", {len(outcome.warnings)} items skipped"
            print(line)
        rows = report.matched[: args.limit]
        if rows:
            print(f"\n{'score':>6}  {'id':<12} {'section':<26} title / reasons")
            for paper, match in rows:
                print(
                    f"{match.score:6.2f}  {paper.arxiv_id:<12} {_clip(match.section, 26):<26} "
                    f"{_clip(paper.title, 70)}"
                )
                print(f"{'':6}  {'':12} {'':26} ↳ {_clip('; '.join(match.reasons), 90)}")
            if len(report.matched) > len(rows):
                print(f"… and {len(report.matched) - len(rows)} more (use --limit)")
        else:
            print("\nno candidates")
        if report.stored is not None:
            s = report.stored
            print(
                f"\nstored: {len(s.new)} new, {len(s.updated)} updated, "
                f"{len(s.unchanged)} unchanged, {len(s.already_in_catalog)} already in the catalog"
            )
        elif args.dry_run:
            print("\ndry run: nothing stored")
    return 1 if report.failed and len(report.failed) == len(report.feeds) else 0


async def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    year_from, year_to = args.year or (None, None)
    limit = max(1, min(args.limit, 100))
    page = max(1, args.page)
    async with await _open(settings) as services:
        result = await services.catalog.search(
            args.query,
            section=args.section,
            year_from=year_from,
            year_to=year_to,
            author=args.author,
            limit=limit,
            offset=(page - 1) * limit,
        )
    if args.json:
        _print_json(
            {
                "total": result.total,
                "page": page,
                "hits": [
                    {
                        "key": h.paper.key,
                        "arxiv_id": h.paper.arxiv_id,
                        "title": h.paper.title,
                        "authors": h.paper.authors,
                        "section": h.paper.section,
                        "year": h.paper.year,
                        "venue": h.paper.venue,
                        "url": h.paper.paper_url,
                        "score": h.score,
                    }
                    for h in result.hits
                ],
            }
        )
        return 0
    if not result.hits:
        print("no results")
        return 0
    first = (page - 1) * limit + 1
    for n, hit in enumerate(result.hits, first):
        p = hit.paper
        print(f"{n:3}. {p.title}  [{p.section or '-'}, {p.year or '?'}]")
        authors = ", ".join(p.authors[:4]) + (" et al." if len(p.authors) > 4 else "")
        print(f"     {authors}{'  *' + p.venue + '*' if p.venue else ''}")
        print(f"     {p.paper_url or ''}")
    print(f"\n{result.total} result(s); page {page}")
    return 0


async def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.pipeline import catalog_key

    key = catalog_key(args.id)
    async with await _open(settings) as services:
        paper = await services.catalog.get_paper(key)
        candidate = None if paper else await services.catalog.get_candidate(key)
    record = paper or candidate
    if record is None:
        raise PaperbotError(f"{args.id}: not in the catalog and not a candidate")
    if args.json:
        _print_json({"kind": "paper" if paper else "candidate", **_jsonable(record)})
        return 0
    for name, value in _jsonable(record).items():
        if value not in (None, "", [], {}):
            print(f"{name:>18}: {value}")
    return 0


async def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.pipeline import add_paper

    async with await _open(settings) as services:
        candidate, created, match = await add_paper(services, args.id, "cli", "cli")
    verb = "added as a candidate" if created else f"already known ({candidate.status})"
    print(f"{candidate.arxiv_id}: {candidate.title} — {verb}")
    if created:
        print(f"score {match.score:.2f}, section {match.section or '-'}: {'; '.join(match.reasons)}")
    return 0


async def _decide(settings: Settings, args: argparse.Namespace, approved: bool) -> int:
    from bot.pipeline import now_utc
    from feeds.ids import parse_arxiv_id

    arxiv_id = parse_arxiv_id(args.id)[0]
    section = getattr(args, "section", None)
    async with await _open(settings) as services:
        if section and section not in services.ranker.rules.sections:
            known = ", ".join(services.ranker.rules.sections)
            raise PaperbotError(f"unknown section {section!r} (sections: {known})")
        if await services.catalog.get_candidate(arxiv_id) is None:
            # Not a candidate, but perhaps listed already (imported from the README):
            # "is not a candidate" alone would send the person looking for a typo.
            listed = await services.catalog.get_paper(arxiv_id)
            if listed is not None:
                if approved:
                    print(f"{arxiv_id}: already in the catalog ({listed.section or 'no section'},"
                          f" added by {listed.added_how}); nothing changed")
                    return 0
                raise PaperbotError(
                    f"{arxiv_id} is in the catalog, not a candidate: there is no vote to reject"
                )
        decision = await services.catalog.decide(
            arxiv_id, approved, args.by, "cli", now_utc(), section=section
        )
    if not decision.changed:
        print(f"{arxiv_id}: already {decision.status}; nothing changed")
    elif approved:
        print(f"{arxiv_id}: approved into {decision.section}")
    else:
        print(f"{arxiv_id}: rejected")
    return 0


async def cmd_approve(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, True)


async def cmd_reject(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, False)


async def cmd_candidates(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings) as services:
        rows = await services.catalog.candidates(status=args.status)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no candidates")
    for c in rows:
        section = c.effective_section or "-"
        print(f"{c.status:<9} {c.score:6.2f}  {c.arxiv_id:<12} {_clip(section, 24):<24} {_clip(c.title, 60)}")
    return 0


async def cmd_feeds(settings: Settings, args: argparse.Namespace) -> int:
    async with await _open(settings) as services:
        states = {s.url: s for s in await services.catalog.feed_states()}
    urls = list(dict.fromkeys([*settings.arxiv.feeds, *states]))
    rows = []
    for url in urls:
        s = states.get(url)
        rows.append(
            {
                "url": url,
                "configured": url in settings.arxiv.feeds,
                "last_checked": s.last_checked if s else None,
                "last_success": s.last_success if s else None,
                "last_changed": s.last_changed if s else None,
                "consecutive_failures": s.consecutive_failures if s else 0,
                "last_error": s.last_error if s else None,
                "healthy": bool(s and s.consecutive_failures == 0 and s.last_success),
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        health = "ok" if row["healthy"] else ("never polled" if not row["last_checked"] else "FAILING")
        print(f"{row['url']}\n  {health}; last success {row['last_success'] or '-'}; "
              f"last change {row['last_changed'] or '-'}; failures {row['consecutive_failures']}")
        if row["last_error"]:
            print(f"  last error: {row['last_error']}")
    return 0


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from bot.pipeline import import_awesome

    try:
        text = args.readme.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PaperbotError(f"{args.readme}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PaperbotError(f"{args.readme}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    async with await _open(settings) as services:
        doc, report = await import_awesome(services, text, "import")
    for warning in doc.warnings:
        _stderr(f"warning: {args.readme}: {warning}")
    print(
        f"{args.readme}: {len(doc.entries)} entries in {len(doc.sections)} sections; "
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    return 0


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.pipeline import export_awesome

    readme = args.into
    async with await _open(settings) as services:
        text, outcomes, original = await export_awesome(services, readme)
    if readme is None:
        if args.dry_run:
            _stderr("--dry-run without --into: printing the whole list")
        sys.stdout.write(text)
        return 0
    for outcome in outcomes:
        if not outcome.inserted:
            _stderr(f"skipped: {outcome.reason}")
    inserted = sum(1 for o in outcomes if o.inserted)
    if args.dry_run:
        diff = difflib.unified_diff(
            original.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"a/{readme.name}",
            tofile=f"b/{readme.name}",
        )
        sys.stdout.writelines(diff)
        _stderr(f"dry run: {inserted} paper(s) would be inserted into {readme}")
        return 0
    if text != original:
        tmp = readme.with_name(readme.name + ".paperbot-tmp")
        try:
            tmp.write_text(text, encoding="utf-8", newline="")
            tmp.replace(readme)  # atomic: a crash leaves the old README, never half a file
        except OSError as exc:
            raise PaperbotError(f"{readme}: cannot write: {exc.strerror or exc}") from exc
    print(f"{readme}: {inserted} paper(s) inserted")
    return 0


async def cmd_model(settings: Settings, args: argparse.Namespace) -> int:
    from bot.learning import describe_model, retrain

    async with await _open(settings) as services:
        if args.retrain:
            await retrain(services, progress=_stderr)
        info = await describe_model(services)
    if args.json:
        _print_json(info)
        return 0
    if info is None:
        print("no model trained yet: candidates are ranked by the rules alone")
        return 0
    for key, value in info.items():
        print(f"{key:>14}: {value}")
    return 0


async def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.evaluate import format_report, run_evaluation

    shared = args.shared or Path(__file__).resolve().parents[1].parent / "shared"
    readme = args.readme or shared / "seeds" / "000_94920e77fcbe4d6f.txt"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as exc:
        raise PaperbotError(f"{readme}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PaperbotError(f"{readme}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    report = await asyncio.to_thread(
        run_evaluation, text, shared, background_limit=args.background, progress=_stderr
    )
    print(format_report(report))
    return 0


COMMANDS = {
    "run": cmd_run,
    "poll": cmd_poll,
    "search": cmd_search,
    "show": cmd_show,
    "add": cmd_add,
    "approve": cmd_approve,
    "reject": cmd_reject,
    "candidates": cmd_candidates,
    "feeds": cmd_feeds,
    "import-awesome": cmd_import,
    "export-awesome": cmd_export,
    "model": cmd_model,
    "evaluate": cmd_evaluate,
}
