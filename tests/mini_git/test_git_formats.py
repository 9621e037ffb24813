"""The pure layers on their own: object formats, deltas, pack headers, the index, diff and merge."""

from __future__ import annotations

import pytest

from learn_git.delta import DeltaError, apply_delta
from learn_git.errors import CorruptObject
from learn_git.ignore import is_ignored, parse_patterns
from learn_git.index import IndexEntry, parse_index, serialize_index
from learn_git.merge3 import merge_lines
from learn_git.objects import (
    Commit,
    Tag,
    TreeEntry,
    hash_object,
    parse_commit,
    parse_tag,
    parse_tree,
    serialize_commit,
    serialize_tag,
    serialize_tree,
)
from learn_git.pack import OBJ_BLOB, OBJ_OFS_DELTA, parse_object_header, parse_ofs_offset
from learn_git.paths import check_tree_path, quote_path
from learn_git.unified_diff import myers, unified

pytestmark = pytest.mark.pure


def test_well_known_ids_of_the_empty_blob_and_tree():
    assert hash_object("blob", b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert hash_object("tree", b"") == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    assert hash_object("blob", b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_tree_entries_sort_as_if_subtrees_ended_in_a_slash():
    oid = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    entries = [TreeEntry("40000", b"a", "4b825dc642cb6eb9a060e54bf8d69288fbee4904"),
               TreeEntry("100644", b"a.b", oid), TreeEntry("100644", b"a-b", oid)]
    names = [e.name for e in parse_tree(serialize_tree(entries))]
    assert names == [b"a-b", b"a.b", b"a"]  # '-' < '.' < '/'


def test_tree_modes_are_written_without_leading_zero_and_checked():
    data = serialize_tree([TreeEntry("040000", b"d", "4b825dc642cb6eb9a060e54bf8d69288fbee4904")])
    assert data.startswith(b"40000 d\0")
    with pytest.raises(CorruptObject):
        serialize_tree([TreeEntry("100666", b"x", "0" * 40)])
    with pytest.raises(CorruptObject):
        parse_tree(data[:-3])


def test_commit_with_two_parents_and_multiline_message_round_trips():
    c = Commit("4b825dc642cb6eb9a060e54bf8d69288fbee4904", ["1" * 40, "2" * 40],
               "A U Thor <a@example.org> 1700000000 -0530", "C O Mitter <c@example.org> 1700000060 +0200",
               "subject\n\nbody line one\nbody line two\n",
               (("gpgsig", "-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----"),))
    raw = serialize_commit(c)
    assert b"\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n" in raw
    assert parse_commit(raw) == c


def test_annotated_tag_round_trips():
    t = Tag("1" * 40, "commit", "v1.0", "T Agger <t@example.org> 1700000000 +0000", "release\n")
    assert parse_tag(serialize_tag(t)) == t


def test_delta_copies_and_inserts():
    base = b"hello, world"
    # base size 12, result size 11; copy 7 bytes from offset 0 ("hello, "), then insert 4 bytes
    delta = bytes([12, 11, 0x90, 7, 4]) + b"git!"
    assert apply_delta(base, delta) == b"hello, git!"


@pytest.mark.parametrize("delta", [
    bytes([12, 5, 0x91, 10, 5]),           # copy runs past the base
    bytes([12, 5, 4]) + b"ab",             # insert truncated
    bytes([11, 0]),                        # wrong base size
    bytes([12, 3, 0]),                     # reserved opcode 0
    bytes([12, 2, 3]) + b"abc",            # produces more than declared
])
def test_bad_deltas_raise(delta):
    with pytest.raises(DeltaError):
        apply_delta(b"hello, world", delta)


def test_pack_entry_header_and_ofs_offset_encodings():
    # type 3 (blob), size 300 = 0b1_0010_1100: low 4 bits 1100, then 10010
    assert parse_object_header(bytes([0x80 | (OBJ_BLOB << 4) | 0x0C, 0x12]), 0) == (OBJ_BLOB, 300, 2)
    assert parse_object_header(bytes([(OBJ_OFS_DELTA << 4) | 5]), 0) == (OBJ_OFS_DELTA, 5, 1)
    assert parse_ofs_offset(bytes([0x81, 0x00]), 0) == (256, 2)  # ((1 + 1) << 7) | 0
    with pytest.raises(CorruptObject):
        parse_object_header(bytes([0x80]), 0)


def test_index_round_trip_keeps_stages_and_sorts_by_path():
    entries = [IndexEntry("b/c.txt", "1" * 40, 0o100644, size=3, mtime_s=5, ino=9),
               IndexEntry("a", "2" * 40, 0o100755, stage=2), IndexEntry("a", "3" * 40, 0o100644, stage=1)]
    data = serialize_index(entries)
    assert data[:4] == b"DIRC" and (len(data) - 12 - 20) % 8 == 0  # every entry is padded to 8 bytes
    back = parse_index(data)
    assert [(e.path, e.stage) for e in back] == [("a", 1), ("a", 2), ("b/c.txt", 0)]
    assert back[2].ino == 9 and back[2].size == 3


def test_unified_diff_matches_gits_layout():
    old = b"".join(b"line %d\n" % i for i in range(1, 11))
    new = old.replace(b"line 5\n", b"line five\n")
    assert unified(old, new) == (b"@@ -2,7 +2,7 @@ line 1\n line 2\n line 3\n line 4\n-line 5\n+line five\n"
                                 b" line 6\n line 7\n line 8\n")
    assert unified(b"a\n", b"a") == b"@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n"
    assert unified(b"", b"x\n") == b"@@ -0,0 +1 @@\n+x\n"


def test_three_way_merge_takes_each_sides_change_and_marks_clashes():
    base = b"a\nb\nc\nd\ne\n"
    clean = merge_lines(base, b"A\nb\nc\nd\ne\n", b"a\nb\nc\nd\nE\n")
    assert clean.data == b"A\nb\nc\nd\nE\n" and clean.conflicts == 0
    clash = merge_lines(base, b"a\nX\nc\nd\ne\n", b"a\nY\nc\nd\ne\n", "HEAD", "topic")
    assert clash.conflicts == 1
    assert clash.data == b"a\n<<<<<<< HEAD\nX\n=======\nY\n>>>>>>> topic\nc\nd\ne\n"


def test_paths_that_escape_are_refused_and_odd_names_are_quoted_like_git():
    # git 2.39's verdicts on Linux (git update-index --add --cacheinfo), protectNTFS on by default
    for bad in ("../x", "/abs", "a/../b", ".git/config", "a/.GIT/x", "", "a//b", "./x",
                ".git.", ".git ", "GIT~1/x", "x/git~1/y", "a\\.git", "a\\.GIT\\x", "a\\.git \\b",
                "a\\git~1", ".git::$INDEX_ALLOCATION", "a/.git::$INDEX_ALLOCATION/b"):
        with pytest.raises(Exception, match="unsafe"):
            check_tree_path(bad)
    for good in ("a\\b", "dir\\x/in.txt", "..\\a", "a\\..", "\\a", "a\\", "C:\\x", "c:x",
                 ".gitx", ".git~1", "git~10", "x.git", "a/.gitignore"):
        assert check_tree_path(good) == good
    assert quote_path("plain name.txt") == "plain name.txt"
    assert quote_path("ü") == '"\\303\\274"'
    assert quote_path('tab\there') == '"tab\\there"'


def test_gitignore_patterns():
    pats = parse_patterns("*.log\n!keep.log\nbuild/\n/top-only\ndocs/**/*.tmp\n")
    assert is_ignored(pats, "x/debug.log", False)
    assert not is_ignored(pats, "keep.log", False)
    assert is_ignored(pats, "sub/build", True) and not is_ignored(pats, "sub/build", False)
    assert is_ignored(pats, "top-only", False) and not is_ignored(pats, "sub/top-only", False)
    assert is_ignored(pats, "docs/a/b/c.tmp", False)


def test_indent_heuristic_places_an_ambiguous_hunk_where_git_diff_does():
    # The new block can be read as added before or after the old one; git's indent heuristic
    # (and ours) prefers cutting at the blank line and the top-level "if", not inside a block.
    old = b"if (a) {\n    x();\n}\n    y();\n"
    new = b"if (a) {\n    x();\n}\n\nif (a) {\n    x();\n}\n    y();\n"
    assert unified(old, new) == (b"@@ -1,3 +1,7 @@\n+if (a) {\n+    x();\n+}\n+\n"
                                 b" if (a) {\n     x();\n }\n")  # git diff (heuristic on by default)
    slid_down = [op for op, _, _ in myers(old.splitlines(True), new.splitlines(True))]
    assert slid_down == ["=", "=", "=", "+", "+", "+", "+", "="]  # git diff --no-indent-heuristic
