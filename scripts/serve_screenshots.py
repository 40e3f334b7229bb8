"""Screenshots of what a curator first sees in `paperbot serve`, taken by headless Chromium.

Builds a catalog as a curator has it (the 2022 list imported, a real day polled, a few votes
and decisions), serves it, and saves PNGs of the database page, the papers, a search, and
the open candidates. Look at them: they are the check that the first screens are useful.

    .venv/bin/python scripts/serve_screenshots.py [OUT_DIR]   (needs /usr/bin/chromium:
    apt-get install chromium)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
PAGES = {
    "database": "",
    "papers": "/papers_to_read?words=",
    "search": "/papers_to_read?words=lottery+ticket",
    "candidates": "/open_candidates_by_votes",
}


def paperbot(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(home / "paperbot.toml"), *args],
        cwd=home, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no chromium: apt-get install chromium", file=sys.stderr)
        return 1
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "serve-screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        day = SHARED / "data/arxiv-rss/rss-all-archives-2024-11-28.xml"
        (home / "paperbot.toml").write_text(
            f'[arxiv]\nfeeds = ["{day.as_uri()}"]\nmin_interval = 0.0\n'
            'api_base = "http://127.0.0.1:9/api"\n[model]\nenabled = false\n',
            encoding="utf-8",
        )
        paperbot(home, "import-awesome", str(SHARED / "data/awesome/README-2022-12-29-9a17759.md"))
        paperbot(home, "poll", "--once")
        candidates = json.loads(paperbot(home, "candidates", "--json"))
        for c in candidates[:2]:
            paperbot(home, "approve", c["arxiv_id"], "--by", "alice", "--no-recheck")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        env["PYTHONPATH"] = str(ROOT)
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(home / "paperbot.toml"), "serve",
             "--port", "8765"],
            cwd=home, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            base = "http://127.0.0.1:8765/paperbot"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + ".json", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            for name, path in PAGES.items():
                target = out / f"{name}.png"
                subprocess.run(
                    [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                     "--hide-scrollbars", "--window-size=1280,1000",
                     f"--screenshot={target}", base + path],
                    check=True, capture_output=True, timeout=60,
                )  # fmt: skip
                print(target)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
