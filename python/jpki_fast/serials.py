"""Serial numbers in, serial numbers out (docs/DESIGN.md §3.1, serial identity).

A serial is the integer value of a certificate's serialNumber, whose DER encoding (minimal
two's complement) takes at most 20 octets: from -2^159 to 2^159-1. Negative serials exist
(RFC 5280 §4.1.2.2 asks verifiers to handle them) and are distinct serials: the INTEGER ``FF``
is -1, ``00FF`` is 255. A serial may be given as an ``int``, a hex string of its magnitude (any
case, an optional ``-`` sign, optional ``0x``, optional ``:`` separators, leading zeros allowed)
or big-endian ``bytes`` (a non-negative magnitude); in bulk as a numpy/pyarrow integer array, a
pyarrow string array of hex or a pyarrow binary array (in integer arrays and columns a negative
value is refused: it is more likely an unsigned serial stored as int64). Bulk inputs are normalised in Rust; only
Python lists are walked in Python, and then only when they mix types or hold integers that do
not fit uint64.

It is printed as uppercase hex of its magnitude with an even number of digits, ``-`` first for a
negative one: ``054CFCD8``, ``FF`` (255), ``-01`` (-1).

>>> batch = normalize(["054cfcd8", 0x54CFCD8, b"\\x05\\x4c\\xfc\\xd8"])
>>> batch.short.tolist()
[88931544, 88931544, 88931544]
>>> to_hex(batch).to_pylist()
['054CFCD8', '054CFCD8', '054CFCD8']
>>> to_hex(normalize([-1, "-0x01", 255, "FF"])).to_pylist()
['-01', '-01', 'FF', 'FF']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from . import _core
from .errors import SerialFormatError

MAX_OCTETS = 20
_LONG_KEY = 20


@dataclass(frozen=True)
class SerialBatch:
    """Normalised serials: ``short[i]`` is the value of row i when it is in 0..2^64; rows
    listed in ``long_rows`` (longer or negative serials) instead have their key in
    ``long_keys``: the value's 160-bit two's complement, big-endian (docs/DESIGN.md §3.1)."""

    short: np.ndarray  # uint64, one per row
    long_rows: np.ndarray  # uint32
    long_keys: np.ndarray  # uint8, shape (len(long_rows), 20)

    def __len__(self) -> int:
        return len(self.short)


def _empty_long() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.uint32), np.empty((0, _LONG_KEY), dtype=np.uint8)


def _item_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 48 else text[:45] + "..."


def _from_ints(values: np.ndarray) -> SerialBatch:
    if values.dtype == np.uint64:
        short = np.ascontiguousarray(values)
    else:
        if values.dtype.kind not in "iu":
            raise SerialFormatError(f"serials: unsupported dtype {values.dtype}")
        if values.dtype.kind == "i" and len(values) and values.min() < 0:
            # In an integer column a negative value is more likely an unsigned serial stored as
            # int64 than a negative serial: refused, never guessed (negative serials: "-01").
            row = int(np.argmax(values < 0))
            raise SerialFormatError(
                f"serial #{row} ({int(values[row])}): negative value in an integer column; serial numbers "
                "there are non-negative (give a negative serial as a Python int or as hex with '-')"
            )
        short = np.ascontiguousarray(values, dtype=np.uint64)
    return SerialBatch(short, *_empty_long())


def from_integers(array: pa.Array) -> SerialBatch:
    """Serials given as DER INTEGER content octets (a pyarrow binary array), exactly: a
    certificate's serialNumber as encoded, negative values included. Raises
    :class:`SerialFormatError` naming the first invalid item.

    >>> to_hex(from_integers(pa.array([b"\\xff", b"\\x00\\xff", b"\\x05\\x4c\\xfc\\xd8"]))).to_pylist()
    ['-01', 'FF', '054CFCD8']
    """
    return _from_varlen("integer", array)


def _from_varlen(kind: str, array: pa.Array) -> SerialBatch:
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    validity, offsets, data = array.buffers()[:3]
    short, long_rows, long_keys, error = _core.normalize_serials(
        kind,
        offsets,
        data if data is not None else b"",
        len(array),
        array.offset,
        large,
        validity if array.null_count else None,
    )
    if error is not None:
        row, message = error
        raise SerialFormatError(f"serial #{row} ({_item_repr(array[row].as_py())}): {message}")
    return SerialBatch(
        np.frombuffer(short, dtype=np.uint64),
        np.frombuffer(long_rows, dtype=np.uint32),
        np.frombuffer(long_keys, dtype=np.uint8).reshape(-1, _LONG_KEY),
    )


def _from_arrow(array: pa.Array | pa.ChunkedArray) -> SerialBatch:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.dictionary_decode()
        t = array.type
    if pa.types.is_integer(t):
        if array.null_count:
            row = array.is_null().index(True).as_py()
            raise SerialFormatError(f"serial #{row}: missing (null) serial")
        return _from_ints(array.to_numpy(zero_copy_only=False))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _from_varlen("hex", array)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return _from_varlen("binary", array)
    if pa.types.is_fixed_size_binary(t):
        return _from_varlen("binary", array.cast(pa.binary()))
    if pa.types.is_string_view(t) if hasattr(pa.types, "is_string_view") else False:
        return _from_varlen("hex", array.cast(pa.large_string()))
    raise SerialFormatError(f"serials: unsupported Arrow type {t} (use uint64, hex strings or binary)")


def _one_to_hex(row: int, value: Any) -> str:
    """Per-item normalisation for mixed Python lists: returns canonical hex or raises."""
    if isinstance(value, bool):
        raise SerialFormatError(f"serial #{row} ({value!r}): expected int, hex str or bytes")
    if isinstance(value, int):
        octets = (value if value >= 0 else ~value).bit_length() // 8 + 1  # as a DER INTEGER (with a sign bit)
        if octets > MAX_OCTETS:
            raise SerialFormatError(
                f"serial #{row} ({_item_repr(value)}): {octets} octets (as a DER INTEGER) exceeds the 20-octet limit of RFC 5280"
            )
        magnitude = abs(value)
        return ("-" if value < 0 else "") + magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big").hex()
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if not raw:
            raise SerialFormatError(f"serial #{row} (b''): empty serial")
        return raw.hex() if raw.lstrip(b"\0") else "00"
    if isinstance(value, str):
        return value
    raise SerialFormatError(f"serial #{row} ({_item_repr(value)}): expected int, hex str or bytes, not {type(value).__name__}")


def normalize(serials: Any) -> SerialBatch:
    """Normalises any accepted serial input to a :class:`SerialBatch`.

    Raises :class:`SerialFormatError` naming the first invalid item.
    """
    if isinstance(serials, (str, bytes, int)) and not isinstance(serials, bool):
        serials = [serials]
    if isinstance(serials, (pa.Array, pa.ChunkedArray)):
        return _from_arrow(serials)
    if isinstance(serials, np.ndarray):
        if serials.ndim != 1:
            raise SerialFormatError("serials: expected a one-dimensional array")
        if serials.dtype.kind in "iu":
            return _from_ints(serials)
        if serials.dtype.kind in "US":
            return _from_arrow(pa.array(serials))
        serials = serials.tolist()
    if hasattr(serials, "__arrow_c_array__") or hasattr(serials, "__arrow_c_stream__"):
        return _from_arrow(pa.array(serials) if hasattr(serials, "__arrow_c_array__") else pa.chunked_array(serials))
    values = list(serials)
    if not values:
        return SerialBatch(np.empty(0, dtype=np.uint64), *_empty_long())
    kinds = {type(v) for v in values}
    if kinds == {int}:
        try:
            return _from_ints(np.array(values, dtype=np.uint64))
        except OverflowError:
            pass  # negative or wider than 64 bits: handled item by item below
    elif kinds == {str}:
        return _from_arrow(pa.array(values, type=pa.string()))
    elif kinds <= {bytes, bytearray}:
        for row, value in enumerate(values):
            if not value:
                raise SerialFormatError(f"serial #{row} (b''): empty serial")
        return _from_arrow(pa.array([bytes(v) for v in values], type=pa.binary()))
    return _from_arrow(pa.array([_one_to_hex(i, v) for i, v in enumerate(values)], type=pa.string()))


def to_hex(batch: SerialBatch) -> pa.Array:
    """Canonical uppercase hex strings (``054CFCD8``) of a batch, as a pyarrow large_string array."""
    offsets, data = _core.serials_to_hex(
        batch.short,
        batch.long_rows if len(batch.long_rows) else None,
        np.ascontiguousarray(batch.long_keys) if len(batch.long_rows) else None,
    )
    return pa.Array.from_buffers(pa.large_string(), len(batch), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def canonical(serial: int | str | bytes) -> str:
    """The canonical text form of one serial.

    >>> canonical("0x54:cf:cd:d8")
    '54CFCDD8'
    """
    return to_hex(normalize([serial]))[0].as_py()
