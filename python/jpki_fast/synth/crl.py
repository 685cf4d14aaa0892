"""One signed CRL from Python values, through the Rust encoder (small CRLs, for tests)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Sequence

import numpy as np
from cryptography import x509

from .. import _core
from .domain import NO_REASON, REASON_CODES
from .names import name_der
from .values import FROM_CERT, int_bytes, load_cert, load_key, oid_content, pkcs8_der, serial_octets, to_seconds


def make_crl(
    ca_key: Any,
    issuer_cert: Any,
    entries: Iterable[Sequence[Any] | dict[str, Any]],
    this_update: _dt.datetime | int,
    next_update: _dt.datetime | int | None,
    crl_number: int | None,
    partition_name: str | x509.Name | bytes | None,
    extra_extensions: Iterable[tuple[str | bytes | x509.ObjectIdentifier, bool, bytes]] = (),
    *,
    authority_key_id: Any = FROM_CERT,
) -> bytes:
    """Builds one signed DER CRL from Python values, through the Rust encoder (small CRLs, tests).

    Args:
        ca_key: the signing key: an ``RSAPrivateKey``, or a path to / bytes of a PEM or DER key.
            Sign with another key than the certificate's to make a CRL whose signature fails.
        issuer_cert: the CA certificate (object, path, PEM or DER bytes): its subject becomes the
            CRL issuer, its subject key identifier the authority key identifier.
        entries: rows ``(serial, revocation_date[, reason[, invalidity_date]])`` or dicts with
            those keys. serial: int, hex string or big-endian bytes; dates: datetime (naive is
            UTC) or seconds; reason: RFC 5280 name, code, or None.
        this_update, next_update: datetimes or seconds (next_update None omits it).
        crl_number: the cRLNumber, or None to omit it.
        partition_name: the issuing distribution point's directory name (text such as
            ``partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")``, an ``x509.Name`` or
            Name DER), or None for no issuingDistributionPoint.
        extra_extensions: ``(oid, critical, value_der)`` appended to crlExtensions, e.g.
            ``("2.5.29.27", True, b"\\x02\\x01\\x01")`` for a delta CRL indicator.
        authority_key_id: override the key identifier (bytes), or None to leave AKI out.

    Example::

        >>> from datetime import datetime
        >>> from jpki_fast.synth import partition_name
        >>> der = make_crl(synth_dir / "keys/auth_ca_2023.pem", synth_dir / "trust/auth_ca_2023.pem",
        ...                [(0x054CFCD8, datetime(2026, 1, 5), "superseded")],
        ...                datetime(2026, 11, 26), datetime(2026, 11, 28), 20261126,
        ...                partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku"))
        >>> entry = x509.load_der_x509_crl(der).get_revoked_certificate_by_serial_number(0x054CFCD8)
        >>> entry.revocation_date_utc, entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        (datetime.datetime(2026, 1, 5, 0, 0, tzinfo=datetime.timezone.utc), <ReasonFlags.superseded: 'superseded'>)
    """
    if crl_number is not None and (not isinstance(crl_number, int) or isinstance(crl_number, bool) or crl_number < 0):
        raise ValueError(f"crl_number must be a non-negative integer or None, not {crl_number!r}")
    key = load_key(ca_key)
    cert = load_cert(issuer_cert)
    if authority_key_id is FROM_CERT:
        try:
            authority_key_id = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            authority_key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest

    serials: list[bytes] = []
    revocation: list[int] = []
    reasons: list[int] = []
    invalidity: list[int] = []
    mask: list[int] = []
    for i, entry in enumerate(entries):
        what = f"entry #{i}"
        if isinstance(entry, dict):
            unknown = set(entry) - {"serial", "revocation_date", "reason", "invalidity_date"}
            if unknown or "serial" not in entry or "revocation_date" not in entry:
                raise ValueError(
                    f"{what}: expected keys serial, revocation_date[, reason, invalidity_date], got {sorted(entry)}"
                )
            fields = (entry["serial"], entry["revocation_date"], entry.get("reason"), entry.get("invalidity_date"))
        else:
            if not 2 <= len(entry) <= 4:
                raise ValueError(
                    f"{what}: expected (serial, revocation_date[, reason[, invalidity_date]]), got {len(entry)} items"
                )
            fields = (*entry, None, None)[:4]
        serial, revoked_at, reason, invalid_since = fields
        serials.append(serial_octets(serial, what))
        revocation.append(to_seconds(revoked_at, f"{what}: revocation_date"))
        if reason is None:
            reasons.append(NO_REASON)
        elif isinstance(reason, str):
            if reason not in REASON_CODES:
                raise ValueError(f"{what}: unknown reason {reason!r}; expected one of {', '.join(REASON_CODES)}")
            reasons.append(REASON_CODES[reason])
        elif isinstance(reason, int) and not isinstance(reason, bool) and 0 <= reason < NO_REASON:
            reasons.append(reason)  # any code, so tests can make CRLs with undefined ones
        else:
            raise ValueError(f"{what}: reason must be an RFC 5280 name or a code 0..254, not {reason!r}")
        invalidity.append(0 if invalid_since is None else to_seconds(invalid_since, f"{what}: invalidity_date"))
        mask.append(0 if invalid_since is None else 1)

    width = max((len(s) for s in serials), default=1)
    serial_buffer = b"".join(s.rjust(width, b"\0") for s in serials)
    return _core.encode_crl(
        pkcs8_der(key),
        cert.subject.public_bytes(),
        to_seconds(this_update, "this_update"),
        None if next_update is None else to_seconds(next_update, "next_update"),
        serial_buffer,
        np.array(revocation, dtype=np.int64),
        serial_width=width,
        reason=np.array(reasons, dtype=np.uint8),
        invalidity_time=np.array(invalidity, dtype=np.int64),
        invalidity_mask=np.array(mask, dtype=np.uint8),
        crl_number=None if crl_number is None else int_bytes(crl_number),
        authority_key_id=authority_key_id,
        distribution_point=None if partition_name is None else name_der(partition_name),
        extra_extensions=[(oid_content(oid), bool(critical), bytes(value)) for oid, critical, value in extra_extensions],
    )
