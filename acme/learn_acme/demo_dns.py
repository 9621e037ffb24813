"""Acts 4 and 5 of the acme demo: DNS-01, then DNS-PERSIST-01, against our dns/ pattern's server.

Read with ``demo.py`` (whose ``Demo`` class takes these acts).  The zone
``wirelab.test`` is served by ``learn_dns.authoritative`` (a process of the
dns/ pattern); ``dns_zone.Zone`` publishes records in it, and our CA asks
the dns/ pattern's recursive resolver (``--dns-server``), which finds the
zone by iteration from a root zone that delegates ``wirelab.test`` to it.

4. **DNS-01.**  The client publishes base64url(SHA-256(key authorization)) at
   ``_acme-challenge.www.wirelab.test``, waits until the server answers it,
   says ready; the CA queries TXT and the certificate is issued.  The record is
   removed afterwards, as clients do.
5. **DNS-PERSIST-01.**  One record, ``_validation-persist.www.wirelab.test TXT
   "ca.wirelab.test; accounturi=<this account>"``, is published once; a first
   certificate and then a renewal are issued with no DNS change in between
   (the zone's serial is checked), and another account's order for the same
   name is refused because the record names someone else.

``--no-dns-publish`` leaves DNS untouched, and both acts must then fail.
"""

from __future__ import annotations

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from wirelab_common.errors import CheckFailed, check
from wirelab_common.processes import ManagedProcess

from . import challenges as ch
from .client import AcmeClient, AcmeError
from .dns_zone import UpdateFailed, Zone, soa_serial

NAME = "www.wirelab.test"


class DnsActs:
    """Mixed into ``demo.Demo``: needs ``client``, ``trace``, ``args``, ``http``, ``ca_url``, ``cert_key``."""

    zone: Zone
    dns_server: tuple[str, int]
    client: AcmeClient
    resolver: ManagedProcess  # learn_dns.recursive.server, which the CA asks
    http: httpx.AsyncClient

    async def ensure_account(self) -> None:
        if self.client.account_url is None:
            await self.client.start()
            await self.client.new_account()

    async def publish_dns01(self, domain: str, chall: dict) -> None:
        value = ch.dns01_txt(self.client.key_authorization(chall["token"]))
        if self.args.no_dns_publish:
            self.trace.note(f"--no-dns-publish: no TXT record at {ch.dns01_name(domain)}")
            return
        try:
            await self.zone.publish(ch.dns01_name(domain), [value], server=self.dns_server, trace=self.trace)
        except UpdateFailed as error:
            raise CheckFailed(f"cannot publish the DNS-01 record: {error}") from None
        self.trace.note(f"the dns/ server answers {ch.dns01_name(domain)} TXT: propagated, telling the CA")

    async def act_4(self) -> None:
        self.trace.banner("Act 4: a certificate by DNS-01 (the CA asks through our dns/ pattern's resolver)")
        await self.ensure_account()
        try:
            chain = await self.client.issue([NAME], self.publish_dns01, self.cert_key, kind=ch.DNS01)
        except AcmeError as error:
            raise CheckFailed(f"no certificate by DNS-01: the CA said {error.problem}") from None
        check(chain.count(b"BEGIN CERTIFICATE") == 2, "the DNS-01 chain should be leaf + intermediate")
        asked = [line for line in self.resolver.output().splitlines() if "_acme-challenge" in line]
        check(asked, "the CA's TXT query did not go through the dns/ pattern's resolver")
        for line in asked:
            self.trace.note(f"resolver: {line.lstrip('<>=# ').removeprefix('resolver').strip()}")
        await self.zone.publish(ch.dns01_name(NAME), [], server=self.dns_server, trace=self.trace)
        self.trace.note("certificate by DNS-01 issued; the _acme-challenge record is removed again")

    async def act_5(self) -> None:
        self.trace.banner("Act 5: DNS-PERSIST-01: publish once, renew without touching DNS")
        await self.ensure_account()
        published = []

        async def publish_once(domain: str, chall: dict) -> None:
            if published or self.args.no_dns_publish:
                why = (
                    "--no-dns-publish"
                    if self.args.no_dns_publish
                    else "the persistent record is already there"
                )
                self.trace.note(f"no DNS change for {domain}: {why}")
                return
            record = ch.persist_txt(chall["issuer-domain-names"][0], self.client.account_url)
            self.trace.note(f"publishing the persistent record at {ch.persist_name(domain)} (once)")
            try:
                await self.zone.publish(
                    ch.persist_name(domain), [record], server=self.dns_server, trace=self.trace
                )
            except UpdateFailed as error:
                raise CheckFailed(f"cannot publish the DNS-PERSIST-01 record: {error}") from None
            published.append(record)

        async def issue(label: str) -> None:
            try:
                await self.client.issue([NAME], publish_once, self.cert_key, kind=ch.DNS_PERSIST01)
            except AcmeError as error:
                raise CheckFailed(f"{label} by DNS-PERSIST-01 failed: the CA said {error.problem}") from None

        await issue("the first certificate")
        serial = await soa_serial(self.zone.origin, self.dns_server)
        await issue("the renewal")
        unchanged = await soa_serial(self.zone.origin, self.dns_server) == serial
        check(unchanged and len(published) == 1, "the renewal should need no DNS change")
        self.trace.note(f"renewed with the zone unchanged (serial {serial}): the record names the account")
        other = AcmeClient(
            f"{self.ca_url}/directory",
            ec.generate_private_key(ec.SECP256R1()),
            self.http,
            self.trace.child("other"),
        )
        await other.start()
        await other.new_account()

        async def publish_nothing(domain: str, chall: dict) -> None:
            return None

        try:
            await other.issue([NAME], publish_nothing, self.cert_key, kind=ch.DNS_PERSIST01)
            raise CheckFailed("another account got a certificate from a record naming this one")
        except AcmeError as error:
            check(
                "another account" in error.problem.detail, f"expected a refusal naming the account: {error}"
            )
            self.trace.note(f"another account is refused: {error.problem}")
