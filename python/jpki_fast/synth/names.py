"""Distinguished names of the synthetic CAs and partitions, as text and as DER.

The text form is the project's (RDNs in encoded order, ``, `` between them), the one the engine
prints for a partition (docs/DESIGN.md §2.3).

>>> parse_name("C=JP, O=JPKI").rfc4514_string()
'O=JPKI,C=JP'
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from .domain import CaKind, kind_of


_JLIS = "Japan Agency for Local Authority Information Systems"


def partition_name(kind: CaKind | str, prefecture: str, municipality: str) -> str:
    """The text form of a partition's directory name, as certificates and CRLs carry it.

    >>> partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")
    'C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution Points, OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP'
    """
    unit = kind_of(kind).unit
    return f"C=JP, O=JPKI, OU={unit}, OU=CRL Distribution Points, OU={prefecture}, CN={municipality} CRLDP"


def ca_name(kind: CaKind) -> x509.Name:
    # C is a PrintableString and the rest UTF8String, as in the real roots (cryptography's
    # defaults for these attributes).
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind.unit),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _JLIS),
        ]
    )


_ATTRIBUTE_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
}


def parse_name(text: str) -> x509.Name:
    """Parses the project's name text (RDNs in encoded order, ``, `` between them, ``\\`` escapes)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    attributes = []
    for part in parts:
        key, sep, value = part.partition("=")
        oid = _ATTRIBUTE_OIDS.get(key.strip())
        if not sep or oid is None or not value:
            raise ValueError(
                f"cannot read {part!r} in name {text!r}: expected KEY=VALUE with KEY one of {', '.join(_ATTRIBUTE_OIDS)}"
            )
        attributes.append(x509.NameAttribute(oid, value))
    return x509.Name(attributes)


def name_der(name: x509.Name | str | bytes) -> bytes:
    if isinstance(name, bytes):
        return name
    if isinstance(name, str):
        name = parse_name(name)
    return name.public_bytes()
