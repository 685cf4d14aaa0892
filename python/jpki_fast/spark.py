"""Sweeps beyond one machine: revocation status as a Spark DataFrame transformation.

:func:`with_revocation_status` runs :func:`jpki_fast.sweeps.check_batch` inside Spark's
``mapInArrow``: each executor's Python worker opens the store once (memory-mapped, milliseconds)
and checks whole Arrow record batches, with no per-row Python. The driver pins one generation
and one ``now`` for the whole job, so every executor answers from the same snapshot at the same
instant even if a newer generation is published while the job runs.

Requires pyspark (``pip install 'jpki-fast[spark]'``); only this module imports it.

Executors need a store they can read at a path. Either

- a shared filesystem (NFS, a mounted volume) with the store at the same path everywhere:
  ``with_revocation_status(df, "/mnt/jpki/store")``; or
- ship the snapshot with the job: :func:`ship_snapshot` hard-links the current generation (a few
  hundred MB for 10 million entries) into a minimal store directory, adds it with
  ``SparkContext.addFile(..., recursive=True)`` and returns a ``sparkfiles://`` path that each
  executor resolves with ``SparkFiles.get``::

      from jpki_fast.spark import ship_snapshot, with_revocation_status
      store = ship_snapshot(spark, "/var/lib/jpki-fast/store")        # 'sparkfiles://jpki-fast-store-42'
      status = with_revocation_status(spark.read.parquet("customers/"), store, issuer="auth_ca_2023")
      status.write.parquet("status/")

The result has the DataFrame's columns followed by ``status``, ``reason``, ``revocation_date``,
``meaning_ja``, ``meaning_en``, ``action`` and ``detail`` (and ``latest_serial`` with
``follow_links``), exactly as :func:`jpki_fast.sweep` writes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pyarrow as pa

from .timeutil import NowLike, to_epoch

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

SPARKFILES = "sparkfiles://"

# One open store per (path, generation) per Python worker process (Spark reuses its workers).
_STORES: dict[tuple[str, int], Any] = {}


def _local_path(store_path: str) -> str:
    if store_path.startswith(SPARKFILES):
        from pyspark import SparkFiles

        return SparkFiles.get(store_path[len(SPARKFILES) :])
    return store_path


def _open(store_path: str, generation: int | None = None):
    from .store import open_store

    path = _local_path(store_path)
    if generation is None:
        return open_store(path)
    key = (path, generation)
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = open_store(path, generation=generation)
    return store


def _spark_types(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Arrow types Spark reads: dictionaries decoded, large strings as strings, times in µs UTC."""
    arrays, names = [], batch.schema.names
    for column in batch.columns:
        t = column.type
        if pa.types.is_dictionary(t):
            column = column.cast(t.value_type)
            t = column.type
        if pa.types.is_large_string(t):
            column = column.cast(pa.string())
        elif pa.types.is_large_binary(t):
            column = column.cast(pa.binary())
        elif pa.types.is_timestamp(t):
            column = column.cast(pa.timestamp("us", tz="UTC"))
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def with_revocation_status(
    df: "DataFrame",
    store_path: str | os.PathLike[str],
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
) -> "DataFrame":
    """``df`` with the revocation status of every row (see :func:`jpki_fast.sweeps.check_batch`).

    ``store_path``: a store every executor can read at that path, or the ``sparkfiles://`` path
    :func:`ship_snapshot` returns. The driver opens it too, to pin its current generation and to
    derive the result's schema. ``now`` (default: when this is called) is fixed for the whole job.

    For example::

        status = with_revocation_status(df, "/mnt/jpki/store", issuer="auth_ca_2023")
        status.groupBy("status", "reason").count().show()
    """
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    from .sweeps import BatchChecker

    store_path = os.fspath(store_path)
    store = _open(store_path)
    generation = store.generation
    now_s = to_epoch(now)
    options = {
        "serial_column": None if certificate_col is not None else serial_col,
        "issuer_column": issuer_col,
        "certificate_column": certificate_col,
        "issuer": issuer,
        "now": now_s,
        "follow_links": follow_links,
        "purpose": purpose,
        "allow_test_hierarchy": allow_test_hierarchy,
        "keep_certificate": keep_certificate,
    }
    input_schema = to_arrow_schema(df.schema, timezone="UTC")
    checker = BatchChecker(store, input_schema, source="DataFrame", **options)
    empty = checker(pa.RecordBatch.from_pylist([], schema=input_schema), record=False)
    result_schema = from_arrow_schema(_spark_types(empty).schema, prefer_timestamp_ntz=False)

    def check_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        local = _open(store_path, generation)
        partition_checker = None
        for batch in batches:
            if partition_checker is None:
                partition_checker = BatchChecker(local, batch.schema, source="DataFrame", **options)
            yield _spark_types(partition_checker(batch, record=False))

    return df.mapInArrow(check_partition, result_schema)


def ship_snapshot(spark: "SparkSession", store_path: str | os.PathLike[str], generation: int | None = None) -> str:
    """Ships one generation of a store to every executor with ``SparkContext.addFile`` and
    returns the ``sparkfiles://`` path to give :func:`with_revocation_status`.

    The generation's files are hard-linked (copied across filesystems) into a minimal store
    directory (``CURRENT`` and ``generations/<n>/``) under a temporary directory, so only that
    snapshot travels, not the history the store keeps.

    For example::

        path = ship_snapshot(spark, "/var/lib/jpki-fast/store")   # 'sparkfiles://jpki-fast-store-42'
    """
    from .store import open_store

    store = open_store(store_path, generation)
    name = f"jpki-fast-store-{store.generation}"
    root = Path(tempfile.mkdtemp(prefix="jpki-fast-ship-")) / name
    target = root / "generations" / store.path.name
    target.mkdir(parents=True)
    for item in store.path.iterdir():
        try:
            os.link(item, target / item.name)
        except OSError:
            shutil.copy2(item, target / item.name)
    (root / "CURRENT").write_text(f"{store.generation}\n", encoding="ascii")
    spark.sparkContext.addFile(str(root), recursive=True)
    return SPARKFILES + name
