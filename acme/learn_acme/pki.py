"""The CA's own trust chain: a root, an intermediate, and the certificates it issues (RFC 5280).

After ``challenges.py`` in the reading order.  A browser trusts a handful of
roots; a root's key stays offline and signs an intermediate, and the
intermediate signs every leaf.  So the CA hands a client the leaf *and* the
intermediate (the chain, RFC 8555 §7.4.2: ``application/pem-certificate-chain``),
and a client that trusts only the root can check both signatures.

What the leaf proves: that the holder of its key was, at issuance, able to
answer a challenge for each name in ``subjectAltName``.  Nothing about who
they are (that is what OV/EV certificates add, with humans checking).

Clock and keys are parameters, so tests can fix ``now``.  No I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LEAF_LIFETIME = dt.timedelta(days=90)  # Let's Encrypt's classic lifetime (shorter ones are coming)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wirelab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    days: int,
    path_length: int,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Authority:
    """A root (self-signed) and the intermediate it signed; the intermediate issues leaves."""

    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, now: dt.datetime, name: str = "wirelab ACME") -> Authority:
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = _ca_certificate(f"{name} Root X1", root_key, None, root_key, now, 3650, 1)
        inter_key = ec.generate_private_key(ec.SECP256R1())
        inter = _ca_certificate(f"{name} Intermediate E1", inter_key, root, root_key, now, 1825, 0)
        return cls(root, inter, inter_key)  # the root key is dropped: "offline" from here on

    def issue(
        self, csr: x509.CertificateSigningRequest, names: list[str], now: dt.datetime
    ) -> x509.Certificate:
        """A leaf for ``names`` (already checked against the order) with the CSR's public key."""
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.intermediate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + LEAF_LIFETIME)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                critical=False,
            )
            .sign(self.intermediate_key, hashes.SHA256())
        )

    def chain_pem(self, leaf: x509.Certificate) -> bytes:
        """The leaf then the intermediate (not the root: the client must already have it)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, self.intermediate))

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)


def csr_names(csr: x509.CertificateSigningRequest) -> set[str]:
    """Every DNS name a CSR asks for: its subjectAltName and its CN (RFC 8555 §7.4)."""
    names = {a.value.lower() for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names |= {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    except x509.ExtensionNotFound:
        pass
    return names
