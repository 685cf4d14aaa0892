"""The values synth's builders accept (keys, certificates, times, serials, OIDs) and their
encodings (PKCS#8, PEM, minimal big-endian integers, ISO 8601 times).

>>> serial_octets("05:4C:FC:D8", "serial").hex().upper()
'054CFCD8'
>>> oid_content("2.5.29.20").hex()
'551d14'
>>> iso_utc(parse_now("2026-11-26T00:00:00Z"))
'2026-11-26T00:00:00Z'
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


FROM_CERT = object()


_HEX_SERIAL = re.compile(r"[0-9A-Fa-f]+")


def load_key(key: Any) -> rsa.RSAPrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    data = Path(key).read_bytes() if isinstance(key, (str, os.PathLike)) else key
    if not isinstance(data, bytes):
        raise TypeError(f"ca_key must be an RSA private key, a path or bytes, not {type(key).__name__}")
    if b"-----BEGIN" in data:
        loaded = serialization.load_pem_private_key(data, password=None)
    else:
        loaded = serialization.load_der_private_key(data, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"ca_key is a {type(loaded).__name__}, not an RSA private key")
    return loaded


def load_cert(cert: Any) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    data = Path(cert).read_bytes() if isinstance(cert, (str, os.PathLike)) else cert
    if not isinstance(data, bytes):
        raise TypeError(f"issuer_cert must be a certificate, a path or bytes, not {type(cert).__name__}")
    return (x509.load_pem_x509_certificate if b"-----BEGIN" in data else x509.load_der_x509_certificate)(data)


def to_seconds(value: Any, what: str) -> int:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp())
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"{what} must be a datetime or seconds since 1970, not {type(value).__name__}")


def serial_octets(value: Any, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        octets = bytes(value)
    elif isinstance(value, str):
        text = value.strip().replace(":", "")
        text = text[2:] if text[:2].lower() == "0x" else text
        if not _HEX_SERIAL.fullmatch(text):
            raise ValueError(f"{what}: {value!r} is not a hexadecimal serial (digits 0-9/A-F, optional 0x and ':')")
        octets = int_bytes(int(text, 16))
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{what}: serial {value} is negative")
        octets = int_bytes(int(value))
    else:
        raise TypeError(f"{what}: serial must be an int, hex string or bytes, not {type(value).__name__}")
    significant = octets.lstrip(b"\0")
    if len(significant) > 20:
        raise ValueError(f"{what}: serial has {len(significant)} octets; RFC 5280 allows at most 20")
    return significant or b"\0"


def int_bytes(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def oid_content(oid: str | bytes | x509.ObjectIdentifier) -> bytes:
    """DER content octets of an OBJECT IDENTIFIER given dotted (``"2.5.29.20"``) or as bytes."""
    if isinstance(oid, bytes):
        return oid
    dotted = oid.dotted_string if isinstance(oid, x509.ObjectIdentifier) else oid
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise ValueError(f"{dotted!r} is not a dotted OID such as 2.5.29.20") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise ValueError(f"{dotted!r} is not a valid OID")
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def pkcs8_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def pem(label: str, der: bytes) -> bytes:
    """PEM text (RFC 7468) of DER bytes: 64 base64 characters a line."""
    import base64

    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode("ascii")


def parse_now(now: _dt.datetime | str | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, str):
        try:
            now = _dt.datetime.fromisoformat(now.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as e:
            raise ValueError(f"now={now!r} is not an ISO 8601 time such as 2026-11-26T00:00:00Z") from e
    if not isinstance(now, _dt.datetime):
        raise TypeError(f"now must be a datetime, an ISO 8601 string or None, not {type(now).__name__}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=_dt.timezone.utc)  # the project's times are UTC
    return int(now.timestamp())


def iso_utc(seconds: int) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
