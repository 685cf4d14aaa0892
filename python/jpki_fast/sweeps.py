"""Customer sweeps (現況確認): the revocation status of every row of a customer file.

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

>>> summary = sweep("customers.parquet", "store", "status.parquet", issuer="auth_ca_2023")  # doctest: +SKIP
>>> summary.counts                                                                          # doctest: +SKIP
{'good': 99012345, 'revoked': 987000, 'stale': 0, 'unknown': 0, 'malformed': 655}

:func:`check_batch` (also :meth:`Store.check_batch`) is the same check for one record batch,
for any Arrow engine (DuckDB, Polars, Spark's ``mapInArrow``, see :mod:`jpki_fast.spark`).
"""

from __future__ import annotations

import collections
import os
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import meanings
from .errors import JpkiFastError, SerialFormatError
from .meanings import KIND_CODE, KINDS, NO_KIND, NO_REASON, REASONS, STATUSES
from .serials import SerialBatch, normalize, to_hex
from .tableio import BATCH_ROWS, TableOutputError, open_input, open_output
from .timeutil import NowLike, iso, to_epoch

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

__all__ = ["SweepError", "SweepSummary", "BatchChecker", "check_batch", "sweep", "RESULT_COLUMNS"]

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

    def add(self, offset: int, status: np.ndarray, reason: np.ndarray, kind: np.ndarray, dates: pa.Array, detail_of: Callable[[int], str]) -> None:
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
        self._keep = [
            name for name in names if keep_certificate or name != certificate_column
        ]
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
        mapping = np.array(
            [self._issuer_row(v) if v not in (None, "") else fallback for v in values] + [fallback], dtype=np.uint16
        )
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
        columns: dict[str, Any] = {"status": status, "reason": reason, "dates": dates, "kind": kind, "detail": _dictionary(detail_index, texts)}
        if self.follow_links:
            hexes = to_hex(serials)
            issuer_arg = pa.DictionaryArray.from_arrays(
                pa.array(np.minimum(rows, len(self.aliases)).astype(np.int32)) if isinstance(rows, np.ndarray)
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
        missing = pc.or_kleene(certs.is_null(), pc.equal(pc.binary_length(certs), 0)).fill_null(True).to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
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
            latest = self.store.latest_serial(pc.fill_null(serial, "00"), pc.fill_null(issuer.cast(pa.string()), "\x00 unknown issuer")) if n else serial
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
            pa.field(name, array.type, nullable=name not in _REQUIRED or name in self._keep)
            for name, array in zip(out_names, arrays)
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

    >>> import duckdb                                                            # doctest: +SKIP
    >>> batch = duckdb.sql("select id, serial from 'customers.parquet' limit 5").arrow().to_batches()[0]  # doctest: +SKIP
    >>> store.check_batch(batch, issuer="auth_ca_2023").column("status")         # doctest: +SKIP
    >>> import polars as pl                                                      # doctest: +SKIP
    >>> pl.from_arrow(store.check_batch(pl.read_parquet("c.parquet").to_arrow(), issuer="auth_ca_2023"))  # doctest: +SKIP
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


# --------------------------------------------------------------------------------------------
# The sweep


@dataclass
class SweepSummary:
    """What a sweep did: the input, the snapshot and ``now`` it used, and what it found.

    ``counts``: rows by status; ``revoked_by_reason``: revoked rows by reason (``none`` for
    entries without a reason code); ``revoked_by_reason_kind``: the same split by certificate
    kind; ``revocations_by_month``: ``{"YYYY-MM": {reason: rows}}``; ``stale_rows`` and
    ``stale_partitions`` (each partition whose CRL is not fresh at ``now``, with the rows it
    affected where the rows name their partition: certificate sweeps); ``malformed_samples``:
    the first rows that could not be read, by input row number (0-based) with why.
    """

    input: str
    files: int
    output: str
    mode: str
    rows: int
    store: str
    generation: int
    snapshot_created_at: str | None
    now: str
    counts: dict[str, int]
    revoked_by_reason: dict[str, int]
    revoked_by_reason_kind: list[dict[str, Any]]
    revocations_by_month: dict[str, dict[str, int]]
    stale_rows: int
    stale_by_issuer: dict[str, dict[str, Any]]
    stale_partitions: list[dict[str, Any]]
    unknown_issuers: dict[str, int]
    malformed_rows: int
    malformed_by_detail: dict[str, int]
    malformed_samples: list[dict[str, Any]]
    skipped_lines: int
    skipped_line_numbers: list[dict[str, Any]]
    links_followed: int | None
    seconds: float
    rows_per_second: float
    columns: list[str]
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        from .report import rate

        lines = [
            f"Swept {self.rows:,} rows of {self.input} ({self.files:,} file{'s' if self.files != 1 else ''}, by {self.mode}) "
            f"in {self.seconds:.1f} s ({rate(self.rows_per_second)}) -> {self.output}",
            f"  snapshot: {self.store} generation {self.generation} (created {self.snapshot_created_at}); now {self.now}",
        ]
        for status, count in self.counts.items():
            if not count and status not in ("good", "revoked"):
                continue
            line = f"  {status:<14}{count:>15,}"
            if status == "revoked" and self.revoked_by_reason:
                line += "   " + ", ".join(f"{r} {c:,}" for r, c in self.revoked_by_reason.items())
            if status == "stale" and self.stale_partitions:
                line += f"   ({len(self.stale_partitions):,} partition CRLs not fresh)"
            if status == "unknown" and self.unknown_issuers:
                line += "   issuers: " + ", ".join(f"{k!r} {v:,}" for k, v in list(self.unknown_issuers.items())[:5])
            lines.append(line)
        for sample in self.malformed_samples[:3]:
            lines.append(f"    row {sample['row']:,}: {sample['detail']}")
        if self.skipped_lines:
            lines.append(f"  {self.skipped_lines:,} CSV lines skipped (wrong number of fields), e.g. "
                         + ", ".join(f"{s['file']} line {s['line'] or '?'}" for s in self.skipped_line_numbers[:3]))
        if self.links_followed is not None:
            lines.append(f"  serial links followed: {self.links_followed:,} rows have a newer serial (latest_serial)")
        if self.report:
            lines.append(f"  report: {self.report}")
        return "\n".join(lines)


def _month_text(index: int) -> str:
    return str(np.datetime64(int(index), "M"))


def _stale_partitions(store: "Store", now: int, affected: collections.Counter, by_issuer: collections.Counter | None) -> list[dict[str, Any]]:
    """Every partition CRL not fresh at ``now``, with the rows it affected: counted per partition
    when rows name their partition (certificates; matched by the partition's name, which names
    its CA, as a newer key of the CA may hold the CRL), else every stale row of its issuer."""
    by_name: collections.Counter = collections.Counter()
    for (_, name), rows in affected.items():
        by_name[name] += rows
    p = store.partitions()
    this_u = p.column("this_update").cast(pa.int64()).to_numpy(zero_copy_only=False)
    next_u = p.column("next_update").cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
    stale = ~((this_u <= now) & (now < next_u))
    out = []
    issuers = p.column("issuer").to_pylist()
    names = p.column("name").to_pylist()
    kinds = p.column("kind").to_pylist()
    nexts = p.column("next_update").to_pylist()
    listed = set()
    for i in np.flatnonzero(stale).tolist():
        listed.add(names[i])
        out.append(
            {
                "issuer": issuers[i],
                "partition": names[i],
                "kind": kinds[i],
                "next_update": None if nexts[i] is None else nexts[i].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "rows": int(by_name.get(names[i], 0)) if by_issuer is None else int(by_issuer.get(issuers[i], 0)),
            }
        )
    # Certificates whose partition the store holds no CRL for at all (stale unless revoked).
    for (issuer, name), rows in sorted(affected.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        if name not in listed:
            out.append({"issuer": issuer, "partition": name, "kind": "missing", "next_update": None, "rows": int(rows)})
    return out


def _summary(checker: BatchChecker, source, out: Path, seconds: float) -> SweepSummary:
    st = checker.stats
    store = checker.store
    reason_names = list(REASONS) + ["none"]
    by_reason = {}
    for r in np.argsort(-st.revoked.sum(axis=1), kind="stable").tolist():
        count = int(st.revoked[r].sum())
        if count:
            by_reason[reason_names[r] or "none"] = count
    by_kind = [
        {
            "reason": reason_names[r] or "none",
            "kind": KINDS[k] if k < NO_KIND else None,
            "rows": int(st.revoked[r, k]),
            "meaning_ja": meanings.meaning("revoked", reason_names[r] if r < NO_REASON else None, KINDS[k] if k < NO_KIND else None)[0],
            "meaning_en": meanings.meaning("revoked", reason_names[r] if r < NO_REASON else None, KINDS[k] if k < NO_KIND else None)[1],
            "action": meanings.action("revoked", reason_names[r] if r < NO_REASON else None, KINDS[k] if k < NO_KIND else None),
        }
        for r in range(NO_REASON + 1)
        for k in range(NO_KIND + 1)
        if st.revoked[r, k]
    ]
    by_kind.sort(key=lambda d: -d["rows"])
    months: dict[str, dict[str, int]] = {}
    for (month, r), count in sorted(st.months.items()):
        months.setdefault(_month_text(month), {})[reason_names[r] or "none"] = count
    partitions = _stale_partitions(store, checker.now, st.stale_partition, st.stale_issuer if checker.mode == "serial" else None)
    counts = {s: int(c) for s, c in zip(STATUSES, st.status.tolist())}
    if checker.mode == "serial":
        counts = {s: c for s, c in counts.items() if s in ("good", "revoked", "stale", "unknown", "malformed")}
    return SweepSummary(
        input=str(source.path),
        files=len(source.files),
        output=str(out),
        mode=checker.mode,
        rows=st.rows,
        store=str(store.root),
        generation=store.generation,
        snapshot_created_at=store.manifest.get("created_at"),
        now=iso(checker.now) or "",
        counts=counts,
        revoked_by_reason=by_reason,
        revoked_by_reason_kind=by_kind,
        revocations_by_month=months,
        stale_rows=counts.get("stale", 0),
        stale_by_issuer={k: {"rows": v, "why": st.stale_why.get(k)} for k, v in st.stale_issuer.most_common()},
        stale_partitions=partitions,
        unknown_issuers=dict(st.unknown_issuers.most_common()),
        malformed_rows=counts.get("malformed", 0),
        malformed_by_detail=dict(st.malformed.most_common(20)),
        malformed_samples=[{"row": r, "detail": d} for r, d in st.malformed_rows],
        skipped_lines=source.skipped_count,
        skipped_line_numbers=[{"file": f, "line": n} for f, n in source.skipped_lines],
        links_followed=st.links_followed if checker.follow_links else None,
        seconds=round(seconds, 3),
        rows_per_second=round(st.rows / seconds, 1) if seconds > 0 else 0.0,
        columns=checker.schema.names,
    )


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def _put(q: "queue.Queue", item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _read_ahead(batches: Iterable[pa.RecordBatch], depth: int, busy: dict[str, float]) -> Iterator[pa.RecordBatch]:
    """Yields ``batches``, produced by a thread ``depth`` batches ahead (Parquet and CSV decoding
    release the GIL, so reading overlaps checking)."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def run() -> None:
        try:
            iterator = iter(batches)
            while True:
                started = time.perf_counter()
                batch = next(iterator, _DONE)
                busy["read"] += time.perf_counter() - started
                if batch is _DONE:
                    break
                if not _put(q, batch, stop):
                    return
            _put(q, _DONE, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            _put(q, _Failure(exc), stop)

    thread = threading.Thread(target=run, name="jpki-fast-sweep-read", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


class _WriteBehind:
    """Writes batches in a thread, ``depth`` behind the checker (Parquet encoding releases the GIL)."""

    def __init__(self, writer, depth: int, busy: dict[str, float]) -> None:
        self.writer = writer
        self.busy = busy
        self.q: queue.Queue = queue.Queue(depth)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="jpki-fast-sweep-write", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self.q.get()
                if item is _DONE:
                    return
                started = time.perf_counter()
                self.writer.write(item)
                self.busy["write"] += time.perf_counter() - started
        except BaseException as exc:  # noqa: BLE001 - raised again in the sweeping thread
            self.error = exc
            self.stop.set()

    def submit(self, batch: pa.RecordBatch) -> None:
        if self.error is not None or not _put(self.q, batch, self.stop):
            raise self.error or RuntimeError("sweep writer stopped")

    def finish(self) -> None:
        _put(self.q, _DONE, self.stop)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        self.stop.set()
        try:
            while True:
                self.q.get_nowait()
        except queue.Empty:
            pass
        self.q.put(_DONE)
        self.thread.join(timeout=30)


#: progress(rows done, rows in all or None, bytes done, bytes in all)
Progress = Callable[[int, "int | None", int, int], None]


def sweep(
    input: str | Path,
    store: "Store | str | Path",
    out: str | Path,
    *,
    issuer: str | None = None,
    serial_column: str | None = None,
    issuer_column: str | None = "issuer",
    certificate_column: str | None = None,
    follow_links: bool = False,
    now: NowLike = None,
    purpose: str | None = None,
    allow_test_hierarchy: bool = False,
    keep_certificate: bool = False,
    report: str | Path | None = None,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> SweepSummary:
    """Checks every row of ``input`` (a Parquet or CSV file, or a directory of them) against one
    snapshot of ``store`` at one ``now``, and writes ``out`` (.parquet, .csv or .jsonl).

    The output holds the input's columns, unchanged and in order (in a certificate sweep the
    certificate column is replaced by the certificate's ``serial`` and ``issuer`` unless
    ``keep_certificate``), then ``status``, ``reason``, ``revocation_date``, ``meaning_ja``,
    ``meaning_en``, ``action``, ``detail`` and, with ``follow_links``, ``latest_serial``. It is
    written to a temporary file renamed to ``out`` only when complete: an interrupted or failed
    sweep leaves no file at ``out`` (and an earlier one there untouched).

    ``issuer``: the issuer of rows without one (or of every row, without an issuer column).
    ``serial_column`` / ``certificate_column``: which column identifies the certificate
    (default: ``serial`` if present, else ``certificate``). ``purpose`` and
    ``allow_test_hierarchy`` apply to certificate sweeps (see :meth:`Store.check_certificates`).
    ``report``: also write the self-contained HTML report there. ``progress`` is called after
    each batch.

    Raises :class:`~jpki_fast.tableio.TableInputError` (missing, unreadable or unknown input)
    or :class:`SweepError` (missing column) before anything is written; bad rows never raise.

    >>> s = sweep("customers.parquet", "store", "status.parquet", issuer="auth_ca_2023")  # doctest: +SKIP
    >>> s.counts["revoked"], s.generation, s.now                                         # doctest: +SKIP
    (987000, 42, '2026-11-26T00:00:00Z')
    """
    from .store import Store, open_store

    started = time.perf_counter()
    snapshot = store if isinstance(store, Store) else open_store(store)
    source = open_input(input)
    checker = BatchChecker(
        snapshot,
        source.schema,
        serial_column=serial_column,
        issuer_column=issuer_column,
        certificate_column=certificate_column,
        issuer=issuer,
        now=now,
        follow_links=follow_links,
        purpose=purpose,
        allow_test_hierarchy=allow_test_hierarchy,
        keep_certificate=keep_certificate,
        source=str(source.path),
    )
    out_path = Path(out)
    if report is not None and not Path(report).parent.is_dir():
        raise TableOutputError(f"{report}: directory {Path(report).parent} does not exist")
    dictionary_columns = [f.name for f in checker.schema if pa.types.is_dictionary(f.type)]
    writer = open_output(out_path, parquet_options={"use_dictionary": dictionary_columns, "write_statistics": dictionary_columns + ["revocation_date"]})
    writer.expect(checker.schema)
    busy = {"read": 0.0, "check": 0.0, "write": 0.0}
    behind = _WriteBehind(writer, depth=2, busy=busy)
    try:
        done = 0
        for batch in _read_ahead(source.batches(batch_rows), depth=2, busy=busy):
            checked = time.perf_counter()
            result = checker(batch, row_offset=done)
            busy["check"] += time.perf_counter() - checked
            behind.submit(result)
            done += batch.num_rows
            if progress is not None:
                progress(done, source.rows, source.bytes_done, source.bytes)
        behind.finish()
        writer.commit()
    except BaseException:
        behind.cancel()
        writer.abort()
        raise
    summary = _summary(checker, source, out_path, time.perf_counter() - started)
    if os.environ.get("JPKI_FAST_TRACE"):
        print(
            f"sweep: {summary.seconds:.2f} s wall; busy: read {busy['read']:.2f} s, check {busy['check']:.2f} s, "
            f"write {busy['write']:.2f} s (threads overlap)",
            file=sys.stderr,
        )
    if report is not None:
        from .report import write_report

        write_report(summary, report)
        summary.report = str(report)
    return summary
