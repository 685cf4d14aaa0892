"""Customer sweeps (現況確認), batch by batch: the revocation status of every row of a record batch.

A verifier re-checks its whole customer base periodically to find the customers whose
certificates were revoked, and why: ``affiliationChanged`` on a signing certificate means death,
emigration or new basic 4 facts to collect; ``superseded`` a renewed card. :func:`sweep` reads a
Parquet or CSV file (or a directory of them) as a stream of record batches, checks each batch
against one snapshot at one ``now``, and writes the input columns, unchanged and in order, plus
``status``, ``reason``, ``revocation_date``, ``meaning_ja``, ``meaning_en``, ``action`` and
``detail`` (and ``latest_serial`` with ``follow_links``), to a Parquet, CSV or JSON lines file
that appears only when complete. Memory stays bounded (a few batches in flight) whatever the
size of the input.

Rows are identified either by a ``serial`` column (hex strings, or integers in Parquet) with an
``issuer`` column or a default issuer, or by a ``certificate`` column (DER as binary, or PEM or
base64 text), which is checked with path validation (:meth:`Store.check_certificates`). A bad
row never aborts a sweep: it gets status ``malformed`` with a ``detail``.

:func:`jpki_fast.sweep` (:mod:`jpki_fast.sweep_run`) runs a whole file through this module's
:class:`BatchChecker`; :func:`check_batch` (also :meth:`Store.check_batch`) checks one record
batch, for any Arrow engine (DuckDB, Polars, Spark's ``mapInArrow``, see :mod:`jpki_fast.spark`).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import meanings
from .errors import JpkiFastError, SerialFormatError
from .meanings import KIND_CODE, NO_KIND, NO_REASON, REASONS, STATUSES
from .serials import SerialBatch, normalize, to_hex
from .timeutil import NowLike, iso, to_epoch

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

__all__ = ["SweepError", "BatchChecker", "check_batch", "certificate_column", "hex_fixed_width", "normalize_rows", "RESULT_COLUMNS"]

#: The columns a check adds after the input's (``latest_serial`` follows with follow_links).
RESULT_COLUMNS = ("status", "reason", "revocation_date", "meaning_ja", "meaning_en", "action", "detail")

_UNKNOWN_ISSUER = 0xFFFF
_STATUS_DICT = pa.array(STATUSES, pa.string())
_REASON_DICT = pa.array(REASONS, pa.string())
_S = meanings.STATUS_CODE
_UTC_SECONDS = pa.timestamp("s", tz="UTC")
_HEX_PATTERN = r"^\s*(0[xX])?[0-9A-Fa-f:]*[0-9A-Fa-f][0-9A-Fa-f:]*\s*$"
_MALFORMED_SAMPLES = 20
_REQUIRED = frozenset({"status", "meaning_ja", "meaning_en", "action"})


class SweepError(JpkiFastError, ValueError):
    """A sweep cannot run: a column is missing or of the wrong type, the issuer is not given.
    The message names the column and the input."""


# --------------------------------------------------------------------------------------------
# Serials with bad rows marked instead of raised


def _as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def _rust_message(exc: SerialFormatError) -> tuple[int, str]:
    """(row, message) of a serial error ``serial #ROW (VALUE): MESSAGE``, without the value."""
    text = str(exc)
    head, _, message = text.rpartition("): ")
    row = int(head.split("#", 1)[1].split(" ", 1)[0]) if "#" in head else 0
    return row, message or text


def _offsets(array: pa.Array) -> np.ndarray:
    """The n + 1 offsets of a string or binary array (a view of its buffer)."""
    dtype = np.int64 if (pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)) else np.int32
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=array.offset + len(array) + 1)[array.offset :]


_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
    _HEX_VALUE[ord(chr(_c).upper())] = _i
# Two ASCII digits read as one little-endian uint16 -> their octet (0xFFFF: not two hex digits).
_pair = np.arange(65536)
_first, _second = _HEX_VALUE[_pair & 0xFF].astype(np.uint16), _HEX_VALUE[_pair >> 8].astype(np.uint16)
_HEX_PAIR = np.where((_first < 16) & (_second < 16), (_first << 4) | _second, 0xFFFF).astype(np.uint16)
del _pair, _first, _second


def hex_fixed_width(array: pa.Array) -> SerialBatch | None:
    """Hex serials of one width (1 to 16 digits, no prefix, separators or nulls: canonical
    exports such as ``054CFCD8``) parsed with numpy in a few passes over the column; None when
    the column is not like that (the Rust parser then takes it, row by row)."""
    n = len(array)
    if n == 0 or array.null_count:
        return None
    offsets = _offsets(array)
    start, end = int(offsets[0]), int(offsets[-1])
    width, rest = divmod(end - start, n)
    if rest or not 1 <= width <= 16 or not np.array_equal(offsets, start + width * np.arange(n + 1, dtype=offsets.dtype)):
        return None
    raw = np.frombuffer(array.buffers()[2], dtype=np.uint8, count=end - start, offset=start)
    if width % 2 == 0:  # two digits at a time: one lookup per octet
        pairs = _HEX_PAIR[raw.view("<u2")]
        if pairs.max() > 255:
            return None
        octets = pairs.astype(np.uint8).reshape(n, width // 2)
    else:
        digits = _HEX_VALUE[raw].reshape(n, width)
        if digits.max() > 15:
            return None
        digits = np.concatenate([np.zeros((n, 1), np.uint8), digits], axis=1)
        octets = (digits[:, 0::2] << 4) | digits[:, 1::2]
    if octets.shape[1] == 4:
        value = octets.view(">u4").ravel().astype(np.uint64)
    else:
        padded = np.zeros((n, 8), np.uint8)
        padded[:, 8 - octets.shape[1] :] = octets
        value = padded.view(">u8").ravel().astype(np.uint64)
    return SerialBatch(value, np.empty(0, np.uint32), np.empty((0, 20), np.uint8))


def normalize_rows(column: pa.Array | pa.ChunkedArray, what: str = "serial") -> tuple[SerialBatch, np.ndarray | None, dict[int, str]]:
    """Normalises a serial column, tolerating bad rows.

    Returns the batch (bad rows hold serial 0), a boolean mask of bad rows (None when every row
    is good) and, per bad row, why. Canonical fixed-width hex is parsed with numpy
    (:func:`hex_fixed_width`), other clean columns in one pass of the Rust parser; a column with
    bad rows is screened with Arrow compute first.
    """
    array = _as_array(column)
    t = array.type
    n = len(array)
    details: dict[int, str] = {}
    bad = np.zeros(n, dtype=bool)

    def mark(mask: np.ndarray, message: str) -> None:
        for row in np.flatnonzero(mask & ~bad).tolist():
            details[row] = message
        bad[mask] = True

    if pa.types.is_integer(t):
        if array.null_count:
            mark(array.is_null().to_numpy(zero_copy_only=False), f"missing {what}")
        values = array.fill_null(0).to_numpy(zero_copy_only=False) if array.null_count else array.to_numpy(zero_copy_only=False)
        if values.dtype.kind == "i":
            negative = values < 0
            if negative.any():
                mark(negative, f"negative {what} (serial numbers are non-negative)")
                values = np.where(negative, 0, values)
        result = normalize(np.ascontiguousarray(values, dtype=np.uint64))
        return result, (bad if bad.any() else None), details
    text = pa.types.is_string(t) or pa.types.is_large_string(t)
    if not (text or pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)):
        raise SweepError(f"{what} column has type {t}; use hex strings, integers or big-endian binary")
    if pa.types.is_fixed_size_binary(t):
        array = array.cast(pa.binary())
    if text:
        fast = hex_fixed_width(array)
        if fast is not None:
            return fast, None, details
    lengths = np.diff(_offsets(array))
    empty = lengths == 0
    if array.null_count:
        empty |= array.is_null().to_numpy(zero_copy_only=False)
    filler = pa.scalar("0" if text else b"\x00", array.type)
    if empty.any():
        mark(empty, f"missing {what}")
        array = pc.if_else(pa.array(empty), filler, array)
    try:
        return normalize(array), (bad if bad.any() else None), details
    except SerialFormatError:
        pass
    if text:  # screen the whole batch once, then fall back to row by row for what remains
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0).to_numpy(zero_copy_only=False)
        mark(blank, f"missing {what}")
        invalid = pc.invert(pc.match_substring_regex(array, _HEX_PATTERN))
        mark(invalid.to_numpy(zero_copy_only=False), f"not a hexadecimal {what} (digits 0-9, A-F; optional 0x and ':')")
        digits = pc.utf8_ltrim(pc.replace_substring(pc.replace_substring_regex(pc.utf8_trim_whitespace(array), "^0[xX]", ""), ":", ""), "0")
        too_long = pc.greater(pc.utf8_length(digits), 40).to_numpy(zero_copy_only=False)
        mark(too_long & ~bad, f"{what} longer than 20 octets (RFC 5280's limit)")
        array = pc.if_else(pa.array(bad), filler, array)
    while True:
        try:
            return normalize(array), bad, details
        except SerialFormatError as exc:
            row, message = _rust_message(exc)
            one = np.zeros(n, dtype=bool)
            one[row] = True
            mark(one, f"{what}: {message}")
            array = pc.if_else(pa.array(one), filler, array)


# --------------------------------------------------------------------------------------------
# Certificates as DER, PEM or base64


_PEM_HEAD = pa.scalar("-----BEGIN CERTIFICATE-----\n", pa.large_string())
_PEM_TAIL = pa.scalar("\n-----END CERTIFICATE-----\n", pa.large_string())


def certificate_column(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A certificate column as binary for :meth:`Store.check_certificates`: DER binary as it is;
    text rows holding PEM as they are; other text rows (bare base64 of the DER) wrapped in PEM
    armour, so the Rust decoder reads both (Arrow compute, no per-row Python)."""
    array = _as_array(column)
    t = array.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return array
    if pa.types.is_fixed_size_binary(t):
        return array.cast(pa.binary())
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise SweepError(f"certificate column has type {t}; use binary (DER) or text (PEM or base64)")
    text = array.cast(pa.large_string())
    is_pem = pc.starts_with(pc.utf8_ltrim_whitespace(text), "-----BEGIN")
    wrapped = pc.binary_join_element_wise(_PEM_HEAD, pc.utf8_trim_whitespace(text), _PEM_TAIL, pa.scalar("", pa.large_string()))
    return pc.if_else(is_pem, text, wrapped).cast(pa.large_binary())


# --------------------------------------------------------------------------------------------
# Statistics of a sweep


@dataclass
class _Stats:
    rows: int = 0
    status: np.ndarray = field(default_factory=lambda: np.zeros(len(STATUSES), np.int64))
    revoked: np.ndarray = field(default_factory=lambda: np.zeros((NO_REASON + 1, NO_KIND + 1), np.int64))
    months: collections.Counter = field(default_factory=collections.Counter)  # (month index, reason code) -> rows
    stale_issuer: collections.Counter = field(default_factory=collections.Counter)  # issuer alias -> rows
    stale_why: dict = field(default_factory=dict)  # issuer alias -> why its rows are stale
    stale_partition: collections.Counter = field(default_factory=collections.Counter)  # (issuer, partition) -> rows
    unknown_issuers: collections.Counter = field(default_factory=collections.Counter)
    malformed: collections.Counter = field(default_factory=collections.Counter)  # detail -> rows
    malformed_rows: list = field(default_factory=list)  # (input row number, detail), the first few
    links_followed: int = 0

    def add(
        self, offset: int, status: np.ndarray, reason: np.ndarray, kind: np.ndarray, dates: pa.Array, detail_of: Callable[[int], str]
    ) -> None:
        self.rows += len(status)
        counts = np.bincount(status, minlength=len(STATUSES))
        self.status += counts
        if counts[_S["revoked"]]:
            revoked = status == _S["revoked"]
            r, k = reason[revoked].astype(np.int64), kind[revoked].astype(np.int64)
            self.revoked += np.bincount(r * (NO_KIND + 1) + k, minlength=self.revoked.size).reshape(self.revoked.shape)
            when = dates.filter(pa.array(revoked)).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
            months = when.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
            first = int(months.min())
            by_month = np.bincount((months - first) * (NO_REASON + 1) + r)
            for key in np.flatnonzero(by_month).tolist():
                month, code = divmod(key, NO_REASON + 1)
                self.months[(first + month, code)] += int(by_month[key])
        if counts[_S["malformed"]]:
            for row in np.flatnonzero(status == _S["malformed"]).tolist():
                text = detail_of(row)
                self.malformed[text] += 1
                if len(self.malformed_rows) < _MALFORMED_SAMPLES:
                    self.malformed_rows.append((offset + row, text))


# --------------------------------------------------------------------------------------------
# Checking one batch


class BatchChecker:
    """Checks record batches of one schema against one snapshot at one ``now``, and keeps the
    statistics of every batch it checked (for a sweep's summary).

    Built once per sweep (the column roles, the issuer table and ``now`` are settled here), then
    called per batch: ``checker(batch) -> RecordBatch``.
    """

    def __init__(
        self,
        store: "Store",
        schema: pa.Schema,
        *,
        serial_column: str | None = None,
        issuer_column: str | None = "issuer",
        certificate_column: str | None = None,
        issuer: str | None = None,
        now: NowLike = None,
        follow_links: bool = False,
        purpose: str | None = None,
        allow_test_hierarchy: bool = False,
        keep_certificate: bool = False,
        source: str = "input",
    ) -> None:
        self.store = store
        self.now = to_epoch(now)
        self.follow_links = follow_links
        self.purpose = purpose
        self.allow_test_hierarchy = allow_test_hierarchy
        names = schema.names
        if serial_column == "serial" and "serial" not in names and certificate_column is None:
            serial_column = None  # the default name: look for a certificate column instead
        if serial_column is not None and certificate_column is not None:
            raise SweepError("give a serial column or a certificate column, not both")
        if serial_column is None and certificate_column is None:
            if "serial" in names:
                serial_column = "serial"
            elif "certificate" in names:
                certificate_column = "certificate"
            else:
                raise SweepError(f"{source}: no 'serial' or 'certificate' column (columns: {', '.join(names) or 'none'})")
        for role, name in (("serial", serial_column), ("certificate", certificate_column)):
            if name is not None and name not in names:
                raise SweepError(f"{source}: no {name!r} column for the {role} (columns: {', '.join(names) or 'none'})")
        self.mode = "certificate" if certificate_column is not None else "serial"
        self.serial_column = serial_column
        self.certificate_column = certificate_column
        self.issuer_column = issuer_column if issuer_column in names and self.mode == "serial" else None
        if self.mode == "serial" and self.issuer_column is None and issuer is None:
            raise SweepError(
                f"{source}: no {issuer_column or 'issuer'!r} column: give the issuer of every row (--issuer ALIAS; known: "
                + ", ".join(i.alias for i in store.issuers())
                + ")"
            )
        self.default_issuer = issuer
        aliases = store.issuer_table.column("alias").to_pylist()
        self.aliases = aliases
        self._alias_dict = pa.array(aliases + ["\x00 unknown issuer"], pa.string())
        kinds = store.issuer_table.column("kind").to_pylist()
        self._kind_of = np.full(_UNKNOWN_ISSUER + 1, NO_KIND, np.int8)
        for i, k in enumerate(kinds):
            self._kind_of[i] = KIND_CODE.get(k, NO_KIND)
        self._issuer_rows_of: dict[str, int] = {}
        parts = store.partitions()
        self._has_crls = set()
        if parts.num_rows:
            for index, kind in zip(parts.column("issuer_index").to_pylist(), parts.column("kind").to_pylist()):
                if kind == "crl":
                    self._has_crls.add(index)
        self.default_row = None if issuer is None else self._issuer_row(issuer)
        self._keep = [name for name in names if keep_certificate or name != certificate_column]
        added = []
        if self.mode == "certificate":
            added = [self._free_name("serial", names), self._free_name("issuer", names)]
        self._added_names = added
        self.stats = _Stats()
        self._recording = False
        #: The output's schema (what an empty batch gives).
        self.schema = self(pa.RecordBatch.from_pylist([], schema=schema), record=False).schema

    @staticmethod
    def _free_name(name: str, names: list[str]) -> str:
        return name if name not in names else f"certificate_{name}"

    def _issuer_row(self, name: str) -> int:
        row = self._issuer_rows_of.get(name)
        if row is None:
            index = self.store.issuer_index(name)
            row = _UNKNOWN_ISSUER if index is None else index
            self._issuer_rows_of[name] = row
        return row

    # ---- serials ----

    def _issuers(self, batch: pa.RecordBatch, n: int) -> tuple[int | np.ndarray, np.ndarray | None, np.ndarray | None, list]:
        """(issuer rows, rows without an issuer, per-row index into names, names) of a batch."""
        if self.issuer_column is None:
            return self.default_row, None, None, []
        column = batch.column(self.issuer_column)
        if not pa.types.is_dictionary(column.type):
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                column = column.cast(pa.string())
            column = pc.dictionary_encode(column)
        values = column.dictionary.to_pylist()
        indices = column.indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
        fallback = _UNKNOWN_ISSUER if self.default_row is None else self.default_row
        mapping = np.array([self._issuer_row(v) if v not in (None, "") else fallback for v in values] + [fallback], dtype=np.uint16)
        missing = None
        if self.default_row is None:
            blank = np.array([v in (None, "") for v in values] + [True])
            missing = blank[indices]
            if not missing.any():
                missing = None
        return mapping[indices], missing, indices, values

    def _check_serials(self, batch: pa.RecordBatch) -> dict[str, Any]:
        n = batch.num_rows
        serials, bad, details = normalize_rows(batch.column(self.serial_column))
        rows, no_issuer, name_index, names = self._issuers(batch, n)
        if no_issuer is not None:
            bad = no_issuer if bad is None else (bad | no_issuer)
            for row in np.flatnonzero(no_issuer).tolist():
                details.setdefault(row, "missing issuer (no value in the issuer column, and no default issuer given)")
        result = self.store.check_normalized(serials, rows, self.now)
        status = _recode(result.column("status"), meanings.STATUS_CODE)
        reason = _recode(result.column("reason"), meanings.REASON_CODE, NO_REASON)
        dates = _as_array(result.column("revocation_date"))
        kind = self._kind_of[rows] if isinstance(rows, np.ndarray) else np.full(n, self._kind_of[rows], np.int8)
        detail_index = np.full(n, -1, np.int32)
        texts: list[str] = []
        # Stale: a bare serial does not name its partition, so every partition of the issuer counts.
        for code in ("stale", "unknown"):
            where = status == _S[code]
            if not where.any():
                continue
            issuer_rows = rows[where] if isinstance(rows, np.ndarray) else np.full(int(where.sum()), rows)
            if code == "unknown" and name_index is not None:
                keys, inverse = np.unique(name_index[where], return_inverse=True)
                labels = [names[k] if k < len(names) else self.default_issuer for k in keys.tolist()]
            else:
                keys, inverse = np.unique(issuer_rows, return_inverse=True)
                labels = [self.aliases[k] if k < len(self.aliases) else self.default_issuer for k in keys.tolist()]
            base = len(texts)
            for key, label, count in zip(keys.tolist(), labels, np.bincount(inverse, minlength=len(labels)).tolist()):
                if code == "stale":
                    texts.append(
                        f"not every partition CRL of {label} is fresh at {iso(self.now)} (missing or past its nextUpdate)"
                        if key in self._has_crls
                        else f"the store holds no CRL of {label}"
                    )
                    if self._recording:
                        self.stats.stale_why[label] = texts[-1]
                else:
                    texts.append(f"issuer {label!r} is not in the store's trust store")
                if self._recording:
                    (self.stats.stale_issuer if code == "stale" else self.stats.unknown_issuers)[label] += count
            detail_index[where] = base + inverse
        hexes = None
        if bad is not None:
            status = np.where(bad, _S["malformed"], status)
            reason = np.where(bad, NO_REASON, reason)
            dates = pc.if_else(pa.array(bad), pa.scalar(None, dates.type), dates)
            base = len(texts)
            bad_rows = sorted(details)
            texts.extend(details[r] for r in bad_rows)
            detail_index[np.array(bad_rows, np.int64)] = base + np.arange(len(bad_rows), dtype=np.int32)
        columns: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "dates": dates,
            "kind": kind,
            "detail": _dictionary(detail_index, texts),
        }
        if self.follow_links:
            hexes = to_hex(serials)
            issuer_arg = pa.DictionaryArray.from_arrays(
                pa.array(np.minimum(rows, len(self.aliases)).astype(np.int32))
                if isinstance(rows, np.ndarray)
                else pa.array(np.full(n, min(rows, len(self.aliases)), np.int32)),
                self._alias_dict,
            )
            latest = self.store.latest_serial(hexes, issuer_arg) if n else hexes
            columns["latest_serial"] = _null_where(latest, bad)
            self.stats.links_followed += int(pc.sum(pc.not_equal(latest, hexes)).as_py() or 0) if n and self._recording else 0
        return columns

    # ---- certificates ----

    def _check_certificates(self, batch: pa.RecordBatch) -> dict[str, Any]:
        n = batch.num_rows
        certs = certificate_column(batch.column(self.certificate_column))
        missing = (
            pc.or_kleene(certs.is_null(), pc.equal(pc.binary_length(certs), 0)).fill_null(True).to_numpy(zero_copy_only=False)
            if n
            else np.zeros(0, bool)
        )
        table = self.store.check_certificates(
            pc.if_else(pa.array(missing), pa.scalar(b"\x00", certs.type), certs) if missing.any() else certs,
            now=self.now,
            purpose=self.purpose,
            allow_test_hierarchy=self.allow_test_hierarchy,
        )
        status = _recode(table.column("status"), meanings.STATUS_CODE)
        reason = _recode(table.column("reason"), meanings.REASON_CODE, NO_REASON)
        kind = _recode(table.column("kind"), KIND_CODE, NO_KIND)
        detail = _as_array(table.column("detail"))
        if missing.any():
            status = np.where(missing, _S["malformed"], status)
            detail = pc.if_else(pa.array(missing), pa.scalar("missing certificate", detail.type), detail)
        serial = _as_array(table.column("serial"))
        issuer = _as_array(table.column("issuer"))
        stale = status == _S["stale"]
        if stale.any() and self._recording:
            parts = _as_array(table.column("partition")).filter(pa.array(stale)).to_pylist()
            for who, part in zip(issuer.filter(pa.array(stale)).to_pylist(), parts):
                self.stats.stale_partition[(who, part)] += 1
        columns: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "dates": _as_array(table.column("revocation_date")),
            "kind": kind,
            "detail": detail,
            "added": [serial, issuer.cast(pa.string())],
        }
        if self.follow_links:
            ok = pc.is_valid(serial)
            latest = (
                self.store.latest_serial(pc.fill_null(serial, "00"), pc.fill_null(issuer.cast(pa.string()), "\x00 unknown issuer"))
                if n
                else serial
            )
            columns["latest_serial"] = pc.if_else(ok, latest, pa.scalar(None, latest.type)) if n else latest
            if n and self._recording:
                self.stats.links_followed += int(pc.sum(pc.and_(ok, pc.not_equal(latest, pc.fill_null(serial, "00")))).as_py() or 0)
        return columns

    # ---- the batch out ----

    def __call__(self, batch: pa.RecordBatch | pa.Table, row_offset: int = 0, record: bool = True) -> pa.RecordBatch:
        """The batch's kept columns followed by the check's (see :func:`check_batch`)."""
        if isinstance(batch, pa.Table):
            batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], schema=batch.schema)
        self._recording = record
        cols = self._check_serials(batch) if self.mode == "serial" else self._check_certificates(batch)
        status, reason, kind = cols["status"], cols["reason"], cols["kind"]
        explained = meanings.explain_codes(status, reason, kind)
        arrays = [batch.column(name) for name in self._keep]
        out_names = list(self._keep)
        for name, array in zip(self._added_names, cols.get("added", [])):
            arrays.append(array)
            out_names.append(name)
        no_reason = reason == NO_REASON
        arrays += [
            pa.DictionaryArray.from_arrays(pa.array(status.astype(np.int8)), _STATUS_DICT),
            pa.DictionaryArray.from_arrays(pa.array(np.where(no_reason, 0, reason).astype(np.int8), mask=no_reason), _REASON_DICT),
            cols["dates"].cast(_UTC_SECONDS),
            explained["meaning_ja"],
            explained["meaning_en"],
            explained["action"],
            cols["detail"],
        ]
        out_names += list(RESULT_COLUMNS)
        if self.follow_links:
            arrays.append(cols["latest_serial"].cast(pa.large_string()))
            out_names.append("latest_serial")
        if record:
            detail = cols["detail"]
            self.stats.add(row_offset, status, reason, kind, cols["dates"], lambda row: detail[row].as_py() or "malformed")
        # Never null: declared so, which also spares Parquet their definition levels.
        fields = [
            pa.field(name, array.type, nullable=name not in _REQUIRED or name in self._keep) for name, array in zip(out_names, arrays)
        ]
        for i, name in enumerate(self._keep):
            fields[i] = batch.schema.field(name)
        out = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
        meta = dict(batch.schema.metadata or {})
        meta.update({b"jpki_fast.generation": str(self.store.generation).encode(), b"jpki_fast.now": (iso(self.now) or "").encode()})
        return out.replace_schema_metadata(meta)


def _recode(column: pa.Array | pa.ChunkedArray, codes: dict[str, int], missing: int = -1) -> np.ndarray:
    """A dictionary column's values as this module's codes (nulls -> ``missing``), int16."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    values = column.dictionary.to_pylist()
    mapping = np.array([codes.get(v, missing) for v in values] + [missing], np.int16)
    indices = column.indices
    if indices.null_count:
        indices = indices.fill_null(len(values))
    indices = indices.to_numpy(zero_copy_only=False)
    if np.array_equal(mapping[:-1], np.arange(len(values))) and not column.null_count:
        return indices.astype(np.int16)
    return mapping[indices]


def _dictionary(indices: np.ndarray, texts: list[str]) -> pa.DictionaryArray:
    if not texts:
        return pa.DictionaryArray.from_arrays(pa.nulls(len(indices), pa.int32()), pa.array([""], pa.string()))
    none = indices < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(none, 0, indices).astype(np.int32), mask=none if none.any() else None),
        pa.array(texts, pa.string()),
    )


def _null_where(array: pa.Array, mask: np.ndarray | None) -> pa.Array:
    if mask is None:
        return array
    return pc.if_else(pa.array(mask), pa.scalar(None, array.type), array)


def check_batch(
    store: "Store",
    batch: pa.RecordBatch | pa.Table,
    serial_col: str | None = "serial",
    issuer_col: str | None = "issuer",
    *,
    issuer: str | None = None,
    certificate_col: str | None = None,
    now: NowLike = None,
    follow_links: bool = False,
    purpose: str | None = None,
    allow_test_hierarchy: bool = False,
    keep_certificate: bool = False,
) -> pa.RecordBatch:
    """The revocation status of every row of a record batch, for any Arrow engine.

    The batch's columns come back unchanged and in order (the certificate column is dropped
    unless ``keep_certificate``), followed by ``status``, ``reason``, ``revocation_date``,
    ``meaning_ja``, ``meaning_en``, ``action`` and ``detail`` (and ``latest_serial`` with
    ``follow_links``); checking certificates also adds their ``serial`` and ``issuer`` before
    those. ``issuer`` is the default for rows without an issuer column value. A bad row gets
    status ``malformed`` and a ``detail``; it never raises.

    >>> batch = pa.record_batch({"id": [1, 2], "serial": ["054CFCD8", "1234"]})
    >>> out = check_batch(store, batch, issuer="auth_ca_2023", now=NOW)
    >>> out.column_names
    ['id', 'serial', 'status', 'reason', 'revocation_date', 'meaning_ja', 'meaning_en', 'action', 'detail']
    >>> out.column("status").to_pylist(), out.column("meaning_en").to_pylist()[0]
    (['revoked', 'good'], 'certificate renewed (a new serial exists)')

    Any Arrow producer works the same way, e.g.::

        store.check_batch(duckdb.sql("select * from 'customers.parquet'").arrow(), issuer="auth_ca_2023")
        pl.from_arrow(store.check_batch(polars_df.to_arrow(), issuer="auth_ca_2023"))
    """
    if certificate_col is not None:
        serial_col = None
    checker = BatchChecker(
        store,
        batch.schema,
        serial_column=serial_col,
        issuer_column=issuer_col,
        certificate_column=certificate_col,
        issuer=issuer,
        now=now,
        follow_links=follow_links,
        purpose=purpose,
        allow_test_hierarchy=allow_test_hierarchy,
        keep_certificate=keep_certificate,
        source="batch",
    )
    return checker(batch, record=False)
