"""JPKI-like end-entity certificates (authentication and signing), for login and signing flows
end to end: the fields of the real ones (docs/DESIGN.md §2.1), none of their data.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from .domain import kind_of
from .names import parse_name
from .values import FROM_CERT, load_cert, load_key, serial_octets, to_seconds


#: OCSP responders written into synthetic certificates: the authentication one is the real
#: sample certificate's; the signing one is named by analogy (an assumption, not J-LIS's word).
OCSP_URLS = {"auth": "http://ocspauthnorm.jpki.go.jp", "sign": "http://ocspsignnorm.jpki.go.jp"}


#: Certificate policies: the real authentication certificate's; the signing one by analogy.
POLICIES = {"auth": "1.2.392.200149.8.5.1.3.30", "sign": "1.2.392.200149.8.5.1.1.30"}


_CPS_URL = "http://www.jpki.go.jp/cps.html"


#: The issuerAltName of the real certificates: C=JP, O=公的個人認証サービス.
_ISSUER_ALT_ORGANIZATION = "公的個人認証サービス"


#: JPKI's subjectAltName otherNames for the basic 4 facts: arc .1 to .6, in this order, with
#: the DER string type each value is written as.
BASIC_FOUR_FACTS_ARC = "1.2.392.200149.8.5.5"


_FACTS = (
    ("name", 0x0C),  # UTF8String
    ("name_substitute", 0x0C),
    ("sex", 0x13),  # PrintableString
    ("date_of_birth", 0x13),
    ("address", 0x0C),
    ("address_substitute", 0x0C),
)


_KEY_USAGE_FIELDS = {
    "digitalSignature": "digital_signature", "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment", "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement", "keyCertSign": "key_cert_sign", "cRLSign": "crl_sign",
}


_DEFAULT_KEY_USAGE = {"auth": ("digitalSignature",), "sign": ("digitalSignature", "nonRepudiation")}


_DEFAULT_EKU = {"auth": ("clientAuth",), "sign": None}


_EKU_OIDS = {"clientAuth": "1.3.6.1.5.5.7.3.2", "serverAuth": "1.3.6.1.5.5.7.3.1", "emailProtection": "1.3.6.1.5.5.7.3.4"}


_DEFAULT = object()


def _der_string(tag: int, text: str) -> bytes:
    body = text.encode("utf-8")
    out = bytearray([tag])
    _push_der_length(out, len(body))
    return bytes(out + body)


def _push_der_length(out: bytearray, n: int) -> None:
    if n < 0x80:
        out.append(n)
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        out.append(0x80 | len(octets))
        out.extend(octets)


def _facts_value(facts: Any, field: str) -> str | None:
    return facts.get(field) if isinstance(facts, dict) else getattr(facts, field, None)


def issue_certificate(
    kind: str,
    ca_key: Any,
    ca_cert: Any,
    public_key: Any,
    serial: int | str | bytes,
    partition: str | x509.Name | None,
    not_before: _dt.datetime | int,
    not_after: _dt.datetime | int,
    *,
    subject_id: str | None = None,
    facts: Any = None,
    key_usage: Any = _DEFAULT,
    extended_key_usage: Any = _DEFAULT,
    ocsp_url: Any = _DEFAULT,
    policies: Any = _DEFAULT,
    authority_key_id: Any = FROM_CERT,
    is_ca: bool = False,
    signing_key: Any = None,
    extra_extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    """Issues one JPKI-like end-entity certificate (DER), built by pyca/cryptography.

    Shaped like the real authentication certificate in ``shared/fixtures/jpki``: subject
    ``C=JP, CN=<opaque id>``; keyUsage (critical), extendedKeyUsage, certificatePolicies
    (critical, with the CPS URL), issuerAltName, cRLDistributionPoints (the partition's directory
    name), authorityInfoAccess (OCSP), authorityKeyIdentifier (key id, issuer name and serial of
    the CA certificate) and subjectKeyIdentifier; a signing certificate with ``facts`` also
    carries them as subjectAltName otherNames 1.2.392.200149.8.5.5.1-.6.

    Args:
        kind: ``"auth"`` (authentication: digitalSignature, clientAuth) or ``"sign"`` (signing:
            digitalSignature and nonRepudiation).
        ca_key, ca_cert: the issuing CA's private key and certificate (objects, paths or bytes).
        public_key: the subject's public key (cryptography object, or SubjectPublicKeyInfo DER).
        serial: int, hex string or big-endian bytes (at most 20 octets).
        partition: the CRL partition's directory name (text as :func:`partition_name` gives it,
            or an ``x509.Name``), or None for no cRLDistributionPoints.
        not_before, not_after: datetimes or seconds since 1970.
        subject_id: the subject CN (default: an opaque id made from the serial).
        facts: the basic 4 facts, a dict or object with ``name``, ``name_substitute``, ``sex``,
            ``date_of_birth``, ``address``, ``address_substitute`` (None values are left out).
        key_usage: names such as ``("digitalSignature",)``, or None to leave keyUsage out.
        extended_key_usage: names (``clientAuth``) or dotted OIDs, or None to leave it out.
        ocsp_url, policies: override (None leaves the extension out).
        authority_key_id: override the AKI key identifier (bytes), or None to leave AKI out.
        is_ca: add basicConstraints cA=TRUE (a certificate that must be refused as end entity).
        signing_key: sign with this key instead of ``ca_key`` (a certificate whose signature fails).
        extra_extensions: ``(extension, critical)`` pairs appended, e.g. an
            ``x509.UnrecognizedExtension`` marked critical (a certificate that must be refused).

    >>> from datetime import datetime
    >>> from jpki_fast.synth import partition_name
    >>> spki_der = x509.load_der_x509_certificate(cert_der).public_key().public_bytes(
    ...     serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    >>> der = issue_certificate("auth", synth_dir / "keys/auth_ca_2023.pem", synth_dir / "trust/auth_ca_2023.pem",
    ...                         spki_der, 0x054CFCD8,
    ...                         partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku"),
    ...                         datetime(2026, 1, 1), datetime(2031, 1, 1))
    >>> cert = x509.load_der_x509_certificate(der)
    >>> hex(cert.serial_number), cert.not_valid_after_utc.year, cert.issuer == x509.load_pem_x509_certificate(
    ...     (synth_dir / "trust/auth_ca_2023.pem").read_bytes()).subject
    ('0x54cfcd8', 2031, True)
    """
    k = kind_of(kind).name
    key = load_key(ca_key)
    ca = load_cert(ca_cert)
    if isinstance(public_key, (bytes, bytearray)):
        public_key = serialization.load_der_public_key(bytes(public_key))
    serial_int = int.from_bytes(serial_octets(serial, "serial"), "big")
    if serial_int == 0 or serial_int >= 1 << 159:
        raise ValueError(f"serial: {serial_int:#x} must be positive and below 2**159 (20 DER octets)")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject_id or f"SYNTH{serial_int:018X}"),
        ]
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(serial_int)
        .not_valid_before(_dt.datetime.fromtimestamp(to_seconds(not_before, "not_before"), _dt.timezone.utc))
        .not_valid_after(_dt.datetime.fromtimestamp(to_seconds(not_after, "not_after"), _dt.timezone.utc))
    )
    usages = _DEFAULT_KEY_USAGE[k] if key_usage is _DEFAULT else key_usage
    if usages is not None:
        unknown = set(usages) - set(_KEY_USAGE_FIELDS)
        if unknown:
            raise ValueError(f"key_usage: unknown {sorted(unknown)}; expected names from {', '.join(_KEY_USAGE_FIELDS)}")
        flags = {field: name in usages for name, field in _KEY_USAGE_FIELDS.items()}
        b = b.add_extension(x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True)
    ekus = _DEFAULT_EKU[k] if extended_key_usage is _DEFAULT else extended_key_usage
    if ekus:
        b = b.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(_EKU_OIDS.get(e, e)) for e in ekus]), critical=False
        )
    policy = POLICIES[k] if policies is _DEFAULT else policies
    if policy is not None:
        b = b.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(policy), [_CPS_URL])]), critical=True
        )
    b = b.add_extension(
        x509.IssuerAlternativeName(
            [
                x509.DirectoryName(
                    x509.Name(
                        [
                            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ISSUER_ALT_ORGANIZATION),
                        ]
                    )
                )
            ]
        ),
        critical=False,
    )
    if partition is not None:
        if isinstance(partition, str):
            name = parse_name(partition)
        elif isinstance(partition, x509.Name):
            name = partition
        else:
            raise TypeError(f"partition must be name text or an x509.Name, not {type(partition).__name__}")
        b = b.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint(full_name=[x509.DirectoryName(name)], relative_name=None, reasons=None, crl_issuer=None)]
            ),
            critical=False,
        )
    url = OCSP_URLS[k] if ocsp_url is _DEFAULT else ocsp_url
    if url is not None:
        b = b.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))]
            ),
            critical=False,
        )
    if authority_key_id is FROM_CERT:
        try:
            kid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            kid = x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    else:
        kid = authority_key_id
    if kid is not None:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier(kid, [x509.DirectoryName(ca.subject)], ca.serial_number), critical=False
        )
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if is_ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if facts is not None:
        names = [
            x509.OtherName(x509.ObjectIdentifier(f"{BASIC_FOUR_FACTS_ARC}.{i}"), _der_string(tag, value))
            for i, (field, tag) in enumerate(_FACTS, start=1)
            if (value := _facts_value(facts, field)) is not None
        ]
        if names:
            b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for extension, critical in extra_extensions:
        b = b.add_extension(extension, critical=critical)
    cert = b.sign(load_key(signing_key) if signing_key is not None else key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)
