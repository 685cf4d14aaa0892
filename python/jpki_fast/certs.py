"""Certificates and signatures: JPKI path validation, login and signed-document verification,
bulk RSA.

A verifier rarely holds a bare serial. At login it holds the authentication certificate the card
sent and the card's signature over the server's random challenge; at account opening, the signing
certificate and a signed application. This module answers, in batches and on all cores:

- :func:`parse_certificates`: the fields of certificates (serial, names, validity, RSA key, key
  usage, policies, key identifiers, the CRL partition, the OCSP URL, ...), as an Arrow table.
- :func:`check_certificates` (also ``Store.check_certificates``): one status per certificate:
  does it chain to a trusted JPKI CA key, is it within its validity period, may it be used for
  the purpose, and is it revoked according to its own partition's CRL.
- :func:`verify_signatures`: bulk RSA signature verification (PKCS#1 v1.5 or PSS).
- :func:`verify_logins` / :func:`verify_signed_documents` (also on ``Store``): both at once,
  with an ``allow`` / ``deny`` decision.

Statuses, in order of precedence (the first that applies is reported; docs/DESIGN.md §3.5):

==================  ==========================================================================
``malformed``       not a certificate this engine can read (or an unsupported critical extension)
``untrusted``       its issuing CA key is not in the trust store (keys are found by the
                    certificate's authority key identifier), or it is from the JPKI test
                    hierarchy (``O=JPKI-TEST``) and that was not allowed
``bad_signature``   the CA's signature over the certificate does not verify: tampered or forged
                    (a SHA-1 signature is refused too: SHA-1 collisions make it forgeable)
``revoked``         on a current CRL of its CA (with ``reason`` and ``revocation_date``)
``expired``         past its notAfter at ``now``
``not_yet_valid``   before its notBefore at ``now``
``wrong_usage``     not usable for the purpose: a signing certificate used to log in (or the
                    reverse), key usage or extended key usage lacking, a CA certificate
``stale``           not revoked, but the CRL of its partition is missing or past its nextUpdate
``good``            none of the above: chains, valid, right usage, not on its partition's fresh CRL
==================  ==========================================================================

Why this order:

- ``malformed`` > ``untrusted`` > ``bad_signature``: until the CA's signature is verified,
  nothing the certificate says (its serial included) can be believed, so revocation is not even
  looked up. A certificate whose serial collides with a revoked one must not be reported revoked.
- ``revoked`` outranks ``expired``, ``not_yet_valid`` and ``wrong_usage``: the revocation is a
  fact about *this* certificate, verified by the CA, and the most useful one to act on (J-LIS keeps
  a revoked certificate on its CRL until it expires; the reason tells e.g. that the card was renewed
  (``superseded``) or lost). The other problem is kept in ``detail`` ("also: expired at ...").
- ``expired`` / ``not_yet_valid`` / ``wrong_usage`` outrank ``stale``: they refuse the certificate
  whatever the revocation data says, so missing data is not the reason to give.
- ``stale`` never yields ``good`` (docs/DESIGN.md §3.3: fail closed).

``unknown`` (docs/DESIGN.md §3.3: an issuer outside the trust store) is never produced here:
for a certificate that is ``untrusted``.

Freshness is judged on the certificate's own partition only (its CRL distribution point's
directory name, e.g. ``C=JP, O=JPKI, OU=JPKI for user authentication, OU=CRL Distribution
Points, OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP``): another partition being stale does not
make it stale, and a fresh other partition does not make it good. JPKI's three key generations of
a CA share one name; the CRL of a partition may be signed by a newer key than the one that issued
the certificate, so the newest CRL of the partition from any trusted key of the certificate's CA
(same name) is consulted. It never overrides the issuing key itself (fail closed): if that key's
own CRLs list the serial, or an authority revocation list revoked the key, the certificate is
revoked; and if the key publishes a CRL for the partition, it must be fresh too.

The basic 4 facts (name, address, date of birth, sex) of a signing certificate are personal data:
:func:`parse_certificates` gives them only when asked (``personal_data=True``), and
:class:`BasicFourFacts`' ``repr`` hides them, so that a stray log line cannot leak them.

>>> import jpki_fast
>>> store = jpki_fast.open_store(store_dir)
>>> t = store.verify_logins([cert_der, revoked_cert_der], [challenge] * 2, [signature] * 2, now=NOW)
>>> t.column("decision").to_pylist(), t.column("status").to_pylist()
(['allow', 'deny'], ['good', 'revoked'])
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pyarrow as pa

from . import _core
from .serials import SerialBatch, from_integers, to_hex
from .timeutil import NowLike, iso, to_epoch

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

__all__ = [
    "CERT_STATUSES",
    "BasicFourFacts",
    "CertificateResult",
    "VerificationResult",
    "basic_four_facts",
    "check_certificate",
    "check_certificates",
    "load_certificates",
    "parse_certificates",
    "prepare",
    "verify_login",
    "verify_logins",
    "verify_signatures",
    "verify_signed_document",
    "verify_signed_documents",
]

#: Every status a certificate check can give (docs/DESIGN.md §3.3's four, then §3.5's).
CERT_STATUSES = (
    "good",
    "revoked",
    "stale",
    "unknown",
    "expired",
    "not_yet_valid",
    "untrusted",
    "bad_signature",
    "wrong_usage",
    "malformed",
)
_STATUS_INDEX = {s: i for i, s in enumerate(CERT_STATUSES)}
_STATUS_DICT = pa.array(CERT_STATUSES)
# Rust outcome codes (cert::outcome) -> status index.
_OUTCOME_STATUS = np.array(
    [_STATUS_INDEX[s] for s in ("good", "malformed", "untrusted", "bad_signature", "expired", "not_yet_valid", "wrong_usage")],
    dtype=np.int8,
)
_OK, _MALFORMED, _UNTRUSTED, _BAD_SIGNATURE = 0, 1, 2, 3
_UNKNOWN_ISSUER = 0xFFFF
_ISSUER_WIDE = 0xFFFF
_MISSING_PARTITION = 0xFFFE
_UTC_SECONDS = pa.timestamp("s", tz="UTC")
_DECISIONS = pa.array(["deny", "allow"])

PURPOSES = ("login", "signature")
_KINDS = ["authentication", "signing"]
_KIND_DICT = pa.array(_KINDS)


# --------------------------------------------------------------------------------------------
# Input: any list of byte strings as an Arrow binary array, handed to Rust as its buffers.


def _as_bytes(value: Any, row: int, what: str) -> bytes | None:
    """One item of a binary column: bytes-like, PEM text, or a pyca/cryptography object."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise TypeError(f"{what} #{row}: text must be PEM (ASCII)") from None
    public_bytes = getattr(value, "public_bytes", None)
    if public_bytes is not None:  # cryptography Certificate or public key
        from cryptography.hazmat.primitives import serialization

        try:
            return public_bytes(serialization.Encoding.DER)
        except TypeError:
            return public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    raise TypeError(f"{what} #{row}: expected bytes, PEM text or a certificate/key object, not {type(value).__name__}")


def _binary_array(values: Any, what: str) -> pa.Array:
    if isinstance(values, (bytes, bytearray, memoryview, str)) or hasattr(values, "public_bytes"):
        values = [values]  # one item (a cryptography certificate or key object counts as one)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if isinstance(values, pa.Array):
        t = values.type
        if pa.types.is_dictionary(t):
            values, t = values.dictionary_decode(), t.value_type
        if pa.types.is_fixed_size_binary(t):
            return values.cast(pa.binary())
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            return values
        raise TypeError(f"{what}: unsupported Arrow type {t} (use binary)")
    if isinstance(values, np.ndarray):
        if values.ndim == 2 and values.dtype == np.uint8:  # e.g. digests, one row each
            n, width = values.shape
            return pa.Array.from_buffers(pa.binary(width), n, [None, pa.py_buffer(np.ascontiguousarray(values))]).cast(pa.binary())
        if values.ndim != 1:
            raise TypeError(f"{what}: expected a one-dimensional array of byte strings")
        values = values.tolist()
    if isinstance(values, (str, Path)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list of byte strings or an Arrow binary array, not {type(values).__name__}")
    values = list(values)
    try:
        return pa.array(values, pa.binary())
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError):
        return pa.array([_as_bytes(v, i, what) for i, v in enumerate(values)], pa.binary())


def _buffers(array: pa.Array) -> tuple:
    """(offsets, data, length, offset, large, validity): what the Rust bindings read."""
    validity, offsets, data = array.buffers()[:3]
    large = pa.types.is_large_binary(array.type) or pa.types.is_large_string(array.type)
    return (offsets, data if data is not None else b"", len(array), array.offset, large, validity if array.null_count else None)


def _binary(values: Any, what: str) -> tuple[tuple, int]:
    array = _binary_array(values, what)
    return _buffers(array), len(array)


def _same_length(**columns: int) -> None:
    lengths = set(columns.values())
    if len(lengths) > 1:
        raise ValueError("length mismatch: " + ", ".join(f"{n:,} {name}" for name, n in columns.items()) + " (one of each per row)")


def load_certificates(paths: Sequence[str | Path]) -> tuple[list[bytes], list[tuple[str, int]]]:
    """Reads certificate files (DER, or PEM with one or more certificates).

    Returns the DER items and, for each, ``(path, index within the file)``. A PEM file without
    any certificate contributes its raw bytes once (it will be reported ``malformed``).
    Raises FileNotFoundError naming a missing file and ValueError for damaged PEM.

    >>> ders, origins = load_certificates([JPKI_VECTORS / "auth_cert_sample.der"])
    >>> len(ders), origins[0][1]
    (1, 0)
    """
    ders: list[bytes] = []
    origins: list[tuple[str, int]] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: certificate file not found")
        data = p.read_bytes()
        try:
            items = _core.pem_certificates(data) or [data]
        except ValueError as exc:
            raise ValueError(f"{p}: {exc}") from None
        for i, item in enumerate(items):
            ders.append(item)
            origins.append((str(p), i))
    return ders, origins


# --------------------------------------------------------------------------------------------
# Parsing.


@dataclass(frozen=True, repr=False)
class BasicFourFacts:
    """The basic 4 facts (基本4情報) a JPKI signing certificate carries about its holder, from
    its subjectAltName otherNames 1.2.392.200149.8.5.5.1 to .6, as J-LIS encodes them.

    Personal data: ``repr`` hides the values (so that logging the object leaks nothing);
    read the attributes explicitly.

    >>> BasicFourFacts(name="x", name_substitute=None, sex="1", date_of_birth=None,
    ...                address=None, address_substitute=None)
    BasicFourFacts(<personal data hidden>)
    """

    name: str | None
    name_substitute: str | None
    sex: str | None
    date_of_birth: str | None
    address: str | None
    address_substitute: str | None

    def __repr__(self) -> str:
        return "BasicFourFacts(<personal data hidden>)"

    __str__ = __repr__


_FACT_FIELDS = [f.name for f in fields(BasicFourFacts)]
_FACTS_TYPE = pa.struct([(name, pa.string()) for name in _FACT_FIELDS])

_PARSE_SCHEMA = pa.schema(
    [
        ("error", pa.string()),
        ("version", pa.int8()),
        ("serial", pa.string()),
        ("signature_algorithm", pa.string()),
        ("issuer", pa.string()),
        ("issuer_der", pa.binary()),
        ("subject", pa.string()),
        ("subject_der", pa.binary()),
        ("not_before", pa.int64()),
        ("not_after", pa.int64()),
        ("public_key_algorithm", pa.string()),
        ("subject_public_key_info", pa.binary()),
        ("rsa_modulus", pa.binary()),
        ("rsa_exponent", pa.binary()),
        ("key_bits", pa.int32()),
        ("key_usage", pa.list_(pa.string())),
        ("extended_key_usage", pa.list_(pa.string())),
        ("is_ca", pa.bool_()),
        ("path_length", pa.int64()),
        ("policies", pa.list_(pa.string())),
        ("authority_key_id", pa.string()),
        ("subject_key_id", pa.string()),
        ("crl_distribution_points", pa.list_(pa.string())),
        ("partition", pa.string()),
        ("ocsp_urls", pa.list_(pa.string())),
        ("ca_issuer_urls", pa.list_(pa.string())),
        ("unknown_critical_extensions", pa.list_(pa.string())),
        ("has_basic_four_facts", pa.bool_()),
    ]
)


def parse_certificates(certs: Any, personal_data: bool = False) -> pa.Table:
    """Parses certificates, one row per input, in input order.

    ``certs``: a list of DER bytes / PEM text (one certificate each) / cryptography
    ``Certificate`` objects, a pyarrow binary array, or one certificate. A row that cannot be
    parsed has ``error`` set (naming the field at fault) and nulls elsewhere; nothing raises
    for bad certificate bytes.

    Columns: ``error``, ``version``, ``serial`` (canonical hex), ``signature_algorithm``,
    ``issuer`` / ``subject`` (text) and ``issuer_der`` / ``subject_der``, ``not_before`` /
    ``not_after`` (timestamp[s, UTC]), ``public_key_algorithm`` (dotted OID),
    ``subject_public_key_info`` (DER), ``rsa_modulus`` / ``rsa_exponent`` (big-endian bytes),
    ``key_bits``, ``key_usage`` and ``extended_key_usage`` (names), ``is_ca``, ``path_length``,
    ``policies`` (dotted OIDs), ``authority_key_id`` / ``subject_key_id`` (hex),
    ``crl_distribution_points`` (text), ``partition`` (the first directory name among them: the
    JPKI CRL partition, equal to the CRL's issuing distribution point name), ``ocsp_urls``,
    ``ca_issuer_urls``, ``unknown_critical_extensions``, ``has_basic_four_facts``; with
    ``personal_data=True`` also ``basic_four_facts`` (struct of :class:`BasicFourFacts`' fields).

    >>> t = parse_certificates([(JPKI_VECTORS / "auth_cert_sample.der").read_bytes()])
    >>> t.column("serial")[0].as_py(), t.column("ocsp_urls")[0].as_py()
    ('054CFCD8', ['http://ocspauthnorm.jpki.go.jp'])
    """
    args, _ = _binary(certs, "certificate")
    cols = _core.parse_certificates(args, personal_data=personal_data)
    arrays = [pa.array(cols[f.name], f.type) for f in _PARSE_SCHEMA]
    table = pa.Table.from_arrays(arrays, schema=_PARSE_SCHEMA)
    for name in ("not_before", "not_after"):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(name).cast(_UTC_SECONDS))
    if personal_data:
        facts = [None if f is None else dict(zip(_FACT_FIELDS, f)) for f in cols["basic_four_facts"]]
        table = table.append_column("basic_four_facts", pa.array(facts, _FACTS_TYPE))
    return table


def basic_four_facts(cert: Any) -> BasicFourFacts | None:
    """The basic 4 facts of one signing certificate (DER, PEM or a cryptography object), or
    None when it carries none (e.g. an authentication certificate). Raises ValueError naming
    the field when the certificate cannot be parsed.

    >>> facts = basic_four_facts(signing_cert_der)
    >>> facts
    BasicFourFacts(<personal data hidden>)
    >>> facts.sex, facts.date_of_birth
    ('2', '19800101')
    """
    args, n = _binary(cert, "certificate")
    if n != 1:
        raise ValueError(f"basic_four_facts takes one certificate, not {n}")
    cols = _core.parse_certificates(args, personal_data=True)
    if cols["error"][0] is not None:
        raise ValueError(f"certificate: {cols['error'][0]}")
    f = cols["basic_four_facts"][0]
    return None if f is None else BasicFourFacts(*f)


# --------------------------------------------------------------------------------------------
# Bulk signature verification.


def verify_signatures(
    keys_or_certs: Any,
    messages: Any = None,
    signatures: Any = None,
    hash: str = "sha256",
    *,
    digests: Any = None,
    padding: str = "pkcs1v15",
) -> np.ndarray:
    """Verifies RSA signatures in bulk, on all cores; one bool per row.

    ``keys_or_certs``: one key for every row, or one per row; each a certificate, a
    SubjectPublicKeyInfo or a PKCS#1 RSAPublicKey, in DER or PEM (or a cryptography
    certificate / public key object). Each distinct key is parsed once.
    ``messages`` (the signed bytes) or ``digests=`` (their ``hash`` digests, e.g. a ``(n, 32)``
    uint8 array) and ``signatures``: lists of bytes or pyarrow binary arrays.
    ``hash``: sha1, sha256, sha384 or sha512; ``padding``: ``"pkcs1v15"`` (RSASSA-PKCS1-v1_5) or
    ``"pss"`` (RSASSA-PSS, MGF1 with the same hash, salt as long as the hash).

    An invalid, truncated or missing (None) signature or message gives False. Input that is
    not usable at all raises ValueError naming the row: a key that does not parse, a digest of
    the wrong length, lengths that differ.

    >>> ok = verify_signatures(cert_der, [challenge, b"tampered"], [signature, signature])
    >>> ok.dtype, ok.tolist()
    (dtype('bool'), [True, False])
    >>> import hashlib
    >>> verify_signatures([cert_der], signatures=[signature], digests=[hashlib.sha256(challenge).digest()]).tolist()
    [True]
    """
    if signatures is None:
        raise ValueError("signatures: required")
    if (messages is None) == (digests is None):
        raise ValueError("give messages or digests= (exactly one)")
    sig_args, n = _binary(signatures, "signature")
    signed_args, m = _binary(messages if digests is None else digests, "message" if digests is None else "digest")
    key_args, k = _binary(keys_or_certs, "key")
    _same_length(signatures=n, **({"messages": m} if digests is None else {"digests": m}))
    if k not in (1, n):
        raise ValueError(f"length mismatch: {k:,} keys for {n:,} signatures (give one key, or one per row)")
    kwargs = {"messages": signed_args} if digests is None else {"digests": signed_args}
    out = _core.verify_signatures(key_args, sig_args, hash=hash, padding=padding, **kwargs)
    return np.frombuffer(out, dtype=np.bool_).copy()


# --------------------------------------------------------------------------------------------
# Certificate checks against a store.


def _epochs(column: pa.ChunkedArray) -> list[int | None]:
    """Epoch seconds of a timestamp[s] column (None for nulls): a view, not a cast, so that
    pyarrow.compute is not loaded for it."""
    return [v for chunk in column.chunks for v in chunk.view(pa.int64()).to_pylist()]


class _StoreContext:
    """What certificate checks need from one store snapshot, computed once per Store (a
    snapshot never changes): its trust anchors parsed in Rust, and which issuer row holds the
    CRL of each (CA, partition)."""

    def __init__(self, store: "Store") -> None:
        t = store.issuer_table
        self.aliases = t.column("alias").to_pylist()
        self.kinds = t.column("kind").to_pylist()
        subjects = t.column("subject").to_pylist()
        tests = t.column("test_hierarchy").to_pylist()
        self.anchors = _core.TrustAnchors(
            [
                (bytes.fromhex(kid), cert, kind, bool(test))
                for kid, cert, kind, test in zip(t.column("key_id").to_pylist(), t.column("certificate").to_pylist(), self.kinds, tests)
            ]
        )
        # One group per CA (its key generations share the name); revocation is per CA.
        group_ids: dict[tuple[str, bool], int] = {}
        self.group = [group_ids.setdefault((s, bool(x)), len(group_ids)) for s, x in zip(subjects, tests)]
        self.members: dict[int, list[int]] = {}
        for row, g in enumerate(self.group):
            self.members.setdefault(g, []).append(row)
        # (group, partition name) -> the issuer row whose CRL of that partition is newest.
        self.holder: dict[tuple[int, str], int] = {}
        newest: dict[tuple[int, str], int] = {}
        self.has_crls = [False] * len(self.aliases)
        p = store.partitions()
        if p.num_rows:
            for row, name, kind, this_update in zip(
                p.column("issuer_index").to_pylist(),
                p.column("name").to_pylist(),
                p.column("kind").to_pylist(),
                _epochs(p.column("this_update")),
            ):
                if kind != "crl" or row >= len(self.group):
                    continue
                self.has_crls[row] = True
                key = (self.group[row], name)
                if key not in newest or this_update > newest[key]:
                    newest[key] = this_update
                    self.holder[key] = row
        # (issuer row, partition name) -> partition id, as store.partition_ids answers it (the
        # snapshot never changes, so each pair is asked once: a single login then costs no scan
        # of the partition table).
        self.partition_id: dict[tuple[int, str | None], int] = {}

    def revocation_row(self, anchor: int, name: str | None) -> int:
        """The issuer row whose revocation data covers a certificate of CA key ``anchor`` in
        partition ``name``: the newest CRL of that partition from any key of the same CA; else
        a full (unpartitioned) CRL of the CA; else the issuing key itself (the partition is then
        missing: stale unless revoked)."""
        g = self.group[anchor]
        if name is not None and (g, name) in self.holder:
            return self.holder[(g, name)]
        if (g, "") in self.holder:
            return self.holder[(g, "")]
        if name is None and not self.has_crls[anchor]:
            return next((r for r in self.members[g] if self.has_crls[r]), anchor)
        return anchor

    def lookup_rows(self, store: "Store", anchors: np.ndarray, names: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the issuer row holding the newest CRL of the certificate's partition, that
        row's partition id, and the partition id under the issuing key itself
        (``MISSING_PARTITION`` when that key publishes no CRL for it); each distinct (anchor,
        partition) pair is computed once."""
        n = len(anchors)
        import pyarrow.compute as pc  # loaded on first use: one-item checks never need it

        encoded = pc.dictionary_encode(names)
        name_index = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        dictionary = encoded.dictionary.to_pylist()
        pair = anchors.astype(np.int64) * (len(dictionary) + 1) + (name_index + 1)
        unique, inverse = np.unique(pair, return_inverse=True)
        rows = np.empty(len(unique), dtype=np.uint16)
        holder_pairs: list[tuple[int, str | None]] = []
        own_pairs: list[tuple[int, str | None]] = []
        for u, key in enumerate(unique.tolist()):
            anchor, k = divmod(key, len(dictionary) + 1)
            name = None if k == 0 else dictionary[k - 1]
            rows[u] = _UNKNOWN_ISSUER if anchor == _UNKNOWN_ISSUER else self.revocation_row(anchor, name)
            holder_pairs.append((int(rows[u]), name))
            own_pairs.append((int(anchor), name))
        unseen = [p for p in dict.fromkeys(holder_pairs + own_pairs) if p not in self.partition_id and p[0] != _UNKNOWN_ISSUER]
        if unseen:
            found = store.partition_ids(np.array([r for r, _ in unseen], np.int64), [name for _, name in unseen])
            self.partition_id.update(zip(unseen, found.tolist()))

        def ids(pairs):
            return np.array([_ISSUER_WIDE if r == _UNKNOWN_ISSUER else self.partition_id[(r, nm)] for r, nm in pairs], np.uint16)

        return rows[inverse].reshape(n), ids(holder_pairs)[inverse].reshape(n), ids(own_pairs)[inverse].reshape(n)


_CONTEXTS: "weakref.WeakKeyDictionary[Store, _StoreContext]" = weakref.WeakKeyDictionary()


def _context(store: "Store") -> _StoreContext:
    ctx = _CONTEXTS.get(store)
    if ctx is None:
        ctx = _StoreContext(store)
        _CONTEXTS[store] = ctx
    return ctx


def _check(
    store: "Store",
    certs: Any,
    now: NowLike,
    purpose: str | None,
    allow_test_hierarchy: bool,
    provenance: bool,
    signed: dict[str, Any] | None = None,
) -> tuple[pa.Table, np.ndarray | None]:
    """The shared engine of the check and verify functions: (result table, signature_valid)."""
    if purpose not in (None, *PURPOSES):
        raise ValueError(f"purpose {purpose!r}: expected 'login', 'signature' or None")
    now_s = to_epoch(now)
    ctx = _context(store)
    cert_args, n = _binary(certs, "certificate")
    kwargs: dict[str, Any] = {}
    if signed is not None:
        what, items = ("digests", signed["digests"]) if signed.get("digests") is not None else (signed["name"], signed["messages"])
        if items is None:
            raise ValueError(f"{signed['name']}: required")
        if signed["signatures"] is None:
            raise ValueError("signatures: required")
        signed_args, m = _binary(items, what.rstrip("s"))
        sig_args, s = _binary(signed["signatures"], "signature")
        _same_length(certificates=n, **{what: m}, signatures=s)
        kwargs = {"digests" if what == "digests" else "messages": signed_args, "signatures": sig_args, "hash": signed["hash"]}
    out = _core.check_certificates(ctx.anchors, cert_args, now_s, purpose, allow_test_hierarchy, **kwargs)

    outcome = np.frombuffer(out["outcome"], dtype=np.uint8)
    anchor = np.frombuffer(out["anchor"], dtype=np.uint16)
    final = np.isin(outcome, (_MALFORMED, _UNTRUSTED, _BAD_SIGNATURE))
    # Rows whose chain failed are looked up under "unknown issuer" (cheap, ignored below).
    lookup_anchor = np.where(final, _UNKNOWN_ISSUER, anchor).astype(np.uint16)
    partition = pa.array(out["partition"], pa.string())
    rows, part_ids, own_part_ids = ctx.lookup_rows(store, lookup_anchor, partition)
    serial_array = pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(out["serial_offsets"]), pa.py_buffer(out["serial_data"])]
    )
    batch = from_integers(serial_array) if n else SerialBatch(np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty((0, 20), np.uint8))
    revocation = store.check_normalized(batch, rows, now_s, provenance=provenance, partitions=part_ids)
    elsewhere = rows != lookup_anchor
    if elsewhere.any():
        # Fail closed when the newest CRL of the partition comes from another key of the CA:
        # the issuing key's own answer also counts. It decides if it says revoked (its CRL, or
        # an ARL revoking the key itself), and if it publishes CRLs for this partition, they
        # must be fresh too for the certificate to be good.
        own = store.check_normalized(batch, lookup_anchor, now_s, provenance=provenance, partitions=own_part_ids)
        own_code = own.column("status").combine_chunks().indices.to_numpy(zero_copy_only=False)
        held_code = revocation.column("status").combine_chunks().indices.to_numpy(zero_copy_only=False)
        revoked_code, stale_code = 1, 2  # store.STATUSES order: good, revoked, stale, unknown
        own_covers = own_part_ids != _MISSING_PARTITION
        use_own = elsewhere & (
            (own_code == revoked_code) | ((held_code != revoked_code) & own_covers & (own_code == stale_code))
        )
        if use_own.any():
            picks = pa.array(np.where(use_own, np.arange(n) + n, np.arange(n)))
            revocation = pa.concat_tables([revocation, own]).take(picks)
            part_ids = np.where(use_own, own_part_ids, part_ids)

    store_status = revocation.column("status").combine_chunks()
    store_names = store_status.dictionary.to_pylist()
    to_cert = np.array([_STATUS_INDEX[s] for s in store_names], dtype=np.int8)
    store_code = to_cert[store_status.indices.to_numpy(zero_copy_only=False)] if n else np.empty(0, np.int8)
    revoked = store_code == _STATUS_INDEX["revoked"]
    status = np.where(
        final,
        _OUTCOME_STATUS[outcome],
        np.where(revoked, _STATUS_INDEX["revoked"], np.where(outcome != _OK, _OUTCOME_STATUS[outcome], store_code)),
    )

    detail: list[str | None] = [None] * n
    for row, text in out["details"]:
        detail[row] = f"also: {text}" if revoked[row] and not final[row] else text
    for row in np.flatnonzero(status == _STATUS_INDEX["stale"]).tolist():
        detail[row] = (
            "the store holds no CRL for this certificate's partition"
            if part_ids[row] == _MISSING_PARTITION
            else "the CRL covering this certificate is missing or not fresh at now (past its nextUpdate)"
        )

    has_anchor = anchor != _UNKNOWN_ISSUER
    anchor_index = pa.array(np.where(has_anchor, anchor, 0).astype(np.int32), mask=~has_anchor)
    has_times = np.frombuffer(out["has_times"], dtype=np.uint8).astype(bool)
    times = {
        name: pa.array(np.frombuffer(out[name], dtype=np.int64), mask=~has_times).cast(_UTC_SECONDS)
        for name in ("not_before", "not_after")
    }
    parsed = np.frombuffer(out["has_times"], dtype=np.uint8).astype(bool)
    serial_hex = to_hex(batch)
    if n:
        import pyarrow.compute as pc

        serial_hex = pc.if_else(pa.array(parsed), serial_hex, pa.nulls(n, serial_hex.type))
    kind_of_anchor = np.array([_KINDS.index(k) if k in _KINDS else -1 for k in ctx.kinds] + [-1], dtype=np.int32)
    kind_index = kind_of_anchor[np.where(has_anchor, anchor, len(ctx.kinds))]
    columns = {
        "status": pa.DictionaryArray.from_arrays(pa.array(status.astype(np.int8)), _STATUS_DICT),
        "detail": pa.array(detail, pa.string()),
        "reason": revocation.column("reason"),
        "revocation_date": revocation.column("revocation_date"),
        "invalidity_date": revocation.column("invalidity_date"),
        "issuer": pa.DictionaryArray.from_arrays(anchor_index, pa.array(ctx.aliases or [""], pa.string())),
        "kind": pa.DictionaryArray.from_arrays(pa.array(np.maximum(kind_index, 0), mask=kind_index < 0), _KIND_DICT),
        "serial": serial_hex,
        "partition": partition,
        "not_before": times["not_before"],
        "not_after": times["not_after"],
    }
    if provenance:
        for name in ("crl_number", "this_update", "next_update"):
            columns[name] = revocation.column(name)
    signature_valid = np.frombuffer(out["signature_valid"], dtype=np.uint8).astype(bool) if signed is not None else None
    metadata = {"generation": str(store.generation), "now": iso(now_s) or ""}
    return pa.table(columns).replace_schema_metadata(metadata), signature_valid


def check_certificates(
    store: "Store",
    certs: Any,
    now: NowLike = None,
    purpose: str | None = None,
    allow_test_hierarchy: bool = False,
    provenance: bool = False,
) -> pa.Table:
    """Status of each certificate; one row per input, in input order (see the module docstring
    for the statuses and their precedence).

    ``certs``: DER/PEM bytes, cryptography certificates, or a pyarrow binary array.
    ``now``: when to judge validity and freshness (default: the current time).
    ``purpose``: ``"login"`` (authentication certificates: digitalSignature, clientAuth when an
    extended key usage is present), ``"signature"`` (signing certificates: digitalSignature or
    nonRepudiation), or None to judge each certificate by the kind of its issuing CA.
    ``allow_test_hierarchy``: accept certificates of the JPKI test CAs (``O=JPKI-TEST``).
    ``provenance``: add ``crl_number``, ``this_update``, ``next_update`` of the CRL the answer
    rests on.

    Columns: ``status``, ``detail`` (why, for anything but good; never personal data),
    ``reason``, ``revocation_date``, ``invalidity_date``, ``issuer`` (alias of the issuing CA key),
    ``kind`` (authentication / signing), ``serial`` (canonical hex), ``partition`` (the
    certificate's CRL distribution point), ``not_before``, ``not_after``.

    >>> t = check_certificates(store, [cert_der, revoked_cert_der, b"not DER"], now=NOW)
    >>> t.select(["status", "issuer", "serial"]).to_pylist()
    [{'status': 'good', 'issuer': 'auth_ca_2023', 'serial': '05A00001'},
     {'status': 'revoked', 'issuer': 'auth_ca_2023', 'serial': '054CFCD8'},
     {'status': 'malformed', 'issuer': None, 'serial': None}]
    """
    table, _ = _check(store, certs, now, purpose, allow_test_hierarchy, provenance)
    return table


def _with_decision(table: pa.Table, signature_valid: np.ndarray, what: str) -> pa.Table:
    if table.num_rows:
        good = table.column("status").combine_chunks().indices.to_numpy(zero_copy_only=False) == _STATUS_INDEX["good"]
    else:
        good = np.zeros(0, bool)
    allow = good & signature_valid
    detail = table.column("detail").to_pylist()
    for row in np.flatnonzero(good & ~signature_valid).tolist():
        detail[row] = f"the signature over the {what} does not verify with the certificate's key"
    table = table.set_column(table.schema.get_field_index("detail"), "detail", pa.array(detail, pa.string()))
    table = table.add_column(0, "signature_valid", pa.array(signature_valid))
    return table.add_column(0, "decision", pa.DictionaryArray.from_arrays(pa.array(allow.astype(np.int8)), _DECISIONS))


def verify_logins(
    store: "Store",
    certs: Any,
    challenges: Any,
    signatures: Any,
    now: NowLike = None,
    hash: str = "sha256",
    allow_test_hierarchy: bool = False,
    provenance: bool = False,
) -> pa.Table:
    """Decides logins: row i is ``allow`` only if ``signatures[i]`` over ``challenges[i]``
    verifies with certificate i's key (RSASSA-PKCS1-v1_5 with ``hash``) and certificate i is
    ``good`` for logging in (see :func:`check_certificates` with ``purpose="login"``).

    Columns: ``decision`` (allow / deny), ``signature_valid``, then those of
    :func:`check_certificates`; ``detail`` says why a good certificate was denied.
    Lengths must agree (ValueError naming them); a certificate that cannot be read is a
    ``malformed`` row, a signature that does not verify a ``deny``.

    >>> t = verify_logins(store, [cert_der, cert_der, signing_cert_der], [challenge] * 3, [signature, b"forged", signature], now=NOW)
    >>> t.column("decision").to_pylist(), t.column("status").to_pylist()
    (['allow', 'deny', 'deny'], ['good', 'good', 'wrong_usage'])
    """
    signed = {"name": "challenges", "messages": challenges, "signatures": signatures, "hash": hash}
    table, valid = _check(store, certs, now, "login", allow_test_hierarchy, provenance, signed)
    assert valid is not None
    return _with_decision(table, valid, "challenge")


def verify_signed_documents(
    store: "Store",
    certs: Any,
    documents: Any = None,
    signatures: Any = None,
    now: NowLike = None,
    hash: str = "sha256",
    allow_test_hierarchy: bool = False,
    provenance: bool = False,
    *,
    digests: Any = None,
) -> pa.Table:
    """Decides signed documents (applications, contracts): row i is ``allow`` only if
    ``signatures[i]`` over ``documents[i]`` (or over the precomputed ``digests=[i]``) verifies
    with signing certificate i's key and the certificate is ``good`` for signing.

    Columns as :func:`verify_logins`.

    >>> t = verify_signed_documents(store, [signing_cert_der], [document], [document_signature], now=NOW)
    >>> t.column("decision").to_pylist()
    ['allow']
    >>> import hashlib
    >>> digest = hashlib.sha256(document).digest()
    >>> t = verify_signed_documents(store, [signing_cert_der], signatures=[document_signature], digests=[digest], now=NOW)
    >>> t.column("decision").to_pylist()
    ['allow']
    """
    if documents is not None and digests is not None:
        raise ValueError("give documents or digests=, not both")
    signed = {"name": "documents", "messages": documents, "digests": digests, "signatures": signatures, "hash": hash}
    table, valid = _check(store, certs, now, "signature", allow_test_hierarchy, provenance, signed)
    assert valid is not None
    return _with_decision(table, valid, "document")


# --------------------------------------------------------------------------------------------
# One certificate at a time: login gating, a signed application, a certificate check. The
# batch functions above build Arrow tables and hand rows to the thread pool, which costs
# several times the cryptography for a single row; these answer one item on the calling
# thread with plain values, with exactly the batch functions' answers (tests/test_one.py).

_OUTCOME_NAMES = ("good", "malformed", "untrusted", "bad_signature", "expired", "not_yet_valid", "wrong_usage")
_STORE_STATUSES = ("good", "revoked", "stale", "unknown")
_REASON_NAMES = tuple(_core.REASON_NAMES)
_STALE_MISSING = "the store holds no CRL for this certificate's partition"
_STALE_OLD = "the CRL covering this certificate is missing or not fresh at now (past its nextUpdate)"


@dataclass(frozen=True, kw_only=True)
class CertificateResult:
    """One certificate's status: the fields of a :func:`check_certificates` row (see there and
    the module docstring for their meaning). ``crl_number``, ``this_update`` and
    ``next_update`` are set only with ``provenance=True``. ``repr`` leaves the serial out."""

    status: str
    detail: str | None
    reason: str | None
    revocation_date: dt.datetime | None
    invalidity_date: dt.datetime | None
    issuer: str | None
    kind: str | None
    serial: str | None = field(repr=False)
    partition: str | None
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    crl_number: str | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    provenance: bool = field(default=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The fields as the batch function's row has them (``table.to_pylist()[0]``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "provenance"}
        if not self.provenance:
            for name in ("crl_number", "this_update", "next_update"):
                del out[name]
        return out


@dataclass(frozen=True, kw_only=True)
class VerificationResult(CertificateResult):
    """A login's or a signed document's verdict: ``decision`` is ``"allow"`` only when the
    signature verifies with the certificate's key (``signature_valid``) and the certificate is
    ``good``; the certificate's fields as :class:`CertificateResult`."""

    decision: str
    signature_valid: bool

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


def _one_bytes(value: Any, what: str) -> bytes | None:
    """One binary item, converted as the batch functions convert a list's items."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return _binary_array([value], what)[0].as_py()


def _utc(epoch: int | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


class _OneContext:
    """What one-item checks add to a store's :class:`_StoreContext`, built on first use: every
    (issuer row, partition name) -> partition id (as ``Store.partition_ids`` answers), and the
    partition table's columns for provenance."""

    def __init__(self, store: "Store") -> None:
        p = store.partitions()
        kinds = p.column("kind").to_pylist()
        self.ids: dict[tuple[int, str], int] = {}
        for pid, (iss, name) in enumerate(zip(p.column("issuer_index").to_pylist(), p.column("name").to_pylist())):
            if kinds[pid] == "crl":
                self.ids[(iss, name)] = pid
        self.partitions = p.num_rows
        self.issuers = store.issuer_table.num_rows
        self._provenance: tuple | None = None
        self._store = weakref.ref(store)

    def partition_id(self, issuer: int, name: str | None) -> int:
        if issuer == _UNKNOWN_ISSUER or name is None:
            return _ISSUER_WIDE
        return self.ids.get((issuer, name), self.ids.get((issuer, ""), _MISSING_PARTITION))

    def provenance(self, deciding: int, issuer: int, hint: int) -> tuple[str | None, dt.datetime | None, dt.datetime | None]:
        """(crl_number, this_update, next_update) of one row, as ``Store.check_normalized``
        gives them with ``provenance=True``: the deciding partition (the row's own when it was
        not revoked), else the issuer's covering data (oldest thisUpdate, earliest nextUpdate)."""
        if self._provenance is None:
            p = self._store().partitions()  # type: ignore[union-attr]
            numbers = p.column("crl_number").to_pylist()
            this, nxt = _epochs(p.column("this_update")), _epochs(p.column("next_update"))
            wide: dict[int, tuple[int, int | None]] = {}
            for iss, kind, t, n in zip(p.column("issuer_index").to_pylist(), p.column("kind").to_pylist(), this, nxt):
                if kind != "crl":
                    continue
                old = wide.get(iss)
                n_key = -(2**63) if n is None else n
                wide[iss] = (t, n_key) if old is None else (min(old[0], t), min(old[1], n_key))
            self._provenance = (numbers, this, nxt, wide)
        numbers, this, nxt, wide = self._provenance
        part = deciding
        if deciding == _ISSUER_WIDE and hint < _MISSING_PARTITION:
            part = hint
        if part < min(self.partitions, _MISSING_PARTITION):
            return numbers[part], _utc(this[part]), _utc(nxt[part])
        covering = wide.get(issuer if issuer < self.issuers else -1)
        if covering is None:
            return None, None, None
        return None, _utc(covering[0]), None if covering[1] == -(2**63) else _utc(covering[1])


_ONE: "weakref.WeakKeyDictionary[Store, _OneContext]" = weakref.WeakKeyDictionary()


def _one_context(store: "Store") -> _OneContext:
    one = _ONE.get(store)
    if one is None:
        one = _ONE[store] = _OneContext(store)
    return one


def prepare(store: "Store") -> None:
    """Builds now what certificate checks against ``store`` build on first use (its trust
    anchors parsed, which key's CRL covers each partition, the partition ids): a few
    milliseconds for thousands of partitions, which a service pays when it opens a new
    generation rather than in the first login after it.

    >>> prepare(store)
    >>> check_certificate(store, cert_der, now=NOW).status
    'good'
    """
    _context(store)
    _one_context(store)


def _check_one(
    store: "Store",
    cert: Any,
    now: NowLike,
    purpose: str | None,
    allow_test_hierarchy: bool,
    provenance: bool,
    signed: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """The one-item engine: (the row's fields, signature_valid), as :func:`_check` gives row 0
    of a one-row call."""
    if purpose not in (None, *PURPOSES):
        raise ValueError(f"purpose {purpose!r}: expected 'login', 'signature' or None")
    now_s = to_epoch(now)
    ctx = _context(store)
    one = _one_context(store)
    kwargs: dict[str, Any] = {}
    if signed is not None:
        digest = signed.get("digest")
        message = signed.get("message")
        if message is None and digest is None:
            raise ValueError(f"{signed['name']}: required")
        if signed["signature"] is None:
            raise ValueError("signature: required")
        kwargs = {
            "signed": True,
            "message": _one_bytes(message, signed["name"]),
            "digest": _one_bytes(digest, "digest"),
            "signature": _one_bytes(signed["signature"], "signature"),
            "hash": signed["hash"],
        }
    outcome, anchor, not_before, not_after, serial, serial_text, partition, detail, signature_valid = _core.check_certificate_one(
        ctx.anchors, _one_bytes(cert, "certificate"), now_s, purpose, allow_test_hierarchy, **kwargs
    )
    final = outcome in (_MALFORMED, _UNTRUSTED, _BAD_SIGNATURE)
    lookup = _UNKNOWN_ISSUER if final or anchor is None else anchor
    row = lookup if lookup == _UNKNOWN_ISSUER else ctx.revocation_row(lookup, partition)
    part = one.partition_id(row, partition)
    # The serialNumber INTEGER's content octets, keyed exactly as the batch keys them
    # (negative serials included); an unparsed certificate is looked up as unknown.
    key = serial or b"\x00"
    answer = _core.check_serial_one(store.core, row, key, now_s, part, True)
    revoked_code, stale_code = 1, 2
    if row != lookup:
        # Fail closed, as the batch does: the issuing key's own answer also counts.
        own_part = one.partition_id(lookup, partition)
        own = _core.check_serial_one(store.core, lookup, key, now_s, own_part, True)
        if own[0] == revoked_code or (answer[0] != revoked_code and own_part != _MISSING_PARTITION and own[0] == stale_code):
            answer, row, part = own, lookup, own_part
    store_status, reason, revocation_date, invalidity_date, deciding = answer
    revoked = store_status == revoked_code
    if final:
        status = _OUTCOME_NAMES[outcome]
    elif revoked:
        status = "revoked"
    elif outcome != _OK:
        status = _OUTCOME_NAMES[outcome]
    else:
        status = _STORE_STATUSES[store_status]
    if detail is not None and revoked and not final:
        detail = f"also: {detail}"
    if status == "stale":
        detail = _STALE_MISSING if part == _MISSING_PARTITION else _STALE_OLD
    parsed = not_after is not None
    kind = ctx.kinds[anchor] if anchor is not None and ctx.kinds[anchor] in _KINDS else None
    fields_ = {
        "status": status,
        "detail": detail,
        "reason": None if reason is None else _REASON_NAMES[reason],
        "revocation_date": _utc(revocation_date),
        "invalidity_date": _utc(invalidity_date),
        "issuer": None if anchor is None else ctx.aliases[anchor],
        "kind": kind,
        "serial": serial_text,
        "partition": partition,
        "not_before": _utc(not_before) if parsed else None,
        "not_after": _utc(not_after) if parsed else None,
    }
    if provenance:
        fields_["crl_number"], fields_["this_update"], fields_["next_update"] = one.provenance(deciding, row, part)
        fields_["provenance"] = True
    return fields_, signature_valid


def check_certificate(
    store: "Store",
    cert: Any,
    now: NowLike = None,
    purpose: str | None = None,
    allow_test_hierarchy: bool = False,
    provenance: bool = False,
) -> CertificateResult:
    """:func:`check_certificates` for one certificate, at close to the cost of verifying its
    CA's signature: the same answer as that function's row, as a :class:`CertificateResult`.

    >>> r = check_certificate(store, revoked_cert_der, now=NOW, purpose="login")
    >>> r.status, r.reason, r.issuer
    ('revoked', 'superseded', 'auth_ca_2023')
    """
    fields_, _ = _check_one(store, cert, now, purpose, allow_test_hierarchy, provenance)
    return CertificateResult(**fields_)


def _verdict(fields_: dict[str, Any], signature_valid: bool, what: str) -> VerificationResult:
    good = fields_["status"] == "good"
    if good and not signature_valid:
        fields_["detail"] = f"the signature over the {what} does not verify with the certificate's key"
    return VerificationResult(**fields_, decision="allow" if good and signature_valid else "deny", signature_valid=signature_valid)


def verify_login(
    store: "Store",
    cert: Any,
    challenge: Any,
    signature: Any,
    now: NowLike = None,
    hash: str = "sha256",
    allow_test_hierarchy: bool = False,
    provenance: bool = False,
) -> VerificationResult:
    """:func:`verify_logins` for one login (certificate, challenge, the card's signature over
    it), at close to the cost of its two RSA verifications; the same answer as that
    function's row, as a :class:`VerificationResult`.

    >>> r = verify_login(store, cert_der, challenge, signature, now=NOW)
    >>> r.decision, r.status, r.allowed
    ('allow', 'good', True)
    >>> verify_login(store, cert_der, challenge, b"forged", now=NOW).detail
    "the signature over the challenge does not verify with the certificate's key"
    """
    signed = {"name": "challenge", "message": challenge, "signature": signature, "hash": hash}
    fields_, valid = _check_one(store, cert, now, "login", allow_test_hierarchy, provenance, signed)
    return _verdict(fields_, valid, "challenge")


def verify_signed_document(
    store: "Store",
    cert: Any,
    document: Any = None,
    signature: Any = None,
    now: NowLike = None,
    hash: str = "sha256",
    allow_test_hierarchy: bool = False,
    provenance: bool = False,
    *,
    digest: Any = None,
) -> VerificationResult:
    """:func:`verify_signed_documents` for one document (or its ``digest=``) and its signing
    certificate; the same answer as that function's row, as a :class:`VerificationResult`.

    >>> verify_signed_document(store, signing_cert_der, document, document_signature, now=NOW).decision
    'allow'
    """
    if document is not None and digest is not None:
        raise ValueError("give a document or digest=, not both")
    signed = {"name": "document", "message": document, "digest": digest, "signature": signature, "hash": hash}
    fields_, valid = _check_one(store, cert, now, "signature", allow_test_hierarchy, provenance, signed)
    return _verdict(fields_, valid, "document")
