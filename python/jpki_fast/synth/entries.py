"""Revoked entries drawn in bulk with numpy: serials in one of three layouts, revocation dates
over five years, each CA's reason mix, a few invalidity dates.

Serial layouts (:data:`SERIAL_LAYOUTS`), for trying lookups on what a CA may allocate:

- ``sequential``: roughly in sequence, as JPKI allocates them (a third of the range revoked);
- ``clustered``: dense runs of that kind at random places across the whole serial space;
- ``random``: uniform over the serial space, as RFC 5280 / CA/Browser Forum rules produce.

>>> rng = np.random.default_rng(0)
>>> [bool(draw_offsets(layout, 5, 1 << 40, rng)[0].max() < 15) for layout in SERIAL_LAYOUTS]   # within 3 x 5?
[True, False, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .domain import NO_REASON, REASON_CODES, CaKind


_INVALIDITY_SHARE_OF_KEY_COMPROMISE = 0.1


#: Revocation dates spread over this long before the CRLs are issued.
_REVOCATION_SPAN_S = 5 * 365 * 86_400


#: Allocated serial range per revoked serial ("about 3x": two of three certificates are good).
ALLOCATION_FACTOR = 3

SERIAL_LAYOUTS = ("sequential", "clustered", "random")
#: Revoked serials per run of the clustered layout (the runs are as dense as the sequential one).
_CLUSTER = 4096


def draw_offsets(layout: str, n: int, capacity: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """``n`` distinct serial offsets below ``capacity`` in random order (uint64), and each one's
    place in issuing order, ``order / scale`` in [0, 1) (older serials were revoked earlier)."""
    if layout not in SERIAL_LAYOUTS:
        raise ValueError(f"serials must be one of {', '.join(SERIAL_LAYOUTS)}, not {layout!r}")
    if n == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), 1
    allocated = min(ALLOCATION_FACTOR * n, capacity)
    if layout == "sequential" or allocated == capacity:
        # A random subset of the allocated range, in random order: consecutive rows go to one
        # partition, so each serial lands in a random partition and each CRL is shuffled.
        offsets = rng.choice(allocated, size=n, replace=False)
        return offsets.astype(np.uint64), offsets, allocated
    if layout == "clustered":
        clusters = max(1, n // _CLUSTER)
        span = -(-allocated // clusters)
        slots = _distinct(clusters, capacity // span, rng)
        position = rng.choice(clusters * span, size=n, replace=False)
        offsets = slots[position // span] * np.uint64(span) + (position % span).astype(np.uint64)
        return offsets, position, clusters * span
    offsets = _distinct(n, capacity, rng)
    return offsets, offsets, capacity


def _distinct(n: int, below: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct uniform uint64 values below ``below`` (up to 2**64), in random order."""
    if below < 1 << 62:
        return rng.choice(below, size=n, replace=False).astype(np.uint64)
    values = np.unique(rng.integers(0, below, size=n, dtype=np.uint64, endpoint=False))
    while len(values) < n:  # collisions are rare this sparse: draw the few missing again
        more = rng.integers(0, below, size=n - len(values), dtype=np.uint64, endpoint=False)
        values = np.unique(np.concatenate([values, more]))
    return rng.permutation(values)


def serial_base(kind: CaKind, serial_bytes: int) -> tuple[int, int]:
    """(first serial, how many serials fit from there in `serial_bytes` octets).

    Every serial keeps `serial_bytes` significant octets (the top octet is never zero), so the
    canonical hex of all serials has the same width.
    """
    base = kind.serial_top << (8 * (serial_bytes - 1))
    # A DER INTEGER of 20 octets holds values below 2^159 (RFC 5280's limit counts its octets);
    # past 8 octets the offset lives in the low eight (serials_be), so at most 2^64 of them.
    return base, min(min(1 << (8 * serial_bytes), 1 << 159) - base, 1 << 64)


def serials_be(offsets: np.ndarray, base: int, serial_bytes: int) -> np.ndarray:
    """Big-endian serial octets, shape (n, serial_bytes), for base + offsets."""
    n = len(offsets)
    if serial_bytes <= 8:
        values = np.uint64(base) + offsets.astype(np.uint64)
        return values.astype(">u8").view(np.uint8).reshape(n, 8)[:, 8 - serial_bytes :]
    # Longer serials: the base's top octet, zeros, then the offset in the low eight octets.
    out = np.zeros((n, serial_bytes), dtype=np.uint8)
    out[:, 0] = base >> (8 * (serial_bytes - 1))
    out[:, serial_bytes - 8 :] = offsets.astype(">u8").view(np.uint8).reshape(n, 8)
    return out


#: The two hex digits of each octet value, as a little-endian uint16 (so in memory order).
_HEX_PAIRS = np.array([int.from_bytes(f"{i:02X}".encode(), "little") for i in range(256)], dtype="<u2")


def hex_column(serial_octets: np.ndarray) -> pa.Array:
    """Uppercase hex of fixed-width big-endian serials, built without a Python loop."""
    n, width = serial_octets.shape
    chars = _HEX_PAIRS[serial_octets].view(np.uint8)
    large = n * 2 * width >= 2**31
    offsets = np.arange(0, (n + 1) * 2 * width, 2 * width, dtype=np.int64 if large else np.int32)
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    )


@dataclass
class Columns:
    """Entries of all partitions, grouped by partition in CRL order."""

    serial_octets: np.ndarray  # uint8 (n, B): big-endian serials, for the CRLs and the hex
    revocation: np.ndarray  # int64 seconds
    reason: np.ndarray  # uint8, NO_REASON for none
    invalidity: np.ndarray  # int64 seconds, valid where invalidity_mask
    invalidity_mask: np.ndarray  # uint8


def draw_kind(
    kind: CaKind,
    n: int,
    serial_bytes: int,
    revocation_end: int,
    rng: np.random.Generator,
    cols: Columns,
    rows: slice,
    layout: str = "sequential",
) -> None:
    """Fills `rows` of `cols` with the `n` entries of one CA, in random serial order, serials laid
    out as ``layout`` says; the caller cuts the rows into partitions."""
    base, capacity = serial_base(kind, serial_bytes)
    if n > capacity:
        raise ValueError(
            f"{n:,} {kind.name} entries do not fit in {serial_bytes}-octet serials from "
            f"0x{base:X} (at most {capacity:,}); use more --serial-bytes or fewer --entries"
        )
    offsets, order, scale = draw_offsets(layout, n, capacity, rng)
    cols.serial_octets[rows] = serials_be(offsets, base, serial_bytes)

    # Serials were issued in order over the span; each was revoked some time after its issue.
    start = revocation_end - _REVOCATION_SPAN_S
    issued = start + (order * (_REVOCATION_SPAN_S / scale)).astype(np.int64)
    revocation = issued + (rng.random(n) * (revocation_end - issued)).astype(np.int64)
    cols.revocation[rows] = revocation

    names, probabilities = zip(*kind.reasons)
    codes = np.array([NO_REASON if r is None else REASON_CODES[r] for r in names], dtype=np.uint8)
    reason = codes[np.searchsorted(np.cumsum(probabilities), rng.random(n), side="right").clip(0, len(codes) - 1)]
    cols.reason[rows] = reason

    # invalidityDate: on some keyCompromise entries, up to 30 days before the revocation.
    key_compromise = reason == REASON_CODES["keyCompromise"]
    chosen = np.flatnonzero(key_compromise & (rng.random(n) < _INVALIDITY_SHARE_OF_KEY_COMPROMISE))
    lead = (rng.random(len(chosen)) * np.minimum(30 * 86_400, revocation[chosen] - issued[chosen])).astype(np.int64)
    invalidity = np.zeros(n, dtype=np.int64)
    invalidity[chosen] = revocation[chosen] - lead
    mask = np.zeros(n, dtype=np.uint8)
    mask[chosen] = 1
    cols.invalidity[rows] = invalidity
    cols.invalidity_mask[rows] = mask
