"""Who made a commit, and when: ``GIT_AUTHOR_*`` / ``GIT_COMMITTER_*`` or ``user.*`` config.

Reading order: with ``commands/commit.py``.  git reads ``GIT_AUTHOR_NAME``,
``GIT_AUTHOR_EMAIL``, ``GIT_AUTHOR_DATE`` (and the ``COMMITTER`` trio) from the
environment first, then ``user.name``/``user.email`` from config.  Dates may be
``<seconds> <+hhmm>`` (git's own form, also with a leading ``@``), ISO 8601
(``2024-05-01T12:00:00+02:00``) or RFC 2822.  Pure: the environment, the config
values and the clock are parameters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from .errors import GitError
from .objects import Signature

_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?\s*(Z|[+-]\d\d:?\d\d)?$")


def format_tz(offset_seconds: int) -> str:
    sign = "-" if offset_seconds < 0 else "+"
    minutes = abs(offset_seconds) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def tz_seconds(tz: str) -> int:
    sign = -1 if tz.startswith("-") else 1
    digits = tz.lstrip("+-").replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)


def parse_date(text: str) -> tuple[int, str]:
    """A date as git accepts it -> (seconds since the epoch, "+hhmm")."""
    text = text.strip()
    m = re.fullmatch(r"@?(\d+)(?:\s+([+-]\d{4}))?", text)
    if m:
        return int(m.group(1)), m.group(2) or "+0000"
    m = _ISO.match(text)
    if m:
        import calendar  # (imported when needed: every command start-up pays for module imports)

        y, mo, d, h, mi, s = (int(g or 0) for g in m.groups()[:6])
        tz = m.group(7) or "+0000"
        offset = 0 if tz == "Z" else tz_seconds(tz)
        seconds = calendar.timegm((y, mo, d, h, mi, s)) - offset
        return seconds, format_tz(offset)
    import email.utils  # imported here: it pulls in the socket module, slow to load for every command

    parsed = email.utils.parsedate_tz(text)
    if parsed:
        offset = parsed[9] or 0
        return int(email.utils.mktime_tz(parsed)), format_tz(offset)
    raise GitError(f"invalid date format: {text}")


def local_now(clock: Callable[[], float] = time.time) -> tuple[int, str]:
    now = int(clock())
    return now, format_tz(-(time.altzone if time.localtime(now).tm_isdst > 0 else time.timezone))


def signature(role: str, env: Mapping[str, str], config_get: Callable[[str], str | None],
              clock: Callable[[], float] = time.time) -> Signature:
    """The author (``role="AUTHOR"``) or committer signature, as git would build it."""
    name = env.get(f"GIT_{role}_NAME") or config_get("user.name")
    mail = env.get(f"GIT_{role}_EMAIL") or config_get("user.email") or env.get("EMAIL")
    if not name or not mail:
        raise GitError("Author identity unknown: set user.name and user.email with git config "
                       "(mini_git has no config command), or GIT_AUTHOR_NAME/EMAIL")
    date = env.get(f"GIT_{role}_DATE")
    when, tz = parse_date(date) if date else local_now(clock)
    return Signature(name, mail, when, tz)


def format_date(when: int, tz: str) -> str:
    """git log's default date: ``Thu Apr 7 15:13:13 2005 -0700``, in the signer's own zone."""
    from datetime import datetime, timedelta, timezone

    moment = datetime.fromtimestamp(when, timezone(timedelta(seconds=tz_seconds(tz))))
    return f"{moment:%a %b} {moment.day} {moment:%H:%M:%S %Y} {tz}"
