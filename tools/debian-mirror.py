"""Print the Debian mirror that apt on this machine uses for a suite (default bookworm).

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/* in both formats (one-line
``deb URL SUITE ...`` and deb822 ``URIs:``/``Suites:`` stanzas), so debootstrap fetches
from wherever apt already fetches, and no host name is written into the project.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def sources() -> list[Path]:
    files = [Path("/etc/apt/sources.list")]
    folder = Path("/etc/apt/sources.list.d")
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    return [f for f in files if f.is_file()]


def mirrors(text: str, deb822: bool, suite: str) -> list[str]:
    found = []
    if deb822:
        for stanza in text.split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
            if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                    and fields.get("enabled", ["yes"])[0] != "no"):
                found += fields.get("uris", [])
    else:
        for line in text.splitlines():
            words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()  # drop [options]
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                found.append(words[1])
    return found


def main() -> int:
    suite = sys.argv[1] if len(sys.argv) > 1 else "bookworm"
    for path in sources():
        found = mirrors(path.read_text(), path.suffix == ".sources", suite)
        if found:
            print(found[0])
            return 0
    print(f"no apt source for the suite {suite!r} in /etc/apt", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
