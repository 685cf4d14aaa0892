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
optional ``:`` separators, leading zeros allowed, at most 20 significant octets (RFC 5280).
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
>>> result = check_status(store, request)                                 # doctest: +SKIP
>>> result.table.column("status").to_pylist()                             # doctest: +SKIP
['revoked', 'malformed']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .errors import JpkiFastError
from .serials import MAX_OCTETS, SerialBatch, to_hex
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
    "serial of {} significant octets exceeds the 20-octet limit of RFC 5280",
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
    ``issuer_names[0]``). Rows listed in ``malformed_rows`` could not be read; their detail
    code and argument are in ``malformed_codes``/``malformed_args`` and the text as sent (null
    when it was not a string) in ``malformed_text``.
    """

    n: int
    now: int | None
    provenance: bool
    issuer_names: tuple[str, ...] = field(repr=False, default=())
    issuer_codes: np.ndarray | None = field(repr=False, default=None)
    serials: SerialBatch = field(repr=False, default=None)  # type: ignore[assignment]
    malformed_rows: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.uint32))
    malformed_codes: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.uint8))
    malformed_args: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.uint32))
    malformed_text: pa.Array = field(repr=False, default_factory=lambda: pa.array([], pa.large_string()))

    @property
    def issuer(self) -> pa.DictionaryArray:
        """The issuer of each row, as sent (dictionary-encoded)."""
        codes = np.zeros(self.n, np.int32) if self.issuer_codes is None else self.issuer_codes.astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(self.issuer_names) or [""], pa.string()))

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
# Serials, one at a time (the library's rule: SerialKey::from_hex in rust/src/serial.rs).

_HEX = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def _parse_hex(text: str) -> tuple[int, int, int]:
    """(value, code, arg): code -1 when ``text`` is a valid serial."""
    s = text.strip(" \t\n\r\f\v")
    if len(s) >= 2 and s[0] == "0" and s[1] in "xX":
        s = s[2:]
    digits = s.replace(":", "")
    if not digits:
        return 0, EMPTY, 0
    if any(c not in _HEX for c in digits):
        return 0, INVALID_HEX, 0
    significant = digits.lstrip("0")
    if len(significant) > 2 * MAX_OCTETS:
        return 0, TOO_LONG, (len(significant) + 1) // 2
    return int(significant or "0", 16), -1, 0


class _Columns:
    """Collects rows: serial values and malformed rows."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.bad_rows: list[int] = []
        self.bad_codes: list[int] = []
        self.bad_args: list[int] = []
        self.bad_text: list[str | None] = []

    def bad(self, code: int, arg: int = 0, text: str | None = None) -> None:
        self.bad_rows.append(len(self.values))
        self.bad_codes.append(code)
        self.bad_args.append(arg)
        self.bad_text.append(text)
        self.values.append(0)

    def add(self, value: Any, echo: bool = True) -> None:
        """One JSON value (or hex text made from an Arrow value, then ``echo=False``)."""
        if isinstance(value, str):
            v, code, arg = _parse_hex(value)
            if code < 0:
                self.values.append(v)
            else:
                self.bad(code, arg, value if echo else None)
        elif value is None:
            self.bad(NULL)
        elif isinstance(value, bool):
            self.bad(BOOLEAN)
        elif isinstance(value, _Number):
            self.bad(NUMBER)
        elif isinstance(value, dict):
            self.bad(OBJECT)
        else:
            self.bad(ARRAY)

    def batch(self) -> SerialBatch:
        n = len(self.values)
        short = np.zeros(n, np.uint64)
        long_rows: list[int] = []
        long_keys: list[bytes] = []
        for row, v in enumerate(self.values):
            if v < 1 << 64:
                short[row] = v
            else:
                long_rows.append(row)
                long_keys.append(v.to_bytes(MAX_OCTETS, "big"))
        keys = np.frombuffer(b"".join(long_keys), np.uint8).reshape(-1, MAX_OCTETS) if long_keys else np.empty((0, MAX_OCTETS), np.uint8)
        return SerialBatch(short, np.array(long_rows, np.uint32), keys)

    def malformed(self) -> dict[str, Any]:
        return {
            "malformed_rows": np.array(self.bad_rows, np.uint32),
            "malformed_codes": np.array(self.bad_codes, np.uint8),
            "malformed_args": np.array(self.bad_args, np.uint32),
            "malformed_text": pa.array(self.bad_text, pa.large_string()),
        }


# --------------------------------------------------------------------------------------------
# JSON requests


class _Number:
    """A JSON number (never a serial; kept only to say so)."""

    __slots__ = ()


_NUMBER = _Number()


class _Object(dict):
    """A JSON object that remembers its first duplicated key."""

    duplicate: str | None = None


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    for key, value in pairs:
        if key in obj and obj.duplicate is None:
            obj.duplicate = key
        obj[key] = value
    return obj


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _pointer(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _shape(message: str, *where: Any) -> WireError:
    return WireError(message, 422, _pointer(*where) if where else "body")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, _Number):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_keys(obj: _Object, allowed: tuple[str, ...], *where: Any) -> None:
    if obj.duplicate is not None:
        raise _shape(f"field {obj.duplicate!r} appears more than once", *where, obj.duplicate)
    for key in obj:
        if key not in allowed:
            raise _shape(f"unknown field {key[:64]!r} (expected {', '.join(allowed)})", *where, key)


def _line_column(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _loads(body: bytes) -> Any:
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]  # a UTF-8 byte order mark (RFC 8259 lets parsers ignore it)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"body is not valid UTF-8 (byte offset {exc.start})", 400, "body") from None
    try:
        return json.loads(
            text, object_pairs_hook=_pairs, parse_int=lambda s: _NUMBER, parse_float=lambda s: _NUMBER, parse_constant=_bad_constant
        )
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        raise WireError(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (byte offset {offset})", 400, "body") from None
    except ValueError as exc:  # NaN / Infinity
        raise WireError(f"invalid JSON: {exc}", 400, "body") from None
    except RecursionError:
        raise WireError("invalid JSON: nested too deeply", 400, "body") from None


def _now_field(obj: _Object) -> int | None:
    value = obj.get("now")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _shape(f"expected an ISO 8601 date/time string, not {_kind(value)}", "now")
    try:
        return to_epoch(value)
    except (ValueError, OverflowError, OSError):
        raise _shape("not an ISO 8601 date/time (e.g. 2026-11-26T09:00:00Z)", "now") from None


def _provenance_field(obj: _Object) -> bool:
    value = obj.get("provenance")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _shape(f"expected true or false, not {_kind(value)}", "provenance")
    return value


def _too_many(n: int, max_items: int, where: str) -> WireError:
    return WireError(f"more than {max_items:,} items in one request", 413, where)


def decode_status_json(body: bytes, *, max_items: int = DEFAULT_MAX_ITEMS) -> StatusRequest:
    """Decodes a JSON batch request body (see the module docstring for its shapes).

    Raises :class:`WireError` for a body that cannot be read as a whole; items whose serial is
    not valid become ``malformed`` rows.

    >>> decode_status_json(b'{"items": [{"issuer": "auth_ca_2023", "serial": "0x05"}]}').n
    1
    >>> decode_status_json(b'{"issuer": "a", "serials": []}')
    Traceback (most recent call last):
    ...
    jpki_fast.wire.WireError: empty batch: no serials
    """
    doc = _loads(bytes(body))
    if not isinstance(doc, _Object):
        raise _shape(f"expected a JSON object, not {_kind(doc)}")
    _check_keys(doc, ("issuer", "serials", "items", "now", "provenance"))
    now = _now_field(doc)
    provenance = _provenance_field(doc)
    cols = _Columns()
    if "items" in doc:
        if "serials" in doc:
            raise _shape("give either issuer and serials, or items, not both", "serials")
        if "issuer" in doc:
            raise _shape("not allowed with items (each item names its issuer)", "issuer")
        items = doc["items"]
        if not isinstance(items, list):
            raise _shape(f"expected an array of items, not {_kind(items)}", "items")
        if not items:
            raise _shape("empty batch: no items", "items")
        if len(items) > max_items:
            raise _too_many(len(items), max_items, "/items")
        names: dict[str, int] = {}
        codes = np.empty(len(items), np.uint32)
        for i, item in enumerate(items):
            if not isinstance(item, _Object):
                raise _shape(f"expected an object with issuer and serial, not {_kind(item)}", "items", i)
            _check_keys(item, ("issuer", "serial"), "items", i)
            if "issuer" not in item:
                raise _shape("required", "items", i, "issuer")
            if "serial" not in item:
                raise _shape("required", "items", i, "serial")
            issuer = item["issuer"]
            if not isinstance(issuer, str):
                raise _shape(f"expected a string, not {_kind(issuer)}", "items", i, "issuer")
            codes[i] = names.setdefault(issuer, len(names))
            cols.add(item["serial"])
        issuer_names = tuple(names)
        issuer_codes: np.ndarray | None = codes if len(names) > 1 else None
    else:
        if "serials" not in doc:
            raise _shape("required: serials (with issuer), or items", "serials")
        if "issuer" not in doc:
            raise _shape("required with serials", "issuer")
        issuer = doc["issuer"]
        if not isinstance(issuer, str):
            raise _shape(f"expected a string, not {_kind(issuer)}", "issuer")
        serials = doc["serials"]
        if not isinstance(serials, list):
            raise _shape(f"expected an array of hex strings, not {_kind(serials)}", "serials")
        if not serials:
            raise _shape("empty batch: no serials", "serials")
        if len(serials) > max_items:
            raise _too_many(len(serials), max_items, "/serials")
        for value in serials:
            cols.add(value)
        issuer_names, issuer_codes = (issuer,), None
    return StatusRequest(
        len(cols.values), now, provenance, issuer_names, issuer_codes, cols.batch(), **cols.malformed()
    )


# --------------------------------------------------------------------------------------------
# Arrow requests


def _metadata(schema: pa.Schema) -> dict[str, str]:
    meta = schema.metadata or {}
    out = {}
    for key, value in meta.items():
        try:
            out[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("schema metadata is not valid UTF-8", 422, "schema metadata") from None
    return out


def _arrow_serials(array: pa.Array) -> _Columns:
    cols = _Columns()
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.dictionary_decode()
        t = array.type
    if pa.types.is_integer(t):
        for v in array.to_pylist():
            if v is None:
                cols.bad(NULL)
            elif v < 0:
                cols.bad(NEGATIVE)
            else:
                cols.add(f"{v:x}", echo=False)
        return cols
    if pa.types.is_string(t) or pa.types.is_large_string(t) or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t)):
        for v in array.to_pylist():
            cols.add(v)
        return cols
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        for v in array.to_pylist():
            if v is None:
                cols.bad(NULL)
            elif not v:
                cols.bad(EMPTY)
            else:
                cols.add(v.hex(), echo=False)
        return cols
    raise WireError(f"unsupported serial column type {t} (use hex strings, big-endian binary or unsigned integers)", 422, "/serial")


def decode_status_arrow(body: bytes, *, max_items: int = DEFAULT_MAX_ITEMS) -> StatusRequest:
    """Decodes an Arrow IPC stream request body: columns ``serial`` (hex strings, binary or
    integers) and ``issuer`` (strings), or ``serial`` alone with ``issuer`` in the schema
    metadata; optional metadata ``now`` (ISO 8601) and ``provenance`` (``true``/``false``).

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
        batches = []
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            if rows > max_items:
                raise _too_many(rows, max_items, "body")
            batches.append(batch)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, pa.ArrowException, OSError) as exc:
        raise WireError(f"not a readable Arrow IPC stream: {exc}", 400, "body") from None
    table = pa.Table.from_batches(batches, schema)
    meta = _metadata(schema)
    if "serial" not in schema.names:
        raise WireError(f"no 'serial' column (columns: {', '.join(schema.names) or 'none'})", 422, "/serial")
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
    if "issuer" in schema.names:
        issuers = table.column("issuer").combine_chunks()
        t = issuers.type
        value_type = t.value_type if pa.types.is_dictionary(t) else t
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            raise WireError(f"unsupported issuer column type {t} (use strings)", 422, "/issuer")
        if issuers.null_count:
            row = issuers.is_null().index(True).as_py()
            raise WireError("missing (null) issuer", 422, f"/issuer/{row}")
        names: dict[str, int] = {}
        codes = np.array([names.setdefault(v, len(names)) for v in issuers.to_pylist()], np.uint32)
        issuer_names = tuple(names)
        issuer_codes = codes if len(names) > 1 else None
    elif meta.get("issuer"):
        issuer_names, issuer_codes = (meta["issuer"],), None
    else:
        raise WireError("no 'issuer' column, and no issuer in the schema metadata", 422, "/issuer")
    cols = _arrow_serials(table.column("serial").combine_chunks())
    return StatusRequest(n, now, provenance, issuer_names, issuer_codes, cols.batch(), **cols.malformed())


# --------------------------------------------------------------------------------------------
# Checking


_STATUS_DICT = pa.array(WIRE_STATUSES)


def _details(request: StatusRequest) -> list[str]:
    return [_DETAILS[c].format(a) for c, a in zip(request.malformed_codes.tolist(), request.malformed_args.tolist())]


def check_status(store: "Store", request: StatusRequest, *, now: Any = None) -> StatusResult:
    """Checks every item of ``request`` against ``store``.

    Freshness is judged at ``now`` if given (the caller's clock), else at the request's own
    ``now``, else at the current time. Items of an issuer the trust store lacks are
    ``unknown``; malformed items stay ``malformed``.
    """
    n = request.n
    when = to_epoch(now if now is not None else request.now)
    index = np.array(
        [_UNKNOWN_ISSUER if (i := store.issuer_index(name)) is None else i for name in request.issuer_names], np.uint16
    )
    if request.issuer_codes is None:
        rows: Any = int(index[0]) if len(index) else _UNKNOWN_ISSUER
    else:
        rows = index[request.issuer_codes]
    bad = request.malformed_rows
    if len(bad):
        rows = np.full(n, rows, np.uint16) if isinstance(rows, int) else rows.copy()
        rows[bad] = _UNKNOWN_ISSUER
    checked = store.check_normalized(request.serials, rows, when, request.provenance)
    status = checked.column("status").combine_chunks().indices.to_numpy(zero_copy_only=False).astype(np.int8)
    status[bad] = _MALFORMED
    # Serials: canonical hex, or the text as sent for malformed items.
    serial = to_hex(request.serials).to_pylist()
    text = request.malformed_text.to_pylist()
    for k, row in enumerate(bad.tolist()):
        serial[row] = text[k]
    detail: list[str | None] = [None] * n
    for row, d in zip(bad.tolist(), _details(request)):
        detail[row] = d
    issuer_col = request.issuer
    issuer_list = issuer_col.to_pylist()
    for row in np.flatnonzero(status == _UNKNOWN).tolist():
        name = issuer_list[row]
        shown = name if len(name) <= 64 else name[:61] + "..."
        detail[row] = f"issuer {shown!r} is not in the trust store"
    columns = {
        "serial": pa.array(serial, pa.large_string()),
        "issuer": issuer_col,
        "status": pa.DictionaryArray.from_arrays(pa.array(status), _STATUS_DICT),
        "reason": checked.column("reason").combine_chunks(),
        "revocation_date": checked.column("revocation_date").combine_chunks(),
        "detail": pa.array(detail, pa.string()),
    }
    if request.provenance:
        for name in ("partition", "crl_number", "this_update", "next_update"):
            columns[name] = checked.column(name).combine_chunks()
    counts = {s: int(c) for s, c in zip(WIRE_STATUSES, np.bincount(status, minlength=len(WIRE_STATUSES)).tolist())}
    checked_at = iso(when) or ""
    metadata = {"generation": str(store.generation), "checked_at": checked_at}
    table = pa.RecordBatch.from_pydict(columns).replace_schema_metadata(metadata)
    return StatusResult(table, counts, store.generation, checked_at, request)


# --------------------------------------------------------------------------------------------
# Responses


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def encode_status_json(result: StatusResult) -> bytes:
    """The JSON response body: ``{"generation", "checked_at", "results": [...]}`` (see the
    module docstring); ``detail`` appears on the items that have one."""
    results = []
    for row in result.table.to_pylist():
        item = {}
        for key, value in row.items():
            if key == "detail" and value is None:
                continue
            item[key] = _json_value(value)
        results.append(item)
    doc = {"generation": result.generation, "checked_at": result.checked_at, "results": results}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_status_arrow(result: StatusResult) -> bytes:
    """The Arrow IPC stream response body: :attr:`StatusResult.table`, with ``generation``
    and ``checked_at`` in its schema metadata."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.table.schema) as writer:
        writer.write_batch(result.table)
    return sink.getvalue().to_pybytes()

