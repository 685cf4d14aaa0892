"""Batch status requests and responses on the wire: JSON and Arrow IPC codecs (no HTTP code).

The status service (``jpki-fast-service``) turns a request body into a :class:`StatusRequest`,
checks it against a :class:`~jpki_fast.Store` and renders the :class:`StatusResult`::

    request = decode_status_json(body)             # or decode_status_arrow(body)
    result = check_status(store, request)
    response = encode_status_json(result)          # or encode_status_arrow(result)

Request bodies
--------------

JSON, one issuer for every serial, or one issuer per item::

    {"issuer": "auth_ca_2023", "serials": ["054CFCD8", "0x54cfcd9", "05:4C:FC:DA"],
     "now": "2026-11-26T09:00:00Z", "provenance": false}
    {"items": [{"issuer": "auth_ca_2023", "serial": "054CFCD8"}, ...], "now": ..., "provenance": ...}

``now`` (ISO 8601; default: the time of the check) and ``provenance`` (default false) are
optional. Arrow IPC stream: a ``serial`` column (hex strings, big-endian binary, or unsigned
integers) and an ``issuer`` column (strings, may be dictionary-encoded); instead of the issuer
column, the schema metadata may name one ``issuer`` for every row, and it may carry ``now`` and
``provenance`` (``"true"``/``"false"``) as well.

Serials are hex strings as the library takes them everywhere: any case, optional ``0x``,
optional ``:`` separators, leading zeros allowed, a ``-`` for a negative serial, at most 20
octets as a DER INTEGER (RFC 5280).
**JSON numbers are not serials**: many JSON clients hold numbers as doubles and round integers
above 2^53, so a numeric serial could silently be another certificate's; a number is reported
``malformed`` (fail closed) with a detail saying to send a string.

What is wrong with one item is reported on that item, and the rest of the batch is answered:

- a serial that is not a valid serial (bad hex, empty, over 20 octets, a number, null, any
  other JSON type; in Arrow a null or a negative integer): status ``malformed``, with ``detail``
  naming what was wrong (never the serial itself);
- an issuer that is not in the store's trust store: status ``unknown``.

A body that cannot be read as a whole raises :class:`WireError`, with the HTTP status to answer,
the ``location`` of the fault and a message: invalid JSON or UTF-8 (400, with byte offset, line
and column), a wrong shape such as a missing, unknown, duplicated or mistyped field (422), an
empty batch (422), more than ``max_items`` items (413), an unreadable Arrow stream (400).

Responses
---------

JSON::

    {"generation": 42, "checked_at": "2026-11-26T09:00:00Z",
     "results": [{"serial": "054CFCD8", "issuer": "auth_ca_2023", "status": "revoked",
                  "reason": "keyCompromise", "revocation_date": "2026-10-01T00:00:00Z"}, ...]}

one result per item in request order. ``serial`` is the canonical hex form (for a malformed item
the text as sent, or null when it was not a string), ``issuer`` the issuer as sent; ``detail``
is present on ``malformed`` and ``unknown`` items only; with provenance every result also has
``partition``, ``crl_number``, ``this_update`` and ``next_update``. Arrow: an IPC stream of
:attr:`StatusResult.table`, with ``generation`` and ``checked_at`` in the schema metadata.

>>> request = decode_status_json(b'{"issuer": "auth_ca_2023", "serials": ["054CFCD8", "zz"]}')
>>> request.n, request.provenance
(2, False)
>>> result = check_status(store, request, now=NOW)
>>> result.table.column("status").to_pylist(), result.counts["malformed"]
(['revoked', 'malformed'], 1)
>>> response = json.loads(encode_status_json(result))
>>> response["checked_at"], response["results"][0]
('2026-11-26T00:00:00Z', {'serial': '054CFCD8', 'issuer': 'auth_ca_2023', 'status': 'revoked', 'reason': 'superseded',
 'revocation_date': '2026-01-05T00:00:00Z'})
>>> response["results"][1]["status"], response["results"][1]["detail"]
('malformed', "not a hexadecimal serial (expected digits 0-9/A-F, optional 0x prefix and ':' separators)")
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import _core
from .errors import JpkiFastError
from .serials import MAX_OCTETS, SerialBatch
from .timeutil import iso, to_epoch

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

__all__ = [
    "ARROW_STREAM",
    "DEFAULT_MAX_ITEMS",
    "WIRE_STATUSES",
    "StatusRequest",
    "StatusResult",
    "WireError",
    "check_status",
    "decode_status_arrow",
    "decode_status_json",
    "encode_status_arrow",
    "encode_status_json",
]

#: The media type of Arrow IPC stream bodies.
ARROW_STREAM = "application/vnd.apache.arrow.stream"
DEFAULT_MAX_ITEMS = 1_000_000
#: Statuses of a batch item: the store's four, then ``malformed`` (the serial could not be read).
WIRE_STATUSES = ("good", "revoked", "stale", "unknown", "malformed")
_MALFORMED = 4
_UNKNOWN = 3
_UNKNOWN_ISSUER = 0xFFFF

# Why an item's serial is malformed: code -> detail (``{}`` takes the octet count).
_DETAILS = (
    "not a hexadecimal serial (expected digits 0-9/A-F, optional 0x prefix and ':' separators)",
    "empty serial",
    "serial of {} octets (as a DER INTEGER) exceeds the 20-octet limit of RFC 5280",
    "missing (null) serial",
    'a JSON number, not a string: send serials as hex strings ("054CFCD8"); numbers lose precision in many JSON clients',
    "a JSON boolean, not a hex serial",
    "a JSON object, not a hex serial",
    "a JSON array, not a hex serial",
    "serial numbers are non-negative",
)
INVALID_HEX, EMPTY, TOO_LONG, NULL, NUMBER, BOOLEAN, OBJECT, ARRAY, NEGATIVE = range(len(_DETAILS))


class WireError(JpkiFastError, ValueError):
    """A request body that cannot be read as a whole (one bad item never raises this).

    ``http_status``: 400 (not valid JSON / UTF-8 / Arrow), 413 (too many items or too large),
    415 (unsupported content type), 422 (a field missing, unknown, duplicated or of the wrong
    type; an empty batch). ``location``: where, as a JSON pointer into the body (``"body"``,
    ``"/serials"``, ``"/items/17/issuer"``; for Arrow, the column and row: ``"/issuer/17"``).
    The message never contains a serial or a certificate.
    """

    def __init__(self, message: str, http_status: int = 400, location: str = "body") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.location = location

    def to_dict(self) -> dict[str, Any]:
        """``{"error": message, "location": ..., "status": http_status}`` (for error bodies)."""
        return {"error": str(self), "location": self.location, "status": self.http_status}


@dataclass(frozen=True)
class StatusRequest:
    """A decoded batch request: columns, no per-item Python objects.

    Row ``i`` asks about serial ``serials[i]`` (see :class:`~jpki_fast.serials.SerialBatch`)
    of issuer ``issuer_names[issuer_codes[i]]`` (``issuer_codes`` is None when every row has
    ``issuer_names[0]``). Rows listed in ``malformed_rows`` could not be read (their serial
    reads 0); their detail code and argument are in ``malformed_codes``/``malformed_args``, the
    text as sent in ``malformed_text`` (null where it was not a string, or binary).
    """

    n: int
    now: int | None
    provenance: bool
    issuer_names: pa.Array = field(repr=False)  # large_string, the distinct issuers as sent
    issuer_codes: np.ndarray | None = field(repr=False)  # uint32 per row, or None
    serials: SerialBatch = field(repr=False)
    malformed_rows: np.ndarray = field(repr=False)  # uint32, ascending
    malformed_codes: np.ndarray = field(repr=False)  # uint8
    malformed_args: np.ndarray = field(repr=False)  # uint32
    malformed_text: pa.Array = field(repr=False)  # large_string, one per malformed row

    @property
    def issuer(self) -> pa.DictionaryArray:
        """The issuer of each row, as sent (dictionary-encoded)."""
        if self.issuer_codes is None:
            codes = pa.Array.from_buffers(pa.int8(), self.n, [None, pa.py_buffer(np.zeros(self.n, np.int8))])
        else:
            codes = pa.Array.from_buffers(pa.int32(), self.n, [None, pa.py_buffer(self.issuer_codes)])
        return pa.DictionaryArray.from_arrays(codes, self.issuer_names)

    @property
    def malformed_count(self) -> int:
        return len(self.malformed_rows)


@dataclass(frozen=True)
class StatusResult:
    """The answer to a :class:`StatusRequest`.

    ``table``: one row per item, in request order: ``serial`` (canonical hex; for a malformed
    item the text as sent), ``issuer`` (as sent), ``status`` (good | revoked | stale | unknown
    | malformed), ``reason``, ``revocation_date``, ``detail``; with provenance also
    ``partition``, ``crl_number``, ``this_update``, ``next_update``. ``counts``: items by
    status (every status present, zeros included). ``checked_at``: the instant freshness was
    judged at (ISO 8601 UTC).
    """

    table: pa.RecordBatch
    counts: dict[str, int]
    generation: int
    checked_at: str
    request: StatusRequest = field(repr=False)

    @property
    def serial_keys(self) -> np.ndarray:
        """Each row's serial as 20 big-endian octets (left-padded with zeros), an ``(n, 20)``
        uint8 array for keyed hashing (audit HMACs) without re-parsing; rows that are
        ``malformed`` are all zeros (tell them apart by status)."""
        batch = self.request.serials
        keys = np.zeros((self.request.n, MAX_OCTETS), np.uint8)
        keys[:, 12:] = batch.short.astype(">u8").view(np.uint8).reshape(-1, 8)
        if len(batch.long_rows):
            keys[batch.long_rows] = batch.long_keys
        if len(self.request.malformed_rows):
            keys[self.request.malformed_rows] = 0
        return keys


# --------------------------------------------------------------------------------------------
# Decoding (the work is in Rust: rust/src/wire.rs)


def _large_strings(n: int, offsets: Any, data: Any, validity: Any = None) -> pa.Array:
    return pa.Array.from_buffers(
        pa.large_string(), n, [None if validity is None else pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _u(buf: Any, dtype: Any) -> np.ndarray:
    return np.frombuffer(buf, dtype=dtype)


def _request(out: dict, n: int, now: int | None, provenance: bool, names: pa.Array, codes: np.ndarray | None) -> StatusRequest:
    """A StatusRequest from the serial buffers the Rust core returned."""
    bad_rows = _u(out["bad_rows"], np.uint32)
    long_keys = _u(out["long_keys"], np.uint8).reshape(-1, MAX_OCTETS)
    serials = SerialBatch(_u(out["short"], np.uint64), _u(out["long_rows"], np.uint32), long_keys)
    text = _large_strings(len(bad_rows), out["bad_text_offsets"], out["bad_text"], out["bad_text_valid"])
    return StatusRequest(
        n, now, provenance, names, codes, serials, bad_rows, _u(out["bad_codes"], np.uint8), _u(out["bad_args"], np.uint32), text
    )


def decode_status_json(body: bytes, *, max_items: int = DEFAULT_MAX_ITEMS) -> StatusRequest:
    """Decodes a JSON batch request body (see the module docstring for its shapes), in one
    pass in Rust with the GIL released: serials are normalised straight into the index's key
    columns, and no Python object is made per item.

    Raises :class:`WireError` for a body that cannot be read as a whole; items whose serial is
    not valid become ``malformed`` rows.

    >>> decode_status_json(b'{"items": [{"issuer": "auth_ca_2023", "serial": "0x05"}]}').n
    1
    >>> decode_status_json(b'{"issuer": "a", "serials": []}')
    Traceback (most recent call last):
    ...
    jpki_fast.wire.WireError: empty batch: no serials
    """
    out = _core.wire_decode_json(body, max_items)
    if isinstance(out, tuple):
        status, location, message = out
        raise WireError(message, status, location)
    now = None
    if out["now"] is not None:
        try:
            now = to_epoch(out["now"])
        except (ValueError, OverflowError, OSError):
            raise WireError("not an ISO 8601 date/time (e.g. 2026-11-26T09:00:00Z)", 422, "/now") from None
    names = _large_strings(out["issuer_count"], out["issuer_offsets"], out["issuer_data"])
    codes = None if out["issuer_codes"] is None else _u(out["issuer_codes"], np.uint32)
    return _request(out, len(out["short"]) // 8, now, out["provenance"], names, codes)


def _metadata(schema: pa.Schema) -> dict[str, str]:
    out = {}
    for key, value in (schema.metadata or {}).items():
        try:
            out[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("schema metadata is not valid UTF-8", 422, "schema metadata") from None
    return out


def _string_tuple(array: pa.Array) -> tuple:
    """(offsets, data, validity, offset, large, length) of a string/binary array, for Rust."""
    validity, offsets, data = array.buffers()[:3]
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    return (offsets, data if data is not None else b"", validity if array.null_count else None, array.offset, large, len(array))


def _bad_ints(array: pa.Array) -> dict:
    """Serial buffers (as the Rust core returns them) of an integer column: nulls and negative
    values are malformed rows."""
    values = array.fill_null(0).to_numpy(zero_copy_only=False) if array.null_count else array.to_numpy(zero_copy_only=False)
    null = np.asarray(array.is_null()) if array.null_count else np.zeros(len(array), bool)
    negative = values < 0 if values.dtype.kind == "i" else np.zeros(len(array), bool)
    bad = null | negative
    rows = np.flatnonzero(bad).astype(np.uint32)
    short = values.astype(np.uint64)
    if len(rows):
        short[rows] = 0
    return {
        "short": short,
        "long_rows": np.empty(0, np.uint32),
        "long_keys": np.empty(0, np.uint8),
        "bad_rows": rows,
        "bad_codes": np.where(null[rows], NULL, NEGATIVE).astype(np.uint8),
        "bad_args": np.zeros(len(rows), np.uint32),
        "bad_text_offsets": np.zeros(len(rows) + 1, np.int64),
        "bad_text": b"",
        "bad_text_valid": np.zeros((len(rows) + 7) // 8, np.uint8) if len(rows) else None,
    }


def _arrow_serials(array: pa.Array) -> dict:
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.dictionary_decode()
        t = array.type
    if pa.types.is_integer(t):
        return _bad_ints(array)
    if hasattr(pa.types, "is_string_view") and (pa.types.is_string_view(t) or pa.types.is_binary_view(t)):
        array = array.cast(pa.large_string() if pa.types.is_string_view(t) else pa.large_binary())
        t = array.type
    if pa.types.is_fixed_size_binary(t):
        array = array.cast(pa.binary())
        t = array.type
    kind = "hex" if pa.types.is_string(t) or pa.types.is_large_string(t) else "binary"
    if kind == "hex" or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            return _core.wire_normalize(kind, _string_tuple(array), kind == "hex")
        except ValueError as exc:
            raise WireError(f"column 'serial' is damaged: {exc}", 400, "/serial") from None
    raise WireError(f"unsupported serial column type {t} (use hex strings, big-endian binary or unsigned integers)", 422, "/serial")


def _column(table: pa.Table, name: str) -> pa.Array:
    """One column, checked: fully (UTF-8, offsets, dictionary indices) unless it is a plain
    string or binary serial column, whose offsets the Rust core checks row by row and whose
    text it echoes only when valid UTF-8 (a full check would cost as much as the decoding)."""
    column = table.column(name)
    try:
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    except (KeyError, pa.ArrowException) as exc:  # KeyError: a type id pyarrow cannot wrap
        raise WireError(f"column {name!r} is damaged or of an unknown type ({type(exc).__name__})", 400, f"/{name}") from None
    t = array.type
    varlen = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
    plain = name == "serial" and varlen
    try:
        array.validate(full=not plain)
    except pa.ArrowInvalid as exc:
        raise WireError(f"column {name!r} is damaged: {exc}", 400, f"/{name}") from None
    return array


def decode_status_arrow(body: bytes, *, max_items: int = DEFAULT_MAX_ITEMS) -> StatusRequest:
    """Decodes an Arrow IPC stream request body: columns ``serial`` (hex strings, binary or
    integers) and ``issuer`` (strings, plain or dictionary-encoded), or ``serial`` alone with
    ``issuer`` in the schema metadata; optional metadata ``now`` (ISO 8601) and
    ``provenance`` (``true``/``false``). The columns are read in place and normalised in Rust.

    >>> import pyarrow as pa
    >>> sink = pa.BufferOutputStream()
    >>> t = pa.table({"issuer": ["auth_ca_2023"], "serial": ["054CFCD8"]})
    >>> with pa.ipc.new_stream(sink, t.schema) as w:
    ...     w.write_table(t)
    >>> decode_status_arrow(sink.getvalue().to_pybytes()).n
    1
    """
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(body))
        schema = reader.schema
        columns = schema.names  # decoded from UTF-8 here: a bad name is a bad body
        batches = []
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            if rows > max_items:
                raise WireError(f"more than {max_items:,} items in one request", 413, "body")
            batches.append(batch)
    except UnicodeDecodeError:
        raise WireError("not a readable Arrow IPC stream: a column name is not valid UTF-8", 400, "body") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, WireError):
            raise
        raise WireError(f"not a readable Arrow IPC stream: {exc}", 400, "body") from None
    table = pa.Table.from_batches(batches, schema)
    meta = _metadata(schema)
    if "serial" not in columns:
        raise WireError(f"no 'serial' column (columns: {', '.join(columns) or 'none'})", 422, "/serial")
    if table.num_rows == 0:
        raise WireError("empty batch: no rows", 422, "body")
    now = None
    if meta.get("now"):
        try:
            now = to_epoch(meta["now"])
        except (ValueError, OverflowError, OSError):
            raise WireError("not an ISO 8601 date/time (e.g. 2026-11-26T09:00:00Z)", 422, "schema metadata: now") from None
    provenance = False
    if "provenance" in meta:
        if meta["provenance"].lower() not in ("true", "false"):
            raise WireError("expected true or false", 422, "schema metadata: provenance")
        provenance = meta["provenance"].lower() == "true"
    n = table.num_rows
    if "issuer" in columns:
        names, codes = _arrow_issuers(_column(table, "issuer"))
    elif meta.get("issuer"):
        names, codes = pa.array([meta["issuer"]], pa.large_string()), None
    else:
        raise WireError("no 'issuer' column, and no issuer in the schema metadata", 422, "/issuer")
    return _request(_arrow_serials(_column(table, "serial")), n, now, provenance, names, codes)


def _arrow_issuers(issuers: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    t = issuers.type
    value_type = t.value_type if pa.types.is_dictionary(t) else t
    if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
        raise WireError(f"unsupported issuer column type {t} (use strings)", 422, "/issuer")
    if pa.types.is_dictionary(t) and issuers.dictionary.null_count:
        issuers = issuers.dictionary_decode()
    if issuers.null_count:
        row = issuers.is_null().index(True).as_py()
        raise WireError("missing (null) issuer", 422, f"/issuer/{row}")
    if not pa.types.is_dictionary(issuers.type):
        import pyarrow.compute as pc

        issuers = pc.dictionary_encode(issuers)
    names = issuers.dictionary.cast(pa.large_string())
    if len(names) == 1:
        return names, None
    return names, issuers.indices.to_numpy(zero_copy_only=False).astype(np.uint32, copy=False)


# --------------------------------------------------------------------------------------------
# Checking


_STATUS_DICT = pa.array(WIRE_STATUSES)
_UNKNOWN_DETAIL = "the issuer is not in this store's trust store (name a CA key by its alias or key identifier)"


class _Issuers:
    """A store's issuer aliases and key identifiers, as the Rust core matches names to them."""

    def __init__(self, store: "Store") -> None:
        t = store.issuer_table
        self.aliases = [a.encode() for a in t.column("alias").to_pylist()]
        self.key_ids = [k.encode() for k in t.column("key_id").to_pylist()]


_ISSUERS: "weakref.WeakKeyDictionary[Store, _Issuers]" = weakref.WeakKeyDictionary()


def _issuer_rows(store: "Store", names: pa.Array) -> np.ndarray:
    """Each distinct issuer name's row in the store (65535: not in its trust store)."""
    known = _ISSUERS.get(store)
    if known is None:
        known = _ISSUERS[store] = _Issuers(store)
    rows = np.frombuffer(_core.wire_map_issuers(_string_tuple(names), known.aliases, known.key_ids), np.uint16).copy()
    for k in np.flatnonzero(rows == _core.WIRE_ASK_CALLER).tolist():  # non-ASCII names only
        i = store.issuer_index(names[k].as_py())
        rows[k] = _UNKNOWN_ISSUER if i is None else i
    return rows


def _chunk(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def check_status(store: "Store", request: StatusRequest, *, now: Any = None) -> StatusResult:
    """Checks every item of ``request`` against ``store`` (one batch lookup on all cores).

    Freshness is judged at ``now`` if given (the caller's clock), else at the request's own
    ``now``, else at the current time. Items of an issuer the trust store lacks are
    ``unknown``; malformed items stay ``malformed``.
    """
    n = request.n
    when = to_epoch(now if now is not None else request.now)
    index = _issuer_rows(store, request.issuer_names)
    bad = request.malformed_rows
    if request.issuer_codes is None:
        rows: Any = int(index[0])
        if len(bad):
            rows = np.full(n, rows, np.uint16)
    else:
        rows = index[request.issuer_codes]
    if len(bad):
        rows[bad] = _UNKNOWN_ISSUER  # a cheap lookup; the row's status is set below
    checked = store.check_normalized(request.serials, rows, when, request.provenance)
    store_status = _chunk(checked.column("status"))
    status = np.frombuffer(store_status.indices.buffers()[1], np.int8, n, store_status.indices.offset).copy()
    status[bad] = _MALFORMED
    offsets, data, validity = _core.wire_serial_text(
        request.serials.short,
        request.serials.long_rows,
        np.ascontiguousarray(request.serials.long_keys),
        bad,
        *_text_buffers(request.malformed_text),
    )
    serial = _large_strings(n, offsets, data, validity)
    counts_array = np.bincount(status, minlength=len(WIRE_STATUSES))
    columns = {
        "serial": serial,
        "issuer": request.issuer,
        "status": pa.DictionaryArray.from_arrays(pa.Array.from_buffers(pa.int8(), n, [None, pa.py_buffer(status)]), _STATUS_DICT),
        "reason": _chunk(checked.column("reason")),
        "revocation_date": _chunk(checked.column("revocation_date")),
        "detail": _detail_column(request, status, int(counts_array[_UNKNOWN])),
    }
    if request.provenance:
        for name in ("partition", "crl_number", "this_update", "next_update"):
            columns[name] = _chunk(checked.column(name))
    counts = dict(zip(WIRE_STATUSES, counts_array.tolist()))
    checked_at = iso(when) or ""
    metadata = {"generation": str(store.generation), "checked_at": checked_at}
    table = pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns)).replace_schema_metadata(metadata)
    return StatusResult(table, counts, store.generation, checked_at, request)


def _text_buffers(text: pa.Array) -> tuple:
    validity, offsets, data = text.buffers()[:3]
    return offsets, data if data is not None else b"", validity if text.null_count else None


def _detail_column(request: StatusRequest, status: np.ndarray, unknown: int) -> pa.Array:
    """Why, for malformed and unknown rows (null elsewhere): a dictionary of the few distinct
    texts."""
    n = request.n
    bad = request.malformed_rows
    if not len(bad) and not unknown:
        return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))
    pairs = request.malformed_codes.astype(np.uint64) << np.uint64(32) | request.malformed_args.astype(np.uint64)
    distinct, inverse = np.unique(pairs, return_inverse=True)
    texts = [_UNKNOWN_DETAIL] + [_DETAILS[int(p) >> 32].format(int(p) & 0xFFFFFFFF) for p in distinct.tolist()]
    indices = np.zeros(n, np.int32)
    indices[bad] = 1 + inverse.astype(np.int32).reshape(-1)
    valid = status >= _UNKNOWN
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=~valid), pa.array(texts, pa.string()))


# --------------------------------------------------------------------------------------------
# Encoding


def _field(name: str, array: pa.Array) -> tuple:
    """How the Rust renderer reads one result column."""
    t = array.type
    omit = name == "detail"
    if pa.types.is_dictionary(t):
        ix = array.indices
        values = array.dictionary
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.large_string())
        validity = ix.buffers()[0] if ix.null_count else None
        return (name, omit, "dict", (ix.buffers()[1], str(ix.type), validity, ix.offset, _string_tuple(values)))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return (name, omit, "str", _string_tuple(array))
    if pa.types.is_timestamp(t):
        if t.unit != "s":
            array = array.cast(pa.timestamp("s", tz=t.tz))
        validity, values = array.buffers()[:2]
        return (name, omit, "time", (values, validity if array.null_count else None, array.offset))
    raise TypeError(f"{name}: a {t} column cannot be rendered as JSON here")


def encode_status_json(result: StatusResult) -> bytes:
    """The JSON response body: ``{"generation", "checked_at", "results": [...]}`` (see the
    module docstring); ``detail`` appears on the items that have one. Rendered in Rust
    straight from the result columns into one buffer, on all cores for big batches."""
    table = result.table
    header = b'{"generation":%d,"checked_at":%s,"results":[' % (result.generation, json.dumps(result.checked_at).encode())
    fields = [_field(name, table.column(i)) for i, name in enumerate(table.schema.names)]
    return _core.wire_render_json(header, b"]}", table.num_rows, fields)


def encode_status_arrow(result: StatusResult) -> bytes:
    """The Arrow IPC stream response body: :attr:`StatusResult.table`, with ``generation``
    and ``checked_at`` in its schema metadata."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.table.schema) as writer:
        writer.write_batch(result.table)
    return sink.getvalue().to_pybytes()
