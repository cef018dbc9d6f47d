"""`diff --base REV`: a fleet file as it was at a git revision, read with git at most one byte past the size limit.

Why: a pull request's fleet diff compares the file with its version on the base branch. CI clones
are often shallow or hold only one branch, so a missing revision gets a usage error that says how
to fetch it; `A...B` means the merge base of A and B, as in `git diff A...B`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from meshfleet.errors import UsageError
from meshfleet.fleet.document import MAX_BYTES
from meshfleet.fleet.includes import git_blob_head


@dataclass(frozen=True)
class BaseFile:
    """The fleet's bytes at the revision, or None when the file did not exist there."""

    revision: str
    commit: str
    content: bytes | None


def _git(where: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=where, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("--base needs git, which is not installed") from None


def _fetch_hint(where: Path, rev: str) -> str:
    remotes = _git(where, "remote").stdout.decode(errors="replace").split()
    shallow = _git(where, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
    hints = []
    remote, _, branch = rev.partition("/")
    if remotes:
        if remote in remotes and branch:
            hints.append(f"fetch it: git fetch {remote} {branch}")
        else:
            hints.append(f"if it is a branch of the remote, fetch it: git fetch {remotes[0]} {rev}")
    if shallow:
        hints.append(
            "this clone is shallow: fetch its history with git fetch --unshallow "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)"
        )
    if not hints:
        hints.append("check the name with git log --oneline or git branch -a")
    return "; ".join(hints)


def _commit(where: Path, rev: str, shown: str, path: str) -> str:
    if not rev or rev.startswith("-"):
        raise UsageError(f"--base {shown!r} is not a git revision")
    found = _git(where, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if found.returncode != 0:
        top = _git(where, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise UsageError(f"--base {shown}: {path} is not in a git repository")
        raise UsageError(
            f"--base {shown}: no such git revision {rev!r} in the repository of {path}\n"
            f"    fix: {_fetch_hint(where, rev)}"
        )
    return found.stdout.decode().strip()


def resolve(where: Path, base: str, path: str) -> str:
    """The commit `base` names: a revision, or `A...B` (B defaults to HEAD) for their merge base."""
    if "..." in base:
        left, _, right = base.partition("...")
        a = _commit(where, left or "HEAD", base, path)
        b = _commit(where, right or "HEAD", base, path)
        merged = _git(where, "merge-base", a, b)
        if merged.returncode != 0:
            shallow = _git(where, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
            fix = (
                "this clone is shallow: fetch its history with git fetch --unshallow"
                if shallow
                else "the two revisions share no history; give one revision instead"
            )
            raise UsageError(
                f"--base {base}: {left or 'HEAD'} and {right or 'HEAD'} have no merge base\n    fix: {fix}"
            )
        return merged.stdout.decode().strip()
    if ".." in base:
        raise UsageError(f"--base {base!r}: give one revision, or A...B (three dots) for the merge base of A and B")
    return _commit(where, base, base, path)


def read_at(path: str, base: str) -> BaseFile:
    """FLEET (a path in a git work tree) at revision `base`."""
    fleet = Path(path)
    where = fleet.resolve().parent
    if not where.is_dir():
        raise UsageError(f"--base {base}: the directory of {path} does not exist")
    commit = resolve(where, base, path)
    # At most one byte over the limit: the loader refuses a larger file on its size alone.
    try:
        content = git_blob_head(where, commit, fleet.name, MAX_BYTES + 1)
    except OSError as e:
        fix = "check the repository with git fsck, or give another revision"
        raise UsageError(f"--base {base}: {e}\n    fix: {fix}") from None
    return BaseFile(base, commit, content)
