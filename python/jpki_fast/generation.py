"""One generation's files, opened read-only and checked.

The layer under :class:`jpki_fast.store.Store`: it reads the manifest, checks the structure
cheaply (the manifest's format and sizes, every file readable as Arrow IPC, one record batch per
issuer key in each index file, the lookup structures consistent), memory-maps the files and hands
their buffers to the Rust core, which validates and serves the lookups (docs/DESIGN.md §4.10).
No entry is read, so opening takes milliseconds. Publishing opens generations this way to check
that they are usable (:func:`jpki_fast.publish.verify_generation`).

>>> files = Generation(store.root, store.generation)
>>> files.issuers.column("alias").to_pylist()
['auth_ca_2015', 'auth_ca_2019', 'auth_ca_2023', 'sign_ca_2015', 'sign_ca_2019', 'sign_ca_2023']
>>> files.index_batch("entries.arrow", 0).schema.names
['serial', 'payload']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import _core
from .errors import StoreCorruptedError
from .serials import normalize
from .store_format import (
    FORMAT,
    FORMAT_VERSION,
    INDEX_FILES,
    LINKS_FILE,
    SNAPSHOT_FILES,
    column_buffer,
    generation_path,
)


def open_ipc(path: Path) -> pa.ipc.RecordBatchFileReader:
    """An Arrow IPC file, memory-mapped read-only; a damaged one raises StoreCorruptedError."""
    try:
        return pa.ipc.open_file(pa.memory_map(str(path), "r"))
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreCorruptedError(f"{path}: cannot be read as an Arrow IPC file ({exc})") from None


def _epochs(column: pa.ChunkedArray) -> list[int | None]:
    """Epoch seconds of a timestamp[s] column (None for nulls). A zero-copy view, not a cast:
    casting would load pyarrow.compute, a noticeable part of a short command's start."""
    return [v for chunk in column.chunks for v in chunk.view(pa.int64()).to_pylist()]


class Generation:
    """The files of one generation of a store, opened and checked (raises
    :class:`~jpki_fast.errors.StoreCorruptedError` naming the damaged file).

    Attributes: ``root``, ``generation``, ``path``, ``manifest`` (the parsed manifest.json),
    ``issuers`` and ``partitions`` (Arrow tables), ``core`` (the Rust core's
    ``jpki_fast._core.Snapshot`` over the memory-mapped index) and ``revoked_keys`` (per issuer
    key: ``(revocation time, reason code)`` when its own CA certificate is revoked, else None).
    """

    def __init__(self, root: str | Path, generation: int) -> None:
        self.root = Path(root)
        self.generation = generation
        self.path = generation_path(self.root, generation)
        self.manifest = self._read_manifest()
        self.issuers: pa.Table = open_ipc(self.path / "issuers.arrow").read_all()
        self.partitions: pa.Table = open_ipc(self.path / "partitions.arrow").read_all()
        n_issuers = self.issuers.num_rows
        readers = {name: open_ipc(self.path / name) for name in INDEX_FILES}
        for name, reader in readers.items():
            if reader.num_record_batches != n_issuers:
                raise StoreCorruptedError(f"{self.path / name}: {reader.num_record_batches} batches for {n_issuers} issuers")
        self.batches: dict[str, list[pa.RecordBatch]] = {
            name: [reader.get_batch(i) for i in range(n_issuers)] for name, reader in readers.items()
        }
        self.key_index = {k: i for i, k in enumerate(self.issuers.column("key_id").to_pylist())}
        self.core, self.revoked_keys = self._load_core()

    def _read_manifest(self) -> dict[str, Any]:
        try:
            with open(self.path / "manifest.json", encoding="utf-8") as f:
                manifest = json.load(f)
        except FileNotFoundError:
            raise StoreCorruptedError(f"{self.path}: generation {self.generation} has no manifest.json") from None
        except json.JSONDecodeError as exc:
            raise StoreCorruptedError(f"{self.path / 'manifest.json'}: invalid JSON ({exc})") from None
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise StoreCorruptedError(f"{self.path}: not a {FORMAT} v{FORMAT_VERSION} generation")
        for name in SNAPSHOT_FILES:
            expected = manifest["files"].get(name, {}).get("bytes")
            try:
                actual = (self.path / name).stat().st_size
            except FileNotFoundError:
                raise StoreCorruptedError(f"{self.path / name}: missing from generation {self.generation}") from None
            if expected != actual:
                raise StoreCorruptedError(
                    f"{self.path / name}: {actual} bytes, manifest says {expected} (damaged generation {self.generation})"
                )
        return manifest

    def index_batch(self, name: str, issuer: int) -> pa.RecordBatch:
        """The record batch of issuer key ``issuer`` (its row in ``issuers``) in index file
        ``name`` (one of :data:`jpki_fast.store_format.INDEX_FILES`)."""
        return self.batches[name][issuer]

    def payload_buffers(self) -> list[Any]:
        """The payload buffers of every non-empty entry batch (short and long serials)."""
        return [
            column_buffer(b.column(1))
            for name in ("entries.arrow", "long_entries.arrow")
            for b in self.batches[name]
            if b.num_rows
        ]

    def read_links(self) -> pa.Table:
        """The generation's serial links (links.arrow)."""
        return open_ipc(self.path / LINKS_FILE).read_all()

    def _load_core(self) -> tuple[_core.Snapshot, list[tuple[int, int] | None]]:
        issuer_columns: list[dict | None] = []
        for i, meta in enumerate(self.manifest["issuers"]):
            e = self.batches["entries.arrow"][i]
            d = self.batches["directory.arrow"][i]
            bm = self.batches["bitmap.arrow"][i]
            long = self.batches["long_entries.arrow"][i]
            v = self.batches["invalidity.arrow"][i]
            issuer_columns.append(
                {
                    "serial": column_buffer(e.column(0)),
                    "payload": column_buffer(e.column(1)),
                    "directory": column_buffer(d.column(0)),
                    "bitmap": column_buffer(bm.column(0)),
                    "dir_base": int(meta["dir_base"]),
                    "dir_shift": int(meta["dir_shift"]),
                    "long_serial": column_buffer(long.column(0)),
                    "long_payload": column_buffer(long.column(1)),
                    "invalidity_row": column_buffer(v.column(0)),
                    "invalidity_date": column_buffer(v.column(1)),
                }
            )
        p = self.partitions
        args = (
            issuer_columns,
            p.column("issuer_index").to_pylist(),
            _epochs(p.column("this_update")),
            _epochs(p.column("next_update")),
            [kind == "crl" for kind in p.column("kind").to_pylist()],
        )
        try:
            plain = _core.Snapshot(*args)
            revoked = self._revoked_ca_keys(plain)
            return (_core.Snapshot(*args, revoked) if any(revoked) else plain), revoked
        except ValueError as exc:
            raise StoreCorruptedError(f"{self.path}: {exc}") from None

    def _revoked_ca_keys(self, snapshot: _core.Snapshot) -> list[tuple[int, int] | None]:
        """Per issuer key: (revocation time, reason code) when a CRL or authority revocation
        list of the key that issued its CA certificate lists that certificate's serial. A
        revoked CA key makes every certificate it issued revoked (RFC 5280 §6.3; docs/DESIGN.md
        §3.3)."""
        t = self.issuers
        out: list[tuple[int, int] | None] = [None] * t.num_rows
        for i, (serial, aki, key_id) in enumerate(
            zip(t.column("serial").to_pylist(), t.column("authority_key_id").to_pylist(), t.column("key_id").to_pylist())
        ):
            issuer = self.key_index.get(aki or key_id)  # self-signed roots name themselves
            if issuer is None or serial is None:
                continue
            row = snapshot.check(issuer, normalize([serial]).short, 0, want_partition=True)
            partition = int(np.frombuffer(row["partition"], np.uint16)[0])
            if np.frombuffer(row["status"], np.uint8)[0] == 1 and self._covers_ca_certificates(partition):
                when = int(np.frombuffer(row["revocation_date"], np.int64)[0])
                has_reason = np.frombuffer(row["reason_valid"], np.uint8)[0] & 1
                out[i] = (when, int(np.frombuffer(row["reason"], np.uint8)[0]) if has_reason else 0)
        return out

    def _covers_ca_certificates(self, partition: int) -> bool:
        """Whether a CRL may list CA certificates: an ARL, or a CRL not limited to end entities."""
        if partition >= self.partitions.num_rows:
            return False
        return not self.partitions.column("only_user_certs")[partition].as_py()
