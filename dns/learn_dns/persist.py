"""A CA's check of a DNS-PERSIST-01 record: "this ACME account may get certificates here".

Reading order: with ``propagation.py``; pure functions, no I/O.

ACME's dns-01 challenge (RFC 8555 §8.4) asks the domain owner to publish a new
random token under ``_acme-challenge`` for *every* order, so each renewal waits
for DNS propagation and needs DNS write access.  The draft
"ACME Challenge for Persistent DNS TXT Record Validation"
(draft-ietf-acme-dns-persist) publishes one standing TXT record instead::

    _validation-persist.example.com. TXT "letsencrypt.org; accounturi=https://acme.example/acct/123"

in the syntax of a CAA property (RFC 8659 §4.2): the CA's issuer domain name,
then ``key=value`` parameters.  ``accounturi`` names the one ACME account
allowed; ``policy=wildcard`` extends it to wildcards and subdomains;
``persistUntil`` (seconds since the epoch) ends it.  The CA resolves the record
through a resolver (which is where caching and propagation meet validation) and
checks it with :func:`validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "_validation-persist"


@dataclass(frozen=True)
class PersistRecord:
    issuer: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def account_uri(self) -> str | None:
        return self.parameters.get("accounturi")


def record_name(domain: str) -> str:
    return f"{PREFIX}.{domain.rstrip('.')}."


def parse(text: str) -> PersistRecord:
    """Parse ``issuer; key=value; ...``; ValueError if it is not that shape."""
    issuer, *params = [part.strip() for part in text.split(";")]
    if not issuer or " " in issuer:
        raise ValueError(f"no issuer domain name in {text!r}")
    parameters = {}
    for param in params:
        if not param:
            continue
        key, sep, value = param.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"parameter {param!r} is not key=value")
        parameters[key.strip().lower()] = value.strip()
    return PersistRecord(issuer.lower(), parameters)


def validate(txt_strings: list[str], issuer: str, account_uri: str, now: float,
             wildcard: bool = False) -> tuple[bool, str]:
    """Does any of the TXT values authorize ``account_uri`` at CA ``issuer``?  (verdict, why)."""
    reasons = []
    for text in txt_strings:
        try:
            record = parse(text)
        except ValueError as exc:
            reasons.append(str(exc))
            continue
        if record.issuer != issuer.lower():
            reasons.append(f"record is for CA {record.issuer}, not {issuer}")
        elif record.account_uri != account_uri:
            reasons.append(f"record names account {record.account_uri}, not {account_uri}")
        elif wildcard and record.parameters.get("policy", "").lower() != "wildcard":
            reasons.append("a wildcard certificate needs policy=wildcard")
        elif "persistuntil" in record.parameters and now > float(record.parameters["persistuntil"]):
            reasons.append("the record's persistUntil has passed")
        else:
            return True, f"{issuer} may issue to {account_uri}"
    return False, "; ".join(reasons) or "no _validation-persist TXT record"
