"""Publishing approved papers as commits on a branch of a local clone of the list's repository.

The git command line, run with `subprocess`, rather than a library: git is on every machine
that hosts a clone (the Docker image installs it), it needs no native wheel, and a push uses
the operator's own credential helpers and ssh configuration unchanged. pygit2 would add a
libgit2 wheel and its own credential plumbing; GitPython itself runs the git binary.

Commits are written with plumbing (`hash-object`, a private index, `commit-tree`, and
`update-ref` with the expected old value) instead of checkout + commit: the operator's
checkout is never switched, so there is no branch to restore after a crash, no half-written
README in the working tree, and no commit hooks of theirs to run; each commit moves the
branch by compare-and-swap, so a concurrent publish cannot lose one. Only when the branch is
the one checked out is the working tree brought along, by a fast-forward merge (the tree is
known clean).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from feeds.errors import PaperbotError

log = logging.getLogger(__name__)

# Variables that would point git at another repository, index or object store than ours
# (set, for instance, when paperbot runs from inside a git hook), or fix a commit's date.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_DATE",
)

# Files in the git directory that mean an operation is half done.
_IN_PROGRESS = (
    ("MERGE_HEAD", "a merge"),
    ("rebase-merge", "a rebase"),
    ("rebase-apply", "a rebase or am"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"),
    ("REVERT_HEAD", "a revert"),
    ("BISECT_LOG", "a bisect"),
)

_REGULAR_MODES = ("100644", "100755")
_MAX_LINE = 240
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


@dataclass(frozen=True)
class PublishConfig:
    """Where and how to publish: a local clone of the list's repository and its branch."""

    repo: Path  # the top of a local clone (working tree) of the list's repository
    readme: str = "README.md"  # path of the list inside the repo, with `/` separators
    branch: str = "paperbot/additions"
    author_name: str = "paperbot"
    author_email: str = "paperbot@users.noreply.github.com"
    remote: str | None = None  # e.g. "origin"; None: never fetch or push
    push: bool = False
    timeout: float = 60.0  # seconds for any one git command (a fetch or push included)


@dataclass(frozen=True)
class Change:
    """One paper to add: `apply` inserts its entry, or returns the text unchanged if present."""

    key: str  # arXiv id
    message: str  # the commit message, e.g. "Add Deep Double Descent (1912.02292) to ..."
    apply: Callable[[str], str]  # README text -> new README text


@dataclass(frozen=True)
class Commit:
    sha: str | None  # None in a dry run: nothing was written
    key: str
    message: str


@dataclass(frozen=True)
class PublishReport:
    """What publish did (or, in a dry run, would do)."""

    repo: Path
    branch: str
    base: str  # the branch tip the new commits were made on
    commits: tuple[Commit, ...] = ()
    unchanged: tuple[str, ...] = ()  # keys whose entry the README already had
    pushed: bool = False  # this run pushed the branch to the remote
    remote: str | None = None
    created: bool = False  # the branch did not exist and was (would be) created
    fast_forwarded: bool = False  # the branch was behind the remote and was brought level
    dry_run: bool = False
    rebuilt: bool = False  # regenerated on the list's base branch (`rebuild`)
    kept: bool = False  # `rebuild` found the remote branch already right and left it

    @property
    def tip(self) -> str:
        """The branch's commit after publishing (the base when nothing was committed)."""
        written = [c.sha for c in self.commits if c.sha is not None]
        return written[-1] if written else self.base


class PublishError(PaperbotError):
    """Publishing refused or failed; one line naming the repository.

    `report` is set when commits were already made before the failure (a change whose
    `apply` raised, a refused push): they stay on the branch and are listed there.
    """

    def __init__(self, repo: Path, reason: str, report: PublishReport | None = None) -> None:
        super().__init__(f"{repo}: {reason}")
        self.repo = repo
        self.reason = reason
        self.report = report


@dataclass(frozen=True)
class _Result:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace").strip()


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_LINE else text[: _MAX_LINE - 3] + "..."


def _one_line(stderr: str) -> str:
    """The line of git's stderr that says what went wrong, without hints or credentials."""
    lines = [" ".join(line.split()) for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    remote = [line.removeprefix("remote:").strip() for line in lines if line.startswith("remote:")]
    remote = [line for line in remote if line]
    rejected = [line for line in lines if line.startswith("! [")]
    if rejected:
        line = rejected[0].removeprefix("! ")
        said = next((r for r in remote if "error" in r.lower() or "denied" in r.lower()), None)
        said = said or (remote[0] if remote else None)
        if said:
            line += f" (remote: {said})"
    else:
        errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
        line = (errors or lines or ["no error message"])[0]
        line = line.removeprefix("fatal:").removeprefix("error:").strip()
    return _clip(_CREDENTIALS.sub(r"\1***@", line))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _subject_and_body(message: str) -> str:
    """A one-line subject (titles from arXiv come hard-wrapped) and any body after a blank line."""
    subject, sep, body = message.strip().partition("\n\n")
    subject = " ".join(subject.split())
    return f"{subject}\n\n{body.strip()}" if sep and body.strip() else subject


class _Git:
    """Runs git in one work tree with a fixed identity and no dependence on global config."""

    def __init__(self, config: PublishConfig, env: Mapping[str, str]) -> None:
        self.repo = config.repo
        self.timeout = config.timeout
        self.env = dict(env)
        # Command-line -c beats every config file: the operator's global settings (a signing
        # key, another identity) cannot change or break what paperbot commits.
        self.prefix = [
            "git",
            "-c",
            f"user.name={config.author_name}",
            "-c",
            f"user.email={config.author_email}",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.quotePath=false",
        ]

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        check: bool = True,
        extra_env: Mapping[str, str] | None = None,
    ) -> _Result:
        env = {**self.env, **extra_env} if extra_env else self.env
        try:
            # A session of its own: no controlling terminal for ssh to prompt on, and on a
            # timeout the whole group (git, ssh, remote helpers) can be killed.
            proc = subprocess.Popen(
                [*self.prefix, *args],
                cwd=self.repo,
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise PublishError(self.repo, "git is not installed (no 'git' on PATH)") from exc
        except OSError as exc:
            raise PublishError(self.repo, f"cannot run git: {exc.strerror or exc}") from exc
        try:
            out, err = proc.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):  # the group has already gone
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise PublishError(
                self.repo, f"git {args[0]} timed out after {self.timeout:g} s"
            ) from exc
        result = _Result(proc.returncode, out, err.decode("utf-8", errors="replace"))
        if check and result.returncode != 0:
            raise PublishError(self.repo, f"git {args[0]} failed: {_one_line(result.stderr)}")
        return result

    def sha(self, rev: str) -> str | None:
        """The commit `rev` names, or None when there is none."""
        result = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return result.text if result.returncode == 0 and result.text else None


def _environment(config: PublishConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env.update(
        # The environment beats `-c user.name`: set it too, so an operator's GIT_AUTHOR_NAME
        # (or a pinned GIT_COMMITTER_DATE) cannot end up in the list's history.
        GIT_AUTHOR_NAME=config.author_name,
        GIT_AUTHOR_EMAIL=config.author_email,
        GIT_COMMITTER_NAME=config.author_name,
        GIT_COMMITTER_EMAIL=config.author_email,
        GIT_TERMINAL_PROMPT="0",  # fail, never wait for a password nobody will type
        GIT_OPTIONAL_LOCKS="0",  # `git status` must not rewrite the operator's index
        LC_ALL="C",  # git's messages in English, whatever the host's locale
    )
    return env


def _check_config(config: PublishConfig, changes: Sequence[Change]) -> None:
    repo = config.repo
    path = PurePosixPath(config.readme)
    if not config.readme or path.is_absolute() or ".." in path.parts or "\\" in config.readme:
        raise PublishError(repo, f"readme {config.readme!r} must be a relative path in the repo")
    for value, what in ((config.author_name, "author name"), (config.author_email, "email")):
        if not value.strip() or any(c in value for c in "<>\n\r"):
            raise PublishError(repo, f"{what} {value!r} is not usable in a commit")
    if config.remote is not None and (not config.remote or config.remote.startswith("-")):
        raise PublishError(repo, f"{config.remote!r} is not a remote name")
    if config.push and config.remote is None:
        raise PublishError(repo, "push is on but no remote is configured")
    if config.timeout <= 0:
        raise PublishError(repo, f"timeout must be positive, not {config.timeout:g}")
    for change in changes:
        if not change.key.strip():
            raise PublishError(repo, "a change has an empty key")
        if not change.message.strip():
            raise PublishError(repo, f"{change.key}: empty commit message")


def _open(config: PublishConfig, env: Mapping[str, str]) -> _Git:
    """A git runner for `config.repo`, once it is known to be the top of a work tree."""
    repo = config.repo
    if shutil.which("git", path=env.get("PATH", os.defpath)) is None:
        raise PublishError(repo, "git is not installed (no 'git' on PATH)")
    if not repo.is_dir():
        raise PublishError(repo, "no such directory")
    git = _Git(config, env)
    inside = git.run("rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0 or inside.text != "true":
        raise PublishError(repo, "not a git work tree (a clone of the list's repository)")
    top = Path(git.run("rev-parse", "--show-toplevel").text)
    if top.resolve() != repo.resolve():
        raise PublishError(repo, f"not the top of its git work tree (that is {top})")
    return git


def _refuse_unsettled(git: _Git) -> str:
    """The checked-out branch's ref, after refusing a half-done operation, a detached HEAD
    or uncommitted changes; nothing is changed by a refusal."""
    repo = git.repo
    if git.sha("HEAD") is None:
        raise PublishError(repo, "the repository has no commits yet")
    paths = git.run("rev-parse", *(a for name, _ in _IN_PROGRESS for a in ("--git-path", name)))
    for (_, what), found in zip(_IN_PROGRESS, paths.text.splitlines(), strict=True):
        if (repo / found).exists():
            raise PublishError(repo, f"{what} is in progress; finish or abort it first")
    head = git.run("symbolic-ref", "--quiet", "HEAD", check=False)
    if head.returncode != 0:
        raise PublishError(repo, "HEAD is detached; check out a branch first")
    status = git.run("status", "--porcelain=v1", "-z", "--untracked-files=normal")
    dirty: list[str] = []
    fields = iter(status.stdout.decode("utf-8", errors="replace").split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue
        dirty.append(entry[3:])
        if entry[0] in "RC":
            next(fields, None)  # a rename's or copy's source path
    if dirty:
        more = f" and {len(dirty) - 1} more" if len(dirty) > 1 else ""
        raise PublishError(
            repo, f"uncommitted changes ({dirty[0]}{more}); commit or stash them first"
        )
    return head.text


def _check_branch(git: _Git, branch: str) -> str:
    valid = git.run("check-ref-format", "--branch", branch, check=False)
    if valid.returncode != 0 or valid.text != branch:
        raise PublishError(git.repo, f"{branch!r} is not a valid branch name")
    ref = f"refs/heads/{branch}"
    top = git.repo.resolve()
    where: Path | None = None
    for line in git.run("worktree", "list", "--porcelain").text.splitlines():
        if line.startswith("worktree "):
            where = Path(line.removeprefix("worktree "))
        elif line == f"branch {ref}" and where is not None and where.resolve() != top:
            # Moving its ref behind that tree's back would make it look modified.
            raise PublishError(git.repo, f"branch {branch} is checked out in {where}")
    return ref


def _remote_tip(git: _Git, config: PublishConfig, *, dry_run: bool) -> str | None:
    """The remote's tip of the branch (fetched first), or None if the remote lacks it.

    A dry run does not touch the network or the refs: it uses the last fetch.
    """
    assert config.remote is not None
    remote, branch = config.remote, config.branch
    tracking = f"refs/remotes/{remote}/{branch}"
    if git.run("remote", "get-url", remote, check=False).returncode != 0:
        raise PublishError(git.repo, f"no remote named {remote!r}")
    if dry_run:
        return git.sha(tracking)
    listed = git.run("ls-remote", "--exit-code", remote, f"refs/heads/{branch}", check=False)
    if listed.returncode == 2:
        return None  # the branch is not on the remote (yet, or any more)
    if listed.returncode != 0:
        raise PublishError(git.repo, f"cannot reach {remote}: {_one_line(listed.stderr)}")
    git.run(
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-recurse-submodules",
        remote,
        f"+refs/heads/{branch}:{tracking}",
    )
    return git.sha(tracking)


@dataclass(frozen=True)
class _Start:
    base: str
    local: str | None  # the branch's tip before publishing; None: it does not exist
    fast_forward: bool


def _start(git: _Git, config: PublishConfig, ref: str, remote: str | None) -> _Start:
    """Where the commits go on top of, refusing a branch that has diverged from the remote."""
    local = git.sha(ref)
    if local is None:
        head = git.sha("HEAD")
        assert head is not None
        return _Start(remote or head, None, False)
    if remote is None or remote == local:
        return _Start(local, local, False)
    counts = git.run("rev-list", "--left-right", "--count", f"{local}...{remote}").text.split()
    ahead, behind = int(counts[0]), int(counts[1])
    if ahead and behind:
        raise PublishError(
            git.repo,
            f"branch {config.branch} has diverged from {config.remote}/{config.branch} "
            f"({ahead} and {behind} commits apart); reconcile them first",
        )
    return _Start(remote, local, True) if behind else _Start(local, local, False)


@dataclass(frozen=True)
class _Readme:
    mode: str  # kept on every commit (an executable bit stays as it was)
    text: str


def _read_readme(git: _Git, config: PublishConfig, commit: str) -> _Readme:
    """The README's file mode and text at `commit`, exactly as stored."""
    listing = git.run("ls-tree", "-z", commit, "--", config.readme).stdout.decode()
    if not listing:
        raise PublishError(git.repo, f"{config.readme} is not in the repository at {commit[:12]}")
    meta, _, _ = listing.partition("\t")
    mode, kind, blob = meta.split()
    if kind != "blob" or mode not in _REGULAR_MODES:
        raise PublishError(git.repo, f"{config.readme} is not a regular file")
    data = git.run("cat-file", "blob", blob).stdout
    try:
        return _Readme(mode, data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PublishError(git.repo, f"{config.readme} is not UTF-8 text") from exc


@dataclass
class _Branch:
    """The branch being published to, moved only forward and only from a known tip."""

    git: _Git
    ref: str
    tip: str | None
    checked_out: bool

    def advance(self, new: str, reason: str) -> None:
        if self.checked_out:
            # The operator's checkout follows the branch; the tree is clean, so this is safe.
            self.git.run("merge", "--ff-only", "--quiet", new)
        else:
            self.git.run("update-ref", "-m", f"paperbot: {reason}", self.ref, new, self.tip or "")
        self.tip = new


def _commit(
    git: _Git,
    branch: _Branch,
    path: str,
    mode: str,
    text: str,
    message: str,
    index_env: Mapping[str, str],
) -> str:
    """Commit `text` as the README on top of the branch, move the branch there, return the sha."""
    assert branch.tip is not None
    # From stdin without --path: no clean filter or end-of-line conversion, the bytes as given.
    blob = git.run("hash-object", "-w", "--stdin", stdin=text.encode("utf-8")).text
    git.run("update-index", "--cacheinfo", f"{mode},{blob},{path}", extra_env=index_env)
    tree = git.run("write-tree", extra_env=index_env).text
    sha = git.run(
        "commit-tree",
        "--no-gpg-sign",
        tree,
        "-p",
        branch.tip,
        stdin=(message + "\n").encode("utf-8"),
    ).text
    branch.advance(sha, message.partition("\n")[0])
    return sha


def publish(
    config: PublishConfig, changes: Sequence[Change], *, dry_run: bool = False
) -> PublishReport:
    """Commit each change that alters the README, one commit each, on `config.branch`.

    Refuses (changing nothing) a dirty tree, a detached HEAD, a half-done merge or rebase,
    and a branch that has diverged from the remote's. A change whose `apply` returns the text
    unchanged is listed in `unchanged`, so a rerun commits nothing. When `push` is set the
    branch is pushed whenever it is ahead of the remote, so commits a refused push left
    behind go up on the next run. A dry run writes nothing and reports commits without shas.
    """
    _check_config(config, changes)
    env = _environment(config)
    git = _open(config, env)
    head_ref = _refuse_unsettled(git)
    ref = _check_branch(git, config.branch)
    remote_tip = None
    if config.remote is not None:
        remote_tip = _remote_tip(git, config, dry_run=dry_run)
    start = _start(git, config, ref, remote_tip)
    readme = _read_readme(git, config, start.base)
    text = readme.text

    branch = _Branch(git, ref, start.local, checked_out=head_ref == ref)
    if not dry_run and start.local is None:
        branch.advance(start.base, f"branch {config.branch} created")
        log.info("created branch %s at %s in %s", config.branch, start.base[:12], config.repo)
    elif not dry_run and start.fast_forward:
        branch.advance(start.base, f"fast-forward to {config.remote}/{config.branch}")
        log.info("fast-forwarded %s to %s in %s", config.branch, start.base[:12], config.repo)

    commits: list[Commit] = []
    unchanged: list[str] = []

    def report(pushed: bool = False) -> PublishReport:
        return PublishReport(
            repo=config.repo,
            branch=config.branch,
            base=start.base,
            commits=tuple(commits),
            unchanged=tuple(unchanged),
            pushed=pushed,
            remote=config.remote,
            created=start.local is None,
            fast_forwarded=start.fast_forward,
            dry_run=dry_run,
        )

    with tempfile.TemporaryDirectory(prefix="paperbot-publish-") as scratch:
        # A private index: the operator's index and working tree are never written.
        index_env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if not dry_run:
            git.run("read-tree", start.base, extra_env=index_env)
        for change in changes:
            try:
                new_text = change.apply(text)
            except Exception as exc:
                kept = f"{_plural(len(commits), 'commit')} kept on {config.branch}"
                raise PublishError(
                    config.repo,
                    f"{change.key}: {type(exc).__name__}: {_clip(str(exc))}; {kept}",
                    report(),
                ) from exc
            if not isinstance(new_text, str):
                raise PublishError(
                    config.repo, f"{change.key}: the change did not return text", report()
                )
            if new_text == text:
                unchanged.append(change.key)
                continue
            message = _subject_and_body(change.message)
            text = new_text
            if dry_run:
                commits.append(Commit(None, change.key, message))
                continue
            try:
                sha = _commit(git, branch, config.readme, readme.mode, new_text, message, index_env)
            except PublishError as exc:
                # The branch may have been moved by someone else: say what was made, not where.
                made = f"{_plural(len(commits), 'commit')} made before it"
                raise PublishError(
                    config.repo, f"{change.key}: {exc.reason}; {made}", report()
                ) from exc
            commits.append(Commit(sha, change.key, message))
            log.info("committed %s on %s: %s", sha[:12], config.branch, message)

    pushed = False
    if config.push and config.remote is not None and not dry_run:
        assert branch.tip is not None
        if branch.tip != remote_tip:
            result = git.run("push", "--quiet", config.remote, f"{ref}:{ref}", check=False)
            if result.returncode != 0:
                # Counted against the remote, not this run: earlier runs' commits wait too.
                unpushed = git.run(
                    "rev-list", "--count", branch.tip, "--not", f"--remotes={config.remote}"
                ).text
                kept = f"{_plural(int(unpushed), 'unpushed commit')} kept on {config.branch}"
                raise PublishError(
                    config.repo,
                    f"push to {config.remote} refused: {_one_line(result.stderr)}; {kept}",
                    report(),
                )
            pushed = True
            log.info("pushed %s to %s from %s", config.branch, config.remote, config.repo)
    done = report(pushed)
    log.info(
        "publish %s: %s, %d unchanged%s",
        config.repo,
        _plural(len(commits), "dry-run commit" if dry_run else "commit"),
        len(unchanged),
        ", pushed" if pushed else "",
    )
    return done


# -- following the list's repository: the branch regenerated on the upstream head ------------


@dataclass(frozen=True)
class Upstream:
    """The list's repository as last fetched: the base branch and paperbot's branch."""

    base: str  # the base branch's name, e.g. "master"
    tip: str  # its commit
    readme: str  # the README's text there, exactly as stored
    branch_tip: str | None  # the remote's copy of paperbot's branch; None: not there


def fetch_upstream(config: PublishConfig, base: str) -> Upstream:
    """Fetch the base branch (empty: the remote's default, its HEAD) and paperbot's branch
    from the remote, and read the README at the base's tip. Only remote-tracking refs move."""
    if config.remote is None:
        raise PublishError(config.repo, "following the list needs [publish] remote")
    _check_config(config, ())
    env = _environment(config)
    git = _open(config, env)
    _check_branch(git, config.branch)
    remote = config.remote
    if git.run("remote", "get-url", remote, check=False).returncode != 0:
        raise PublishError(git.repo, f"no remote named {remote!r}")
    branch_ref = f"refs/remotes/{remote}/{config.branch}"
    listed = git.run("ls-remote", "--symref", remote, "HEAD", "refs/heads/*", check=False)
    if listed.returncode != 0:
        raise PublishError(git.repo, f"cannot reach {remote}: {_one_line(listed.stderr)}")
    heads: set[str] = set()
    for line in listed.text.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD") and not base:
            base = line.removeprefix("ref: refs/heads/").rsplit("\t", 1)[0]
        elif "\t" in line:
            heads.add(line.split("\t", 1)[1])
    if not base:
        raise PublishError(git.repo, f"{remote} names no default branch; set [publish] base")
    if f"refs/heads/{base}" not in heads:
        raise PublishError(git.repo, f"{remote} has no branch {base}")
    base_ref = f"refs/remotes/{remote}/{base}"
    specs = [f"+refs/heads/{base}:{base_ref}"]
    if f"refs/heads/{config.branch}" in heads:
        specs.append(f"+refs/heads/{config.branch}:{branch_ref}")
    else:
        # Deleted upstream (or never pushed): forget the stale copy, the lease needs it.
        git.run("update-ref", "-d", branch_ref, check=False)
    git.run("fetch", "--quiet", "--no-tags", "--no-recurse-submodules", remote, *specs)
    tip = git.sha(base_ref)
    if tip is None:
        raise PublishError(git.repo, f"{remote}/{base} has not been fetched yet")
    readme = _read_readme(git, config, tip)
    return Upstream(base, tip, readme.text, git.sha(branch_ref))


def rebuild(
    config: PublishConfig, upstream: Upstream, changes: Sequence[Change], *, dry_run: bool = False
) -> PublishReport:
    """paperbot's branch as the upstream base plus one commit per change it still needs,
    force-pushed with a lease when it differs from the remote's copy.

    Never a merge, never a conflict: the commits are regenerated on the base's tip from the
    changes (a paper the README has now is `unchanged`). A remote branch that already is
    that (based on the tip, the same README) is kept as it is, so a rerun pushes nothing.
    The push leases the remote branch at what was fetched: a branch someone else moved
    meanwhile is not overwritten (the push is refused, one line, and the next run redoes it).
    """
    if config.remote is None:
        raise PublishError(config.repo, "following the list needs [publish] remote")
    _check_config(config, changes)
    env = _environment(config)
    git = _open(config, env)
    ref = _check_branch(git, config.branch)
    head = git.run("symbolic-ref", "--quiet", "HEAD", check=False)
    if head.returncode == 0 and head.text == ref:
        raise PublishError(
            git.repo, f"branch {config.branch} is checked out; check out {upstream.base} instead"
        )
    readme = _read_readme(git, config, upstream.tip)
    commits: list[Commit] = []
    unchanged: list[str] = []
    planned: list[tuple[Change, str, str]] = []  # change, message, README after it
    text = upstream.readme
    for change in changes:
        try:
            new_text = change.apply(text)
        except Exception as exc:
            raise PublishError(
                config.repo, f"{change.key}: {type(exc).__name__}: {_clip(str(exc))}"
            ) from exc
        if new_text == text:
            unchanged.append(change.key)
            continue
        text = new_text
        planned.append((change, _subject_and_body(change.message), new_text))

    def report(pushed: bool, kept: bool) -> PublishReport:
        return PublishReport(
            repo=config.repo,
            branch=config.branch,
            base=upstream.tip,
            commits=tuple(commits),
            unchanged=tuple(unchanged),
            pushed=pushed,
            remote=config.remote,
            created=upstream.branch_tip is None,
            dry_run=dry_run,
            rebuilt=True,
            kept=kept,
        )

    remote_tip = upstream.branch_tip
    if remote_tip is not None and planned and _same_branch(git, config, upstream, remote_tip, text):
        keys = _branch_keys(git, upstream.tip, remote_tip)
        if keys == [c.key for c, _, _ in planned]:
            commits = [Commit(None, c.key, m) for c, m, _ in planned]
            return report(False, True)
    if dry_run or not planned:
        commits = [Commit(None, c.key, m) for c, m, _ in planned]
        return report(False, False)

    scratch_ref = "refs/paperbot/rebuild"
    git.run("update-ref", "-d", scratch_ref, check=False)
    branch = _Branch(git, scratch_ref, None, checked_out=False)
    branch.advance(upstream.tip, f"rebuild {config.branch} on {upstream.base}")
    with tempfile.TemporaryDirectory(prefix="paperbot-publish-") as scratch:
        index_env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git.run("read-tree", upstream.tip, extra_env=index_env)
        for change, message, new_text in planned:
            body = f"{message}\n\nPaperbot-Paper: {change.key}"
            sha = _commit(git, branch, config.readme, readme.mode, new_text, body, index_env)
            commits.append(Commit(sha, change.key, message))
    tip = branch.tip
    assert tip is not None
    lease = f"--force-with-lease=refs/heads/{config.branch}:{remote_tip or ''}"
    result = git.run(
        "push", "--quiet", lease, config.remote, f"{tip}:refs/heads/{config.branch}", check=False
    )
    git.run("update-ref", "-d", scratch_ref, check=False)
    if result.returncode != 0:
        raise PublishError(
            config.repo,
            f"push to {config.remote} refused: {_one_line(result.stderr)}; the next run"
            " rebuilds the branch",
            report(False, False),
        )
    git.run("update-ref", "-m", "paperbot: rebuilt on the list's head", ref, tip)
    git.run("update-ref", f"refs/remotes/{config.remote}/{config.branch}", tip)
    log.info(
        "rebuilt %s on %s/%s (%s) and pushed %s",
        config.branch, config.remote, upstream.base, upstream.tip[:12],
        _plural(len(commits), "commit"),
    )  # fmt: skip
    return report(True, False)


def _same_branch(
    git: _Git, config: PublishConfig, upstream: Upstream, remote_tip: str, text: str
) -> bool:
    """The remote branch sits on the base's tip and its README already reads `text`."""
    parent = git.run("merge-base", "--is-ancestor", upstream.tip, remote_tip, check=False)
    if parent.returncode != 0:
        return False
    try:
        return _read_readme(git, config, remote_tip).text == text
    except PublishError:
        return False


def _branch_keys(git: _Git, base: str, tip: str) -> list[str]:
    """The papers the commits between `base` and `tip` add, oldest first (their trailers)."""
    log_text = git.run(
        "log", "--reverse", "--format=%(trailers:key=Paperbot-Paper,valueonly)", f"{base}..{tip}"
    ).text
    return [line.strip() for line in log_text.splitlines() if line.strip()]
