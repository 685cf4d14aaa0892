"""Shared fixtures: a small JPKI-like PKI built with pyca/cryptography, and CRL factories.

These CRLs are built independently of the engine (by pyca/cryptography), so tests compare the
engine against a second implementation rather than against itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

#: Real JPKI certificates (copied from ../shared/fixtures/jpki; sources and licenses in its README).
FIXTURES = Path(__file__).resolve().parent / "vectors" / "jpki"

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 26, 0, 0, 0, tzinfo=UTC)
NOW_ISO = "2026-11-26T00:00:00Z"

AUTH_OU = "JPKI for user authentication"
SIGN_OU = "JPKI for digital signature"

_KEY_CACHE: list[rsa.RSAPrivateKey] = []


def rsa_key(i: int) -> rsa.RSAPrivateKey:
    """Deterministic slot i of a session-wide pool of RSA-2048 keys (keygen is slow)."""
    while len(_KEY_CACHE) <= i:
        _KEY_CACHE.append(rsa.generate_private_key(65537, 2048))
    return _KEY_CACHE[i]


def ca_name(ou: str = AUTH_OU, org: str = "JPKI") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Japan Agency for Local Authority Information Systems"),
        ]
    )


def partition_name(municipality: str, prefecture: str = "Hokkaido", ou: str = AUTH_OU) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality} CRLDP"),
        ]
    )


def partition_text(municipality: str, prefecture: str = "Hokkaido", ou: str = AUTH_OU) -> str:
    return f"C=JP, O=JPKI, OU={ou}, OU=CRL Distribution Points, OU={prefecture}, CN={municipality} CRLDP"


@dataclass
class Ca:
    alias: str
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def name(self) -> x509.Name:
        return self.cert.subject

    @property
    def ski(self) -> x509.SubjectKeyIdentifier:
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_ca(alias: str, key_slot: int, ou: str = AUTH_OU, org: str = "JPKI", crl_sign: bool = True) -> Ca:
    key = rsa_key(key_slot)
    name = ca_name(ou, org)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(key_slot + 1)
        .not_valid_before(NOW - dt.timedelta(days=400))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, crl_sign, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return Ca(alias, key, cert)


Entry = tuple  # (serial:int, revocation: datetime, reason: ReasonFlags|None, invalidity: datetime|None)


def make_crl(
    ca: Ca,
    entries: Iterable[Entry],
    *,
    partition: str | None = "Sapporo-shi-Minami-ku",
    number: int | None = 1,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
    aki: bool = True,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    signer: rsa.RSAPrivateKey | None = None,
    algorithm=None,
    only_ca_certs: bool = False,
) -> bytes:
    """A signed DER CRL built by pyca/cryptography."""
    this_update = this_update or NOW - dt.timedelta(hours=3)
    next_update = next_update or this_update + dt.timedelta(days=2)
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.name)
        .last_update(this_update)
        .next_update(next_update)
    )
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca.ski), critical=False)
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), critical=False)
    if partition is not None or only_ca_certs:
        b = b.add_extension(
            x509.IssuingDistributionPoint(
                full_name=[x509.DirectoryName(partition_name(partition))] if partition else None,
                relative_name=None,
                only_contains_user_certs=not only_ca_certs,
                only_contains_ca_certs=only_ca_certs,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            ),
            critical=True,
        )
    for ext, critical in extra_extensions:
        b = b.add_extension(ext, critical=critical)
    for serial, revoked, reason, invalidity in entries:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked)
        if reason is not None:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        if invalidity is not None:
            rb = rb.add_extension(x509.InvalidityDate(invalidity.replace(tzinfo=None)), critical=False)
        b = b.add_revoked_certificate(rb.build())
    crl = b.sign(signer or ca.key, algorithm or hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


@dataclass
class Workspace:
    root: Path

    @property
    def trust(self) -> Path:
        return self.root / "trust"

    @property
    def crls(self) -> Path:
        return self.root / "crls"

    @property
    def store(self) -> Path:
        return self.root / "store"

    def add_ca(self, ca: Ca) -> Ca:
        self.trust.mkdir(parents=True, exist_ok=True)
        (self.trust / f"{ca.alias}.pem").write_bytes(ca.pem())
        return ca

    def write_crl(self, relpath: str, der: bytes) -> Path:
        path = self.crls / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(der)
        return path

    def clear_crls(self) -> None:
        import shutil

        shutil.rmtree(self.crls, ignore_errors=True)
        self.crls.mkdir(parents=True)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path)
    w.crls.mkdir(parents=True)
    return w


@pytest.fixture(scope="session")
def auth_ca() -> Ca:
    return make_ca("auth_ca_2023", 0)


@pytest.fixture(scope="session")
def auth_ca_old() -> Ca:
    """A second generation sharing the same name (as JPKI's generations do)."""
    return make_ca("auth_ca_2019", 1)


@pytest.fixture(scope="session")
def sign_ca() -> Ca:
    return make_ca("sign_ca_2023", 2, ou=SIGN_OU)


@pytest.fixture(scope="session")
def stranger_ca() -> Ca:
    """A CA that is not in the trust store."""
    return make_ca("stranger", 3)


def days_ago(n: float) -> dt.datetime:
    return (NOW - dt.timedelta(days=n)).replace(microsecond=0)


@pytest.fixture
def real_trust(tmp_path: Path) -> Path:
    """A trust directory holding the four real JPKI roots (generations 1 and 3)."""
    import shutil

    d = tmp_path / "real-trust"
    d.mkdir()
    for pem in sorted(FIXTURES.glob("*.pem")):
        shutil.copy(pem, d / pem.name)
    return d
