"""The git the fake GitHub consults: a bare repository on disk, read and merged for real.

Everything runs the git command line with an environment of its own: no system or global
configuration (a developer's aliases, hooks or `init.defaultBranch` change nothing) and none
of the variables that would point git at another repository (set when tests run from a hook).

The server reads (`rev_parse`, `commits_between`, `mergeable`, `is_ancestor`, `diff_stats`)
and merges (`merge`, in a temporary clone pushed back, as a maintainer would). Tests build
their repositories with `init_bare` and `commit_files`, which write with plumbing straight
into the bare repository (no clone, no working tree), and read results with `show`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

MergeMethod = Literal["merge", "squash", "rebase"]

# Variables that would send git to another repository, index or object store than the one
# named on the command line, or fix a commit's date.
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

TEST_AUTHOR = ("test author", "author@example.com")
GITHUB_COMMITTER = ("GitHub", "noreply@github.com")


class GitError(RuntimeError):
    """A git command failed; the message carries the command and git's own words."""


class MergeConflict(GitError):
    """The head does not merge cleanly into the base."""


def git_env(
    *,
    author: tuple[str, str] = TEST_AUTHOR,
    committer: tuple[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment every git command here runs with."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    committer = committer or author
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
        }
    )
    env.update(extra or {})
    return env


def git(
    *args: str,
    cwd: Path | None = None,
    git_dir: Path | None = None,
    input: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git args…` (in `git_dir` as its repository, if given); GitError when it fails."""
    command = ["git"]
    if git_dir is not None:
        command += ["--git-dir", str(git_dir)]
    command += list(args)
    result = subprocess.run(
        command,
        cwd=cwd,
        input=input,
        capture_output=True,
        encoding="utf-8",
        env=dict(env) if env is not None else git_env(),
        timeout=30,
        check=False,
    )
    if check and result.returncode != 0:
        raise GitError(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.strip()}")
    return result


# ------------------------------------------------------------------ reading (the server)


def is_bare_repository(path: Path) -> bool:
    result = git("rev-parse", "--is-bare-repository", git_dir=path, check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def rev_parse(git_dir: Path, branch: str) -> str | None:
    """The commit `refs/heads/<branch>` points at; None when there is no such branch."""
    result = git(
        "rev-parse",
        "--verify",
        "--quiet",
        f"refs/heads/{branch}^{{commit}}",
        git_dir=git_dir,
        check=False,
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def commits_between(git_dir: Path, base: str, head: str) -> int:
    """How many commits `head` has that `base` has not (`git rev-list --count base..head`)."""
    out = git("rev-list", "--count", f"{base}..{head}", git_dir=git_dir).stdout
    return int(out.strip())


def is_ancestor(git_dir: Path, commit: str, of: str) -> bool:
    """Whether `commit` is reachable from `of`."""
    result = git("merge-base", "--is-ancestor", commit, of, git_dir=git_dir, check=False)
    return result.returncode == 0


def mergeable(git_dir: Path, base: str, head: str) -> bool | None:
    """Whether `head` merges into `base` without conflicts; None when git cannot tell.

    `git merge-tree --write-tree` (git 2.38 and later) merges in the object store only:
    exit 0 clean, 1 conflicts; an older git answers a usage error, hence None.
    """
    result = git(
        "merge-tree", "--write-tree", "--no-messages", base, head, git_dir=git_dir, check=False
    )
    if result.returncode in (0, 1):
        return result.returncode == 0
    return None


def diff_stats(git_dir: Path, base: str, head: str) -> tuple[int, int, int]:
    """(additions, deletions, changed files) of `head` against its merge base with `base`."""
    out = git("diff", "--numstat", f"{base}...{head}", git_dir=git_dir).stdout
    additions = deletions = files = 0
    for line in out.splitlines():
        added, deleted, _ = line.split("\t", 2)
        files += 1
        # Binary files show "-" for both counts.
        additions += int(added) if added.isdigit() else 0
        deletions += int(deleted) if deleted.isdigit() else 0
    return additions, deletions, files


def show(git_dir: Path, ref: str, path: str) -> str:
    """The text of `path` at `ref` (a branch or a commit)."""
    return git("show", f"{ref}:{path}", git_dir=git_dir).stdout


# ------------------------------------------------------------------ merging (the maintainer)


def merge(
    git_dir: Path,
    base: str,
    head: str,
    *,
    method: MergeMethod,
    message: str,
    author: tuple[str, str],
) -> str:
    """Merge branch `head` into branch `base` of the bare repository; return the new base tip.

    Done as a maintainer would by hand: clone, `git merge --no-ff` (or `--squash` and a
    commit, or the head's commits rebased onto the base, always rewritten as GitHub's
    "Rebase and merge" does), push the base back. The committer is GitHub, as on
    github.com. MergeConflict when the branches do not merge; the base is then unchanged.
    """
    env = git_env(author=author, committer=GITHUB_COMMITTER)
    with tempfile.TemporaryDirectory(prefix="fakegithub-merge-") as tmp:
        work = Path(tmp) / "work"
        git("clone", "--quiet", "--branch", base, str(git_dir), str(work), env=env)
        theirs = f"origin/{head}"
        if method == "merge":
            result = git(
                "merge", "--no-ff", "--quiet", "-m", message, theirs, cwd=work, env=env, check=False
            )
        elif method == "squash":
            result = git("merge", "--squash", "--quiet", theirs, cwd=work, env=env, check=False)
            if result.returncode == 0:
                result = git("commit", "--quiet", "-m", message, cwd=work, env=env, check=False)
        else:
            git("checkout", "--quiet", "-B", "fakegithub-rebase", theirs, cwd=work, env=env)
            result = git(
                "rebase",
                "--quiet",
                "--force-rebase",
                f"origin/{base}",
                cwd=work,
                env=env,
                check=False,
            )
        if result.returncode != 0:
            raise MergeConflict(
                f"{head} does not {method} into {base}: {(result.stdout + result.stderr).strip()}"
            )
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{base}", cwd=work, env=env)
        return git("rev-parse", "HEAD", cwd=work, env=env).stdout.strip()


# ------------------------------------------------------------------ building (the tests)


def init_bare(
    path: Path,
    *,
    default_branch: str = "master",
    files: Mapping[str, str] | None = None,
    message: str = "Initial commit",
) -> Path:
    """A new bare repository at `path` whose `default_branch` holds one commit of `files`.

    Without `files` the first commit holds a README.md.
    """
    git("init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path))
    commit_files(path, default_branch, files or {"README.md": "# test list\n"}, message)
    return path


def commit_files(
    git_dir: Path,
    branch: str,
    files: Mapping[str, str | None],
    message: str,
    *,
    start_from: str | None = None,
    author: tuple[str, str] = TEST_AUTHOR,
) -> str:
    """Commit `files` (path → text; None deletes) on `branch` of a bare repository.

    The branch moves from its tip, or is created from `start_from` (a branch or commit; no
    parent when None and the branch does not exist). Written with plumbing, so it works on a
    bare repository and the branch moves by compare-and-swap. Returns the new commit.
    """
    env = git_env(author=author)
    parent = rev_parse(git_dir, branch)
    old = parent or ""
    if parent is None and start_from is not None:
        parent = git(
            "rev-parse", "--verify", f"{start_from}^{{commit}}", git_dir=git_dir
        ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="fakegithub-index-") as tmp:
        index_env = {**env, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if parent is not None:
            git("read-tree", parent, git_dir=git_dir, env=index_env)
        for path, text in files.items():
            if text is None:
                git("update-index", "--force-remove", path, git_dir=git_dir, env=index_env)
                continue
            blob = git("hash-object", "-w", "--stdin", git_dir=git_dir, input=text, env=env)
            git(
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob.stdout.strip()},{path}",
                git_dir=git_dir,
                env=index_env,
            )
        tree = git("write-tree", git_dir=git_dir, env=index_env).stdout.strip()
    parents = ["-p", parent] if parent is not None else []
    commit = git(
        "commit-tree", tree, *parents, "-m", message, git_dir=git_dir, env=env
    ).stdout.strip()
    git("update-ref", f"refs/heads/{branch}", commit, old, git_dir=git_dir, env=env)
    return commit


def delete_branch(git_dir: Path, branch: str) -> None:
    """Delete `branch` of a bare repository (as `git push origin --delete branch` would)."""
    git("update-ref", "-d", f"refs/heads/{branch}", git_dir=git_dir)
