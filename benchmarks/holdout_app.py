"""Benchmark: the maintainer's 2022 additions replayed through paperbot's own use cases.

For each 2022 entry of the 2022 README: import the README without that entry, bring the
paper back through `add` (the arXiv API on loopback answers with the entry's title, authors
and digest as the abstract), `approve` it into its section, `export-awesome`, and compare
the result with the maintainer's README:

* the year heading and the exact position are the maintainer's;
* the export differs from the maintainer's README only in the entry's own lines;
* the entry's lines are shaped as the maintainer's (Key Word line, digest form);
* the Key Word tags' overlap with the maintainer's (Jaccard, averaged).

The baseline measured in the same run is `compose_entry` + `insert_entry` called directly
(benchmarks/holdout_entries.py's path): the ratio says what the application adds (nothing,
when both agree).

    .venv/bin/python benchmarks/holdout_app.py [--readme PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from bot.app import App  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from db.awesome import Entry, insert_entry, parse_awesome  # noqa: E402
from db.entries import compose_entry  # noqa: E402
from db.keywords import jaccard, vocabulary  # noqa: E402
from db.types import AddedHow  # noqa: E402

README_2022 = ROOT.parent / "shared" / "data" / "awesome" / "README-2022-12-29-9a17759.md"


def atom(entry: Entry) -> bytes:
    authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in entry.authors)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        "<title>arXiv Query</title><id>https://arxiv.org/api/x</id>"
        "<updated>2022-12-01T00:00:00Z</updated><opensearch:totalResults>1</opensearch:totalResults>"
        f"<entry><id>http://arxiv.org/abs/{entry.arxiv_id}v1</id>"
        "<updated>2022-06-01T00:00:00Z</updated><published>2022-06-01T00:00:00Z</published>"
        f"<title>{escape(entry.title)}</title><summary>{escape(entry.digest or '')}</summary>"
        f"{authors}<arxiv:primary_category term='cs.LG'/><category term='cs.LG'/>"
        f'<link href="http://arxiv.org/abs/{entry.arxiv_id}v1" rel="alternate" type="text/html"/>'
        "</entry></feed>\n"
    ).encode()


def without(text: str, entry: Entry) -> str:
    lines = text.splitlines(keepends=True)
    end = entry.end_line
    if end < len(lines) and not lines[end].strip():
        end += 1  # the blank line that separated it
    return "".join(lines[: entry.line - 1] + lines[end:])


def position(doc_text: str, arxiv_id: str) -> tuple[int | None, int] | None:
    doc = parse_awesome(doc_text)
    for e in doc.entries:
        if e.arxiv_id == arxiv_id:
            same = [x for x in doc.entries if x.section == e.section]
            return e.year, same.index(e)
    return None


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=README_2022)
    parser.add_argument("--limit", type=int, default=0, help="at most N entries (0: all)")
    args = parser.parse_args()
    text = args.readme.read_bytes().decode("utf-8")
    doc = parse_awesome(text)
    held = [e for e in doc.entries if e.year == 2022 and e.arxiv_id]
    held = [e for e in held if sum(x.arxiv_id == e.arxiv_id for x in doc.entries) == 1]
    if args.limit:
        held = held[: args.limit]
    current: dict[str, bytes] = {}

    async def query(request: web.Request) -> web.Response:
        return web.Response(body=current["body"], content_type="application/atom+xml")

    server = web.Application()
    server.router.add_get("/api/query", query)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    app_ok = dict(year=0, pos=0, only=0, shape=0, tagged=0, jac=0.0)
    lib_ok = dict(year=0, pos=0, jac=0.0, tagged=0)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for n, entry in enumerate(held, 1):
            config = Path(tmp) / f"c{n}.toml"
            config.write_text(
                f'[arxiv]\nfeeds = ["file://{tmp}/none.xml"]\napi_base = "http://127.0.0.1:{port}/api"\n'
                f'min_interval = 0\nretries = 0\n[catalog]\ndata_dir = "{tmp}/d{n}"\n'
                "[model]\nenabled = false\n",
                encoding="utf-8",
            )
            settings = load_settings(config, env={})
            base_text = without(text, entry)
            current["body"] = atom(entry)
            async with await App.open(settings) as app:
                await app.import_list(base_text, "held-out")
                await app.add(entry.arxiv_id or "", "bench", "cli")
                await app.decide(
                    entry.arxiv_id or "", True, "bench", AddedHow.CLI, section=entry.section
                )
                out = (await app.export_list()).text
            want = position(text, entry.arxiv_id or "")
            got = position(out, entry.arxiv_id or "")
            if got and want and got[0] == want[0]:
                app_ok["year"] += 1
            if got == want:
                app_ok["pos"] += 1
            new = next(e for e in parse_awesome(out).entries if e.arxiv_id == entry.arxiv_id)
            if without(out, new) == base_text:  # no other byte of the README changed
                app_ok["only"] += 1
            if (
                new.has_keyword_line == entry.has_keyword_line
                and new.digest_form == entry.digest_form
            ):
                app_ok["shape"] += 1
            if entry.keywords:
                app_ok["tagged"] += 1
                app_ok["jac"] += jaccard(new.keywords, entry.keywords)
            # Baseline: the library path, on the same held-out README.
            base_doc = parse_awesome(base_text)
            composed = compose_entry(
                base_doc, entry.section, arxiv_id=entry.arxiv_id or "", title=entry.title,
                authors=entry.authors, abstract=entry.digest or "", vocab=vocabulary(base_doc),
            )  # fmt: skip
            lib = insert_entry(base_text, composed).text
            lib_pos = position(lib, entry.arxiv_id or "")
            if lib_pos and want and lib_pos[0] == want[0]:
                lib_ok["year"] += 1
            if lib_pos == want:
                lib_ok["pos"] += 1
            if entry.keywords:
                lib_ok["tagged"] += 1
                lib_new = next(
                    e for e in parse_awesome(lib).entries if e.arxiv_id == entry.arxiv_id
                )
                lib_ok["jac"] += jaccard(lib_new.keywords, entry.keywords)
    await runner.cleanup()
    total = len(held)
    took = time.perf_counter() - started
    print(f"{args.readme.name}: {total} entries of 2022 held out, replayed through add -> approve"
          f" -> export-awesome ({took:.0f} s)")  # fmt: skip
    print(
        f"  same year heading   {app_ok['year'] / total:6.1%}   (library path {lib_ok['year'] / total:6.1%})"
    )
    print(
        f"  exact position      {app_ok['pos'] / total:6.1%}   (library path {lib_ok['pos'] / total:6.1%})"
    )
    print(f"  no other byte changed {app_ok['only'] / total:6.1%}")
    print(f"  entry shape         {app_ok['shape'] / total:6.1%}")
    tagged = max(1, app_ok["tagged"])
    print(f"  Key Word Jaccard    {app_ok['jac'] / tagged:.3f}   (library path "
          f"{lib_ok['jac'] / max(1, lib_ok['tagged']):.3f}; ratio "
          f"{(app_ok['jac'] / tagged) / max(1e-9, lib_ok['jac'] / max(1, lib_ok['tagged'])):.2f}x)")  # fmt: skip
    ok = (
        app_ok["year"] / total >= 0.97
        and app_ok["pos"] / total >= 0.90
        and app_ok["shape"] / total >= 0.90
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
