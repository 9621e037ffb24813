"""Install the Debian packages that wirelab's demos and tests use, when missing.

``make demo`` and ``make test`` run this first (``--auto``); ``make system-deps``
runs it on its own.  It only installs packages: it never starts a daemon, since
demos and tests start their own servers on free loopback ports.

    python3 -m wirelab_common.system_deps [--auto | --check]

- default: install what is missing; exit 2 when that cannot be done here.
- ``--auto``: the same, but when installing cannot be done (not root, no
  apt-get, or ``WIRELAB_NO_INSTALL=1``), print once the command to run and what
  will not work until then, and exit 0, so that everything else still runs.
- ``--check``: install nothing; list what is missing.

Standard library only: the Makefile runs it with the system Python before the
venv exists (``PYTHONPATH=common python3 -m wirelab_common.system_deps``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from .patterns import SBIN, SYSTEM_COMMANDS

NO_INSTALL = "WIRELAB_NO_INSTALL"


def find(command: str) -> str | None:
    """The command's path, looking in the sbin folders too (a user's PATH may lack them)."""
    return shutil.which(command) or shutil.which(command, path=SBIN)


def missing_commands() -> list[str]:
    return [name for name in SYSTEM_COMMANDS if find(name) is None]


def install_command(commands: list[str]) -> str:
    packages = sorted({SYSTEM_COMMANDS[c].package for c in commands})
    return "sudo apt-get install -y " + " ".join(packages)


def fix_hint(command: str) -> str:
    """One line for a summary: the package and the two ways to get it."""
    package = SYSTEM_COMMANDS[command].package
    return f"{command} (Debian {package}): sudo make system-deps, or sudo apt-get install {package}"


def why_not_install() -> str | None:
    """None when this process may install with apt-get, else the reason it cannot."""
    if os.environ.get(NO_INSTALL) == "1":
        return f"{NO_INSTALL}=1 is set"
    if os.geteuid() != 0:
        return "not running as root"
    if shutil.which("apt-get") is None:
        return "no apt-get here (not Debian or Ubuntu)"
    return None


def apt_install(packages: list[str]) -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"system-deps: installing {' '.join(packages)} (once; about 30-60 s)", flush=True)
    # Another apt-get (a second `make`, or unattended-upgrades on a fresh machine) may hold
    # dpkg's lock: wait for it, bounded, instead of failing at once.
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=300"]
    update = subprocess.run(["apt-get", *wait_for_lock, "update", "-qq"], env=env, check=False)
    if update.returncode != 0:
        return update.returncode
    return subprocess.run(["apt-get", *wait_for_lock, "install", "-y", "-qq", *packages],
                          env=env, check=False).returncode


def report_missing(missing: list[str], reason: str) -> None:
    print(f"system-deps: {len(missing)} command(s) missing and not installed ({reason}).", file=sys.stderr)
    print(f"  to install them: {install_command(missing)}   (or: sudo make system-deps)", file=sys.stderr)
    print("  until then, these will not run (tests skip them and say so):", file=sys.stderr)
    for name in missing:
        print(f"    {name:<13} {SYSTEM_COMMANDS[name].used_for}", file=sys.stderr)
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wirelab_common.system_deps",
                                     description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--auto", action="store_true", help="never fail: say what to run when installing can't")
    mode.add_argument("--check", action="store_true", help="install nothing; list what is missing")
    args = parser.parse_args(argv)

    missing = missing_commands()
    if not missing:
        if not args.auto:
            print(f"system-deps: all present ({' '.join(SYSTEM_COMMANDS)})")
        return 0
    reason = "--check" if args.check else why_not_install()
    if reason is None:
        code = apt_install(sorted({SYSTEM_COMMANDS[c].package for c in missing}))
        still = missing_commands()
        if code == 0 and not still:
            print("system-deps: done")
            return 0
        reason = f"apt-get exited {code}" if code else f"still missing after apt-get: {' '.join(still)}"
        missing = still or missing
    report_missing(missing, reason)
    return 0 if args.auto else 2


if __name__ == "__main__":
    sys.exit(main())
