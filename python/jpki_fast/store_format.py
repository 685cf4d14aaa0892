"""The store's on-disk format: layout, file names, Arrow schemas, the packed payload.

What a generation holds, and in which shape (docs/DESIGN.md §4). This module only describes and
decodes the format; :mod:`jpki_fast.publish` writes generations, :mod:`jpki_fast.generation`
opens one, :mod:`jpki_fast.store` answers questions from it. Layout::

    STORE/
      CURRENT                 the published generation number (replaced atomically)
      LOCK                    held (flock) by the one writer at a time
      generations/00000007/   one complete, immutable generation (SNAPSHOT_FILES + manifest.json)
      staging/                generations being written (never read by readers)

>>> generation_name(7)
'00000007'
>>> times, partitions, reasons = unpack_payload(pa.array([bytes([1, 0, 0, 0, 2, 0, 4])], PAYLOAD))
>>> int(times[0]), int(partitions[0]), REASONS[reasons[0]]
(1, 2, 'superseded')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from . import _core
from .errors import StoreCorruptedError
from .serials import SerialBatch, to_hex

#: The manifest's ``format`` and ``format_version`` (docs/DESIGN.md §4.2).
FORMAT = "jpki-fast-store"
FORMAT_VERSION = 1

#: RFC 5280 reason names by code, as the payload's reason octet holds them (255: no reasonCode).
REASONS = tuple(_core.REASON_NAMES)
NO_REASON = 0xFF

UTC_SECONDS = pa.timestamp("s", tz="UTC")


def null_array(n: int, arrow_type: pa.DataType) -> pa.Array:
    """``n`` nulls of a fixed-width ``arrow_type`` at almost no cost: its buffers are fresh
    zeroed memory that nothing writes (``pa.nulls`` fills an ``n``-value data buffer: 80 MB and
    tens of milliseconds for 10M timestamps, on every call that returns such a column).

    >>> null_array(3, UTC_SECONDS).to_pylist()
    [None, None, None]
    """
    width = arrow_type.bit_width // 8
    validity = pa.py_buffer(np.zeros((n + 7) // 8, np.uint8))
    return pa.Array.from_buffers(arrow_type, n, [validity, pa.py_buffer(np.zeros(n * width, np.uint8))], null_count=n)

#: An entry's packed facts (docs/DESIGN.md §4.5): revocation time u32 (seconds since 1970),
#: partition u16 (a row of partitions.arrow), reason u8 (255: none), little-endian.
PAYLOAD = pa.binary(7)
ENTRY_SCHEMA = pa.schema([("serial", pa.uint64()), ("payload", PAYLOAD)])
LONG_ENTRY_SCHEMA = pa.schema([("serial", pa.binary(20)), ("payload", PAYLOAD)])
DIRECTORY_SCHEMA = pa.schema([("directory", pa.uint32())])
BITMAP_SCHEMA = pa.schema([("word", pa.uint64())])
INVALIDITY_SCHEMA = pa.schema([("row", pa.uint32()), ("invalidity_date", pa.int64())])
ISSUER_SCHEMA = pa.schema(
    [
        ("alias", pa.string()),
        ("key_id", pa.string()),
        ("subject", pa.string()),
        ("kind", pa.string()),
        ("test_hierarchy", pa.bool_()),
        ("crl_sign", pa.bool_()),
        ("not_before", UTC_SECONDS),
        ("not_after", UTC_SECONDS),
        ("serial", pa.string()),  # the CA certificate's serial (canonical hex)
        ("authority_key_id", pa.string()),  # its issuer's key identifier (hex); null if absent
        ("certificate", pa.binary()),
    ]
)
PARTITION_SCHEMA = pa.schema(
    [
        ("issuer", pa.string()),  # alias
        ("issuer_index", pa.uint16()),
        ("name", pa.string()),  # the issuing distribution point's name; "" for a full CRL
        ("kind", pa.string()),  # "crl" (end-entity certificates) or "arl" (CA certificates)
        ("only_user_certs", pa.bool_()),  # the CRL's IDP restricts it to end-entity certificates
        ("crl_number", pa.string()),  # decimal, exact (up to 20 octets)
        ("this_update", UTC_SECONDS),
        ("next_update", UTC_SECONDS),
        ("entries", pa.int64()),
        ("duplicates", pa.int64()),
        ("source", pa.string()),
        ("content_sha256", pa.string()),
        ("signature_algorithm", pa.string()),
        ("size", pa.int64()),
        ("accepted_generation", pa.int64()),
    ]
)

#: Serial links (新旧シリアル番号紐付け): old serial -> new serial per issuer key, with the end of
#: each chain of renewals resolved (docs/DESIGN.md §4.9; imported by :mod:`jpki_fast.links`).
LINKS_FILE = "links.arrow"
LINKS_SCHEMA = pa.schema(
    [
        ("issuer", pa.string()),  # the issuer's key identifier (hex)
        ("old_serial", pa.large_string()),
        ("new_serial", pa.large_string()),
        ("latest_serial", pa.large_string()),
    ]
)

#: The revocation index: one record batch per issuer key (in issuers.arrow order) in each file.
INDEX_SCHEMAS = {
    "entries.arrow": ENTRY_SCHEMA,
    "directory.arrow": DIRECTORY_SCHEMA,
    "bitmap.arrow": BITMAP_SCHEMA,
    "long_entries.arrow": LONG_ENTRY_SCHEMA,
    "invalidity.arrow": INVALIDITY_SCHEMA,
}
INDEX_FILES = tuple(INDEX_SCHEMAS)

#: Every file of a generation besides manifest.json, each listed in the manifest with its size
#: and digest (docs/DESIGN.md §4.1).
SNAPSHOT_FILES = ("issuers.arrow", "partitions.arrow", *INDEX_FILES, LINKS_FILE)

#: The manifest's checksum algorithm (fast on big files: parallel, SIMD).
DIGEST = "blake3"


class PublishedGeneration(Protocol):
    """What publishing needs of a generation it builds on: a :class:`jpki_fast.store.Store` or a
    :class:`jpki_fast.generation.Generation`."""

    generation: int
    path: Path
    manifest: dict[str, Any]


def generation_name(generation: int) -> str:
    """The directory name of a generation under ``generations/``."""
    return f"{generation:08d}"


def generation_path(root: Path, generation: int) -> Path:
    return Path(root) / "generations" / generation_name(generation)


def read_current(root: Path) -> int | None:
    """The published generation number, or None when nothing is published yet."""
    try:
        text = (Path(root) / "CURRENT").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        raise StoreCorruptedError(f"{Path(root) / 'CURRENT'}: does not hold a generation number")
    return int(text)


def list_generations(root: Path) -> list[int]:
    """The generation numbers present under ``generations/``, oldest first (published or not)."""
    gens = Path(root) / "generations"
    if not gens.is_dir():
        return []
    return sorted(int(p.name) for p in gens.iterdir() if p.is_dir() and p.name.isdigit())


def column_buffer(array: pa.Array, index: int = 1) -> Any:
    """The data buffer of an unsliced column of a snapshot file (b"" when it has none)."""
    if array.offset != 0:
        raise StoreCorruptedError("unexpected sliced column in a snapshot file")
    buf = array.buffers()[index]
    return b"" if buf is None else buf


def unpack_payload(payload: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(revocation times u32, partitions u16, reasons u8) of a packed payload column, as
    strided numpy views of its buffer (no copy)."""
    n = len(payload)
    raw = np.frombuffer(column_buffer(payload), dtype=np.uint8, count=7 * n) if n else np.zeros(7, np.uint8)

    def view(dtype: str, offset: int) -> np.ndarray:
        if n == 0:
            return np.empty(0, dtype=dtype)
        return np.ndarray(shape=(n,), dtype=dtype, buffer=raw, offset=offset, strides=(7,))

    return view("<u4", 0), view("<u2", 4), view("u1", 6)


def long_serials_to_hex(serial: pa.Array) -> pa.Array:
    """Canonical hex of a long_entries.arrow serial column (20-octet, zero-padded keys)."""
    keys = np.frombuffer(column_buffer(serial), dtype=np.uint8).reshape(-1, 20) if len(serial) else np.empty((0, 20), np.uint8)
    batch = SerialBatch(np.zeros(len(keys), np.uint64), np.arange(len(keys), dtype=np.uint32), keys)
    return to_hex(batch)
