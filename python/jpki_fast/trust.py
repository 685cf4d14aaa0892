"""The trust store: the JPKI CA certificates a verifier trusts.

A trust directory holds one CA certificate per file (PEM or DER; ``.pem``, ``.crt``, ``.cer``
or ``.der``). Each CA *key* is named by its alias, the file's stem (``auth_ca_2023``), and by
its key identifier (the subjectKeyIdentifier, in hex). JPKI's three key generations of one CA
share a distinguished name, so a key is never identified by name.

>>> store = TrustStore.from_dir("../shared/fixtures/jpki")      # doctest: +SKIP
>>> store["auth_ca_2023"].key_id_hex
'1AC100F596A3BC8C4B3DF195E32699249E9E308A'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from . import _core
from .errors import TrustStoreError

CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

SIGNING_OU = "JPKI for digital signature"
AUTHENTICATION_OU = "JPKI for user authentication"
TEST_ORGANIZATION = "JPKI-TEST"


@dataclass(frozen=True)
class CaKey:
    """One trusted CA key (one CA certificate)."""

    alias: str
    key_id: bytes
    subject: str
    subject_der: bytes
    public_key_der: bytes  # SubjectPublicKeyInfo
    certificate_der: bytes
    not_before: int  # epoch seconds
    not_after: int
    crl_sign: bool
    kind: str | None  # "signing", "authentication" or None (not a JPKI CA name)
    test_hierarchy: bool  # O=JPKI-TEST
    serial: int = field(default=0)
    authority_key_id: bytes | None = None  # the issuing key's identifier (own key for roots)

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex().upper()

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)


def _load_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
            if len(certs) != 1:
                raise TrustStoreError(f"{path}: holds {len(certs)} certificates; put one CA certificate per file")
            return certs[0]
        return x509.load_der_x509_certificate(data)
    except TrustStoreError:
        raise
    except ValueError as exc:
        raise TrustStoreError(f"{path}: not a valid X.509 certificate ({exc})") from None


def _kind(cert: x509.Certificate) -> tuple[str | None, bool]:
    ous = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    kind = "signing" if SIGNING_OU in ous else "authentication" if AUTHENTICATION_OU in ous else None
    return kind, TEST_ORGANIZATION in orgs


def ca_key_from_certificate(alias: str, cert: x509.Certificate, source: str) -> CaKey:
    """Builds a :class:`CaKey` from a certificate, checking that it is a usable CA."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bc.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise TrustStoreError(f"{source}: not a CA certificate (basicConstraints cA is not TRUE)")
    try:
        key_id = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        # RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING.
        key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    try:
        authority_key_id = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        authority_key_id = key_id if cert.issuer == cert.subject else None
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        crl_sign = ku.crl_sign
    except x509.ExtensionNotFound:
        crl_sign = True
    subject_der = cert.subject.public_bytes()
    kind, test = _kind(cert)
    return CaKey(
        alias=alias,
        key_id=key_id,
        subject=_core.name_to_text(subject_der),
        subject_der=subject_der,
        public_key_der=cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        not_before=int(cert.not_valid_before_utc.timestamp()),
        not_after=int(cert.not_valid_after_utc.timestamp()),
        crl_sign=crl_sign,
        kind=kind,
        test_hierarchy=test,
        serial=cert.serial_number,
        authority_key_id=authority_key_id,
    )


class TrustStore:
    """An ordered set of trusted CA keys, looked up by alias or key identifier."""

    def __init__(self, keys: list[CaKey]) -> None:
        self._keys = list(keys)
        self._by_alias: dict[str, int] = {}
        self._by_key_id: dict[bytes, int] = {}
        for i, key in enumerate(self._keys):
            if key.alias in self._by_alias:
                raise TrustStoreError(f"duplicate alias {key.alias!r} in the trust store")
            if key.key_id in self._by_key_id:
                other = self._keys[self._by_key_id[key.key_id]].alias
                raise TrustStoreError(
                    f"{key.alias!r} and {other!r} carry the same key identifier {key.key_id_hex}; keep one"
                )
            self._by_alias[key.alias] = i
            self._by_key_id[key.key_id] = i

    @classmethod
    def from_dir(cls, path: str | Path) -> "TrustStore":
        """Loads every CA certificate in ``path`` (not recursive). The alias is the file stem."""
        root = Path(path)
        if not root.is_dir():
            raise TrustStoreError(f"{root}: trust directory not found")
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in CERT_SUFFIXES)
        if not files:
            raise TrustStoreError(f"{root}: no CA certificates (*.pem, *.crt, *.cer, *.der)")
        keys = []
        for f in files:
            alias = f.stem
            if not _ALIAS.match(alias):
                raise TrustStoreError(f"{f}: alias {alias!r} must be letters, digits, '_', '.' or '-'")
            keys.append(ca_key_from_certificate(alias, _load_certificate(f), str(f)))
        return cls(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[CaKey]:
        return iter(self._keys)

    def __getitem__(self, name: str) -> CaKey:
        index = self.index_of(name)
        if index is None:
            raise KeyError(f"no CA key {name!r} in the trust store (known: {', '.join(self.aliases)})")
        return self._keys[index]

    def __contains__(self, name: str) -> bool:
        return self.index_of(name) is not None

    @property
    def aliases(self) -> list[str]:
        return [k.alias for k in self._keys]

    def index_of(self, name: str) -> int | None:
        """Index of a key named by alias or by key identifier (hex, any case, ':' allowed)."""
        if name in self._by_alias:
            return self._by_alias[name]
        text = name.replace(":", "").strip()
        if re.fullmatch(r"[0-9A-Fa-f]+", text) and len(text) % 2 == 0:
            return self._by_key_id.get(bytes.fromhex(text))
        return None

    def by_key_id(self, key_id: bytes) -> CaKey | None:
        index = self._by_key_id.get(key_id)
        return None if index is None else self._keys[index]

    def anchors(self) -> list[tuple[str, bytes, bytes, str, bytes, bool]]:
        """The tuples the Rust core takes for CRL verification."""
        return [(k.alias, k.key_id, k.subject_der, k.subject, k.public_key_der, k.crl_sign) for k in self._keys]
