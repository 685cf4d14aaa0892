"""Hostile and unusual X.509 built by hand: a small DER writer (every length and INTEGER exactly
as the test asks, canonical or not) and CRLs / certificates re-signed with the test CA's key,
so that a policy test reaches the rule it is about and not the signature check.

pyca/cryptography writes only canonical DER and refuses negative serials, so the cases the input
policies cover (README "Input policies") are made here; the canonical output of :func:`crl` is
checked against pyca in tests/test_strict.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import Ca, partition_name

# ---- DER writer --------------------------------------------------------------------------------


def length(n: int) -> bytes:
    """The canonical (shortest) DER length octets."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes, length_octets: bytes | None = None) -> bytes:
    """One element; ``length_octets`` overrides the canonical length (for non-DER lengths)."""
    return bytes([tag]) + (length(len(content)) if length_octets is None else length_octets) + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def int_content(value: int) -> bytes:
    """Minimal two's-complement content octets of ``value`` (negative values included)."""
    n = (value if value >= 0 else ~value).bit_length() // 8 + 1
    return value.to_bytes(n, "big", signed=True)


def integer(value: int | bytes) -> bytes:
    """An INTEGER of ``value`` (minimal), or of exactly the content octets given as bytes."""
    return tlv(0x02, value if isinstance(value, bytes) else int_content(value))


def enumerated(value: int) -> bytes:
    return tlv(0x0A, int_content(value))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def octets(content: bytes) -> bytes:
    return tlv(0x04, content)


def bits(content: bytes) -> bytes:
    return tlv(0x03, b"\x00" + content)


def boolean(value: bool) -> bytes:
    return tlv(0x01, b"\xff" if value else b"\x00")


def utc(text: str) -> bytes:
    """A UTCTime with exactly this text (e.g. ``261126000000Z``, or a non-DER form)."""
    return tlv(0x17, text.encode())


def generalized(text: str) -> bytes:
    return tlv(0x18, text.encode())


def utc_of(t: dt.datetime) -> bytes:
    return utc(t.astimezone(dt.timezone.utc).strftime("%y%m%d%H%M%SZ"))


NULL = b"\x05\x00"
SHA256_RSA = "1.2.840.113549.1.1.11"
SHA1_RSA = "1.2.840.113549.1.1.5"
HASHES = {SHA256_RSA: hashes.SHA256(), SHA1_RSA: hashes.SHA1()}


def algorithm(dotted: str = SHA256_RSA, params: bytes = NULL) -> bytes:
    return seq(oid(dotted), params)


def children(der: bytes) -> list[bytes]:
    """The encoded elements inside one SEQUENCE (canonical input, as pyca writes it)."""
    assert der[0] == 0x30
    pos = 1
    first = der[pos]
    pos += 1 + (first & 0x7F if first & 0x80 else 0)
    out = []
    while pos < len(der):
        start = pos
        pos += 1
        first = der[pos]
        if first & 0x80:
            n = first & 0x7F
            size = int.from_bytes(der[pos + 1 : pos + 1 + n], "big")
            pos += 1 + n
        else:
            size = first
            pos += 1
        pos += size
        out.append(der[start:pos])
    return out


# ---- CRLs ---------------------------------------------------------------------------------------


def entry(serial: int | bytes, revoked: dt.datetime | bytes, reason: int | None = None) -> bytes:
    """One revoked entry: ``serial`` an int (minimal INTEGER) or the exact content octets;
    ``revoked`` a datetime (UTCTime) or an encoded time element."""
    when = revoked if isinstance(revoked, bytes) else utc_of(revoked)
    exts = b"" if reason is None else seq(seq(oid("2.5.29.21"), octets(enumerated(reason))))
    return seq(integer(serial), when, exts)


def sign(ca: Ca, tbs: bytes, dotted: str = SHA256_RSA) -> bytes:
    return ca.key.sign(tbs, padding.PKCS1v15(), HASHES[dotted])


def crl(
    ca: Ca,
    entries: Sequence[bytes],
    *,
    this_update: dt.datetime | bytes,
    next_update: dt.datetime | bytes | None,
    number: int | bytes | None = 1,
    partition: str | None = "Sapporo-shi-Minami-ku",
    version: bytes | None = integer(1),
    inner_algorithm: bytes | None = None,
    outer_algorithm: bytes | None = None,
    signature_oid: str = SHA256_RSA,
    inner_trailing: bytes = b"",
    trailing: bytes = b"",
    extensions: bool = True,
    idp_flags: bytes | None = None,
    extra_extensions: Sequence[bytes] = (),
) -> bytes:
    """A CertificateList signed by ``ca`` (RFC 5280 §5.1), v2 with authorityKeyIdentifier,
    cRLNumber and an issuingDistributionPoint naming ``partition`` unless told otherwise.
    ``idp_flags`` replaces the issuingDistributionPoint's flags after its name (by default
    onlyContainsUserCerts TRUE); ``extra_extensions`` are appended to crlExtensions as given."""
    inner = inner_algorithm or algorithm(signature_oid)
    outer = outer_algorithm or inner
    parts = [version or b"", inner, ca.cert.subject.public_bytes()]
    parts.append(this_update if isinstance(this_update, bytes) else utc_of(this_update))
    if next_update is not None:
        parts.append(next_update if isinstance(next_update, bytes) else utc_of(next_update))
    if entries:
        parts.append(seq(*entries))
    exts = []
    if extensions:
        exts.append(seq(oid("2.5.29.35"), octets(seq(tlv(0x80, ca.ski.digest)))))
        if number is not None:
            exts.append(seq(oid("2.5.29.20"), octets(integer(number))))
        if partition is not None:
            directory = tlv(0xA4, partition_name(partition).public_bytes())
            flags = tlv(0x81, b"\xff") if idp_flags is None else idp_flags
            idp = seq(tlv(0xA0, tlv(0xA0, directory)), flags)
            exts.append(seq(oid("2.5.29.28"), boolean(True), octets(idp)))
        exts.extend(extra_extensions)
    if exts:
        parts.append(tlv(0xA0, seq(*exts)))
    tbs = seq(*parts)
    return seq(tbs, outer, bits(sign(ca, tbs, signature_oid)), inner_trailing) + trailing


# ---- certificates ---------------------------------------------------------------------------------


def content(der: bytes) -> bytes:
    """The content octets of one element (canonical input)."""
    first = der[1]
    return der[2 + (first & 0x7F if first & 0x80 else 0):]


def resign_certificate(
    der: bytes,
    ca: Ca,
    *,
    serial: bytes | None = None,
    version: bytes | None = None,
    extensions: Callable[[list[bytes]], list[bytes]] | None = None,
) -> bytes:
    """``der`` (a certificate pyca wrote) with its serialNumber replaced by exactly ``serial``
    (INTEGER content octets), its version element replaced by ``version`` (b"" drops it) and/or
    its list of encoded Extensions passed through ``extensions``, re-signed by ``ca`` (SHA-256)."""
    tbs, alg, _sig = children(der)
    fields = children(tbs)
    has_version = fields[0][0] == 0xA0
    if serial is not None:
        fields[1 if has_version else 0] = integer(serial)
    if extensions is not None:
        at = next(i for i, f in enumerate(fields) if f[0] == 0xA3)
        fields[at] = tlv(0xA3, seq(*extensions(children(content(fields[at])))))
    if version is not None:
        fields = ([version] if version else []) + (fields[1:] if has_version else fields)
    new_tbs = seq(*fields)
    return seq(new_tbs, alg, bits(sign(ca, new_tbs)))


def load(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def pem(der: bytes) -> bytes:
    return load(der).public_bytes(serialization.Encoding.PEM)
