"""The on-disk store of published snapshots, and checks against it.

Layout::

    STORE/
      CURRENT                 the published generation number (replaced atomically)
      LOCK                    held (flock) by the one writer at a time
      generations/00000007/   one complete, immutable snapshot
        manifest.json         format, generation, issuers, per-file SHA-256, ingest summary
        issuers.arrow         the trust store the snapshot was built with (CA certificates)
        partitions.arrow      one row per (issuer key, partition) CRL: numbers, times, sources
        entries.arrow         the revocation index, one record batch per issuer key, sorted
                              by serial: serial u64 | payload fixed_size_binary(7), the
                              payload packing revocation time (u32 seconds since 1970),
                              partition (u16, a row of partitions.arrow) and reason code
                              (u8, 255 = none), little-endian
        directory.arrow       lookup structure, one batch per issuer key: block ranks of the
        bitmap.arrow          serial bitmap (dense serials) or the offset table (sparse ones)
        long_entries.arrow    serials longer than 8 octets (20-octet keys), one batch per issuer
        invalidity.arrow      sparse invalidity dates by row, one batch per issuer
      staging/                generations being written (never read by readers)

A generation is written completely into ``staging/``, fsynced, renamed into
``generations/``, and only then published by atomically replacing ``CURRENT``. Readers open
``CURRENT``'s generation read-only through memory maps: opening is cheap (no entry is read),
safe in any number of processes, and never sees a partial snapshot.

>>> store = open_store("demo-data/store")                        # doctest: +SKIP
>>> store.check(["054CFCD8", 0x1234], issuer="auth_ca_2023").column("status").to_pylist()
['revoked', 'good']
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from . import _core
from .errors import StoreCorruptedError, StoreError
from .serials import SerialBatch, normalize, to_hex
from .timeutil import NowLike, iso, to_epoch

FORMAT = "jpki-fast-store"
FORMAT_VERSION = 1

STATUSES = ("good", "revoked", "stale", "unknown")
REASONS = tuple(_core.REASON_NAMES)
UNKNOWN_ISSUER = 0xFFFF
ISSUER_WIDE = 0xFFFF
MISSING_PARTITION = 0xFFFE

UTC_SECONDS = pa.timestamp("s", tz="UTC")

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
#: each chain of renewals resolved (see links.py).
LINKS_FILE = "links.arrow"
LINKS_SCHEMA = pa.schema(
    [
        ("issuer", pa.string()),  # the issuer's key identifier (hex)
        ("old_serial", pa.large_string()),
        ("new_serial", pa.large_string()),
        ("latest_serial", pa.large_string()),
    ]
)

SNAPSHOT_FILES = (
    "issuers.arrow",
    "partitions.arrow",
    "entries.arrow",
    "directory.arrow",
    "bitmap.arrow",
    "long_entries.arrow",
    "invalidity.arrow",
    LINKS_FILE,
)

_STATUS_DICT = pa.array(STATUSES)
_REASON_DICT = pa.array(REASONS)


def generation_name(generation: int) -> str:
    return f"{generation:08d}"


# --------------------------------------------------------------------------------------------
# Durable file operations


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: The manifest's checksum algorithm (fast on big files: parallel, SIMD).
DIGEST = "blake3"


def file_digests(paths: Sequence[Path]) -> list[str]:
    """BLAKE3 digests of files, computed in parallel by the Rust core."""
    return _core.file_digests([str(p) for p in paths])


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_path(path.parent, directory=True)


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: str, error: type[Exception]) -> Iterator[None]:
    """Holds an exclusive, non-blocking flock on ``path`` (created if absent; released by the
    kernel if the process dies). Raises ``error(busy)`` at once if another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise error(f"{path}: cannot open the lock file: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise error(busy) from None
            raise
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """Holds the store's writer lock; fails at once if another writer holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / "LOCK", f"{root}: another ingest or update holds the store lock; try again when it ends", StoreError):
        yield


def read_current(root: Path) -> int | None:
    """The published generation number, or None when nothing is published yet."""
    try:
        text = (root / "CURRENT").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        raise StoreCorruptedError(f"{root / 'CURRENT'}: does not hold a generation number")
    return int(text)


def list_generations(root: Path) -> list[int]:
    gens = root / "generations"
    if not gens.is_dir():
        return []
    return sorted(int(p.name) for p in gens.iterdir() if p.is_dir() and p.name.isdigit())


# --------------------------------------------------------------------------------------------
# Writing a generation


def _u(buf: Any, arrow_type: pa.DataType, length: int) -> pa.Array:
    return pa.Array.from_buffers(arrow_type, length, [None, pa.py_buffer(buf)])


def _issuer_batches(columns: Sequence[dict | None]) -> dict[str, list[pa.RecordBatch]]:
    """Record batches (one per issuer, in issuer order) for each index file."""
    out: dict[str, list[pa.RecordBatch]] = {
        "entries.arrow": [],
        "directory.arrow": [],
        "bitmap.arrow": [],
        "long_entries.arrow": [],
        "invalidity.arrow": [],
    }
    for cols in columns:
        if cols is None:
            out["entries.arrow"].append(_empty_batch(ENTRY_SCHEMA))
            out["directory.arrow"].append(pa.record_batch([pa.array([0, 0], pa.uint32())], schema=DIRECTORY_SCHEMA))
            out["bitmap.arrow"].append(_empty_batch(BITMAP_SCHEMA))
            out["long_entries.arrow"].append(_empty_batch(LONG_ENTRY_SCHEMA))
            out["invalidity.arrow"].append(_empty_batch(INVALIDITY_SCHEMA))
            continue
        n, m = cols["entries"], cols["long_entries"]
        out["entries.arrow"].append(
            pa.record_batch([_u(cols["serial"], pa.uint64(), n), _u(cols["payload"], PAYLOAD, n)], schema=ENTRY_SCHEMA)
        )
        out["directory.arrow"].append(
            pa.record_batch([_u(cols["directory"], pa.uint32(), len(cols["directory"]) // 4)], schema=DIRECTORY_SCHEMA)
        )
        out["bitmap.arrow"].append(
            pa.record_batch([_u(cols["bitmap"], pa.uint64(), len(cols["bitmap"]) // 8)], schema=BITMAP_SCHEMA)
        )
        out["long_entries.arrow"].append(
            pa.record_batch(
                [_u(cols["long_serial"], pa.binary(20), m), _u(cols["long_payload"], PAYLOAD, m)],
                schema=LONG_ENTRY_SCHEMA,
            )
        )
        k = len(cols["invalidity_row"]) // 4
        out["invalidity.arrow"].append(
            pa.record_batch(
                [_u(cols["invalidity_row"], pa.uint32(), k), _u(cols["invalidity_date"], pa.int64(), k)],
                schema=INVALIDITY_SCHEMA,
            )
        )
    return out


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.record_batch([pa.array([], f.type) for f in schema], schema=schema)


def _write_ipc(path: Path, schema: pa.Schema, batches: Sequence[pa.RecordBatch]) -> None:
    with pa.OSFile(str(path), "wb") as sink:
        with pa.ipc.new_file(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)


def next_generation(root: Path) -> int:
    """The number the next generation will get: after every generation present."""
    return max(list_generations(root) + [read_current(root) or 0]) + 1


@contextlib.contextmanager
def _staging(root: Path, generation: int) -> Iterator[Path]:
    """A fresh staging directory, removed again if anything fails before it is published."""
    staging = root / "staging" / f"{generation_name(generation)}.{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish(root: Path, staging: Path, generation: int, manifest: dict, known: dict | None = None) -> int:
    """Checksums and fsyncs the staged files, writes the manifest, renames the directory into
    ``generations/`` and atomically points ``CURRENT`` at it. ``known`` holds manifest file
    records already computed (for files hard-linked from an earlier generation)."""
    known = known or {}
    fresh = [staging / name for name in SNAPSHOT_FILES if name not in known]
    for path in fresh:
        _fsync_path(path)
    files = dict(known)
    for path, digest in zip(fresh, file_digests(fresh)):
        files[path.name] = {"bytes": path.stat().st_size, DIGEST: digest}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generation": generation,
        "created_at": iso(int(time.time())),
        **manifest,
        "files": files,
    }
    with open(staging / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    _fsync_path(staging, directory=True)
    final = root / "generations" / generation_name(generation)
    final.parent.mkdir(exist_ok=True)
    os.rename(staging, final)
    _fsync_path(final.parent, directory=True)
    _atomic_write_text(root / "CURRENT", f"{generation}\n")
    return generation


def write_generation(
    root: Path,
    issuers: pa.Table,
    partitions: pa.Table,
    columns: Sequence[dict | None],
    summary: dict,
    parent: Store | None,
) -> int:
    """Writes and publishes a new generation built by ingest; the caller holds
    :func:`store_lock`. Serial links are carried over from ``parent`` unchanged.

    Returns the new generation number. On any failure before ``CURRENT`` is replaced, the
    published snapshot is untouched and the partial generation is removed.
    """
    generation = next_generation(root)
    with _staging(root, generation) as staging:
        _write_ipc(staging / "issuers.arrow", ISSUER_SCHEMA, issuers.to_batches() or [_empty_batch(ISSUER_SCHEMA)])
        _write_ipc(staging / "partitions.arrow", PARTITION_SCHEMA, partitions.to_batches() or [_empty_batch(PARTITION_SCHEMA)])
        batches = _issuer_batches(columns)
        schemas = {
            "entries.arrow": ENTRY_SCHEMA,
            "directory.arrow": DIRECTORY_SCHEMA,
            "bitmap.arrow": BITMAP_SCHEMA,
            "long_entries.arrow": LONG_ENTRY_SCHEMA,
            "invalidity.arrow": INVALIDITY_SCHEMA,
        }
        for name, schema in schemas.items():
            _write_ipc(staging / name, schema, batches[name])
        known = {}
        if parent is not None:
            os.link(parent.path / LINKS_FILE, staging / LINKS_FILE)  # immutable: share, don't copy
            known[LINKS_FILE] = parent.manifest["files"][LINKS_FILE]
        else:
            _write_ipc(staging / LINKS_FILE, LINKS_SCHEMA, [_empty_batch(LINKS_SCHEMA)])
        manifest = {
            "parent": None if parent is None else parent.generation,
            "issuers": [
                {
                    "alias": alias,
                    "entries": 0 if cols is None else cols["entries"],
                    "long_entries": 0 if cols is None else cols["long_entries"],
                    "lookup": "offsets" if cols is None else cols["lookup"],
                    "dir_base": "0" if cols is None else str(cols["dir_base"]),
                    "dir_shift": 63 if cols is None else cols["dir_shift"],
                }
                for alias, cols in zip(issuers.column("alias").to_pylist(), columns)
            ],
            "summary": summary,
        }
        return _publish(root, staging, generation, manifest, known)


def derive_generation(root: Path, base: Store, replace: dict[str, pa.Table], summary: dict) -> int:
    """Publishes a generation equal to ``base`` except for the files in ``replace`` (name ->
    table), e.g. new serial links. Unchanged files are hard-linked, not copied; the caller
    holds :func:`store_lock`."""
    generation = next_generation(root)
    with _staging(root, generation) as staging:
        known = {}
        for name in SNAPSHOT_FILES:
            if name in replace:
                _write_ipc(staging / name, replace[name].schema, replace[name].to_batches() or [_empty_batch(replace[name].schema)])
            else:
                os.link(base.path / name, staging / name)
                known[name] = base.manifest["files"][name]
        manifest = {"parent": base.generation, "issuers": base.manifest["issuers"], "summary": summary}
        return _publish(root, staging, generation, manifest, known)


def verify_generation(root: str | Path, generation: int) -> list[str]:
    """Checks one generation's files against its manifest (sizes and BLAKE3 digests) and that
    it opens. Returns the problems found, each naming the file; empty when intact."""
    root = Path(root)
    path = root / "generations" / generation_name(generation)
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"{path}: generation {generation} not found (or its manifest.json is missing)"]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [f"{path / 'manifest.json'}: unreadable ({exc})"]
    problems = []
    present = []
    for name in SNAPSHOT_FILES:
        expected = manifest.get("files", {}).get(name)
        if expected is None:
            problems.append(f"{path / name}: not listed in the manifest")
        elif not (path / name).is_file():
            problems.append(f"{path / name}: missing")
        elif (path / name).stat().st_size != expected["bytes"]:
            problems.append(f"{path / name}: {(path / name).stat().st_size} bytes, manifest says {expected['bytes']}")
        else:
            present.append(name)
    digests = file_digests([path / name for name in present])
    for name, digest in zip(present, digests):
        if digest != manifest["files"][name].get(DIGEST):
            problems.append(f"{path / name}: {DIGEST} digest differs from the manifest (the file is damaged)")
    if not problems:
        try:
            Store(root, generation)
        except StoreError as exc:
            problems.append(str(exc))
    return problems


def rollback(root: str | Path, to_generation: int) -> None:
    """Makes an earlier (kept, intact) generation current again, atomically.

    Refuses a generation that fails :func:`verify_generation`. Later ingests build on it and
    number their generations after the newest one present.
    """
    root = Path(root)
    with store_lock(root):
        problems = verify_generation(root, to_generation)
        if problems:
            raise StoreCorruptedError(f"cannot roll back to generation {to_generation}: " + "; ".join(problems))
        _atomic_write_text(root / "CURRENT", f"{to_generation}\n")


def clean_staging(root: Path) -> None:
    """Removes generations left half-written by an interrupted run."""
    staging = root / "staging"
    if staging.is_dir():
        for p in staging.iterdir():
            shutil.rmtree(p, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Reading


def _epochs(column: pa.ChunkedArray) -> list[int | None]:
    """Epoch seconds of a timestamp[s] column (None for nulls). A zero-copy view, not a cast:
    casting would load pyarrow.compute, a noticeable part of a short command's start."""
    return [v for chunk in column.chunks for v in chunk.view(pa.int64()).to_pylist()]


def _buffer(array: pa.Array, index: int = 1) -> Any:
    if array.offset != 0:
        raise StoreCorruptedError("unexpected sliced column in a snapshot file")
    buf = array.buffers()[index]
    return b"" if buf is None else buf


def _open_ipc(path: Path) -> pa.ipc.RecordBatchFileReader:
    try:
        return pa.ipc.open_file(pa.memory_map(str(path), "r"))
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreCorruptedError(f"{path}: cannot be read as an Arrow IPC file ({exc})") from None


@dataclass(frozen=True)
class IssuerInfo:
    index: int
    alias: str
    key_id: str
    subject: str
    kind: str | None
    entries: int
    long_entries: int


class Store:
    """A published snapshot, opened read-only. Use :func:`open_store`.

    Cheap to open (memory maps; nothing is read until used), safe to share between threads, and
    safe to open in many processes at once. A Store keeps answering from the generation it
    opened; :meth:`has_newer` tells cheaply whether a newer one was published.
    """

    def __init__(self, root: str | Path, generation: int | None = None, verify: bool = False) -> None:
        self.root = Path(root)
        if generation is None:
            if not self.root.is_dir():
                raise StoreError(f"{self.root}: store not found (create one with `jpki-fast ingest`)")
            generation = read_current(self.root)
            if generation is None:
                raise StoreError(f"{self.root}: nothing published yet (run `jpki-fast ingest` first)")
        self.generation = generation
        self.path = self.root / "generations" / generation_name(generation)
        if verify:
            problems = verify_generation(self.root, generation)
            if problems:
                raise StoreCorruptedError("; ".join(problems))
        try:
            with open(self.path / "manifest.json", encoding="utf-8") as f:
                self.manifest = json.load(f)
        except FileNotFoundError:
            raise StoreCorruptedError(f"{self.path}: generation {generation} has no manifest.json") from None
        except json.JSONDecodeError as exc:
            raise StoreCorruptedError(f"{self.path / 'manifest.json'}: invalid JSON ({exc})") from None
        if self.manifest.get("format") != FORMAT or self.manifest.get("format_version") != FORMAT_VERSION:
            raise StoreCorruptedError(f"{self.path}: not a {FORMAT} v{FORMAT_VERSION} generation")
        for name in SNAPSHOT_FILES:
            expected = self.manifest["files"].get(name, {}).get("bytes")
            try:
                actual = (self.path / name).stat().st_size
            except FileNotFoundError:
                raise StoreCorruptedError(f"{self.path / name}: missing from generation {generation}") from None
            if expected != actual:
                raise StoreCorruptedError(
                    f"{self.path / name}: {actual} bytes, manifest says {expected} (damaged generation {generation})"
                )
        self._issuers = _open_ipc(self.path / "issuers.arrow").read_all()
        self._partitions = _open_ipc(self.path / "partitions.arrow").read_all()
        readers = {name: _open_ipc(self.path / name) for name in SNAPSHOT_FILES[2:] if name != LINKS_FILE}
        n_issuers = self._issuers.num_rows
        for name, reader in readers.items():
            if reader.num_record_batches != n_issuers:
                raise StoreCorruptedError(f"{self.path / name}: {reader.num_record_batches} batches for {n_issuers} issuers")
        self._batches = {name: [reader.get_batch(i) for i in range(n_issuers)] for name, reader in readers.items()}
        self._alias_index = {a: i for i, a in enumerate(self._issuers.column("alias").to_pylist())}
        self._key_index = {k: i for i, k in enumerate(self._issuers.column("key_id").to_pylist())}
        self._snapshot = self._load_snapshot()
        self._links: pa.Table | None = None

    def _load_snapshot(self) -> "_core.Snapshot":
        issuer_columns: list[dict | None] = []
        for i, meta in enumerate(self.manifest["issuers"]):
            e = self._batches["entries.arrow"][i]
            d = self._batches["directory.arrow"][i]
            bm = self._batches["bitmap.arrow"][i]
            l = self._batches["long_entries.arrow"][i]
            v = self._batches["invalidity.arrow"][i]
            issuer_columns.append(
                {
                    "serial": _buffer(e.column(0)),
                    "payload": _buffer(e.column(1)),
                    "directory": _buffer(d.column(0)),
                    "bitmap": _buffer(bm.column(0)),
                    "dir_base": int(meta["dir_base"]),
                    "dir_shift": int(meta["dir_shift"]),
                    "long_serial": _buffer(l.column(0)),
                    "long_payload": _buffer(l.column(1)),
                    "invalidity_row": _buffer(v.column(0)),
                    "invalidity_date": _buffer(v.column(1)),
                }
            )
        p = self._partitions
        args = (
            issuer_columns,
            p.column("issuer_index").to_pylist(),
            _epochs(p.column("this_update")),
            _epochs(p.column("next_update")),
            [kind == "crl" for kind in p.column("kind").to_pylist()],
        )
        try:
            plain = _core.Snapshot(*args)
            self._revoked_keys = self._revoked_ca_keys(plain)
            return _core.Snapshot(*args, self._revoked_keys) if any(self._revoked_keys) else plain
        except ValueError as exc:
            raise StoreCorruptedError(f"{self.path}: {exc}") from None

    def _revoked_ca_keys(self, snapshot: "_core.Snapshot") -> list[tuple[int, int] | None]:
        """Per issuer key: (revocation time, reason code) when a CRL or authority revocation
        list of the key that issued its CA certificate lists that certificate's serial. A
        revoked CA key makes every certificate it issued revoked (RFC 5280 §6.3)."""
        t = self._issuers
        out: list[tuple[int, int] | None] = [None] * t.num_rows
        for i, (serial, aki, key_id) in enumerate(
            zip(t.column("serial").to_pylist(), t.column("authority_key_id").to_pylist(), t.column("key_id").to_pylist())
        ):
            issuer = self._key_index.get(aki or key_id)  # self-signed roots name themselves
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
        if partition >= self._partitions.num_rows:
            return False
        return not self._partitions.column("only_user_certs")[partition].as_py()

    def revoked_issuers(self) -> dict[str, dict]:
        """CA keys whose certificate is revoked, by alias: ``{"revocation_date", "reason"}``."""
        t = self._issuers
        result = {}
        for i, rev in enumerate(self._revoked_keys):
            if rev is not None:
                result[t.column("alias")[i].as_py()] = {"revocation_date": iso(rev[0]), "reason": REASONS[rev[1]]}
        return result

    # ---- metadata -----------------------------------------------------------------------

    def has_newer(self) -> bool:
        """True when a generation newer than this one has been published (reads one small file)."""
        current = read_current(self.root)
        return current is not None and current != self.generation

    def issuers(self) -> list[IssuerInfo]:
        """The trusted CA keys this snapshot was built with."""
        t = self._issuers
        return [
            IssuerInfo(
                i,
                t.column("alias")[i].as_py(),
                t.column("key_id")[i].as_py(),
                t.column("subject")[i].as_py(),
                t.column("kind")[i].as_py(),
                self.manifest["issuers"][i]["entries"],
                self.manifest["issuers"][i]["long_entries"],
            )
            for i in range(t.num_rows)
        ]

    @property
    def issuer_table(self) -> pa.Table:
        return self._issuers

    def issuer_index(self, issuer: str) -> int | None:
        """Index of an issuer named by alias or key identifier (hex, any case, ':' allowed)."""
        if issuer in self._alias_index:
            return self._alias_index[issuer]
        return self._key_index.get(issuer.replace(":", "").strip().upper())

    def links(self) -> pa.Table:
        """The serial links of this generation: issuer (key id), old_serial, new_serial and
        latest_serial (the end of the chain of renewals), canonical hex."""
        if self._links is None:
            self._links = _open_ipc(self.path / LINKS_FILE).read_all()
        return self._links

    def latest_serial(self, serials: Any, issuer: str | Sequence[str] | pa.Array) -> pa.Array:
        """The newest serial that replaced each serial, following chains of renewals
        (新旧シリアル番号紐付け) imported with ``jpki-fast links import``; a serial without a
        link is returned as itself. Canonical hex.

        >>> store.latest_serial(["0A", "99"], "auth_ca_2023").to_pylist()   # doctest: +SKIP
        ['0C', '99']
        """
        from .links import latest_serials

        batch = normalize(serials)
        return latest_serials(self, to_hex(batch), self._issuer_rows(issuer, len(batch)))

    def partition_ids(self, issuer_rows: int | np.ndarray, names: Sequence[str | None] | pa.Array) -> np.ndarray:
        """Each row's partition id for :meth:`check_normalized`, from its issuer and the
        partition name its certificate's CRL distribution point gives (the directory name as
        text). A row whose partition the store holds no CRL for gets ``MISSING_PARTITION``
        (stale unless revoked) unless the issuer has a full, unpartitioned CRL, which then
        covers it; a row without a name (None) is judged issuer-wide (``ISSUER_WIDE``).
        """
        p = self._partitions
        lookup: dict[tuple[int, str], int] = {}
        if p.num_rows:
            kinds = p.column("kind").to_pylist()
            for pid, (iss, name) in enumerate(zip(p.column("issuer_index").to_pylist(), p.column("name").to_pylist())):
                if kinds[pid] == "crl":
                    lookup[(iss, name)] = pid
        names_list = names.to_pylist() if isinstance(names, (pa.Array, pa.ChunkedArray)) else list(names)
        issuers = np.full(len(names_list), issuer_rows, np.int64) if isinstance(issuer_rows, int) else np.asarray(issuer_rows)
        out = np.empty(len(names_list), dtype=np.uint16)
        for row, (iss, name) in enumerate(zip(issuers.tolist(), names_list)):
            if name is None:
                out[row] = ISSUER_WIDE
            else:
                out[row] = lookup.get((iss, name), lookup.get((iss, ""), MISSING_PARTITION))
        return out

    def partitions(self) -> pa.Table:
        """The partition table: one row per (issuer key, partition) CRL held.

        >>> store.partitions().select(["issuer", "name", "crl_number", "next_update"])   # doctest: +SKIP
        """
        return self._partitions

    def entries(self, issuer: str | None = None) -> pa.Table:
        """Every revoked entry with a serial of at most 8 octets, sorted by (issuer, serial).

        Columns: ``issuer`` (dictionary), ``serial`` (uint64, a zero-copy view of the memory
        map), ``revocation_date`` (timestamp), ``reason`` (dictionary of RFC 5280 names) and
        ``partition`` (dictionary of partition names). The last three are decoded from the
        packed payload column in one vectorised pass. Longer serials are in
        :meth:`long_entries`.
        """
        return self._entries_table("entries.arrow", issuer)

    def long_entries(self, issuer: str | None = None) -> pa.Table:
        """Revoked entries whose serial is longer than 8 octets; ``serial`` is uppercase hex."""
        return self._entries_table("long_entries.arrow", issuer)

    def _entries_table(self, name: str, issuer: str | None) -> pa.Table:
        indices = range(self._issuers.num_rows)
        if issuer is not None:
            i = self.issuer_index(issuer)
            if i is None:
                raise KeyError(f"issuer {issuer!r} is not in this snapshot's trust store")
            indices = [i]
        names = self._partitions.column("name").combine_chunks() if self._partitions.num_rows else pa.array([], pa.string())
        aliases = self._issuers.column("alias").combine_chunks()
        tables = []
        for i in indices:
            b = self._batches[name][i]
            n = b.num_rows
            serial = b.column(0)
            if name == "long_entries.arrow":
                serial = _long_to_hex(serial)
            times, partitions, reasons = unpack_payload(b.column(1))
            has_reason = reasons != 0xFF
            tables.append(
                pa.table(
                    {
                        "issuer": pa.DictionaryArray.from_arrays(pa.array(np.full(n, i, np.int16)), aliases),
                        "serial": serial,
                        "revocation_date": pa.array(times.astype(np.int64), UTC_SECONDS),
                        "reason": pa.DictionaryArray.from_arrays(
                            pa.array(np.where(has_reason, reasons, 0).astype(np.int8), mask=~has_reason), _REASON_DICT
                        ),
                        "partition": pa.DictionaryArray.from_arrays(pa.array(partitions.astype(np.int32)), names),
                    }
                )
            )
        if not tables:
            return pa.table({"issuer": pa.array([], pa.string()), "serial": pa.array([], pa.uint64())})
        return pa.concat_tables(tables)

    # ---- checks -------------------------------------------------------------------------

    def check(
        self,
        serials: Any,
        issuer: str | Sequence[str] | pa.Array,
        now: NowLike = None,
        provenance: bool = False,
        follow_links: bool = False,
    ) -> pa.Table:
        """Revocation status of each serial; one row per input, in input order.

        ``serials``: numpy/pyarrow integer array, pyarrow string (hex) or binary (big-endian)
        array, or a list of int / hex str / bytes. ``issuer``: one alias or key identifier for
        all rows, or one per row (list or pyarrow string array). ``now`` (default: the current
        time) decides freshness.

        Columns: ``status`` (good | revoked | stale | unknown), ``reason``, ``revocation_date``,
        ``invalidity_date``. With ``provenance=True`` also ``partition``, ``crl_number``,
        ``this_update`` and ``next_update``: what the answer rests on (for revoked, the CRL that
        lists the serial; for good/stale, the covering data: the oldest thisUpdate and the
        earliest nextUpdate among the issuer's partitions). With ``follow_links=True`` also
        ``latest_serial``: the newest serial that replaced this one (see :meth:`latest_serial`).

        >>> t = store.check(np.array([0x054CFCD8], dtype=np.uint64), "auth_ca_2023")   # doctest: +SKIP
        """
        batch = normalize(serials)
        rows = self._issuer_rows(issuer, len(batch))
        result = self.check_normalized(batch, rows, to_epoch(now), provenance)
        if follow_links:
            from .links import latest_serials

            result = result.append_column("latest_serial", latest_serials(self, to_hex(batch), rows))
        return result

    def _issuer_rows(self, issuer: Any, n: int) -> int | np.ndarray:
        if isinstance(issuer, str):
            index = self.issuer_index(issuer)
            return UNKNOWN_ISSUER if index is None else index
        import pyarrow.compute as pc

        array = issuer if isinstance(issuer, (pa.Array, pa.ChunkedArray)) else pa.array(list(issuer), pa.string())
        if len(array) != n:
            raise ValueError(f"issuer: {len(array)} values for {n} serials")
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
        if encoded.null_count:
            row = encoded.is_null().index(True).as_py()
            raise ValueError(f"issuer of row #{row} is missing")
        mapping = np.array(
            [UNKNOWN_ISSUER if (i := self.issuer_index(str(v))) is None else i for v in encoded.dictionary.to_pylist()],
            dtype=np.uint16,
        )
        return mapping[encoded.indices.to_numpy(zero_copy_only=False)] if len(mapping) else np.empty(0, np.uint16)

    def check_normalized(
        self,
        batch: SerialBatch,
        issuer_rows: int | np.ndarray,
        now: int,
        provenance: bool = False,
        partitions: np.ndarray | None = None,
    ) -> pa.Table:
        """:meth:`check` on already normalised input (the engine's entry point for callers that
        batch their own work, e.g. sweeps and certificate checks). ``partitions`` optionally
        gives each row's own partition index (65535: issuer-wide, 65534: missing)."""
        issuer_arg = issuer_rows if isinstance(issuer_rows, int) else np.ascontiguousarray(issuer_rows, dtype=np.uint16)
        out = self._snapshot.check(
            issuer_arg,
            batch.short,
            now,
            None if partitions is None else np.ascontiguousarray(partitions, dtype=np.uint16),
            batch.long_rows if len(batch.long_rows) else None,
            np.ascontiguousarray(batch.long_keys) if len(batch.long_rows) else None,
            provenance,
        )
        n = len(batch)
        columns = {
            "status": pa.DictionaryArray.from_arrays(_u(out["status"], pa.int8(), n), _STATUS_DICT, safe=False),
            "reason": pa.DictionaryArray.from_arrays(
                pa.Array.from_buffers(pa.int8(), n, [pa.py_buffer(out["reason_valid"]), pa.py_buffer(out["reason"])]),
                _REASON_DICT,
                safe=False,
            ),
            "revocation_date": pa.Array.from_buffers(
                UTC_SECONDS, n, [pa.py_buffer(out["revocation_valid"]), pa.py_buffer(out["revocation_date"])]
            ),
            "invalidity_date": pa.Array.from_buffers(
                UTC_SECONDS, n, [pa.py_buffer(out["invalidity_valid"]), pa.py_buffer(out["invalidity_date"])]
            )
            if "invalidity_date" in out
            else pa.nulls(n, UTC_SECONDS),
        }
        if provenance:
            columns.update(self._provenance(np.frombuffer(out["partition"], np.uint16), issuer_rows, partitions, n))
        metadata = {"generation": str(self.generation), "now": iso(now) or ""}
        return pa.table(columns).replace_schema_metadata(metadata)

    def _provenance(
        self, deciding: np.ndarray, issuer_rows: int | np.ndarray, hint: np.ndarray | None, n: int
    ) -> dict[str, pa.Array]:
        """Per row: the partition whose CRL decided the answer (revoked, or the row's own
        partition when given), else the issuer's covering data."""
        import pyarrow.compute as pc

        p = self._partitions
        n_parts = p.num_rows
        row_part = deciding.astype(np.int64)
        if hint is not None:
            use_hint = (deciding == ISSUER_WIDE) & (hint < MISSING_PARTITION)
            row_part = np.where(use_hint, hint.astype(np.int64), row_part)
        has_part = row_part < min(n_parts, MISSING_PARTITION)
        take = pa.array(np.where(has_part, row_part, 0), mask=~has_part)
        this_p = p.column("this_update").cast(pa.int64()).combine_chunks() if n_parts else pa.array([], pa.int64())
        next_p = p.column("next_update").cast(pa.int64()).combine_chunks() if n_parts else pa.array([], pa.int64())
        # Issuer-wide covering data: oldest thisUpdate, earliest nextUpdate of the issuer's CRLs.
        n_issuers = self._issuers.num_rows
        oldest = np.full(n_issuers + 1, np.iinfo(np.int64).min, dtype=np.int64)
        earliest = np.full(n_issuers + 1, np.iinfo(np.int64).min, dtype=np.int64)
        issuer_valid = np.zeros(n_issuers + 1, dtype=bool)
        if n_parts:
            crl_rows = pc.equal(p.column("kind"), "crl").to_numpy(zero_copy_only=False)
            idx = p.column("issuer_index").to_numpy()[crl_rows].astype(np.int64)
            t = this_p.to_numpy(zero_copy_only=False)[crl_rows]
            nx = next_p.fill_null(np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)[crl_rows]
            for i in np.unique(idx):
                sel = idx == i
                oldest[i] = t[sel].min()
                earliest[i] = nx[sel].min()
                issuer_valid[i] = True
        issuers = np.full(n, issuer_rows, dtype=np.int64) if isinstance(issuer_rows, int) else issuer_rows.astype(np.int64)
        issuers = np.where(issuers >= n_issuers, n_issuers, issuers)
        wide_ok = ~has_part & issuer_valid[issuers]
        this_wide = pa.array(oldest[issuers], mask=~wide_ok)
        next_wide = pa.array(earliest[issuers], mask=~wide_ok | (earliest[issuers] == np.iinfo(np.int64).min))
        if n_parts:
            this_part = this_p.take(take)
            next_part = next_p.take(take)
            name = p.column("name").combine_chunks().take(take)
            number = p.column("crl_number").combine_chunks().take(take)
        else:
            this_part = next_part = pa.nulls(n, pa.int64())
            name = number = pa.nulls(n, pa.string())
        has = pa.array(has_part)
        return {
            "partition": name,
            "crl_number": number,
            "this_update": pc.if_else(has, this_part, this_wide).cast(UTC_SECONDS),
            "next_update": pc.if_else(has, next_part, next_wide).cast(UTC_SECONDS),
        }

    def check_table(
        self,
        table: pa.Table | pa.RecordBatch,
        serial_column: str = "serial",
        issuer_column: str | None = "issuer",
        default_issuer: str | None = None,
        now: NowLike = None,
        provenance: bool = False,
        follow_links: bool = False,
    ) -> pa.Table:
        """Checks an Arrow table with a serial column (and optionally a per-row issuer column,
        whose nulls fall back to ``default_issuer``). Returns the input's serial (canonical
        hex) and issuer alongside the check columns."""
        import pyarrow.compute as pc

        if serial_column not in table.column_names:
            raise ValueError(f"input has no {serial_column!r} column (columns: {', '.join(table.column_names)})")
        batch = normalize(table.column(serial_column))
        n = len(batch)
        if issuer_column and issuer_column in table.column_names:
            issuers = table.column(issuer_column)
            if default_issuer is not None:
                issuers = pc.fill_null(issuers, default_issuer)
            issuers = issuers.cast(pa.string())
        elif default_issuer is not None:
            issuers = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), pa.array([default_issuer]))
        else:
            raise ValueError("no issuer: give --issuer, or an 'issuer' column in the input")
        rows = self._issuer_rows(issuers, n)
        result = self.check_normalized(batch, rows, to_epoch(now), provenance)
        hexes = to_hex(batch)
        if follow_links:
            from .links import latest_serials

            result = result.append_column("latest_serial", latest_serials(self, hexes, rows))
        front = pa.table({"serial": hexes, "issuer": issuers})
        return pa.table(
            {**{c: front.column(c) for c in front.column_names}, **{c: result.column(c) for c in result.column_names}}
        ).replace_schema_metadata(result.schema.metadata)

    def check_batch(
        self, batch: pa.RecordBatch | pa.Table, serial_col: str | None = "serial", issuer_col: str | None = "issuer", **options: Any
    ) -> pa.RecordBatch:
        """The status of every row of an Arrow record batch, its columns kept (for DuckDB, Polars,
        Spark's mapInArrow); see :func:`jpki_fast.sweeps.check_batch` for the options.

        >>> store.check_batch(batch, issuer="auth_ca_2023").column("status")   # doctest: +SKIP
        """
        from .sweeps import check_batch

        return check_batch(self, batch, serial_col, issuer_col, **options)

    def freshness(self, now: NowLike = None) -> pa.Table:
        """Per partition: whether its CRL is fresh at ``now``."""
        fresh, _ = self._snapshot.freshness(to_epoch(now))
        return self._partitions.select(["issuer", "name", "this_update", "next_update"]).append_column(
            "fresh", pa.array(fresh, pa.bool_())
        )

    # ---- certificates (see certs.py) ----

    def check_certificates(self, certs, now: NowLike = None, purpose: str | None = None, **options) -> pa.Table:
        """Status of each certificate (path, validity, usage, revocation on its own partition);
        see :func:`jpki_fast.certs.check_certificates`.

        >>> store.check_certificates([der], purpose="login").column("status")   # doctest: +SKIP
        """
        from . import certs as _certs

        return _certs.check_certificates(self, certs, now=now, purpose=purpose, **options)

    def verify_logins(self, certs, challenges, signatures, now: NowLike = None, **options) -> pa.Table:
        """Allow/deny per login (signature over the challenge and a good authentication
        certificate); see :func:`jpki_fast.certs.verify_logins`.

        >>> store.verify_logins([cert], [challenge], [sig]).column("decision")  # doctest: +SKIP
        """
        from . import certs as _certs

        return _certs.verify_logins(self, certs, challenges, signatures, now=now, **options)

    def verify_signed_documents(self, certs, documents=None, signatures=None, now: NowLike = None, **options) -> pa.Table:
        """Allow/deny per signed document (signature and a good signing certificate); see
        :func:`jpki_fast.certs.verify_signed_documents`.

        >>> store.verify_signed_documents([cert], [doc], [sig]).column("decision")  # doctest: +SKIP
        """
        from . import certs as _certs

        return _certs.verify_signed_documents(self, certs, documents, signatures, now=now, **options)


def unpack_payload(payload: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(revocation times u32, partitions u16, reasons u8) of a packed payload column, as
    strided numpy views of its buffer (no copy)."""
    n = len(payload)
    raw = np.frombuffer(_buffer(payload), dtype=np.uint8, count=7 * n) if n else np.zeros(7, np.uint8)

    def view(dtype: str, offset: int) -> np.ndarray:
        if n == 0:
            return np.empty(0, dtype=dtype)
        return np.ndarray(shape=(n,), dtype=dtype, buffer=raw, offset=offset, strides=(7,))

    return view("<u4", 0), view("<u2", 4), view("u1", 6)


def _long_to_hex(serial: pa.Array) -> pa.Array:
    keys = np.frombuffer(_buffer(serial), dtype=np.uint8).reshape(-1, 20) if len(serial) else np.empty((0, 20), np.uint8)
    batch = SerialBatch(np.zeros(len(keys), np.uint64), np.arange(len(keys), dtype=np.uint32), keys)
    return to_hex(batch)


def open_store(store_dir: str | Path, generation: int | None = None, verify: bool = False) -> Store:
    """Opens the published snapshot of a store (or a given generation) read-only.

    Opening checks the structure cheaply (files present with the manifest's sizes, Arrow IPC
    readable, the lookup structures consistent) and reads no entries, so it takes
    milliseconds; ``verify=True`` also checks every file's BLAKE3 digest (tens of
    milliseconds per 10 million entries), as ``jpki-fast verify-store`` does.

    >>> store = open_store("demo-data/store")                      # doctest: +SKIP
    >>> store.generation                                           # doctest: +SKIP
    1
    """
    return Store(store_dir, generation, verify)
