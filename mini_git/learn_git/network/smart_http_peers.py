"""Real git beside ours: run ``git`` in a sealed environment, build histories, start servers.

Reading order: not part of the protocol; the demo (``network/demo.py``), the
benchmark and the tests share these helpers so that all three start git and
the servers in exactly the same way.

Real git reads ``~/.gitconfig`` and ``/etc/gitconfig``; a learner's settings
(``protocol.version``, credential helpers, a default branch) would change what
we see.  :func:`git_env` points ``HOME`` at a scratch directory, turns the
system file off and fixes author and committer dates, so that every run makes
the same commits with the same ids.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wirelab_common.errors import SetupError, require_binary
from wirelab_common.processes import ManagedProcess, start_server

from ..sidebyside import fixed_env

FIXED_DATE = "1700000000 +0000"


def git_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment in which git ignores the user's config and makes reproducible commits.

    The sealing is ``sidebyside.fixed_env``'s (the local half's tests use it too); on top,
    one identity for author and committer, and no password prompt: a server that asks for
    credentials must make git fail, not wait for a terminal.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = fixed_env(home)
    env.update(XDG_CONFIG_HOME=str(home / ".config"), GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_DATE=FIXED_DATE,
               GIT_COMMITTER_NAME="Ada", GIT_COMMITTER_EMAIL="ada@example.org",
               GIT_COMMITTER_DATE=FIXED_DATE, GIT_TERMINAL_PROMPT="0")
    env.update(extra)
    return env


def git(env: dict[str, str], *args: str, cwd: Path | str | None = None, check: bool = True,
        input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run real git; on failure raise with its stderr (the message says what went wrong)."""
    require_binary("git", "apt-get install git")
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, input=input, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stderr.decode(errors='replace')}")
    return result


def mini_git(env: dict[str, str], *args: str, cwd: Path | str | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m learn_git`` (ours) the way a learner would."""
    result = subprocess.run([sys.executable, "-m", "learn_git", *args], cwd=cwd, env=env,
                            capture_output=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"mini_git {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}")
    return result


def make_history(env: dict[str, str], work: Path, commits: int, start: int = 0,
                 files_per_commit: int = 1) -> None:
    """``commits`` commits in ``work`` (created if need be), each changing a few small files."""
    if not (work / ".git").exists():
        git(env, "init", "-q", "-b", "main", str(work))
    for number in range(start, start + commits):
        for k in range(files_per_commit):
            path = work / f"dir{number % 10}" / f"file{(number + k) % 50}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"commit {number}, file {k}\n" * (1 + number % 5))
        git(env, "add", "-A", cwd=work)
        git(env, "commit", "-q", "-m", f"commit {number}", cwd=work)


def bare_repository(env: dict[str, str], path: Path) -> Path:
    git(env, "init", "-q", "--bare", "-b", "main", str(path))
    return path


def start_our_server(root: Path, env: dict[str, str], users: tuple[str, ...] = ("alice:secret",),
                     verbose: bool = False, echo: bool = False,
                     options: tuple[str, ...] = ()) -> ManagedProcess:
    """``python -m learn_git.network.http_server --port 0``: the process, its ``.port`` and ``.url`` set."""
    args = [sys.executable, "-m", "learn_git.network.http_server", "--root", str(root), "--port", "0",
            "--loop", "asyncio"]
    for user in users:
        args += ["--user", user]
    if verbose:
        args.append("-v")
    return start_server([*args, *options], name="server", env=env, echo=echo)


def start_backend(root: Path, env: dict[str, str], echo: bool = False) -> ManagedProcess:
    """``git http-backend`` behind ``learn_git.network.cgi_bridge --port 0`` (``.port``, ``.url`` set)."""
    if not Path(git(env, "--exec-path").stdout.decode().strip(), "git-http-backend").exists():
        raise SetupError("git http-backend is missing", "install git's full package (apt-get install git)")
    args = [sys.executable, "-m", "learn_git.network.cgi_bridge", "--root", str(root), "--port", "0",
            "--loop", "asyncio"]
    return start_server(args, name="backend", env=env, echo=echo)


def repository_snapshot(git_dir: Path) -> tuple[dict[str, str], list[str]]:
    """(refs, files under objects/): compared before and after a refused push."""
    refs = {}
    for path in sorted((git_dir / "refs").rglob("*")):
        if path.is_file():
            refs[path.relative_to(git_dir).as_posix()] = path.read_text().strip()
    objects = sorted(path.relative_to(git_dir).as_posix()
                     for path in (git_dir / "objects").rglob("*") if path.is_file())
    return refs, objects
