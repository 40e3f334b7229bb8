"""Publishing as commits, against real git repositories on disk (a bare remote and clones)."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.publish import Change, PublishConfig, PublishError, publish
from db.awesome import NewEntry, insert_entry

README = """# Awesome Test List

## Section A

- [Paper One](https://arxiv.org/abs/2001.00001)

## Section B

- [Paper Two](https://arxiv.org/abs/2002.00002)
"""

IDENTITY = ("-c", "user.name=Maintainer", "-c", "user.email=maintainer@example.org")


def git(cwd: Path, *args: str) -> str:
    """Run git as the maintainer would (identity given here: the global config is empty)."""
    result = subprocess.run(
        ["git", *IDENTITY, "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def blob(cwd: Path, rev: str, path: str = "README.md") -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", f"{rev}:{path}"], cwd=cwd, capture_output=True, check=True
    ).stdout


def refs(cwd: Path) -> str:
    return git(cwd, "for-each-ref", "--format=%(refname) %(objectname)")


def snapshot(cwd: Path) -> tuple[str, str, str, bytes, list[str]]:
    """Everything a refusal or a dry run must leave alone: refs, HEAD, status, tree, objects."""
    objects = sorted(str(p.relative_to(cwd)) for p in (cwd / ".git" / "objects").rglob("*"))
    return (
        refs(cwd),
        git(cwd, "symbolic-ref", "HEAD"),
        git(cwd, "status", "--porcelain", "--untracked-files=all"),
        (cwd / "README.md").read_bytes(),
        objects,
    )


def insert(section: str, title: str, arxiv_id: str) -> Change:
    """A change adding one line under a section, unless the paper is already listed."""

    def apply(text: str) -> str:
        if f"arxiv.org/abs/{arxiv_id}" in text:
            return text
        nl = "\r\n" if "\r\n" in text else "\n"
        heading = f"## {section}{nl}{nl}"
        at = text.index(heading) + len(heading)
        return f"{text[:at]}- [{title}](https://arxiv.org/abs/{arxiv_id}){nl}{text[at:]}"

    return Change(arxiv_id, f"Add {title} ({arxiv_id}) to {section}", apply)


def one_line(error: PublishError, repo: Path) -> str:
    text = str(error)
    assert "\n" not in text
    assert text.startswith(f"{repo}: ")
    return text


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No system or user git config: publish must not rely on either (no user.name set)."""
    config = tmp_path / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    return config


@dataclass
class World:
    tmp: Path
    remote: Path  # the bare repository standing for GitHub
    clone: Path  # paperbot's clone

    def other_clone(self, name: str) -> Path:
        path = self.tmp / name
        git(self.tmp, "clone", "--quiet", str(self.remote), str(path))
        return path

    def config(self, **kwargs: object) -> PublishConfig:
        return PublishConfig(repo=self.clone, **kwargs)  # type: ignore[arg-type]


def make_world(tmp: Path, readme: bytes = README.encode()) -> World:
    remote = tmp / "remote.git"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = tmp / "seed"
    git(tmp, "clone", "--quiet", str(remote), str(seed))
    git(seed, "checkout", "--quiet", "-b", "main")
    (seed / "README.md").write_bytes(readme)
    git(seed, "add", "README.md")
    git(seed, "commit", "--quiet", "-m", "The list")
    git(seed, "push", "--quiet", "origin", "main")
    clone = tmp / "clone"
    git(tmp, "clone", "--quiet", str(remote), str(clone))
    return World(tmp, remote, clone)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


CHANGES = [
    insert("Section B", "Deep Double Descent", "1912.02292"),
    insert("Section A", "Paper One again", "2001.00001"),  # already listed
    insert("Section A", "Grokking", "2201.02177"),
]


def expected_readme() -> str:
    text = README
    for change in CHANGES:
        text = change.apply(text)
    return text


def test_clean_tree_gets_one_commit_per_new_paper_on_the_branch(world: World) -> None:
    main_before = git(world.clone, "rev-parse", "main")
    report = publish(world.config(), CHANGES)

    assert [c.key for c in report.commits] == ["1912.02292", "2201.02177"]
    assert report.unchanged == ("2001.00001",)
    assert report.base == main_before
    assert report.created
    assert not report.pushed
    log = git(
        world.clone,
        "log",
        "--format=%H|%P|%an <%ae>|%cn <%ce>|%s",
        f"{main_before}..paperbot/additions",
    ).splitlines()
    first, second = (line.split("|") for line in reversed(log))
    assert first[0] == report.commits[0].sha and first[1] == main_before
    assert second[0] == report.commits[1].sha == report.tip and second[1] == first[0]
    for line in (first, second):
        assert line[2] == line[3] == "paperbot <paperbot@users.noreply.github.com>"
    assert first[4] == "Add Deep Double Descent (1912.02292) to Section B"
    assert second[4] == "Add Grokking (2201.02177) to Section A"
    assert blob(world.clone, "paperbot/additions") == expected_readme().encode()
    assert blob(world.clone, first[0]) == CHANGES[0].apply(README).encode()
    # The operator's checkout is untouched: same branch, same commit, same file, clean.
    assert git(world.clone, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(world.clone, "rev-parse", "main") == main_before
    assert (world.clone / "README.md").read_text() == README
    assert git(world.clone, "status", "--porcelain", "--untracked-files=all") == ""


def test_rerun_commits_nothing(world: World) -> None:
    first = publish(world.config(), CHANGES)
    before = snapshot(world.clone)
    again = publish(world.config(), CHANGES)
    assert again.commits == ()
    assert again.unchanged == ("1912.02292", "2001.00001", "2201.02177")
    assert not again.created
    assert again.base == again.tip == first.tip
    assert snapshot(world.clone) == before


def test_later_run_builds_on_the_existing_branch(world: World) -> None:
    first = publish(world.config(), CHANGES[:1])
    second = publish(world.config(), CHANGES)
    assert second.base == first.tip
    assert [c.key for c in second.commits] == ["2201.02177"]
    assert blob(world.clone, "paperbot/additions") == expected_readme().encode()


def test_operator_global_config_neither_needed_nor_obeyed(world: World, isolated_git: Path) -> None:
    # An identity and a signing setup that would fail: neither may leak into the commit.
    isolated_git.write_text(
        "[user]\n\tname = Someone Else\n\temail = else@example.org\n"
        "[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n"
    )
    report = publish(world.config(author_name="List Bot", author_email="bot@example.org"), CHANGES)
    assert len(report.commits) == 2
    people = git(world.clone, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%G?", report.tip)
    assert people == "List Bot <bot@example.org>|List Bot <bot@example.org>|N"


def test_operator_identity_in_the_environment_is_not_used(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Intruder")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "intruder@example.org")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2001-01-01T00:00:00Z")
    report = publish(world.config(), CHANGES)
    line = git(world.clone, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%cI", report.tip)
    people, _, date = line.rpartition("|")
    assert people == "paperbot <paperbot@users.noreply.github.com>|" + (
        "paperbot <paperbot@users.noreply.github.com>"
    )
    assert not date.startswith("2001")


def test_hard_wrapped_title_gives_a_one_line_subject(world: World) -> None:
    change = insert("Section A", "Grokking", "2201.02177")
    wrapped = Change(
        change.key, "Add Grokking: Generalization\n  Beyond Overfitting (2201.02177)", change.apply
    )
    report = publish(world.config(), [wrapped])
    subject = git(world.clone, "log", "-1", "--format=%B", report.tip)
    assert subject == "Add Grokking: Generalization Beyond Overfitting (2201.02177)"
    assert report.commits[0].message == subject


@pytest.mark.parametrize("how", ["modified", "staged", "untracked", "untracked-elsewhere"])
def test_dirty_tree_is_refused_and_nothing_changes(world: World, how: str) -> None:
    if how == "modified":
        (world.clone / "README.md").write_text(README + "- [Hand edit](https://x)\n")
    elif how == "staged":
        (world.clone / "notes.md").write_text("draft\n")
        git(world.clone, "add", "notes.md")
    elif how == "untracked":
        (world.clone / "notes.md").write_text("draft\n")
    else:
        (world.clone / "drafts").mkdir()
        (world.clone / "drafts" / "x.md").write_text("draft\n")
    before = snapshot(world.clone)
    with pytest.raises(PublishError) as caught:
        publish(world.config(), CHANGES)
    assert "uncommitted changes" in one_line(caught.value, world.clone)
    assert snapshot(world.clone) == before
    assert git(world.clone, "branch", "--list", "paperbot/additions") == ""


def test_detached_head_is_refused(world: World) -> None:
    git(world.clone, "checkout", "--quiet", "--detach")
    with pytest.raises(PublishError) as caught:
        publish(world.config(), CHANGES)
    assert "detached" in one_line(caught.value, world.clone)
    assert git(world.clone, "branch", "--list", "paperbot/additions") == ""


def test_half_done_merge_is_refused(world: World) -> None:
    git(world.clone, "checkout", "--quiet", "-b", "side")
    (world.clone / "README.md").write_text(README.replace("Paper One", "Paper Uno"))
    git(world.clone, "commit", "--quiet", "-am", "side")
    git(world.clone, "checkout", "--quiet", "main")
    (world.clone / "README.md").write_text(README.replace("Paper One", "Paper Eins"))
    git(world.clone, "commit", "--quiet", "-am", "main")
    merge = subprocess.run(
        ["git", *IDENTITY, "merge", "side"], cwd=world.clone, capture_output=True, check=False
    )
    assert merge.returncode != 0  # a conflict: MERGE_HEAD is left behind
    with pytest.raises(PublishError) as caught:
        publish(world.config(), CHANGES)
    assert "a merge is in progress" in one_line(caught.value, world.clone)


def test_branch_diverged_from_remote_is_refused(world: World) -> None:
    other = world.other_clone("other")
    git(other, "checkout", "--quiet", "-b", "paperbot/additions")
    (other / "extra.md").write_text("theirs\n")
    git(other, "add", "extra.md")
    git(other, "commit", "--quiet", "-m", "Their commit")
    git(other, "push", "--quiet", "origin", "paperbot/additions")
    publish(world.config(), CHANGES[:1])  # a local branch, made before fetching theirs
    local = git(world.clone, "rev-parse", "paperbot/additions")

    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="origin", push=True), CHANGES)
    text = one_line(caught.value, world.clone)
    assert "diverged from origin/paperbot/additions" in text
    assert git(world.clone, "rev-parse", "paperbot/additions") == local
    assert git(world.remote, "rev-parse", "paperbot/additions") == git(other, "rev-parse", "HEAD")


def test_branch_behind_remote_is_fast_forwarded_first(world: World) -> None:
    first = publish(world.config(remote="origin", push=True), CHANGES[:1])
    assert first.pushed
    other = world.other_clone("other")
    git(other, "checkout", "--quiet", "paperbot/additions")
    (other / "extra.md").write_text("a curator's fix\n")
    git(other, "add", "extra.md")
    git(other, "commit", "--quiet", "-m", "Curator's fix")
    git(other, "push", "--quiet", "origin", "paperbot/additions")
    theirs = git(other, "rev-parse", "HEAD")

    report = publish(world.config(remote="origin", push=True), CHANGES)
    assert report.fast_forwarded
    assert report.base == theirs
    assert [c.key for c in report.commits] == ["2201.02177"]
    assert git(world.clone, "rev-parse", f"{report.tip}^") == theirs
    assert git(world.remote, "rev-parse", "paperbot/additions") == report.tip


def test_accepted_push_puts_the_commits_on_the_remote(world: World) -> None:
    report = publish(world.config(remote="origin", push=True), CHANGES)
    assert report.pushed and report.remote == "origin"
    assert git(world.remote, "rev-parse", "paperbot/additions") == report.tip
    assert blob(world.remote, "paperbot/additions") == expected_readme().encode()
    again = publish(world.config(remote="origin", push=True), CHANGES)
    assert again.commits == () and not again.pushed


def test_push_refused_by_a_hook_keeps_the_commits_and_pushes_them_next_time(
    world: World,
) -> None:
    hook = world.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'error: branch is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="origin", push=True), CHANGES)
    text = one_line(caught.value, world.clone)
    assert "push to origin refused" in text
    assert "pre-receive hook declined" in text
    assert "branch is protected" in text
    assert "2 unpushed commits kept on paperbot/additions" in text
    report = caught.value.report
    assert report is not None and not report.pushed and len(report.commits) == 2
    assert git(world.clone, "rev-parse", "paperbot/additions") == report.tip
    assert git(world.remote, "branch", "--list", "paperbot/additions") == ""

    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="origin", push=True), CHANGES)
    assert "2 unpushed commits kept" in one_line(caught.value, world.clone)
    assert caught.value.report is not None and caught.value.report.commits == ()

    hook.unlink()
    again = publish(world.config(remote="origin", push=True), CHANGES)
    assert again.commits == () and again.pushed
    assert git(world.remote, "rev-parse", "paperbot/additions") == report.tip


def test_non_fast_forward_push_is_one_line_and_keeps_the_commits(world: World) -> None:
    # Pushes go to a second remote whose branch moved on: the fetch saw no branch, the push
    # meets someone else's (the same as losing a race against another push).
    elsewhere = world.tmp / "elsewhere.git"
    git(world.tmp, "clone", "--quiet", "--bare", str(world.remote), str(elsewhere))
    other = world.tmp / "other"
    git(world.tmp, "clone", "--quiet", str(elsewhere), str(other))
    git(other, "checkout", "--quiet", "-b", "paperbot/additions")
    (other / "extra.md").write_text("theirs\n")
    git(other, "add", "extra.md")
    git(other, "commit", "--quiet", "-m", "Their commit")
    git(other, "push", "--quiet", "origin", "paperbot/additions")
    git(world.clone, "remote", "set-url", "--push", "origin", str(elsewhere))

    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="origin", push=True), CHANGES)
    text = one_line(caught.value, world.clone)
    assert "[rejected]" in text
    assert "fetch first" in text or "non-fast-forward" in text
    report = caught.value.report
    assert report is not None and not report.pushed and len(report.commits) == 2
    assert git(world.clone, "rev-parse", "paperbot/additions") == report.tip
    assert git(elsewhere, "rev-parse", "paperbot/additions") == git(other, "rev-parse", "HEAD")


def test_dry_run_writes_nothing(world: World) -> None:
    publish(world.config(), CHANGES[:1])
    before = snapshot(world.clone)
    report = publish(world.config(remote="origin", push=True), CHANGES, dry_run=True)
    assert report.dry_run
    assert [(c.sha, c.key) for c in report.commits] == [(None, "2201.02177")]
    assert report.unchanged == ("1912.02292", "2001.00001")
    assert not report.pushed
    assert snapshot(world.clone) == before
    assert git(world.remote, "branch", "--list", "paperbot/additions") == ""


def test_dry_run_of_a_new_branch_creates_nothing(world: World) -> None:
    before = snapshot(world.clone)
    report = publish(world.config(), CHANGES, dry_run=True)
    assert report.created and len(report.commits) == 2
    assert report.tip == report.base == git(world.clone, "rev-parse", "main")
    assert snapshot(world.clone) == before


def test_crlf_readme_without_final_newline_is_kept_byte_for_byte(tmp_path: Path) -> None:
    original = ("\ufeff" + README.rstrip("\n")).replace("\n", "\r\n").encode("utf-8")
    world = make_world(tmp_path, original)
    report = publish(world.config(), CHANGES)
    expected = original.decode("utf-8")
    for change in CHANGES:
        expected = change.apply(expected)
    stored = blob(world.clone, report.tip)
    assert stored == expected.encode("utf-8")
    assert stored.startswith("\ufeff".encode()) and not stored.endswith(b"\n")
    assert b"\n" not in stored.replace(b"\r\n", b"")


def test_failing_change_keeps_earlier_commits_and_leaves_the_repo_clean(world: World) -> None:
    def boom(text: str) -> str:
        raise ValueError("section 'Nope' is not in the list\nsecond line")

    changes = [
        CHANGES[0],
        Change("2301.00001", "Add Broken (2301.00001) to Nope", boom),
        CHANGES[2],
    ]
    with pytest.raises(PublishError) as caught:
        publish(world.config(), changes)
    text = one_line(caught.value, world.clone)
    assert "2301.00001: ValueError: section 'Nope' is not in the list second line" in text
    assert "1 commit kept on paperbot/additions" in text
    report = caught.value.report
    assert report is not None and [c.key for c in report.commits] == ["1912.02292"]
    assert git(world.clone, "rev-parse", "paperbot/additions") == report.tip
    assert blob(world.clone, report.tip) == CHANGES[0].apply(README).encode()
    assert git(world.clone, "status", "--porcelain", "--untracked-files=all") == ""
    # Once the bad change is dropped, the rest goes on top of what was kept.
    rest = publish(world.config(), CHANGES)
    assert rest.base == report.tip and [c.key for c in rest.commits] == ["2201.02177"]


def test_branch_checked_out_in_the_clone_moves_with_its_tree(world: World) -> None:
    git(world.clone, "checkout", "--quiet", "-b", "paperbot/additions")
    report = publish(world.config(), CHANGES)
    assert len(report.commits) == 2
    assert git(world.clone, "rev-parse", "HEAD") == report.tip
    assert (world.clone / "README.md").read_text() == expected_readme()
    assert git(world.clone, "status", "--porcelain", "--untracked-files=all") == ""


def test_branch_checked_out_in_another_worktree_is_refused(world: World) -> None:
    git(world.clone, "branch", "paperbot/additions")
    git(world.clone, "worktree", "add", "--quiet", str(world.tmp / "wt"), "paperbot/additions")
    with pytest.raises(PublishError) as caught:
        publish(world.config(), CHANGES)
    assert "is checked out in" in one_line(caught.value, world.clone)


def test_readme_in_a_subdirectory(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    (world.clone / "docs").mkdir()
    (world.clone / "docs" / "list.md").write_text(README)
    git(world.clone, "add", "docs/list.md")
    git(world.clone, "commit", "--quiet", "-m", "Move the list")
    report = publish(world.config(readme="docs/list.md"), CHANGES)
    assert len(report.commits) == 2
    assert blob(world.clone, report.tip, "docs/list.md") == expected_readme().encode()
    assert blob(world.clone, report.tip) == README.encode()
    changed = git(world.clone, "diff", "--name-only", report.base, report.tip)
    assert changed == "docs/list.md"


def entry_change(entry: NewEntry) -> Change:
    """The change the application would make: db.awesome's insertion of one entry."""

    def apply(text: str) -> str:
        return insert_entry(text, entry).text

    key = entry.arxiv_id or ""
    return Change(key, f"Add {entry.title} ({key}) to {entry.section}", apply)


def test_real_insertion_into_the_seed_list(tmp_path: Path, seed_text: str) -> None:
    world = make_world(tmp_path, seed_text.encode("utf-8"))
    new = NewEntry(
        arxiv_id="2201.02177",
        title="Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets",
        authors=["Alethea Power", "Yuri Burda"],
        section="Empirical Study",
    )
    present = NewEntry(
        arxiv_id="1912.02292", title="Deep Double Descent", authors=[], section="Empirical Study"
    )
    changes = [entry_change(new), entry_change(present)]
    report = publish(world.config(), changes)
    assert [c.key for c in report.commits] == ["2201.02177"]
    assert report.unchanged == ("1912.02292",)
    assert blob(world.clone, report.tip) == insert_entry(seed_text, new).text.encode("utf-8")
    assert publish(world.config(), changes).commits == ()


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("plain", "not a git work tree"),
        ("missing", "no such directory"),
        ("bare", "not a git work tree"),
        ("subdir", "not the top of its git work tree"),
    ],
)
def test_not_a_clone_is_one_line(world: World, where: str, words: str) -> None:
    paths: dict[str, Callable[[], Path]] = {
        "plain": lambda: (world.tmp / "plain").resolve(),
        "missing": lambda: world.tmp / "missing",
        "bare": lambda: world.remote,
        "subdir": lambda: world.clone / "sub",
    }
    path = paths[where]()
    if where in ("plain", "subdir"):
        path.mkdir()
    with pytest.raises(PublishError) as caught:
        publish(PublishConfig(repo=path), CHANGES)
    assert words in one_line(caught.value, path)


def test_missing_readme_is_one_line(world: World) -> None:
    before = snapshot(world.clone)
    with pytest.raises(PublishError) as caught:
        publish(world.config(readme="LIST.md"), CHANGES)
    assert "LIST.md is not in the repository" in one_line(caught.value, world.clone)
    assert snapshot(world.clone) == before


def test_missing_git_binary_is_one_line(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(PublishError) as caught:
        publish(world.config(), CHANGES)
    assert "git is not installed" in one_line(caught.value, world.clone)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"branch": "bad..name"}, "not a valid branch name"),
        ({"remote": "upstream"}, "no remote named 'upstream'"),
        ({"push": True}, "no remote is configured"),
        ({"readme": "../README.md"}, "must be a relative path"),
        ({"author_email": "x>y"}, "not usable in a commit"),
    ],
)
def test_bad_settings_are_one_line(world: World, kwargs: dict[str, object], words: str) -> None:
    before = snapshot(world.clone)
    with pytest.raises(PublishError) as caught:
        publish(world.config(**kwargs), CHANGES)
    assert words in one_line(caught.value, world.clone)
    assert snapshot(world.clone) == before


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_remote_that_never_answers_times_out_in_one_line(
    world: World, silent_server: int
) -> None:
    git(world.clone, "remote", "add", "silent", f"git://127.0.0.1:{silent_server}/list.git")
    before = snapshot(world.clone)
    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="silent", push=True, timeout=1), CHANGES)
    assert "timed out after 1 s" in one_line(caught.value, world.clone)
    assert snapshot(world.clone) == before


def test_credentials_in_a_remote_url_stay_out_of_the_error(world: World) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: the connection is refused
    url = f"http://bot:s3cret-token@127.0.0.1:{port}/list.git"
    git(world.clone, "remote", "add", "gh", url)
    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="gh", push=True), CHANGES)
    text = one_line(caught.value, world.clone)
    assert "cannot reach gh" in text
    assert "s3cret-token" not in text


def test_credentials_echoed_by_the_remote_stay_out_of_the_error(world: World) -> None:
    hook = world.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'error: denied, see https://bot:s3cret-token@example.org/x' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    with pytest.raises(PublishError) as caught:
        publish(world.config(remote="origin", push=True), CHANGES)
    text = one_line(caught.value, world.clone)
    assert "https://***@example.org/x" in text
    assert "s3cret-token" not in text


def test_branch_moved_by_someone_else_mid_run_is_not_overwritten(world: World) -> None:
    main = git(world.clone, "rev-parse", "main")

    def race(text: str) -> str:
        # Another publisher moves the branch while this run is between two commits.
        git(world.clone, "update-ref", "refs/heads/paperbot/additions", main)
        return CHANGES[2].apply(text)

    changes = [CHANGES[0], Change("2201.02177", "Add Grokking (2201.02177) to Section A", race)]
    with pytest.raises(PublishError) as caught:
        publish(world.config(), changes)
    text = one_line(caught.value, world.clone)
    assert text.startswith(f"{world.clone}: 2201.02177: git update-ref failed")
    assert "cannot lock ref" in text
    assert text.endswith("; 1 commit made before it")
    report = caught.value.report
    assert report is not None and [c.key for c in report.commits] == ["1912.02292"]
    assert git(world.clone, "rev-parse", "paperbot/additions") == main  # theirs, untouched
