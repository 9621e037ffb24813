"""A repository: where its git dir, work tree and object store are (file-system layer).

Reading order: after ``refs.py``.  ``init`` lays out a new ``.git`` the way
``git init`` does; ``discover`` walks up from a directory to find one, following
a ``.git`` *file* (``gitdir: <path>``) as linked worktrees use.

Three directories matter:

- ``git_dir``: this working tree's private part (HEAD, index, MERGE_HEAD...);
- ``common_dir``: objects, refs, config shared by all worktrees (same as
  ``git_dir`` except in a linked worktree);
- ``work_tree``: the checked-out files (None for a bare repository).

``all_worktrees`` lists the main worktree and the linked ones (``worktree add``
makes them: ``next_steps/worktree.py``); ``checked_out_branches`` is what
``branch -d`` and ``checkout`` ask so that a branch is checked out in one
worktree at most.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import Config
from .errors import GitError, NotARepository
from .odb import ObjectStore
from .refs import common_dir, read_head, set_head_symbolic

DEFAULT_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = {bare}\n{extra}"


class Repository:
    """An opened repository; cheap to create (packs are indexed lazily)."""

    def __init__(self, git_dir: Path, work_tree: Path | None) -> None:
        self.git_dir = Path(git_dir)
        self.work_tree = Path(work_tree) if work_tree is not None else None
        self.common_dir = common_dir(self.git_dir)
        self.odb = ObjectStore(self.common_dir)
        self.config = Config(self.common_dir / "config")

    # ------------------------------------------------------------ creating and finding
    @classmethod
    def init(cls, path: Path, bare: bool = False, initial_branch: str = "main") -> Repository:
        """Create (or re-open) a repository at ``path``; HEAD names ``initial_branch``."""
        path = Path(path).absolute()
        git_dir = path if bare else path / ".git"
        if (git_dir / "HEAD").exists():
            return cls(git_dir, None if bare else path)
        for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info", "hooks"):
            (git_dir / sub).mkdir(parents=True, exist_ok=True)
        extra = "" if bare else "\tlogallrefupdates = true\n"
        (git_dir / "config").write_text(DEFAULT_CONFIG.format(bare=str(bare).lower(), extra=extra))
        (git_dir / "description").write_text(
            "Unnamed repository; edit this file 'description' to name the repository.\n")
        (git_dir / "info" / "exclude").write_text("# patterns of files git should not track\n")
        set_head_symbolic(git_dir, f"refs/heads/{initial_branch}")
        return cls(git_dir, None if bare else path)

    @classmethod
    def discover(cls, path: Path | str = ".") -> Repository:
        """The repository containing ``path`` (its work tree, or the git dir of a bare repo)."""
        start = Path(path).absolute()
        for here in (start, *start.parents):
            dot_git = here / ".git"
            if dot_git.is_dir() and (dot_git / "HEAD").exists():
                return cls(dot_git, here)
            if dot_git.is_file():
                text = dot_git.read_text().strip()
                if not text.startswith("gitdir: "):
                    raise NotARepository(f"{dot_git} is a file but not 'gitdir: <path>'")
                git_dir = (here / text[len("gitdir: "):]).resolve()
                return cls(git_dir, here)
            if (here / "HEAD").is_file() and (here / "objects").is_dir() and (here / "refs").is_dir():
                return cls(here, None)
        raise NotARepository(f"not a git repository (or any of the parent directories): {start}")

    # ------------------------------------------------------------ conveniences
    @property
    def bare(self) -> bool:
        return self.work_tree is None

    def require_work_tree(self) -> Path:
        if self.work_tree is None:
            raise GitError("this operation must be run in a work tree")
        return self.work_tree

    @property
    def index_path(self) -> Path:
        return self.git_dir / "index"

    def head(self):
        return read_head(self.git_dir)

    def relpath(self, path: str | os.PathLike) -> str:
        """A command-line path as a slash-separated path relative to the work tree (checked)."""
        from .paths import worktree_relative
        return worktree_relative(self.require_work_tree(), Path(path))


def all_worktrees(repo) -> list[tuple[Path, Path]]:
    """(work tree path, git dir) of the main worktree and every linked one."""
    common = common_dir(repo.git_dir)
    main = [(common.parent, common)] if common.name == ".git" else [(common, common)]
    linked = []
    admin = common / "worktrees"
    if admin.is_dir():
        for d in sorted(admin.iterdir()):
            gitdir_file = d / "gitdir"
            if gitdir_file.is_file():
                linked.append((Path(gitdir_file.read_text().strip()).parent, d))
    return main + linked


def checked_out_branches(repo) -> dict[str, Path]:
    """Branches checked out in *other* worktrees -> where."""
    out = {}
    for path, git_dir in all_worktrees(repo):
        if git_dir.resolve() == repo.git_dir.resolve():
            continue
        try:
            head = read_head(git_dir)
        except GitError:
            continue
        if head.ref:
            out[head.ref] = path
    return out
