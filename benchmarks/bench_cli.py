"""How fast the everyday commands answer, and how much memory they take, as a new process.

Each command runs as its own `python -m bot` process (what typing `paperbot …` does), with
the 2022 list imported and with a 20,000-entry list built from it; wall time (median of
runs) and peak RSS per command, against `python -c pass` measured in the same run.
Floors: search, show, candidates, feeds and --help at most 0.35 s and 60 MB.

    .venv/bin/python benchmarks/bench_cli.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
LIST_2022 = SHARED / "data/awesome/README-2022-12-29-9a17759.md"
COMMANDS = [
    ["search", "double descent"],
    ["show", "{shown}"],
    ["candidates"],
    ["feeds"],
    ["--help"],
]


def _measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err.strip()}")
    return seconds, usage.ru_maxrss / 1024


def _big_list(text: str, entries: int) -> str:
    """The list with its entries repeated (fresh arXiv ids) until it holds `entries`."""
    lines = text.splitlines(keepends=True)
    first = next(
        i for i, line in enumerate(lines) if line.startswith("- ") and "arxiv.org/abs/" in line
    )
    head, body = "".join(lines[:first]), lines[first:]
    out = [head]
    made, serial = 0, 0
    ids = re.compile(r"arxiv\.org/abs/\d{4}\.\d{4,5}")
    while made < entries:
        for line in body:
            if line.startswith("- ") and "arxiv.org/abs/" in line:
                if made >= entries:
                    break
                serial += 1
                made += 1
                line = ids.sub(f"arxiv.org/abs/2301.{serial:05d}", line)
            elif made >= entries:
                break
            out.append(line)
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    python = [sys.executable]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        baseline = [_measure([*python, "-c", "pass"], env, base) for _ in range(args.runs)]
        b_time = statistics.median(t for t, _ in baseline)
        b_rss = max(r for _, r in baseline)
        print(f"baseline `python -c pass`: {b_time * 1000:.0f} ms, {b_rss:.0f} MB")
        text = LIST_2022.read_text(encoding="utf-8")
        lists = (
            ("2022 list", text, "1912.02292"),
            ("20,000-entry list", _big_list(text, 20_000), "2301.00001"),
        )
        for name, readme, shown in lists:
            home = base / name.split()[0].replace(",", "")
            home.mkdir()
            (home / "README.md").write_text(readme, encoding="utf-8")
            (home / "paperbot.toml").write_text("[model]\nenabled = false\n", encoding="utf-8")
            _measure([*python, "-m", "bot", "import-awesome", "README.md", "--yes"], env, home)
            print(f"\n{name}:")
            for template in COMMANDS:
                command = [part.format(shown=shown) for part in template]
                runs = [
                    _measure([*python, "-m", "bot", *command], env, home) for _ in range(args.runs)
                ]
                seconds = statistics.median(t for t, _ in runs)
                rss = max(r for _, r in runs)
                verdict = "ok" if seconds <= 0.35 and rss <= 60 else "over"
                print(
                    f"  {' '.join(command):<24} {seconds * 1000:5.0f} ms ({seconds / b_time:4.1f}x"
                    f" baseline)  {rss:4.0f} MB ({rss / b_rss:3.1f}x)  floor 350 ms, 60 MB: {verdict}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
