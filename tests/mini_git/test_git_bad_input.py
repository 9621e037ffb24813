"""Bad input: damaged objects and paths that try to escape the work tree.

Every case checks three things: a clear error (exit 128 and a ``fatal:`` line
that says what is wrong), nothing written outside the repository, and the
repository exactly as it was before (every file under ``.git`` and the work tree
hashed before and after).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from learn_git.errors import CorruptObject
from learn_git.objects import Commit, TreeEntry, serialize_commit, serialize_tree
from learn_git.repo import Repository
from learn_git.sidebyside import fixed_env, run_mini

pytestmark = pytest.mark.memory


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + str(p.readlink())
        elif p.is_file():
            out[rel] = hashlib.sha1(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def repo(tmp_path):
    return one_commit_repository(tmp_path)


def one_commit_repository(tmp_path: Path):
    """(work tree, env): a repository mini_git made, one commit holding hello.txt."""
    env = fixed_env(tmp_path / "home")
    work = tmp_path / "repo"
    work.mkdir()
    run_mini(work, ["init", "-q"], env)
    (work / "hello.txt").write_text("hello\n")
    run_mini(work, ["add", "hello.txt"], env)
    assert run_mini(work, ["commit", "-q", "-m", "one"], env).code == 0
    return work, env


def fails_cleanly(work: Path, env, args: list[str], expect: bytes, outside: Path | None = None) -> None:
    before = snapshot(work)
    outside_before = snapshot(outside) if outside else None
    result = run_mini(work, args, env)
    assert result.code == 128, (result.code, result.err)
    assert result.err.startswith(b"fatal: ") and expect in result.err, result.err
    assert snapshot(work) == before, "the repository changed"
    if outside is not None:
        assert snapshot(outside) == outside_before, "something was written outside the repository"


BLOB = "ce013625030ba8dba906f756967f9e9ca394464a"  # "hello\n"


def test_a_corrupted_loose_object_is_reported_not_believed(repo):
    work, env = repo
    path = work / ".git/objects" / BLOB[:2] / BLOB[2:]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    fails_cleanly(work, env, ["cat-file", "-p", BLOB], b"is not valid zlib data")


def test_a_truncated_loose_object_is_reported(repo):
    work, env = repo
    path = work / ".git/objects" / BLOB[:2] / BLOB[2:]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:8])
    fails_cleanly(work, env, ["cat-file", "-p", BLOB], BLOB.encode())


def test_an_object_stored_under_the_wrong_name_fails_its_hash_check(repo):
    work, env = repo
    path = work / ".git/objects" / BLOB[:2] / BLOB[2:]
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"blob 8\0goodbye\n"))
    fails_cleanly(work, env, ["cat-file", "-p", BLOB], b"hashes to")


def test_a_wrong_size_in_the_header_is_reported(repo):
    work, env = repo
    raw = b"blob 99\0hello\n"
    oid = hashlib.sha1(raw).hexdigest()
    target = work / ".git/objects" / oid[:2] / oid[2:]
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(zlib.compress(raw))
    with pytest.raises(CorruptObject, match="declares 99 bytes"):
        Repository.discover(work).odb.read(oid)


def commit_with_tree(work: Path, raw_tree: bytes) -> str:
    """A commit whose tree holds whatever bytes we like (as an attacker's repository would)."""
    odb = Repository.discover(work).odb
    tree = odb.write("tree", raw_tree)
    who = "Mallory <m@example.org> 1700000000 +0000"
    return odb.write("commit", serialize_commit(Commit(tree, [], who, who, "evil\n")))


def raw_entry(mode: bytes, name: bytes, oid: str) -> bytes:
    return mode + b" " + name + b"\0" + bytes.fromhex(oid)


@pytest.mark.parametrize(("name", "message"), [(b"..", b"invalid tree entry name"),
                                               (b".git", b"unsafe path"), (b".GIT", b"unsafe path"),
                                               (b"a/../../x", b"invalid tree entry"),
                                               (b"/etc/passwd", b"invalid tree entry")])
def test_a_tree_entry_that_escapes_the_work_tree_is_refused_on_checkout(repo, tmp_path, name, message):
    work, env = repo
    if b"/" in name:  # a file entry whose name is a path
        evil = commit_with_tree(work, raw_entry(b"100644", name, BLOB))
    else:  # a subtree named ".." (or ".git") holding a file
        odb = Repository.discover(work).odb
        inner = odb.write("tree", serialize_tree([TreeEntry("100644", b"pwned", BLOB)]))
        evil = commit_with_tree(work, raw_entry(b"40000", name, inner))
    fails_cleanly(work, env, ["checkout", evil], message, outside=tmp_path / "home")
    assert not (tmp_path / "pwned").exists() and not (work / ".git" / "pwned").exists()


def test_a_symlink_in_a_tree_cannot_lead_a_later_file_outside(repo, tmp_path):
    work, env = repo
    outside = tmp_path / "outside"
    outside.mkdir()
    odb = Repository.discover(work).odb
    link = odb.write("blob", str(outside).encode())
    first = commit_with_tree(work, serialize_tree([TreeEntry("120000", b"dir", link)]))
    run_mini(work, ["checkout", "-q", first], env)
    assert (work / "dir").is_symlink()
    inner = odb.write("tree", serialize_tree([TreeEntry("100644", b"pwned", BLOB)]))
    second = commit_with_tree(work, serialize_tree([TreeEntry("40000", b"dir", inner)]))
    run_mini(work, ["checkout", "-q", second], env)
    assert not (outside / "pwned").exists()
    assert (work / "dir").is_dir() and not (work / "dir").is_symlink()


def test_a_tree_naming_one_entry_twice_is_refused_before_anything_is_written(repo, tmp_path):
    """"dir" as a symlink to the outside *and* as a directory holding "pwned": written in order,
    the link would be followed.  The whole tree is checked first, so nothing changes."""
    work, env = repo
    outside = tmp_path / "outside"
    outside.mkdir()
    odb = Repository.discover(work).odb
    link = odb.write("blob", str(outside).encode())
    inner = odb.write("tree", serialize_tree([TreeEntry("100644", b"pwned", BLOB)]))
    evil = commit_with_tree(work, raw_entry(b"120000", b"dir", link) + raw_entry(b"40000", b"dir", inner))
    fails_cleanly(work, env, ["checkout", evil], b"duplicate entries", outside=outside)
    assert not (outside / "pwned").exists()


@pytest.mark.parametrize(("arg", "message"), [("../outside.txt", b"outside repository"),
                                              ("/etc/hostname", b"outside repository"),
                                              (".git/config", b"unsafe path"),
                                              ("sub/../../outside.txt", b"outside repository")])
@pytest.mark.parametrize("command", [["add"], ["rm"], ["checkout", "--"], ["reset", "HEAD"]])
def test_command_line_paths_outside_the_work_tree_are_refused(repo, tmp_path, arg, message, command):
    work, env = repo
    (tmp_path / "outside.txt").write_text("not yours\n")
    (work / "sub").mkdir()
    fails_cleanly(work, env, [*command, arg], message, outside=tmp_path)  # tmp_path holds outside.txt
