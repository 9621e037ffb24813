"""Differential tests: the same steps with mini_git and with real git must give the same object ids.

Each scenario runs in two fresh directories (``Pair``): every command goes to
both, with the same fixed identity and dates, then the commit/tree/tag ids are
compared, real git checks what mini_git wrote (``git fsck --strict``), and
``git status``/``git log``/``git diff`` run by real git *in mini_git's repository*
must print what mini_git prints.
"""

from __future__ import annotations

import pytest

from learn_git.sidebyside import Pair
from tests.conftest import need_binary

pytestmark = pytest.mark.differential


@pytest.fixture
def pair(tmp_path):
    need_binary("git", "git")
    p = Pair(tmp_path)
    run(p, "init", "-q", "-b", "main")
    return p


def run(p: Pair, *args: str, tick: bool = False, same_output: bool = False):
    mini, git = p.both(*args, tick=tick)
    assert mini.code == git.code, (f"{args}: mini exit {mini.code} ({mini.err!r}), "
                                   f"git exit {git.code} ({git.err!r})")
    if same_output:
        assert mini.text == git.text, f"{args}: outputs differ"
    return mini, git


def assert_same(p: Pair, spec: str = "HEAD") -> str:
    mini, git = p.rev(spec)
    assert mini == git and len(mini) == 40, f"{spec}: mini_git made {mini}, git made {git}"
    return mini


def assert_fsck_clean(p: Pair) -> None:
    result = p.git_in("mini", "fsck", "--strict", "--no-dangling")
    assert result.code == 0 and not result.err.strip(), result.err.decode()


def assert_git_agrees_with_mini(p: Pair) -> None:
    """Real git, run in mini_git's repository, sees what mini_git sees."""
    for args in (["status", "--porcelain"], ["log", "--oneline"], ["diff"], ["diff", "--cached"]):
        mini, _ = p.both(*args)
        real = p.git_in("mini", *args)
        assert mini.out == real.out, f"{args}: mini_git says {mini.out!r}, git says {real.out!r}"


def populate(p: Pair) -> None:
    p.write("README.md", "# hello\n")
    p.write("empty", b"")
    p.write("bin/tool.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    p.write("src/deep/nested/module.py", "def f():\n    return 1\n")
    p.write("file with spaces.txt", "spaces\n")
    p.write("ünïcødé-名前.txt", "non-ascii name\n")
    p.write("data.bin", bytes(range(256)) * 4)
    p.write("a.b", "sorts before a/ in a tree\n")
    p.write("a/inner", "inside a/\n")
    p.symlink("link-to-readme", "README.md")


def test_first_commit_of_varied_files_has_the_same_ids(pair):
    populate(pair)
    run(pair, "add", ".")
    run(pair, "commit", "-q", "-m", "first commit\n\nwith a body\nof two lines", tick=True)
    assert_same(pair)
    assert_same(pair, "HEAD^{tree}")
    assert_fsck_clean(pair)
    assert_git_agrees_with_mini(pair)
    run(pair, "ls-tree", "-r", "HEAD", same_output=True)
    run(pair, "cat-file", "-p", "HEAD^{tree}", same_output=True)
    run(pair, "log", same_output=True)


def test_status_and_diff_agree_with_git_after_edits(pair):
    populate(pair)
    run(pair, "add", ".")
    run(pair, "commit", "-q", "-m", "base", tick=True)
    pair.write("README.md", "# hello\n\nmore text\n")
    pair.write("src/deep/nested/module.py", "def f():\n    return 2\n")
    pair.write("new.txt", "untracked\n")
    pair.write("untracked-dir/x", "x\n")
    pair.remove("empty")
    # odd names in diff headers: git quotes non-ASCII names and ends a name with a space with a tab
    pair.write("file with spaces.txt", "spaces\nand more\n")
    pair.write("ünïcødé-名前.txt", "non-ascii name, edited\n")
    pair.write("data.bin", bytes(range(255, -1, -1)) * 4)
    (pair.mini / "bin/tool.sh").chmod(0o644)
    (pair.git / "bin/tool.sh").chmod(0o644)
    assert_git_agrees_with_mini(pair)
    run(pair, "diff", same_output=True)
    run(pair, "add", "README.md", "empty", "new.txt")
    assert_git_agrees_with_mini(pair)
    run(pair, "diff", "--cached", same_output=True)
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "commit", "-q", "-a", "-m", "second", tick=True)
    assert_same(pair)
    assert_fsck_clean(pair)


def test_branches_fast_forward_and_three_way_merge(pair):
    pair.write("story.txt", "".join(f"line {i}\n" for i in range(1, 11)))
    run(pair, "add", "story.txt")
    run(pair, "commit", "-q", "-m", "story", tick=True)
    run(pair, "branch", "feature")
    run(pair, "switch", "-q", "feature")
    pair.write("story.txt", "".join(f"line {i}\n" for i in range(1, 10)) + "feature ending\n")
    run(pair, "commit", "-q", "-am", "feature ending", tick=True)
    run(pair, "switch", "-q", "main")
    run(pair, "merge", "feature", tick=True)  # fast-forward
    assert_same(pair)
    run(pair, "switch", "-q", "-c", "side", "HEAD~1")
    pair.write("other.txt", "side work\n")
    run(pair, "add", "other.txt")
    run(pair, "commit", "-q", "-m", "side work", tick=True)
    run(pair, "switch", "-q", "main")
    middle = "".join(f"line {i}\n" for i in range(2, 10))
    pair.write("story.txt", "new beginning\n" + middle + "feature ending\n")
    run(pair, "commit", "-q", "-am", "main beginning", tick=True)
    run(pair, "merge", "--no-edit", "side", tick=True)
    merge = assert_same(pair)
    assert len(pair.git_in("mini", "cat-file", "-p", merge).text.split("parent ")) == 3
    run(pair, "log", "--first-parent", "--oneline", same_output=True)
    run(pair, "log", "--oneline", same_output=True)
    run(pair, "branch", "-d", "side", same_output=True)
    run(pair, "branch", same_output=True)
    assert_fsck_clean(pair)


def test_merge_conflict_is_marked_like_git_and_finished_with_add_commit(pair):
    pair.write("f.txt", "one\ntwo\nthree\n")
    run(pair, "add", "f.txt")
    run(pair, "commit", "-q", "-m", "base", tick=True)
    run(pair, "switch", "-q", "-c", "theirs")
    pair.write("f.txt", "one\nTHEIRS\nthree\n")
    run(pair, "commit", "-q", "-am", "theirs", tick=True)
    run(pair, "switch", "-q", "main")
    pair.write("f.txt", "one\nOURS\nthree\n")
    run(pair, "commit", "-q", "-am", "ours", tick=True)
    mini, git = run(pair, "merge", "theirs", tick=True)
    assert mini.code == 1
    assert (pair.mini / "f.txt").read_bytes() == (pair.git / "f.txt").read_bytes()
    assert b"<<<<<<< HEAD\nOURS\n=======\nTHEIRS\n>>>>>>> theirs\n" in (pair.mini / "f.txt").read_bytes()
    assert pair.git_in("mini", "status", "--porcelain").text == "UU f.txt\n"
    assert pair.git_in("mini", "ls-files", "-u").text == pair.git_in("git", "ls-files", "-u").text
    pair.write("f.txt", "one\nBOTH\nthree\n")
    run(pair, "add", "f.txt")
    run(pair, "commit", "-q", "--no-edit" if False else "-m", "Merge branch 'theirs'", tick=True)
    assert_same(pair)
    assert_fsck_clean(pair)


def test_reset_revert_and_tags(pair):
    for n in range(3):
        pair.write("counter.txt", f"value {n}\nsecond line\n")
        run(pair, "add", "counter.txt")
        run(pair, "commit", "-q", "-m", f"value {n}", tick=True)
    run(pair, "tag", "light")
    run(pair, "tag", "-a", "v1.0", "-m", "release one", tick=True)
    assert_same(pair, "v1.0")
    run(pair, "tag", same_output=True)
    run(pair, "revert", "--no-edit", "HEAD", tick=True)
    assert_same(pair)
    run(pair, "reset", "--soft", "HEAD~2")
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "reset", "HEAD~1")  # --mixed
    run(pair, "status", "--porcelain", same_output=True)
    assert_git_agrees_with_mini(pair)
    run(pair, "reset", "-q", "--hard", "v1.0")
    assert (pair.mini / "counter.txt").read_text() == "value 2\nsecond line\n"
    assert_same(pair)
    assert_fsck_clean(pair)


def test_stash_push_list_pop(pair):
    pair.write("work.txt", "committed\n")
    run(pair, "add", "work.txt")
    run(pair, "commit", "-q", "-m", "work", tick=True)
    pair.write("work.txt", "in progress\n")
    pair.write("added.txt", "staged new file\n")
    run(pair, "add", "added.txt")
    run(pair, "stash", "push", tick=True)
    assert_same(pair, "refs/stash")
    assert_same(pair, "refs/stash^2")
    assert pair.git_in("mini", "stash", "list").text == pair.git_in("git", "stash", "list").text
    run(pair, "stash", "list", same_output=True)
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "stash", "pop")
    run(pair, "status", "--porcelain", same_output=True)
    assert (pair.mini / "work.txt").read_text() == "in progress\n"
    assert_fsck_clean(pair)


def test_rebase_of_a_linear_branch_gives_the_same_commits(pair):
    pair.write("base.txt", "base\n")
    run(pair, "add", "base.txt")
    run(pair, "commit", "-q", "-m", "base", tick=True)
    run(pair, "switch", "-q", "-c", "topic")
    for n in range(2):
        pair.write(f"topic{n}.txt", f"topic {n}\n")
        run(pair, "add", f"topic{n}.txt")
        run(pair, "commit", "-q", "-m", f"topic {n}", tick=True)
    run(pair, "switch", "-q", "main")
    pair.write("base.txt", "base, improved\n")
    run(pair, "commit", "-q", "-am", "improve base", tick=True)
    run(pair, "switch", "-q", "topic")
    run(pair, "rebase", "main", tick=True)
    assert_same(pair)
    run(pair, "log", "--oneline", same_output=True)
    assert_fsck_clean(pair)


def test_checkout_refuses_to_overwrite_local_changes(pair):
    pair.write("f.txt", "v1\n")
    run(pair, "add", "f.txt")
    run(pair, "commit", "-q", "-m", "v1", tick=True)
    run(pair, "switch", "-q", "-c", "other")
    pair.write("f.txt", "v2\n")
    run(pair, "commit", "-q", "-am", "v2", tick=True)
    run(pair, "switch", "-q", "main")
    pair.write("f.txt", "local edit\n")
    mini, git = run(pair, "switch", "other")
    assert mini.code != 0 and mini.err == git.err, (mini.err, git.err)  # git's words, "Aborting" too
    assert (pair.mini / "f.txt").read_text() == "local edit\n"
    assert pair.git_in("mini", "symbolic-ref", "HEAD").text.strip() == "refs/heads/main"
    # A change to a file the switch does not touch is carried along, as git does.
    pair.write("f.txt", "v1\n")
    pair.write("g.txt", "untracked stays\n")
    run(pair, "checkout", "-q", "other")
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "checkout", "-q", "HEAD~1")  # detached
    assert pair.git_in("mini", "rev-parse", "--abbrev-ref", "HEAD").text.strip() == "HEAD"
    assert_same(pair)


def test_ignored_files_binary_and_symlink_changes_and_plumbing(pair):
    pair.write(".gitignore", "*.log\nbuild/\n!keep.log\n")
    pair.write("app.log", "noise\n")
    pair.write("keep.log", "kept\n")
    pair.write("build/out.o", b"\0\1\2")
    pair.write("img.bin", b"\x89PNG\0\0\1")
    pair.write("target.txt", "target\n")
    pair.symlink("ln", "target.txt")
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "add", ".")
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "commit", "-q", "-m", "with ignores", tick=True)
    assert_same(pair)
    pair.write("img.bin", b"\x89PNG\0\0\2")
    pair.remove("ln")
    pair.write("ln", "now a file\n")  # symlink -> regular file: a type change
    run(pair, "diff", same_output=True)
    run(pair, "status", "--porcelain", same_output=True)
    run(pair, "add", "-A")
    run(pair, "diff", "--cached", same_output=True)
    run(pair, "commit", "-q", "-m", "binary and type change", tick=True)
    assert_same(pair)
    run(pair, "diff", "HEAD~1", "HEAD", same_output=True)
    run(pair, "rm", "-q", "keep.log")
    run(pair, "status", "--porcelain", same_output=True)
    pair.write("target.txt", "scribbled\n")
    run(pair, "checkout", "--", "target.txt")
    assert (pair.mini / "target.txt").read_text() == "target\n"
    run(pair, "log", "--format=%H %T %P %an <%ae> %s", same_output=True)
    for args in (["cat-file", "-t", "HEAD"], ["cat-file", "-s", "HEAD^{tree}"], ["hash-object", "img.bin"],
                 ["rev-parse", "HEAD~1^{tree}"], ["show-ref"]):
        run(pair, *args, same_output=True)
    assert pair.git_in("mini", "reflog").code == 0
    assert_fsck_clean(pair)


def test_clean_merge_of_additions_deletions_and_mode_changes(pair):
    pair.write("keep.txt", "keep\n")
    pair.write("drop-on-main.txt", "x\n")
    pair.write("drop-on-side.txt", "y\n")
    pair.write("script.sh", "echo\n")
    pair.write("both.txt", "".join(f"{i}\n" for i in range(20)))
    run(pair, "add", ".")
    run(pair, "commit", "-q", "-m", "base", tick=True)
    run(pair, "switch", "-q", "-c", "side")
    pair.remove("drop-on-side.txt")
    pair.write("side/new.txt", "from side\n")
    (pair.mini / "script.sh").chmod(0o755)
    (pair.git / "script.sh").chmod(0o755)
    pair.write("both.txt", "".join(f"{i}\n" for i in range(19)) + "side end\n")
    run(pair, "add", "-A")
    run(pair, "commit", "-q", "-m", "side changes", tick=True)
    run(pair, "switch", "-q", "main")
    pair.remove("drop-on-main.txt")
    pair.write("main-new.txt", "from main\n")
    pair.write("both.txt", "main start\n" + "".join(f"{i}\n" for i in range(1, 20)))
    run(pair, "add", "-A")
    run(pair, "commit", "-q", "-m", "main changes", tick=True)
    run(pair, "merge", "-m", "combine", "side", tick=True)
    assert_same(pair)
    assert_same(pair, "HEAD^{tree}")
    run(pair, "status", "--porcelain", same_output=True)
    assert_fsck_clean(pair)


def long_status_agrees(p: Pair) -> None:
    """mini_git's long ``status`` is git's with ``advice.statusHints=false`` (no "(use ...)" lines)."""
    mini, _ = p.both("status")
    real = p.git_in("mini", "-c", "advice.statusHints=false", "status")
    assert mini.text == real.text, f"mini_git:\n{mini.text}\ngit:\n{real.text}"


def test_conflict_kinds_and_long_status_read_like_gits(pair):
    long_status_agrees(pair)  # unborn branch: "No commits yet"
    pair.write("edit-vs-delete.txt", "base\n")
    pair.write("delete-vs-edit.txt", "base\n")
    pair.write("both-edit.txt", "base\n")
    pair.write("spaced name.txt", "base\n")
    run(pair, "add", ".")
    run(pair, "commit", "-q", "-m", "base", tick=True)
    long_status_agrees(pair)
    run(pair, "switch", "-q", "-c", "other")
    pair.remove("edit-vs-delete.txt")
    pair.write("delete-vs-edit.txt", "theirs\n")
    pair.write("both-edit.txt", "theirs\n")
    pair.write("both-add.txt", "theirs\n")
    run(pair, "add", "-A")
    run(pair, "commit", "-q", "-m", "other", tick=True)
    run(pair, "switch", "-q", "main")
    pair.write("edit-vs-delete.txt", "ours\n")
    pair.remove("delete-vs-edit.txt")
    pair.write("both-edit.txt", "ours\n")
    pair.write("both-add.txt", "ours\n")
    pair.write("spaced name.txt", "edited, not staged\n")
    run(pair, "add", "edit-vs-delete.txt", "delete-vs-edit.txt", "both-edit.txt", "both-add.txt")
    run(pair, "commit", "-q", "-m", "ours", tick=True)
    pair.write("untracked ü.txt", "new\n")
    long_status_agrees(pair)
    run(pair, "checkout", "--", "spaced name.txt")
    mini, git = run(pair, "merge", "other", tick=True)
    assert mini.code == 1
    assert pair.git_in("mini", "ls-files", "-u").out == pair.git_in("git", "ls-files", "-u").out
    run(pair, "status", "--porcelain", same_output=True)  # UU, AA, UD, DU
    assert {line[:2] for line in pair.git_in("mini", "status", "--porcelain").text.splitlines()} >= {
        "UU", "AA", "UD", "DU"}
    long_status_agrees(pair)
    for name in ("both-edit.txt", "both-add.txt"):
        pair.write(name, "resolved\n")
    run(pair, "add", "both-edit.txt", "both-add.txt", "edit-vs-delete.txt", "delete-vs-edit.txt")
    long_status_agrees(pair)  # "All conflicts fixed but you are still merging."
    run(pair, "commit", "-q", "-m", "merged", tick=True)
    assert_same(pair)
    assert_fsck_clean(pair)


@pytest.mark.parametrize(("author_date", "committer_date"), [
    ("1700000000 -0530", "@1700003600 +1245"),               # git's own form, odd time zones
    ("2024-02-29T23:59:30-08:00", "2024-03-01 09:00:00 +0000"),  # ISO 8601
    ("Thu, 07 Apr 2005 22:13:13 +0200", "Fri, 8 Apr 2005 01:02:03 -0700"),  # RFC 2822
])
def test_dates_and_time_zones_give_the_same_commit_ids(pair, author_date, committer_date):
    from learn_git.sidebyside import run_git, run_mini

    pair.write("f.txt", "dated\n")
    run(pair, "add", "f.txt")
    env = pair.env() | {"GIT_AUTHOR_DATE": author_date, "GIT_COMMITTER_DATE": committer_date}
    for args in (["commit", "-q", "-m", "dated"], ["tag", "-a", "dated", "-m", "tagged"]):
        assert run_mini(pair.mini, args, env).code == run_git(pair.git, args, env).code == 0
    assert_same(pair)
    assert_same(pair, "dated")
    run(pair, "log", same_output=True)  # "Date:" printed in the author's own zone


def test_hash_object_write_and_cat_file_exists(pair):
    pair.write("blob.bin", b"\0\1binary\xff")
    run(pair, "hash-object", "-w", "blob.bin", same_output=True)
    oid = pair.git_in("git", "hash-object", "blob.bin").text.strip()
    assert pair.git_in("mini", "cat-file", "-e", oid).code == 0  # real git finds the object we wrote
    run(pair, "cat-file", "-e", oid)
    run(pair, "cat-file", "-e", "0" * 40)  # both exit non-zero
    run(pair, "cat-file", "blob", oid, same_output=True)
    fsck = pair.git_in("mini", "fsck", "--strict")
    assert fsck.code == 0 and b"error" not in fsck.err, fsck.err  # (only notices: no commit yet)


def test_nothing_to_commit_stops_like_git_even_on_the_first_commit(pair):
    # git's commit prints its long status; ours leaves out the "(use ...)" advice lines
    assert pair.git_in("git", "config", "advice.statusHints", "false").code == 0
    mini, git = run(pair, "commit", "-m", "empty", same_output=True)   # empty index, unborn branch
    assert git.code == 1 and "Initial commit" in git.text and "nothing to commit" in git.text
    pair.write("untracked.txt", "not added\n")
    mini, git = run(pair, "commit", "-q", "-m", "still empty", same_output=True)
    assert git.code == 1 and "nothing added to commit but untracked files present" in git.text
    assert pair.git_in("mini", "rev-parse", "-q", "--verify", "HEAD").code != 0   # no commit made
    run(pair, "add", "untracked.txt")
    run(pair, "commit", "-q", "-m", "first", tick=True)
    mini, git = run(pair, "commit", "-m", "again", same_output=True)
    assert git.code == 1 and git.text.endswith("nothing to commit, working tree clean\n")
    pair.write("untracked.txt", "changed, not staged\n")
    mini, git = run(pair, "commit", "-m", "again", same_output=True)
    assert git.code == 1 and "no changes added to commit" in git.text
    run(pair, "commit", "-q", "--allow-empty", "-m", "allowed", tick=True)
    assert_same(pair)
    assert_fsck_clean(pair)


def test_backslash_file_names_from_a_repository_git_made(pair):
    """On POSIX a backslash is an ordinary character in a file name: git stores ``a\\b.txt``, and
    only its Windows builds refuse it.  Real git makes the repository; ours checks it out,
    reports it, stages and commits in it exactly as git does in an identical copy."""
    import shutil

    def real(*args):
        result = pair.git_in("git", *args)
        assert result.code == 0, result.err.decode()

    (pair.git / "plain.txt").write_text("plain\n")
    real("add", ".")
    real("commit", "-q", "-m", "plain")
    real("switch", "-q", "-c", "side")
    (pair.git / "a\\b.txt").write_text("one\n")
    (pair.git / "dir\\x").mkdir()
    (pair.git / "dir\\x" / "in.txt").write_text("two\n")
    real("add", ".")
    real("commit", "-q", "-m", "backslashes")
    real("switch", "-q", "main")
    shutil.rmtree(pair.mini)
    shutil.copytree(pair.git, pair.mini, symlinks=True)

    run(pair, "checkout", "-q", "side")
    assert (pair.mini / "a\\b.txt").read_text() == "one\n"
    assert (pair.mini / "dir\\x" / "in.txt").read_text() == "two\n"
    run(pair, "status", "--porcelain", same_output=True)
    assert_git_agrees_with_mini(pair)
    pair.write("a\\b.txt", "one, edited\n")
    pair.write("new\\name.txt", "new\n")
    pair.remove("dir\\x/in.txt")
    run(pair, "status", "--porcelain", same_output=True)   # quoted as git quotes them: "a\\b.txt"
    long_status_agrees(pair)
    run(pair, "checkout", "--", "dir\\x/in.txt")
    assert (pair.mini / "dir\\x" / "in.txt").read_text() == "two\n"
    run(pair, "add", "a\\b.txt", "new\\name.txt")
    run(pair, "status", "--porcelain", same_output=True)
    assert_git_agrees_with_mini(pair)
    run(pair, "commit", "-q", "-m", "edited", tick=True)
    assert_same(pair)
    run(pair, "ls-tree", "-r", "HEAD", same_output=True)
    assert_fsck_clean(pair)
    run(pair, "switch", "-q", "main")
    assert not (pair.mini / "a\\b.txt").exists() and not (pair.mini / "dir\\x").exists()
    # What git refuses on POSIX too (core.protectNTFS is on by default): both refuse, same exit code
    pair.write("x\\.git", "no\n")
    mini, git = run(pair, "add", "x\\.git")
    assert git.code == 128 and b"unsafe path" in mini.err
