"""Writing the list back (`export-awesome --into`): atomic, and nothing else about the file changes."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from bot.app import write_text_file
from bot.app.listing import ListFileError


def test_the_files_mode_is_kept(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("old\n", encoding="utf-8")
    readme.chmod(0o640)
    write_text_file(readme, "new\n")
    assert readme.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(readme.stat().st_mode) == 0o640


def test_a_symlinked_readme_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "repo" / "README.md"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "README.md"
    link.symlink_to(real)
    write_text_file(link, "new\n")
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in real.parent.iterdir()) == ["README.md"]


def test_a_full_disk_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("old\n", encoding="utf-8")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ListFileError) as caught:
        write_text_file(readme, "new\n" * 1000)
    assert str(caught.value) == f"{readme}: cannot write: No space left on device"
    assert readme.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]
