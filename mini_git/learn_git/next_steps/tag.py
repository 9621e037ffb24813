"""``tag``: name a commit for good -- a lightweight ref, or an annotated tag object.

A lightweight tag is just ``refs/tags/<name>`` holding a commit id.  ``-a -m``
writes a *tag object* (``object``, ``type``, ``tag``, ``tagger`` headers and a
message: ``objects.Tag``) and points the ref at that object, so the tag has
its own author, date and message.
"""

from __future__ import annotations

from ..errors import GitError
from ..objects import Tag, serialize_tag
from ..porcelain import cleanup_message, who
from ..refs import check_ref_name, delete_ref, list_refs, read_ref, update_ref
from ..repo import Repository
from ..revision import rev_parse


def register(sub) -> None:
    p = sub.add_parser("tag", help="create, list or delete tags")
    p.add_argument("-a", "--annotate", action="store_true")
    p.add_argument("-m", "--message")
    p.add_argument("-d", "--delete", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("name", nargs="?")
    p.add_argument("object", nargs="?", default="HEAD")
    p.set_defaults(func=run)


def create_tag(repo, name: str, target: str = "HEAD", message: str | None = None, force: bool = False) -> str:
    ref = check_ref_name(f"refs/tags/{name}")
    if read_ref(repo.git_dir, ref) and not force:
        raise GitError(f"tag '{name}' already exists")
    oid = rev_parse(repo, target)
    if message is not None:
        kind = repo.odb.read(oid)[0]
        tag = Tag(oid, kind, name, str(who(repo, "COMMITTER")), cleanup_message(message))
        oid = repo.odb.write("tag", serialize_tag(tag))
    update_ref(repo.git_dir, ref, oid)
    return oid


def run(args) -> int:
    repo = Repository.discover()
    if args.delete:
        oid = read_ref(repo.git_dir, f"refs/tags/{args.name}")
        if oid is None:
            raise GitError(f"tag '{args.name}' not found.")
        delete_ref(repo.git_dir, f"refs/tags/{args.name}")
        print(f"Deleted tag '{args.name}' (was {oid[:7]})")
        return 0
    if not args.name:
        for ref in list_refs(repo.git_dir, "refs/tags/"):
            print(ref.removeprefix("refs/tags/"))
        return 0
    if args.annotate and args.message is None:
        raise GitError("an annotated tag needs a message (-m)")
    create_tag(repo, args.name, args.object, args.message if (args.annotate or args.message) else None,
               args.force)
    return 0
