"""Synthetic OCSP responders: a delegated responder certificate and key for each CA key of a
dataset (RFC 6960 §4.2.2.2), so that ``jpki-fast serve --ocsp-cert ... --ocsp-key ...`` and the
demo can sign OCSP responses for the synthetic CAs.

Each responder is issued by its CA key (the CA's name, authorityKeyIdentifier = the CA's key
identifier) with keyUsage digitalSignature (critical), extendedKeyUsage id-kp-OCSPSigning and
id-pkix-ocsp-nocheck, and an ECDSA P-256 or RSA-2048 key. A CA key that is not valid at ``now``
(the 2015 generation has expired) gets none: no responder certificate of it could be valid.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .cas import KEY_PREAMBLE, load_cas
from .values import load_cert, load_key, parse_now

#: Responder key types `jpki-fast synth --ocsp-responders` writes.
KEY_TYPES = ("ecdsa-p256", "rsa-2048")

#: Responder certificates live this long (capped by their CA's notAfter); a day back-dated.
_VALIDITY = _dt.timedelta(days=2 * 365)
_BACKDATE = _dt.timedelta(days=1)


def _new_key(key_type: str):
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"key_type {key_type!r}: expected one of {', '.join(KEY_TYPES)}")


def issue_responder(
    ca_key: Any,
    ca_cert: Any,
    key_type: str = "ecdsa-p256",
    now: _dt.datetime | str | None = None,
    *,
    ocsp_signing: bool = True,
    nocheck: bool = True,
    validity: _dt.timedelta = _VALIDITY,
) -> tuple[bytes, Any]:
    """A delegated OCSP responder certificate (DER) issued by ``ca_key`` / ``ca_cert`` (objects,
    paths or bytes), and its new private key (a ``cryptography`` key object). Valid from a day
    before ``now`` for ``validity``, within the CA's own validity. ``ocsp_signing=False`` or
    ``nocheck=False`` leave that extension out (a certificate a responder must refuse).

    >>> from cryptography import x509
    >>> der, key = issue_responder(synth_dir / "keys/auth_ca_2023.pem", synth_dir / "trust/auth_ca_2023.pem", now=NOW)
    >>> cert = x509.load_der_x509_certificate(der)
    >>> cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value[0]._name, key.curve.name
    ('OCSPSigning', 'secp256r1')
    """
    ca = load_cert(ca_cert)
    signing_key = load_key(ca_key)
    key = _new_key(key_type)
    now_dt = _dt.datetime.fromtimestamp(parse_now(now), _dt.timezone.utc)
    not_before = max(now_dt - _BACKDATE, ca.not_valid_before_utc)
    not_after = min(now_dt + validity, ca.not_valid_after_utc)
    if not_after <= now_dt:
        raise ValueError(f"CA {ca.subject.rfc4514_string()} is not valid at {now_dt:%Y-%m-%dT%H:%M:%SZ}: no responder of it can be")
    ca_kid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    kind = "authentication" if "authentication" in ca.subject.rfc4514_string() else "signature"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-FAST SYNTHETIC"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Synthetic OCSP responder for the {kind} CA key {ca_kid.hex()[:8].upper()}"),
        ]
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier(ca_kid, None, None), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ocsp_signing:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    if nocheck:
        b = b.add_extension(x509.OCSPNoCheck(), critical=False)
    cert = b.sign(signing_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER), key


def write_responders(
    dataset: str | os.PathLike[str],
    key_type: str = "ecdsa-p256",
    now: _dt.datetime | str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> list[dict[str, str]]:
    """Writes a responder pair for every CA key of ``dataset`` (its ``trust/`` and ``keys/``)
    valid at ``now``: ``OUT/<alias>.pem`` (the certificate) and ``OUT/<alias>.key.pem`` (its
    unencrypted PKCS#8 key), OUT being ``dataset/ocsp`` unless given. Returns one row per pair:
    ``alias``, ``certificate`` and ``key`` (paths), ``key_type``.

    >>> rows = write_responders(synth_dir, now=NOW, out=tmp / "responders-doc")
    >>> [r["alias"] for r in rows]
    ['sign_ca_2019', 'sign_ca_2023', 'auth_ca_2019', 'auth_ca_2023']
    """
    if key_type not in KEY_TYPES:
        raise ValueError(f"key_type {key_type!r}: expected one of {', '.join(KEY_TYPES)}")
    root = Path(dataset)
    target = Path(out) if out is not None else root / "ocsp"
    target.mkdir(parents=True, exist_ok=True)
    at = parse_now(now)
    rows = []
    for ca in load_cas(root):
        if not ca.cert.not_valid_before_utc.timestamp() <= at < ca.cert.not_valid_after_utc.timestamp():
            continue
        der, key = issue_responder(ca.key, ca.cert, key_type, _dt.datetime.fromtimestamp(at, _dt.timezone.utc))
        cert_path, key_path = target / f"{ca.alias}.pem", target / f"{ca.alias}.key.pem"
        cert_path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(KEY_PREAMBLE.encode().replace(b"the synthetic CRLs", b"the synthetic OCSP responses") + pem)
        rows.append({"alias": ca.alias, "certificate": str(cert_path), "key": str(key_path), "key_type": key_type})
    return rows
