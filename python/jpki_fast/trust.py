"""The trust store: the JPKI CA certificates a verifier trusts.

A trust directory holds one CA certificate per file (PEM or DER; ``.pem``, ``.crt``, ``.cer``
or ``.der``). Each CA *key* is named by its alias, the file's stem (``auth_ca_2023``), and by
its key identifier (the subjectKeyIdentifier, in hex). JPKI's three key generations of one CA
share a distinguished name, so a key is never identified by name.

>>> trust = TrustStore.from_dir(JPKI_TRUST)
>>> trust.aliases
['auth_ca_2015', 'auth_ca_2023', 'sign_ca_2015', 'sign_ca_2023']
>>> trust["auth_ca_2023"].key_id_hex
'1AC100F596A3BC8C4B3DF195E32699249E9E308A'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from . import _core
from .errors import TrustStoreError

if TYPE_CHECKING:
    from cryptography import x509

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
    def certificate(self) -> "x509.Certificate":
        """The certificate as a pyca/cryptography object (imported on first use)."""
        from cryptography import x509

        return x509.load_der_x509_certificate(self.certificate_der)


def ca_key_from_bytes(alias: str, data: bytes, source: str) -> CaKey:
    """Builds a :class:`CaKey` from a certificate (DER, or PEM holding exactly one), checking
    that it is a usable CA. Parsed by the Rust core, so loading a trust store does not import
    a general-purpose X.509 library."""
    try:
        if b"-----BEGIN" in data:
            blocks = _core.pem_certificates(data)
            if len(blocks) != 1:
                raise TrustStoreError(f"{source}: holds {len(blocks)} certificates; put one CA certificate per file")
            data = blocks[0]
        c = _core.ca_certificate(data)
    except ValueError as exc:
        raise TrustStoreError(f"{source}: not a valid X.509 certificate ({exc})") from None
    if not c["is_ca"]:
        raise TrustStoreError(f"{source}: not a CA certificate (basicConstraints cA is not TRUE)")
    ous = [v for k, v in c["subject_attributes"] if k == "OU"]
    orgs = [v for k, v in c["subject_attributes"] if k == "O"]
    kind = "signing" if SIGNING_OU in ous else "authentication" if AUTHENTICATION_OU in ous else None
    authority_key_id = c["authority_key_id"]
    if authority_key_id is None and c["self_issued"]:
        authority_key_id = c["key_id"]
    return CaKey(
        alias=alias,
        key_id=c["key_id"],
        subject=c["subject"],
        subject_der=c["subject_der"],
        public_key_der=c["public_key_der"],
        certificate_der=c["certificate_der"],
        not_before=c["not_before"],
        not_after=c["not_after"],
        crl_sign=c["crl_sign"],
        kind=kind,
        test_hierarchy=TEST_ORGANIZATION in orgs,
        serial=int.from_bytes(c["serial"], "big", signed=True),  # the INTEGER's content octets
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
            keys.append(ca_key_from_bytes(alias, f.read_bytes(), str(f)))
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
