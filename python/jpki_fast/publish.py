"""Publishing generations: the writer lock, staging, publish, derived generations, verify,
rollback and pruning (docs/DESIGN.md §5).

A generation is written completely into ``staging/``, each file fsynced and digested (BLAKE3,
in the manifest), the directory renamed into ``generations/``, and only then published by
atomically replacing ``CURRENT``. A crash at any moment leaves the published generation complete
and unchanged; what a failed run staged is removed. One writer at a time holds ``LOCK``.

>>> root = store.root
>>> verify_generation(root, store.generation)
[]
>>> with store_lock(root):
...     with store_lock(root):
...         pass
Traceback (most recent call last):
jpki_fast.errors.StoreError: ...: another ingest or update holds the store lock; try again when it ends
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa

from . import _core
from .durable import atomic_write_text, exclusive_lock, fsync_path
from .errors import StoreCorruptedError, StoreError
from .generation import Generation
from .journal import record_publish
from .store_format import (
    DIGEST,
    DIRECTORY_SCHEMA,
    FORMAT,
    FORMAT_VERSION,
    INDEX_FILES,
    INDEX_SCHEMAS,
    ISSUER_SCHEMA,
    LINKS_FILE,
    LINKS_SCHEMA,
    PARTITION_SCHEMA,
    PAYLOAD,
    SNAPSHOT_FILES,
    PublishedGeneration,
    generation_name,
    generation_path,
    list_generations,
    read_current,
)
from .timeutil import iso


def file_digests(paths: Sequence[Path]) -> list[str]:
    """BLAKE3 digests of files, computed in parallel by the Rust core."""
    return _core.file_digests([str(p) for p in paths])


@contextlib.contextmanager
def store_lock(root: Path) -> Iterator[None]:
    """Holds the store's writer lock; fails at once if another writer holds it (docs/DESIGN.md §5.1)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / "LOCK", f"{root}: another ingest or update holds the store lock; try again when it ends", StoreError):
        yield


def _make_current(root: Path, generation: int) -> None:
    """Replaces CURRENT atomically (docs/DESIGN.md §5.2 step 5) and records it in the publish
    journal, also when a failure after the rename (the directory fsync) leaves it replaced."""
    try:
        atomic_write_text(root / "CURRENT", f"{generation}\n")
    except BaseException:
        with contextlib.suppress(Exception):
            if read_current(root) == generation:
                record_publish(root, generation)
        raise
    record_publish(root, generation)


def next_generation(root: Path) -> int:
    """The number the next generation will get: after every generation present."""
    return max(list_generations(root) + [read_current(root) or 0]) + 1


# --------------------------------------------------------------------------------------------
# Writing a generation


def _u(buf: Any, arrow_type: pa.DataType, length: int) -> pa.Array:
    return pa.Array.from_buffers(arrow_type, length, [None, pa.py_buffer(buf)])


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.record_batch([pa.array([], f.type) for f in schema], schema=schema)


#: The offset table of an issuer without entries: one empty bucket, spanning its zero entries.
_EMPTY_DIRECTORY = pa.record_batch([pa.array([0, 0], pa.uint32())], schema=DIRECTORY_SCHEMA)


def _issuer_batches(columns: Sequence[dict | None]) -> dict[str, list[pa.RecordBatch]]:
    """Record batches (one per issuer, in issuer order) for each index file, from the Rust
    core's built columns (None: an issuer without entries)."""
    out: dict[str, list[pa.RecordBatch]] = {name: [] for name in INDEX_FILES}
    for cols in columns:
        if cols is None:
            for name, schema in INDEX_SCHEMAS.items():
                out[name].append(_EMPTY_DIRECTORY if name == "directory.arrow" else _empty_batch(schema))
            continue
        n, m = cols["entries"], cols["long_entries"]
        out["entries.arrow"].append(
            pa.record_batch([_u(cols["serial"], pa.uint64(), n), _u(cols["payload"], PAYLOAD, n)], schema=INDEX_SCHEMAS["entries.arrow"])
        )
        out["directory.arrow"].append(
            pa.record_batch([_u(cols["directory"], pa.uint32(), len(cols["directory"]) // 4)], schema=DIRECTORY_SCHEMA)
        )
        out["bitmap.arrow"].append(
            pa.record_batch([_u(cols["bitmap"], pa.uint64(), len(cols["bitmap"]) // 8)], schema=INDEX_SCHEMAS["bitmap.arrow"])
        )
        out["long_entries.arrow"].append(
            pa.record_batch(
                [_u(cols["long_serial"], pa.binary(20), m), _u(cols["long_payload"], PAYLOAD, m)],
                schema=INDEX_SCHEMAS["long_entries.arrow"],
            )
        )
        k = len(cols["invalidity_row"]) // 4
        out["invalidity.arrow"].append(
            pa.record_batch(
                [_u(cols["invalidity_row"], pa.uint32(), k), _u(cols["invalidity_date"], pa.int64(), k)],
                schema=INDEX_SCHEMAS["invalidity.arrow"],
            )
        )
    return out


def _write_ipc(path: Path, schema: pa.Schema, batches: Sequence[pa.RecordBatch]) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


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
    ``generations/`` and atomically points ``CURRENT`` at it (docs/DESIGN.md §5.2). ``known``
    holds manifest file records already computed (for files hard-linked from an earlier
    generation)."""
    known = known or {}
    fresh = [staging / name for name in SNAPSHOT_FILES if name not in known]
    for path in fresh:
        fsync_path(path)
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
    fsync_path(staging, directory=True)
    final = generation_path(root, generation)
    final.parent.mkdir(exist_ok=True)
    os.rename(staging, final)
    fsync_path(final.parent, directory=True)
    _make_current(root, generation)
    return generation


def write_generation(
    root: Path,
    issuers: pa.Table,
    partitions: pa.Table,
    columns: Sequence[dict | None],
    summary: dict,
    parent: PublishedGeneration | None,
) -> int:
    """Writes and publishes a new generation built by ingest; the caller holds
    :func:`store_lock`. Serial links are carried over from ``parent`` unchanged.

    Returns the new generation number. On any failure before ``CURRENT`` is replaced, the
    published snapshot is untouched and the partial generation is removed.
    """
    root = Path(root)
    generation = next_generation(root)
    with _staging(root, generation) as staging:
        _write_ipc(staging / "issuers.arrow", ISSUER_SCHEMA, issuers.to_batches() or [_empty_batch(ISSUER_SCHEMA)])
        _write_ipc(staging / "partitions.arrow", PARTITION_SCHEMA, partitions.to_batches() or [_empty_batch(PARTITION_SCHEMA)])
        batches = _issuer_batches(columns)
        for name, schema in INDEX_SCHEMAS.items():
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


def derive_generation(root: Path, base: PublishedGeneration, replace: dict[str, pa.Table], summary: dict) -> int:
    """Publishes a generation equal to ``base`` except for the files in ``replace`` (name ->
    table), e.g. new serial links (docs/DESIGN.md §5.5). Unchanged files are hard-linked, not
    copied; the caller holds :func:`store_lock`."""
    root = Path(root)
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


# --------------------------------------------------------------------------------------------
# Checking, rolling back and pruning


def verify_generation(root: str | Path, generation: int) -> list[str]:
    """Checks one generation's files against its manifest (sizes and BLAKE3 digests) and that
    it opens. Returns the problems found, each naming the file; empty when intact
    (docs/DESIGN.md §5.8)."""
    root = Path(root)
    path = generation_path(root, generation)
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
            Generation(root, generation)
        except StoreError as exc:
            problems.append(str(exc))
    return problems


def rollback(root: str | Path, to_generation: int) -> None:
    """Makes an earlier (kept, intact) generation current again, atomically (docs/DESIGN.md §5.7).

    Refuses a generation that fails :func:`verify_generation`. Later ingests build on it and
    number their generations after the newest one present.
    """
    root = Path(root)
    with store_lock(root):
        problems = verify_generation(root, to_generation)
        if problems:
            raise StoreCorruptedError(f"cannot roll back to generation {to_generation}: " + "; ".join(problems))
        _make_current(root, to_generation)


def clean_staging(root: Path) -> None:
    """Removes generations left half-written by an interrupted run; the caller holds
    :func:`store_lock`."""
    staging = Path(root) / "staging"
    if staging.is_dir():
        for p in staging.iterdir():
            shutil.rmtree(p, ignore_errors=True)


def prune(root: Path, keep: int) -> None:
    """Keeps the ``keep`` newest published generations (and always the current one), and
    removes generations newer than ``CURRENT`` (renamed into place by a run that crashed before
    publishing); ``keep`` 0 or less keeps every published generation (docs/DESIGN.md §5.6).
    The caller holds :func:`store_lock`."""
    root = Path(root)
    current = read_current(root)
    gens = list_generations(root)
    for g in gens:
        if current is not None and g > current:
            shutil.rmtree(generation_path(root, g), ignore_errors=True)
    published = [g for g in gens if current is None or g <= current]
    for g in published[:-keep] if keep > 0 else []:
        if g != current:
            shutil.rmtree(generation_path(root, g), ignore_errors=True)
