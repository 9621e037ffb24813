"""Proving control of a name: key authorizations and the three challenge types this CA checks.

After ``objects.py`` in the reading order.  A challenge (RFC 8555 §8) is a
random ``token`` from the CA.  The client answers with the *key
authorization* ``token + "." + thumbprint(account key)`` (§8.1), published
where only whoever controls the name could publish it:

- **HTTP-01** (§8.3): the body of ``http://NAME/.well-known/acme-challenge/TOKEN``;
- **DNS-01** (§8.4): a TXT record at ``_acme-challenge.NAME`` holding
  base64url(SHA-256(key authorization)), so the record is short and fixed-size;
- **DNS-PERSIST-01** (draft-ietf-acme-dns-persist): a TXT record at
  ``_validation-persist.NAME`` naming the CA and the account, e.g.
  ``ca.wirelab.test; accounturi=https://.../acct/1``.  It holds no token, so
  it is published once and every later order by that account, for as long
  as the record stays, validates without touching DNS; another account's
  orders are refused.

The thumbprint inside the key authorization is why a token stolen from
one account cannot be answered by another.  Each ``judge_*`` function is the
CA's verdict on what it fetched: pure, the fetching is in ``validation.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .jwk import b64url

HTTP01, DNS01, DNS_PERSIST01 = "http-01", "dns-01", "dns-persist-01"
WELL_KNOWN = "/.well-known/acme-challenge/"


def key_authorization(token: str, account_thumbprint: str) -> str:
    """RFC 8555 §8.1: ``token || '.' || base64url(Thumbprint(accountKey))``."""
    return f"{token}.{account_thumbprint}"


def http01_path(token: str) -> str:
    return WELL_KNOWN + token


def dns01_name(domain: str) -> str:
    return "_acme-challenge." + domain.rstrip(".")


def dns01_txt(key_auth: str) -> str:
    """RFC 8555 §8.4: the TXT value is base64url(SHA-256(key authorization))."""
    return b64url(hashlib.sha256(key_auth.encode("ascii")).digest())


def persist_name(domain: str) -> str:
    return "_validation-persist." + domain.rstrip(".")


def persist_txt(
    issuer: str, account_uri: str, *, wildcard: bool = False, persist_until: int | None = None
) -> str:
    """The DNS-PERSIST-01 record: the CA's issuer domain name, then ``key=value`` parameters."""
    parts = [issuer, f"accounturi={account_uri}"]
    if wildcard:
        parts.append("policy=wildcard")
    if persist_until is not None:
        parts.append(f"persistUntil={persist_until}")
    return "; ".join(parts)


@dataclass(frozen=True)
class PersistRecord:
    issuer: str
    params: dict[str, str]


def parse_persist_txt(value: str) -> PersistRecord:
    """Split ``issuer; k=v; k=v`` (whitespace around ``;`` ignored); ValueError if it is not that shape."""
    issuer, *rest = [p.strip() for p in value.split(";")]
    if not issuer or "=" in issuer:
        raise ValueError(f"no issuer domain name first in {value!r}")
    params = {}
    for part in rest:
        key, sep, val = part.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {part!r} is not key=value")
        params[key.strip()] = val.strip()
    return PersistRecord(issuer.lower().rstrip("."), params)


@dataclass(frozen=True)
class Verdict:
    valid: bool
    detail: str
    problem: str = "incorrectResponse"  # the §6.7 type when not valid


def judge_http01(expected: str, status: int, body: bytes) -> Verdict:
    """§8.3: a 200 whose body, trailing whitespace stripped, is exactly the key authorization."""
    if status != 200:
        return Verdict(
            False,
            f"the challenge URL answered {status}, not 200",
            "unauthorized" if status == 404 else "connection",
        )
    got = body.decode("ascii", "replace").rstrip()
    if got != expected:
        return Verdict(False, f"the key authorization served is {got[:80]!r}, expected {expected!r}")
    return Verdict(True, "the key authorization was served")


def judge_dns01(expected_txt: str, txt_values: list[str]) -> Verdict:
    """§8.4: one of the TXT records at ``_acme-challenge.NAME`` is the digest."""
    if not txt_values:
        return Verdict(False, "no TXT record at the _acme-challenge name", "dns")
    if expected_txt in txt_values:
        return Verdict(True, "the TXT record holds the key authorization's digest")
    return Verdict(False, f"TXT records {txt_values} do not include {expected_txt!r}")


def judge_persist(
    issuers: list[str], account_uri: str, txt_values: list[str], *, now: int, wildcard: bool = False
) -> Verdict:
    """A record for one of this CA's issuer names that names *this* account (and is not past persistUntil)."""
    seen = []
    for value in txt_values:
        try:
            record = parse_persist_txt(value)
        except ValueError as error:
            seen.append(f"unparsable ({error})")
            continue
        if record.issuer not in issuers:
            seen.append(f"for another CA ({record.issuer})")
            continue
        if record.params.get("accounturi") != account_uri:
            seen.append(f"for another account ({record.params.get('accounturi')})")
            continue
        until = record.params.get("persistUntil")
        if until is not None and (not until.isdigit() or int(until) < now):
            seen.append(f"expired (persistUntil={until})")
            continue
        if wildcard and record.params.get("policy", "").lower() != "wildcard":
            seen.append("without policy=wildcard for a wildcard name")
            continue
        return Verdict(True, f"a persistent record names this account ({account_uri})")
    if not seen:
        return Verdict(False, "no TXT record at the _validation-persist name", "dns")
    return Verdict(False, "no record authorizes this account: " + "; ".join(seen), "unauthorized")
