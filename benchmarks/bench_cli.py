"""How fast the everyday commands answer, and how much memory they take, as a new process.

Each command runs as its own `python -m bot` process (what typing `paperbot …` does), with
the 2022 list imported and with a 20,000-entry list built from it; wall time (median of
runs) and peak RSS per command, against `python -c pass` measured in the same run.
Floors: search, show, candidates, feeds, --help and the image's health check (`doctor
--quiet --service`) at most 0.35 s and 60 MB.

Python keeps the compiled form of paperbot's modules (`__pycache__`) after their first
use, as it does for anyone who runs paperbot twice: each command runs once before it is
timed. One more line times `search` with PYTHONDONTWRITEBYTECODE=1 (nothing kept, every
module of paperbot compiled at each start), for a machine set up that way.

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
    ["doctor", "--quiet", "--service"],  # exits 1 here: no service runs on these catalogs
]
FLOOR_SECONDS, FLOOR_MB = 0.35, 60


# Each command is started by a small launcher process, which times it and reads its peak
# RSS from wait4(): a child forked straight from this process would count this process's
# own memory (the 20,000-entry list it holds) as the command's.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def _measure(
    argv: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...] = (0,)
) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process, which must exit with a status in `ok`."""
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *argv],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        seconds, rss_kb, code = proc.stdout.split()
    except ValueError:
        raise SystemExit(f"{' '.join(argv)}: the launcher failed: {proc.stderr.strip()}") from None
    if int(code) not in ok:
        raise SystemExit(f"{' '.join(argv)} failed (exit {code}): {proc.stderr.strip()}")
    return float(seconds), int(rss_kb) / 1024


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
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT)
    python = [sys.executable]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")  # the checkout is left as it was
        _measure([*python, "-c", "pass"], env, base)
        baseline = [_measure([*python, "-c", "pass"], env, base) for _ in range(args.runs)]
        b_time = statistics.median(t for t, _ in baseline)
        b_rss = max(r for _, r in baseline)
        print(f"baseline `python -c pass`: {b_time * 1000:.0f} ms, {b_rss:.0f} MB")
        text = LIST_2022.read_text(encoding="utf-8")
        lists = (
            ("2022 list", text, "1912.02292"),
            ("20,000-entry list", _big_list(text, 20_000), "2301.00001"),
        )
        over = 0
        for name, readme, shown in lists:
            home = base / name.split()[0].replace(",", "")
            home.mkdir()
            (home / "README.md").write_text(readme, encoding="utf-8")
            (home / "paperbot.toml").write_text("[model]\nenabled = false\n", encoding="utf-8")
            _measure([*python, "-m", "bot", "import-awesome", "README.md", "--yes"], env, home)
            print(f"\n{name}:")
            for template in COMMANDS:
                command = [part.format(shown=shown) for part in template]
                argv, ok = [*python, "-m", "bot", *command], (0, 1) if "doctor" in command else (0,)
                _measure(argv, env, home, ok)  # its modules compiled and kept, as after a first use
                runs = [_measure(argv, env, home, ok) for _ in range(args.runs)]
                seconds = statistics.median(t for t, _ in runs)
                rss = max(r for _, r in runs)
                verdict = "ok" if seconds <= FLOOR_SECONDS and rss <= FLOOR_MB else "over"
                over += verdict == "over"
                print(
                    f"  {' '.join(command):<28} {seconds * 1000:5.0f} ms ({seconds / b_time:4.1f}x"
                    f" baseline)  {rss:4.0f} MB ({rss / b_rss:3.1f}x)  floor 350 ms, 60 MB: {verdict}"
                )
        cold = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}
        cold["PYTHONDONTWRITEBYTECODE"] = "1"
        argv = [*python, "-m", "bot", "search", "double descent"]
        runs = [_measure(argv, cold, base / "2022") for _ in range(args.runs)]
        seconds = statistics.median(t for t, _ in runs)
        print(
            f"\nwith PYTHONDONTWRITEBYTECODE=1 (paperbot compiled at each start), 2022 list:"
            f" search {seconds * 1000:.0f} ms ({seconds / b_time:.1f}x baseline)"
        )
    print(f"\n{over} figure(s) over the floor" if over else "\nevery figure within the floor")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
