"""OCSP (RFC 6960) answers from the store: a delegated responder for each CA key served.

Much existing software (OpenSSL, Java's PKIX, TLS stacks, PDF signature validators) asks about
revocation through OCSP rather than a JSON API. :class:`OcspResponder` turns one DER
OCSPRequest into one signed DER OCSPResponse, answered from a published snapshot
(:class:`jpki_fast.Store`), without HTTP (the service's ``POST /ocsp`` and ``GET /ocsp/...`` put
it on the wire). The request parser, CertID matching, response encoding and signing are the Rust
core's (``rust/core/src/ocsp/``); this module decides what each answer says.

Responders. One *delegated responder* per CA key (RFC 6960 §4.2.2.2): a certificate issued by
that CA key, with extendedKeyUsage id-kp-OCSPSigning and the id-pkix-ocsp-nocheck extension,
and its private key (ECDSA P-256, or RSA of 2048 bits or more; any PEM form ``cryptography``
reads). :func:`load_responder` checks all of that against the store's trust store and refuses a
pair otherwise, naming what is wrong. JPKI's key generations share one name, so a responder
answers for one CA *key*, found by the issuerKeyHash of the request's CertIDs.

What an answer says, per CertID (the store's own check, docs/DESIGN.md §3.3-§3.4):

============  ============================================================================
``revoked``   the serial is on a CRL of the CA (the issuing key's, or, since the CRL of a
              partition may be signed by a newer key of the same CA, another key's of the same
              name), or the CA key itself is revoked: revocationTime and reason of the entry;
              thisUpdate/nextUpdate of the CRL that lists it (nextUpdate left out once that CRL
              is past it: a revocation is final, and a client must not discard it)
``good``      not revoked, and every CRL partition covering the CA key is fresh at ``now``:
              thisUpdate is their oldest thisUpdate, nextUpdate their earliest nextUpdate
``unknown``   not revoked, but the covering data is missing or stale (never ``good`` on stale
              data), or a serial no certificate of ours can carry (negative, over 20 octets):
              thisUpdate is ``now``, no nextUpdate
============  ============================================================================

An OCSP request names no partition, so freshness is judged over the CA key's partitions (an
issuer-wide check); the key whose CRLs cover it is the CertID's key when it publishes CRLs,
else the newest key of the same CA that does.

Whole-response statuses (RFC 6960 §2.3):

- ``malformedRequest``: anything that does not parse (strict DER, size limits, RFC 8954 nonce
  limits; see ``rust/core/src/ocsp/request.rs`` for every policy);
- ``unauthorized``: a CertID naming a CA key outside the trust store (or hashed with an
  algorithm other than SHA-1/256/384/512), a CA key without a responder pair, or a responder
  certificate not valid at ``now``;
- several Requests in one OCSPRequest are answered together, in order, when they all name the
  same CA key. When they name different CA keys the answer is ``unauthorized``: each CA key has
  its own responder, and no one responder is authorized to sign for the others' certificates
  (RFC 6960 §4.2.2.2; OpenSSL refuses such a response too). Clients send one request per issuer.
- ``internalError``: the store could not be read.

Caching (RFC 5019). A response to a request with one Request and no nonce depends only on the
CertID and the snapshot, so :attr:`OcspAnswer.cache_key` (the CertID DER: issuer, hash algorithm
and serial) lets a caller keep it per generation until its nextUpdate; ``good`` and ``revoked``
answers are cacheable, ``unknown`` ones are not. :meth:`OcspResponder.preproduce` signs many
such responses at once on all cores.

>>> from jpki_fast import ocsp
>>> responder = ocsp.OcspResponder.load([(ocsp_dir / "auth_ca_2023.pem", ocsp_dir / "auth_ca_2023.key.pem")], store, now=NOW)
>>> ca = (data_dir / "trust" / "auth_ca_2023.pem").read_bytes()
>>> answer = responder.answer(ocsp.build_request(ca, ["054CFCD8", "1234"], nonce=bytes(16)), store, now=NOW)
>>> answer.response_status, answer.statuses, answer.issuer
('successful', ('revoked', 'good'), 'auth_ca_2023')
>>> answer.nonce, answer.cacheable
(True, False)
>>> one = responder.answer(ocsp.build_request(ca, ["1234"]), store, now=NOW)
>>> one.cacheable, one.max_age(NOW) > 0, len(one.etag)
(True, True, 64)
>>> responder.answer(b"garbage", store, now=NOW).response_status
'malformedRequest'
>>> responder.answer(ocsp.build_request((data_dir / "trust" / "sign_ca_2023.pem").read_bytes(), ["01"]), store, now=NOW).detail
'no responder is configured for CA key sign_ca_2023'
"""

from __future__ import annotations

import functools
import hashlib
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pyarrow as pa

from . import _core
from .errors import JpkiFastError, SerialFormatError, StoreError
from .serials import normalize, to_hex
from .store_format import REASONS
from .timeutil import NowLike, iso, to_epoch

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

__all__ = [
    "CERT_STATUSES",
    "RESPONSE_STATUSES",
    "OcspAnswer",
    "OcspConfigError",
    "OcspResponder",
    "ResponderPair",
    "build_request",
    "load_responder",
]

#: OCSPResponseStatus names (RFC 6960 §4.2.1).
RESPONSE_STATUSES = ("successful", "malformedRequest", "internalError", "tryLater", "sigRequired", "unauthorized")
#: CertStatus names (RFC 6960 §2.2).
CERT_STATUSES = ("good", "revoked", "unknown")
#: Requests larger than this are refused (malformedRequest) unread.
MAX_REQUEST_BYTES = 64 * 1024
#: Requests (CertIDs) per OCSPRequest.
MAX_REQUESTS = 256

_GOOD, _REVOKED, _UNKNOWN = 0, 1, 2
_NO_REASON = -1
_UNKNOWN_ISSUER = 0xFFFF
#: Status codes of the store's core check (``jpki_fast.store.STATUSES`` order).
_STORE_GOOD, _STORE_REVOKED = 0, 1
_MAX_SERIAL_OCTETS = 20
_REASON_CODE = {name: code for code, name in enumerate(REASONS) if name}
_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"


class OcspConfigError(JpkiFastError, ValueError):
    """A responder certificate or key that cannot be used (names the file and what is wrong)."""


def build_request(issuer_certificate: bytes, serials: Any, hash: str = "sha1", nonce: bytes | None = None) -> bytes:
    """A DER OCSPRequest, as a client sends it, for ``serials`` (anything :meth:`Store.check`
    takes) of the CA key whose certificate is ``issuer_certificate`` (DER or PEM), CertIDs hashed
    with ``hash`` (``sha1``, OpenSSL's default, or ``sha256``, ...), with a nonce extension
    when ``nonce`` (1 to 32 octets) is given. Byte for byte what ``openssl ocsp -reqout`` writes.

    A serial that cannot be read raises :class:`~jpki_fast.errors.SerialFormatError` naming the
    item, as ``Store.check`` does; so does a negative one, which ``Store.check`` takes (``-01``)
    but a CertID is not written for here (it is built from the serial's magnitude, and the
    responder answers ``unknown`` for negative serials anyway).

    >>> ca = (data_dir / "trust" / "auth_ca_2023.pem").read_bytes()
    >>> der = build_request(ca, ["054CFCD8"], nonce=bytes(16))
    >>> der[:2].hex(), len(der)
    ('306a', 108)
    >>> build_request(ca, ["054CFCD8", "-01"])
    Traceback (most recent call last):
    ...
    jpki_fast.errors.SerialFormatError: serial #1 ('-01'): negative serial: build_request writes CertIDs of non-negative serials only
    """
    found = _core.pem_certificates(bytes(issuer_certificate))
    if not found:
        raise ValueError("issuer_certificate: PEM text without a CERTIFICATE block")
    ca = found[0]
    hexes = to_hex(normalize(serials)).to_pylist()
    for row, text in enumerate(hexes):
        if text.startswith("-"):
            raise SerialFormatError(f"serial #{row} ({text!r}): negative serial: build_request writes CertIDs of non-negative serials only")
    return _core.ocsp_request([_core.ocsp_cert_id(hash, ca, bytes.fromhex(h)) for h in hexes], nonce)


# --------------------------------------------------------------------------------------------
# Responder pairs


@dataclass(frozen=True)
class ResponderPair:
    """A delegated responder: its certificate, its key (kept out of ``repr``) and the CA key it
    answers for."""

    certificate: bytes  #: DER
    ca_key_id: str  #: the CA key's identifier, uppercase hex
    ca_alias: str
    algorithm: str  #: ``ecdsa-with-SHA256`` or ``sha256WithRSAEncryption``
    not_before: int
    not_after: int
    source: str  #: the certificate file, for messages
    pkcs8: bytes = field(repr=False)

    def signer(self) -> _core.OcspSigner:
        return _core.OcspSigner(self.certificate, self.pkcs8)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OcspConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def _load_certificate(path: Path):
    from cryptography import x509

    data = _read(path, "responder certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise OcspConfigError(f"{path}: not a PEM (or DER) certificate ({exc})") from None


def _load_key(path: Path, password: bytes | None):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    data = _read(path, "responder key")
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=password)
        return serialization.load_der_private_key(data, password=password)
    except TypeError:
        raise OcspConfigError(
            f"{path}: the key is encrypted; give its password, or an unencrypted key protected by file permissions"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise OcspConfigError(f"{path}: not a private key (PKCS#8, SEC 1 or PKCS#1, PEM or DER): {exc}") from None


def _check_key_type(key: Any, where: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise OcspConfigError(f"{where}: ECDSA key on {key.curve.name}; only P-256 (secp256r1) is supported")
    elif isinstance(key, rsa.RSAPrivateKey):
        if not 2048 <= key.key_size <= 8192:
            raise OcspConfigError(f"{where}: RSA key of {key.key_size} bits; 2048 to 8192 are supported")
    else:
        raise OcspConfigError(f"{where}: {type(key).__name__.lstrip('_')}: only ECDSA P-256 and RSA keys are supported")


def load_responder(
    certificate: str | os.PathLike[str],
    key: str | os.PathLike[str],
    store: "Store",
    now: NowLike = None,
    password: bytes | None = None,
) -> ResponderPair:
    """Loads and checks one responder pair against ``store``'s trust store.

    Refused (:class:`OcspConfigError`, naming the file and the reason): an unreadable
    certificate or key; a key that is not the certificate's, or neither ECDSA P-256 nor RSA
    2048-8192; a certificate without extendedKeyUsage id-kp-OCSPSigning, without
    id-pkix-ocsp-nocheck, whose keyUsage lacks digitalSignature, or that is a CA; one not
    issued (name, key identifier and a verifying signature) by a CA key of the trust store; one
    not valid at ``now``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = Path(certificate), Path(key)
    cert = _load_certificate(cert_path)
    private = _load_key(key_path, password)
    where = str(cert_path)
    _check_key_type(private, str(key_path))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(serialization.Encoding.DER, spki) != cert.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise OcspConfigError(f"{key_path}: not the private key of {cert_path}")
    ext = cert.extensions
    try:
        eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or x509.ObjectIdentifier(_OCSP_SIGNING) not in eku:
        raise OcspConfigError(
            f"{where}: not a delegated OCSP responder: extendedKeyUsage lacks id-kp-OCSPSigning ({_OCSP_SIGNING}), RFC 6960 §4.2.2.2"
        )
    try:
        ext.get_extension_for_class(x509.OCSPNoCheck)
    except x509.ExtensionNotFound:
        raise OcspConfigError(
            f"{where}: lacks the id-pkix-ocsp-nocheck extension (1.3.6.1.5.5.7.48.1.5): clients would have to check "
            "the responder's own revocation, RFC 6960 §4.2.2.2.1"
        ) from None
    try:
        usage = ext.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise OcspConfigError(f"{where}: keyUsage lacks digitalSignature, which signing responses needs")
    except x509.ExtensionNotFound:
        pass
    try:
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise OcspConfigError(f"{where}: a CA certificate, not a delegated responder")
    except x509.ExtensionNotFound:
        pass
    row = _issuing_row(cert, store, where)
    t = store.issuer_table
    now_s = to_epoch(now)
    not_before, not_after = int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp())
    if not not_before <= now_s <= not_after:
        raise OcspConfigError(f"{where}: not valid at {iso(now_s)} (valid {iso(not_before)} to {iso(not_after)})")
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        algorithm = _core.OcspSigner(der, pkcs8).algorithm
    except ValueError as exc:
        raise OcspConfigError(f"{where}: {exc}") from None
    return ResponderPair(
        certificate=der,
        ca_key_id=t.column("key_id")[row].as_py().upper(),
        ca_alias=t.column("alias")[row].as_py(),
        algorithm=algorithm,
        not_before=not_before,
        not_after=not_after,
        source=where,
        pkcs8=pkcs8,
    )


def _issuing_row(cert: Any, store: "Store", where: str) -> int:
    """The trust store row of the CA key that issued the responder certificate: the name must
    be the CA's, the authorityKeyIdentifier (when present) the CA's key identifier, and the
    signature must verify with the CA's key."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    t = store.issuer_table
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    named = False
    for row, (key_id, der) in enumerate(zip(t.column("key_id").to_pylist(), t.column("certificate").to_pylist())):
        ca = x509.load_der_x509_certificate(der)
        if ca.subject != cert.issuer:
            continue
        named = True
        if aki is not None and bytes.fromhex(key_id) != aki:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return row
    if not named:
        raise OcspConfigError(f"{where}: its issuer ({cert.issuer.rfc4514_string()}) is not a CA of the store's trust store")
    raise OcspConfigError(
        f"{where}: not issued by any CA key of the store's trust store (its authority key identifier "
        f"{aki.hex().upper() if aki else 'is absent'}, and no trusted key of that name verifies its signature)"
    )


# --------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True)
class OcspAnswer:
    """One OCSPResponse and what it says (for HTTP caching, metrics and the audit log)."""

    der: bytes
    response_status: str  #: one of :data:`RESPONSE_STATUSES`
    statuses: tuple[str, ...] = ()  #: per Request, in order: good / revoked / unknown
    issuer: str | None = None  #: alias of the CA key answered for
    kind: str | None = None  #: that CA's kind (authentication / signing)
    serials: tuple[str | None, ...] = ()  #: canonical hex per Request (None: negative or over-long)
    nonce: bool = False
    produced_at: int | None = None
    this_update: int | None = None  #: the latest thisUpdate of the SingleResponses (HTTP Last-Modified)
    next_update: int | None = None  #: the earliest nextUpdate (HTTP Expires); None if any lacks one
    cacheable: bool = False  #: one Request, no nonce, good or revoked with a nextUpdate
    cache_key: bytes | None = None  #: the CertID DER, when cacheable
    detail: str | None = None  #: why the response is not successful

    @functools.cached_property
    def etag(self) -> str:
        """The hex SHA-256 of the response (RFC 5019 §6.2 via RFC 9919's recommendation)."""
        return hashlib.sha256(self.der).hexdigest()

    def max_age(self, now: NowLike = None) -> int:
        """Seconds a cache may keep the response at ``now``: until its nextUpdate (0 when not
        cacheable or past it)."""
        if not self.cacheable or self.next_update is None:
            return 0
        return max(0, self.next_update - to_epoch(now))


class _View:
    """What answering from one snapshot needs, built once per Store (a snapshot never changes):
    the CertID matcher over its trusted keys, which responder serves each key, and which key's
    CRLs cover each."""

    def __init__(self, store: "Store", signers: dict[str, tuple[ResponderPair, Any]]) -> None:
        t = store.issuer_table
        self.aliases = t.column("alias").to_pylist()
        self.kinds = t.column("kind").to_pylist()
        key_ids = [k.upper() for k in t.column("key_id").to_pylist()]
        self.issuers = _core.OcspIssuers(t.column("certificate").to_pylist())
        self.signer = [signers.get(k) for k in key_ids]
        groups: dict[tuple[str, bool], list[int]] = {}
        for row, (subject, test) in enumerate(zip(t.column("subject").to_pylist(), t.column("test_hierarchy").to_pylist())):
            groups.setdefault((subject, bool(test)), []).append(row)
        newest = [None] * len(key_ids)
        p = store.partitions()
        n_keys = len(key_ids)
        # Provenance, as Store.check_normalized gives it: per partition its thisUpdate and
        # nextUpdate; per issuer key the oldest thisUpdate and earliest nextUpdate of its CRLs.
        self.partition_count = p.num_rows
        self.part_this = np.zeros(max(p.num_rows, 1), dtype=np.int64)
        self.part_next = np.zeros(max(p.num_rows, 1), dtype=np.int64)
        self.part_has_next = np.zeros(max(p.num_rows, 1), dtype=bool)
        self.issuer_oldest = np.zeros(n_keys, dtype=np.int64)
        self.issuer_earliest = np.zeros(n_keys, dtype=np.int64)
        self.issuer_has_crls = np.zeros(n_keys, dtype=bool)
        self.issuer_has_next = np.zeros(n_keys, dtype=bool)
        if p.num_rows:
            this_all = p.column("this_update").cast(pa.int64()).to_pylist()
            next_all = p.column("next_update").cast(pa.int64()).to_pylist()
            for pid, (row, kind, this_update, next_update) in enumerate(
                zip(p.column("issuer_index").to_pylist(), p.column("kind").to_pylist(), this_all, next_all)
            ):
                self.part_this[pid] = this_update
                if next_update is not None:
                    self.part_next[pid], self.part_has_next[pid] = next_update, True
                if kind != "crl" or row >= n_keys:
                    continue
                newest[row] = max(newest[row] or this_update, this_update)
                if not self.issuer_has_crls[row]:
                    self.issuer_has_crls[row] = True
                    self.issuer_oldest[row] = this_update
                    self.issuer_has_next[row] = next_update is not None
                    self.issuer_earliest[row] = next_update if next_update is not None else 0
                else:
                    self.issuer_oldest[row] = min(self.issuer_oldest[row], this_update)
                    if next_update is None:
                        self.issuer_has_next[row] = False
                    elif self.issuer_has_next[row]:
                        self.issuer_earliest[row] = min(self.issuer_earliest[row], next_update)
        self.holder = np.arange(len(key_ids), dtype=np.uint16)
        self.others: list[list[int]] = [[] for _ in key_ids]
        for members in groups.values():
            publishing = [m for m in members if newest[m] is not None]
            for row in members:
                self.others[row] = [m for m in publishing if m != row]
                if newest[row] is None and publishing:
                    self.holder[row] = max(publishing, key=lambda m: newest[m])


class OcspResponder:
    """Answers OCSP requests from a store with the configured responder pairs (one per CA key).

    Safe to share between threads; answers from whichever :class:`~jpki_fast.Store` it is given,
    so a service hands it the snapshot each request started on.
    """

    def __init__(
        self, pairs: Sequence[ResponderPair], *, max_request_bytes: int = MAX_REQUEST_BYTES, max_requests: int = MAX_REQUESTS
    ) -> None:
        self._signers: dict[str, tuple[ResponderPair, Any]] = {}
        for pair in pairs:
            if pair.ca_key_id in self._signers:
                first = self._signers[pair.ca_key_id][0]
                raise OcspConfigError(
                    f"{pair.source}: a second responder for CA key {pair.ca_alias} ({first.source} answers for it): one pair per CA key"
                )
            self._signers[pair.ca_key_id] = (pair, pair.signer())
        self.max_request_bytes = max_request_bytes
        self.max_requests = max_requests
        self._views: "weakref.WeakKeyDictionary[Store, _View]" = weakref.WeakKeyDictionary()
        self._errors = {s: _core.ocsp_error_response(s) for s in RESPONSE_STATUSES[1:]}

    @classmethod
    def load(
        cls,
        files: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
        store: "Store",
        now: NowLike = None,
        password: bytes | None = None,
    ) -> "OcspResponder":
        """Loads ``(certificate, key)`` file pairs, each checked by :func:`load_responder`."""
        if not files:
            raise OcspConfigError("no responder pair given (--ocsp-cert FILE --ocsp-key FILE, one pair per CA key)")
        return cls([load_responder(c, k, store, now, password) for c, k in files])

    def warm(self, store: "Store") -> None:
        """Builds now what the first answer from ``store`` would otherwise build on its own
        time (the CertID matcher over its trusted keys, its partitions' times)."""
        self._view(store)

    def cache_key(self, request: bytes) -> bytes | None:
        """The key a response to ``request`` may be cached under, found without answering it:
        the CertID DER when the request parses, asks about one certificate and has no nonce;
        else None. An answer's :attr:`OcspAnswer.cache_key` is the same bytes when it is
        cacheable (a response also depends on the snapshot: keep one cache per generation).

        >>> responder = OcspResponder.load([(ocsp_dir / "auth_ca_2023.pem", ocsp_dir / "auth_ca_2023.key.pem")], store, now=NOW)
        >>> ca = (data_dir / "trust" / "auth_ca_2023.pem").read_bytes()
        >>> responder.cache_key(build_request(ca, ["1234"])) == responder.answer(build_request(ca, ["1234"]), store, now=NOW).cache_key
        True
        >>> responder.cache_key(build_request(ca, ["1234"], nonce=bytes(16))) is None
        True
        """
        return _core.ocsp_cache_key(request, self.max_request_bytes)

    @property
    def pairs(self) -> list[ResponderPair]:
        return [pair for pair, _ in self._signers.values()]

    def _view(self, store: "Store") -> _View:
        view = self._views.get(store)
        if view is None:
            view = _View(store, self._signers)
            self._views[store] = view
        return view

    def _error(self, status: str, detail: str, **facts: Any) -> OcspAnswer:
        return OcspAnswer(self._errors[status], status, detail=detail, **facts)

    # ---- answering ----

    def answer(self, request: bytes, store: "Store", now: NowLike = None) -> OcspAnswer:
        """The response to one DER OCSPRequest, answered from ``store`` at ``now`` (default: the
        current time). Never raises for anything the request holds: a request that cannot be
        answered gets its OCSP error status (see the module documentation)."""
        now_s = to_epoch(now)
        view = self._view(store)
        try:
            items, nonce, _signed = _core.parse_ocsp_request(view.issuers, request, self.max_request_bytes, self.max_requests)
        except _core.OcspRequestError as exc:
            return self._error("malformedRequest", str(exc))
        rows = {row for _, row, _, _ in items}
        if None in rows:
            unmatched = next(h for _, row, _, h in items if row is None)
            if unmatched in ("sha1", "sha256", "sha384", "sha512"):
                return self._error("unauthorized", "a CertID names a CA key outside the trust store")
            return self._error("unauthorized", f"a CertID is hashed with an algorithm this responder does not compute ({unmatched})")
        if len(rows) > 1:
            names = ", ".join(sorted(view.aliases[r] for r in rows))
            return self._error(
                "unauthorized",
                f"one OCSPRequest for {len(rows)} CA keys ({names}): each CA key has its own responder; send one request per issuer",
            )
        row = rows.pop()
        alias, kind = view.aliases[row], view.kinds[row]
        served = view.signer[row]
        if served is None:
            return self._error("unauthorized", f"no responder is configured for CA key {alias}", issuer=alias, kind=kind)
        pair, signer = served
        if not pair.not_before <= now_s <= pair.not_after:
            return self._error(
                "unauthorized", f"the responder certificate for {alias} is not valid at {iso(now_s)}", issuer=alias, kind=kind
            )
        serials = [s for _, _, s, _ in items]
        try:
            looked = _lookup(store, view, row, serials, now_s)
        except (StoreError, OSError, ValueError) as exc:
            return self._error("internalError", f"the store could not be read: {type(exc).__name__}", issuer=alias, kind=kind)
        singles = [
            (cert_id, int(code), int(rev), int(reason), int(this), None if not has_next else int(nxt), None if not has_inv else int(inv))
            for (cert_id, _, _, _), code, rev, reason, this, nxt, has_next, inv, has_inv in zip(items, *looked.columns())
        ]
        der = signer.sign(now_s, singles, nonce)
        statuses = tuple(CERT_STATUSES[c] for c in looked.code.tolist())
        next_updates = [s[5] for s in singles]
        cacheable = len(items) == 1 and nonce is None and looked.code[0] != _UNKNOWN and next_updates[0] is not None
        return OcspAnswer(
            der=der,
            response_status="successful",
            statuses=statuses,
            issuer=alias,
            kind=kind,
            serials=tuple(looked.hex),
            nonce=nonce is not None,
            produced_at=now_s,
            this_update=max(s[4] for s in singles),
            next_update=None if None in next_updates else min(next_updates),
            cacheable=bool(cacheable),
            cache_key=items[0][0] if cacheable else None,
        )

    def preproduce(self, store: "Store", issuer: str, serials: Any, now: NowLike = None, hash: str = "sha1") -> list[OcspAnswer]:
        """Signed responses for many serials of one CA key at once (RFC 5019 §2.1.1
        pre-production), as a nonce-less request for each would get them; signed on all cores.
        ``serials`` takes what :meth:`Store.check` takes; ``hash`` is the CertID hash the
        clients use (OpenSSL's default is SHA-1).

        >>> responder = OcspResponder.load([(ocsp_dir / "auth_ca_2023.pem", ocsp_dir / "auth_ca_2023.key.pem")], store, now=NOW)
        >>> answers = responder.preproduce(store, "auth_ca_2023", ["054CFCD8", "1234"], now=NOW)
        >>> [a.statuses[0] for a in answers], all(a.cacheable for a in answers)
        (['revoked', 'good'], True)
        """
        now_s = to_epoch(now)
        view = self._view(store)
        row = store.issuer_index(issuer)
        if row is None:
            raise KeyError(f"issuer {issuer!r} is not in this snapshot's trust store")
        served = view.signer[row]
        if served is None:
            raise OcspConfigError(f"no responder is configured for CA key {view.aliases[row]}")
        pair, signer = served
        batch = normalize(serials)
        hexes = to_hex(batch).to_pylist()
        magnitudes = [bytes.fromhex(h) for h in hexes]
        ca_der = store.issuer_table.column("certificate")[row].as_py()
        cert_ids = [_core.ocsp_cert_id(hash, ca_der, m) for m in magnitudes]
        looked = _lookup(store, view, row, magnitudes, now_s)
        ids = pa.array(cert_ids, pa.binary())
        validity, offsets, data = ids.buffers()[:3]
        code, rev, reason, this, nxt, has_next, inv, has_inv = looked.columns()
        ders = signer.sign_many(
            now_s, (offsets, data or b"", len(ids), ids.offset, False, None), code, rev, reason, this, nxt, has_next, inv, has_inv
        )
        alias, kind = view.aliases[row], view.kinds[row]
        return [
            OcspAnswer(
                der=der,
                response_status="successful",
                statuses=(CERT_STATUSES[c],),
                issuer=alias,
                kind=kind,
                serials=(h,),
                produced_at=now_s,
                this_update=int(t),
                next_update=int(n) if hn else None,
                cacheable=bool(c != _UNKNOWN and hn),
                cache_key=cid if c != _UNKNOWN and hn else None,
            )
            for der, cid, h, c, t, n, hn in zip(ders, cert_ids, hexes, code.tolist(), this.tolist(), nxt.tolist(), has_next.tolist())
        ]


@dataclass
class _Looked:
    """Per CertID: what its SingleResponse says, as columns the Rust signer takes."""

    code: np.ndarray  # u8: 0 good, 1 revoked, 2 unknown
    revocation_time: np.ndarray  # i64
    reason: np.ndarray  # i16, -1 for none
    this_update: np.ndarray  # i64
    next_update: np.ndarray  # i64
    has_next_update: np.ndarray  # u8
    invalidity: np.ndarray  # i64
    has_invalidity: np.ndarray  # u8
    hex: list

    def columns(self) -> tuple:
        return (
            self.code,
            self.revocation_time,
            self.reason,
            self.this_update,
            self.next_update,
            self.has_next_update,
            self.invalidity,
            self.has_invalidity,
        )


def _bits(buffer: Any, n: int) -> np.ndarray:
    """A little-endian validity bitmap of ``n`` rows as booleans."""
    return np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=n, bitorder="little").astype(bool)


def _lookup(store: "Store", view: _View, row: int, serials: list[bytes | None], now: int) -> _Looked:
    """The status of each serial (big-endian magnitude, None when negative) under CA key ``row``
    at ``now``: revoked by the key's own check (its CRLs, or an ARL revoking the key) or by a
    CRL of another key of the same CA; else good or unknown by the freshness of the CRLs of the
    key that covers it (``view.holder``). The store's own check (its Rust core, as
    :meth:`Store.check_normalized` calls it), with the provenance of docs/DESIGN.md §3.3: the
    CRL that lists a revoked serial, else the issuer-wide covering data."""
    n = len(serials)
    usable = np.array([s is not None and len(s.lstrip(b"\x00")) <= _MAX_SERIAL_OCTETS for s in serials], dtype=bool)
    values = [s if ok else b"\x00" for s, ok in zip(serials, usable)]
    if all(len(v) <= 8 for v in values):  # every JPKI serial: no Arrow round trip for one request
        batch = normalize(np.array([int.from_bytes(v, "big") for v in values], dtype=np.uint64))
        hexes = [(v.lstrip(b"\x00") or b"\x00").hex().upper() if ok else None for v, ok in zip(values, usable)]
    else:
        batch = normalize(values)
        hexes = [h if ok else None for h, ok in zip(to_hex(batch).to_pylist(), usable)]
    long_rows = batch.long_rows if len(batch.long_rows) else None
    long_keys = np.ascontiguousarray(batch.long_keys) if len(batch.long_rows) else None

    def check(issuer_row: int) -> dict:
        return store.core.check(issuer_row, batch.short, now, None, long_rows, long_keys, True)

    holder = int(view.holder[row])
    layers = [row, *view.others[row]]
    outs = {r: check(r) for r in dict.fromkeys([*layers, holder])}
    status = {r: np.frombuffer(o["status"], dtype=np.uint8) for r, o in outs.items()}
    pick = np.full(n, holder, dtype=np.int64)  # which key's answer each row takes
    decided = np.zeros(n, dtype=bool)
    for r in layers:
        revoked = (status[r] == _STORE_REVOKED) & ~decided
        pick[revoked] = r
        decided |= revoked

    code = np.full(n, _UNKNOWN, dtype=np.uint8)
    revocation_time = np.zeros(n, dtype=np.int64)
    reason = np.full(n, _NO_REASON, dtype=np.int16)
    this_update = np.full(n, now, dtype=np.int64)
    next_update = np.zeros(n, dtype=np.int64)
    has_next = np.zeros(n, dtype=np.uint8)
    invalidity = np.zeros(n, dtype=np.int64)
    has_inv = np.zeros(n, dtype=np.uint8)
    for r, out in outs.items():
        sel = (pick == r) & usable
        if not sel.any():
            continue
        st = status[r]
        revoked = sel & (st == _STORE_REVOKED)
        good = sel & (st == _STORE_GOOD)
        code[revoked], code[good] = _REVOKED, _GOOD
        revocation_time[revoked] = np.frombuffer(out["revocation_date"], dtype=np.int64)[revoked]
        with_reason = revoked & _bits(out["reason_valid"], n)
        reason[with_reason] = np.frombuffer(out["reason"], dtype=np.uint8)[with_reason]
        if "invalidity_date" in out:
            with_inv = revoked & _bits(out["invalidity_valid"], n)
            invalidity[with_inv] = np.frombuffer(out["invalidity_date"], dtype=np.int64)[with_inv]
            has_inv[with_inv] = 1
        # Provenance: the deciding partition's CRL, else the issuer's covering data.
        part = np.frombuffer(out["partition"], dtype=np.uint16).astype(np.int64)
        has_part = part < view.partition_count
        safe = np.where(has_part, part, 0)
        this_t = np.where(has_part, view.part_this[safe], view.issuer_oldest[r])
        this_ok = np.where(has_part, True, view.issuer_has_crls[r])
        next_t = np.where(has_part, view.part_next[safe], view.issuer_earliest[r])
        next_ok = np.where(has_part, view.part_has_next[safe], view.issuer_has_next[r])
        answered = revoked | good
        known_this = answered & this_ok
        this_update[known_this] = this_t[known_this]
        # nextUpdate of a revoked answer's CRL only while that CRL is current; good implies it is.
        fresh_next = answered & next_ok & (next_t > now)
        next_update[fresh_next] = next_t[fresh_next]
        has_next[fresh_next] = 1
    return _Looked(code, revocation_time, reason, this_update, next_update, has_next, invalidity, has_inv, hexes)
