"""Run the same git command with mini_git and with real git, side by side (tests, demo, bench).

Reading order: last; this is tooling, not git.  Both programs get the same
fixed identity and dates (``GIT_AUTHOR_*`` / ``GIT_COMMITTER_*``), a private
``HOME`` and ``GIT_CONFIG_NOSYSTEM=1``, so that the only difference between the
two repositories is which program wrote them -- and the object ids must agree.

mini_git runs in-process by default (``cli.main``, stdout captured), which is
much faster than starting Python per step; ``subprocess=True`` runs
``python -m learn_git`` instead, as a user would.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BASE_TIME = 1_700_000_000


def fixed_env(home: Path, tick: int = 0, tz: str = "+0100") -> dict[str, str]:
    when = f"{BASE_TIME + 60 * tick} {tz}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Ada Lovelace",
               GIT_AUTHOR_EMAIL="ada@example.org", GIT_AUTHOR_DATE=when, GIT_COMMITTER_NAME="Charles Babbage",
               GIT_COMMITTER_EMAIL="charles@example.org", GIT_COMMITTER_DATE=when, GIT_EDITOR="true",
               GIT_MERGE_AUTOEDIT="no", LC_ALL="C", TZ="UTC")
    return env


@dataclass
class Result:
    code: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")


def run_git(cwd: Path, args: list[str], env: dict[str, str], stdin: bytes | None = None) -> Result:
    p = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, input=stdin, timeout=60)
    return Result(p.returncode, p.stdout, p.stderr)


def run_mini(cwd: Path, args: list[str], env: dict[str, str], subprocess_: bool = False) -> Result:
    if subprocess_:
        p = subprocess.run([sys.executable, "-m", "learn_git", *args], cwd=cwd, env=env,
                           capture_output=True, timeout=60)
        return Result(p.returncode, p.stdout, p.stderr)
    from .cli import main
    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", errors="surrogateescape", write_through=True)
    err_text = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out_text), contextlib.redirect_stderr(err_text):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Result(code, out.getvalue(), err.getvalue())


class Pair:
    """Two work trees, ``mini`` (written by mini_git) and ``git`` (written by real git)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.home = self.root / "home"
        self.mini, self.git = self.root / "mini", self.root / "git"
        for d in (self.home, self.mini, self.git):
            d.mkdir(parents=True, exist_ok=True)
        self.tick = 0

    def env(self) -> dict[str, str]:
        return fixed_env(self.home, self.tick)

    def both(self, *args: str, tick: bool = False) -> tuple[Result, Result]:
        """Run ``args`` in both trees (advance the clock first when ``tick``)."""
        if tick:
            self.tick += 1
        env = self.env()
        return run_mini(self.mini, list(args), env), run_git(self.git, list(args), env)

    def git_in(self, which: str, *args: str) -> Result:
        """Real git run in one of the trees (to inspect what mini_git wrote)."""
        return run_git(self.mini if which == "mini" else self.git, list(args), self.env())

    def write(self, path: str, data: bytes | str, mode: int | None = None) -> None:
        for top in (self.mini, self.git):
            target = top / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.encode() if isinstance(data, str) else data)
            if mode is not None:
                target.chmod(mode)

    def symlink(self, path: str, to: str) -> None:
        for top in (self.mini, self.git):
            (top / path).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(to, top / path)

    def remove(self, path: str) -> None:
        for top in (self.mini, self.git):
            (top / path).unlink()

    def rev(self, spec: str = "HEAD") -> tuple[str, str]:
        return (self.git_in("mini", "rev-parse", spec).text.strip(),
                self.git_in("git", "rev-parse", spec).text.strip())
