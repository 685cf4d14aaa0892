"""The store: a published snapshot opened read-only, and the checks answered from it.

:func:`open_store` opens the generation ``CURRENT`` names (or a given one) in milliseconds: the
files are memory-mapped (docs/DESIGN.md §5.9), nothing is read until used, any number of
processes share one copy, and a :class:`Store` keeps answering from the generation it opened.
Statuses follow docs/DESIGN.md §3.3-§3.4.

The store's other concerns live beside this facade: its on-disk format in
:mod:`jpki_fast.store_format`, opening one generation's files in :mod:`jpki_fast.generation`,
writing and publishing generations in :mod:`jpki_fast.publish`. The names of theirs that callers
import from here (``read_current``, ``rollback``, ``verify_generation``, the schemas, ...) are
re-exported.

>>> store = open_store(store_dir)
>>> store.check(["054CFCD8", 0x1234], issuer="auth_ca_2023", now=NOW).column("status").to_pylist()
['revoked', 'good']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from . import _core
from .durable import exclusive_lock
from .errors import StoreCorruptedError, StoreError
from .generation import Generation
from .publish import (
    clean_staging,
    derive_generation,
    file_digests,
    next_generation,
    rollback,
    store_lock,
    verify_generation,
    write_generation,
)
from .serials import SerialBatch, normalize, to_hex
from .store_format import (
    BITMAP_SCHEMA,
    DIGEST,
    DIRECTORY_SCHEMA,
    ENTRY_SCHEMA,
    FORMAT,
    FORMAT_VERSION,
    INDEX_FILES,
    INVALIDITY_SCHEMA,
    ISSUER_SCHEMA,
    LINKS_FILE,
    LINKS_SCHEMA,
    LONG_ENTRY_SCHEMA,
    NO_REASON,
    PARTITION_SCHEMA,
    PAYLOAD,
    REASONS,
    SNAPSHOT_FILES,
    UTC_SECONDS,
    generation_name,
    generation_path,
    list_generations,
    long_serials_to_hex,
    null_array,
    read_current,
    unpack_payload,
)
from .timeutil import NowLike, iso, to_epoch

# Names defined by the store's other modules, importable from here as they always were.
__all__ = [
    "BITMAP_SCHEMA",
    "DIGEST",
    "DIRECTORY_SCHEMA",
    "ENTRY_SCHEMA",
    "FORMAT",
    "FORMAT_VERSION",
    "INDEX_FILES",
    "INVALIDITY_SCHEMA",
    "ISSUER_SCHEMA",
    "ISSUER_WIDE",
    "LINKS_FILE",
    "LINKS_SCHEMA",
    "LONG_ENTRY_SCHEMA",
    "MISSING_PARTITION",
    "PARTITION_SCHEMA",
    "PAYLOAD",
    "REASONS",
    "SNAPSHOT_FILES",
    "STATUSES",
    "UNKNOWN_ISSUER",
    "UTC_SECONDS",
    "IssuerInfo",
    "Store",
    "StoreCorruptedError",
    "StoreError",
    "clean_staging",
    "derive_generation",
    "exclusive_lock",
    "file_digests",
    "generation_name",
    "list_generations",
    "next_generation",
    "open_store",
    "read_current",
    "rollback",
    "store_lock",
    "unpack_payload",
    "verify_generation",
    "write_generation",
]

#: Statuses of a serial (docs/DESIGN.md §3.3), in the order of the Rust core's status codes.
STATUSES = ("good", "revoked", "stale", "unknown")
#: Issuer slot of a row whose issuer is not in the trust store (answered ``unknown``).
UNKNOWN_ISSUER = 0xFFFF
#: Partition slots for :meth:`Store.check_normalized` (docs/DESIGN.md §3.4): judge freshness
#: over every partition of the issuer; the row names a partition the store holds no CRL for.
ISSUER_WIDE = 0xFFFF
MISSING_PARTITION = 0xFFFE

_STATUS_DICT = pa.array(STATUSES)
_REASON_DICT = pa.array(REASONS)


def _u(buf: Any, arrow_type: pa.DataType, length: int) -> pa.Array:
    return pa.Array.from_buffers(arrow_type, length, [None, pa.py_buffer(buf)])


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
        self.path = generation_path(self.root, generation)
        if verify:
            problems = verify_generation(self.root, generation)
            if problems:
                raise StoreCorruptedError("; ".join(problems))
        files = Generation(self.root, generation)
        self._files = files
        self.manifest = files.manifest
        self._issuers = files.issuers
        self._partitions = files.partitions
        self._batches = files.batches
        self._alias_index = {a: i for i, a in enumerate(self._issuers.column("alias").to_pylist())}
        self._key_index = files.key_index
        self._snapshot = files.core
        self._revoked_keys = files.revoked_keys
        self._links: pa.Table | None = None

    @property
    def core(self) -> _core.Snapshot:
        """The Rust core's snapshot of this generation (``jpki_fast._core.Snapshot``), for the
        engine modules that build on one: ingest carries unchanged partitions over from it,
        history diffs two of them."""
        return self._snapshot

    def index_batch(self, name: str, issuer: int) -> pa.RecordBatch:
        """The record batch of issuer key number ``issuer`` in index file ``name`` (one of
        :data:`jpki_fast.store_format.INDEX_FILES`; docs/DESIGN.md §4.5-§4.8), zero-copy.

        >>> store.index_batch("entries.arrow", 0).schema.names
        ['serial', 'payload']
        """
        return self._files.index_batch(name, issuer)

    def reason_counts(self) -> dict[str, int]:
        """Revoked entries of this snapshot by reason name (``"none"``: no reasonCode), counted
        by the Rust core straight from the packed payloads.

        >>> store.reason_counts()
        {'keyCompromise': 1, 'affiliationChanged': 1, 'superseded': 1, 'none': 1}
        """
        counts = _core.payload_reason_counts(self._files.payload_buffers())
        return {("none" if code == NO_REASON else REASONS[code]): int(n) for code, n in enumerate(counts) if n}

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
        latest_serial (the end of the chain of renewals), canonical hex (docs/DESIGN.md §4.9)."""
        if self._links is None:
            self._links = self._files.read_links()
        return self._links

    def latest_serial(self, serials: Any, issuer: str | Sequence[str] | pa.Array) -> pa.Array:
        """The newest serial that replaced each serial, following chains of renewals
        (新旧シリアル番号紐付け) imported with ``jpki-fast links import``; a serial without a
        link is returned as itself. Canonical hex.

        >>> store.latest_serial(["0A", "99"], "auth_ca_2023").to_pylist()
        ['0C', '99']
        """
        batch = normalize(serials)
        return self.follow_links(to_hex(batch), self._issuer_rows(issuer, len(batch)))

    def follow_links(self, hexes: pa.Array, issuer_rows: int | np.ndarray) -> pa.Array:
        """:meth:`latest_serial` on already normalised input: canonical hex serials and their
        issuer indexes (one for all rows, or one per row)."""
        links = self.links()
        if links.num_rows == 0 or len(hexes) == 0:
            return hexes
        import pyarrow.compute as pc

        key_ids = self._issuers.column("key_id").to_pylist()
        rows = np.full(len(hexes), issuer_rows, np.int64) if isinstance(issuer_rows, int) else np.asarray(issuer_rows, np.int64)
        result = hexes
        for index in np.unique(rows):
            if index >= len(key_ids):
                continue  # unknown issuer: no links
            sub = links.filter(pc.equal(links.column("issuer"), key_ids[index]))
            if sub.num_rows == 0:
                continue
            found = pc.index_in(hexes, value_set=sub.column("old_serial").combine_chunks())
            mine = pa.array(rows == index)
            latest = sub.column("latest_serial").combine_chunks().take(found)
            result = pc.if_else(pc.and_(mine, pc.is_valid(found)), latest, result)
        return result

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

        >>> [(p["issuer"], p["crl_number"], str(p["next_update"])) for p in store.partitions().to_pylist()]
        [('auth_ca_2023', '20261127', '2026-11-27 22:48:00+00:00'), ('sign_ca_2023', '20261127', '2026-11-27 22:48:00+00:00')]
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
                serial = long_serials_to_hex(serial)
            times, partitions, reasons = unpack_payload(b.column(1))
            has_reason = reasons != NO_REASON
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

        >>> t = store.check(np.array([0x054CFCD8, 0x054CFCDA, 0x1234], dtype=np.uint64), "auth_ca_2023", now=NOW)
        >>> t.column("status").to_pylist(), t.column("reason").to_pylist()
        (['revoked', 'revoked', 'good'], ['superseded', 'keyCompromise', None])
        >>> store.check(["054CFCD8", "03000001"], ["auth_ca_2023", "sign_ca_2023"], now=NOW).column("reason").to_pylist()
        ['superseded', 'affiliationChanged']
        >>> store.check(["0A"], "auth_ca_2023", now=NOW, follow_links=True).column("latest_serial").to_pylist()
        ['0C']
        >>> store.check([0x1234], "auth_ca_2023", now="2026-11-28T00:00:00Z").column("status").to_pylist()  # past nextUpdate
        ['stale']
        """
        batch = normalize(serials)
        rows = self._issuer_rows(issuer, len(batch))
        result = self.check_normalized(batch, rows, to_epoch(now), provenance)
        if follow_links:
            result = result.append_column("latest_serial", self.follow_links(to_hex(batch), rows))
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
            else null_array(n, UTC_SECONDS),
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
            this_part = next_part = null_array(n, pa.int64())
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
            result = result.append_column("latest_serial", self.follow_links(hexes, rows))
        front = pa.table({"serial": hexes, "issuer": issuers})
        return pa.table(
            {**{c: front.column(c) for c in front.column_names}, **{c: result.column(c) for c in result.column_names}}
        ).replace_schema_metadata(result.schema.metadata)

    def check_batch(
        self, batch: pa.RecordBatch | pa.Table, serial_col: str | None = "serial", issuer_col: str | None = "issuer", **options: Any
    ) -> pa.RecordBatch:
        """The status of every row of an Arrow record batch, its columns kept (for DuckDB, Polars,
        Spark's mapInArrow); see :func:`jpki_fast.sweeps.check_batch` for the options.

        >>> store.check_batch(pa.table({"serial": ["054CFCD8"], "issuer": ["auth_ca_2023"]}), now=NOW).column("status").to_pylist()
        ['revoked']
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

        >>> store.check_certificates([cert_der, revoked_cert_der], now=NOW, purpose="login").column("status").to_pylist()
        ['good', 'revoked']
        """
        from . import certs as _certs

        return _certs.check_certificates(self, certs, now=now, purpose=purpose, **options)

    def verify_logins(self, certs, challenges, signatures, now: NowLike = None, **options) -> pa.Table:
        """Allow/deny per login (signature over the challenge and a good authentication
        certificate); see :func:`jpki_fast.certs.verify_logins`.

        >>> store.verify_logins([cert_der], [challenge], [signature], now=NOW).column("decision").to_pylist()
        ['allow']
        """
        from . import certs as _certs

        return _certs.verify_logins(self, certs, challenges, signatures, now=now, **options)

    def verify_signed_documents(self, certs, documents=None, signatures=None, now: NowLike = None, **options) -> pa.Table:
        """Allow/deny per signed document (signature and a good signing certificate); see
        :func:`jpki_fast.certs.verify_signed_documents`.

        >>> store.verify_signed_documents([signing_cert_der], [document], [document_signature], now=NOW).column("decision").to_pylist()
        ['allow']
        """
        from . import certs as _certs

        return _certs.verify_signed_documents(self, certs, documents, signatures, now=now, **options)

    # One item at a time (login gating): the batch functions' answers at close to the cost of
    # the cryptography (see jpki_fast.certs).

    def check_certificate(self, cert, now: NowLike = None, purpose: str | None = None, **options):
        """:meth:`check_certificates` for one certificate: a :class:`jpki_fast.certs.CertificateResult`.

        >>> store.check_certificate(revoked_cert_der, now=NOW, purpose="login").status
        'revoked'
        """
        from . import certs as _certs

        return _certs.check_certificate(self, cert, now=now, purpose=purpose, **options)

    def verify_login(self, cert, challenge, signature, now: NowLike = None, **options):
        """:meth:`verify_logins` for one login: a :class:`jpki_fast.certs.VerificationResult`.

        >>> store.verify_login(cert_der, challenge, signature, now=NOW).decision
        'allow'
        """
        from . import certs as _certs

        return _certs.verify_login(self, cert, challenge, signature, now=now, **options)

    def verify_signed_document(self, cert, document=None, signature=None, now: NowLike = None, **options):
        """:meth:`verify_signed_documents` for one document: a :class:`jpki_fast.certs.VerificationResult`.

        >>> store.verify_signed_document(signing_cert_der, document, document_signature, now=NOW).decision
        'allow'
        """
        from . import certs as _certs

        return _certs.verify_signed_document(self, cert, document, signature, now=now, **options)


def open_store(store_dir: str | Path, generation: int | None = None, verify: bool = False) -> Store:
    """Opens the published snapshot of a store (or a given generation) read-only.

    Opening checks the structure cheaply (files present with the manifest's sizes, Arrow IPC
    readable, the lookup structures consistent) and reads no entries, so it takes
    milliseconds; ``verify=True`` also checks every file's BLAKE3 digest (tens of
    milliseconds per 10 million entries), as ``jpki-fast verify-store`` does.

    >>> store = open_store(store_dir)
    >>> store.generation, [i.alias for i in store.issuers() if i.entries]
    (3, ['auth_ca_2023', 'sign_ca_2023'])
    >>> open_store(store_dir, generation=1, verify=True).check(["054CFCD9"], "auth_ca_2023", now=NOW).column("status").to_pylist()
    ['revoked']
    """
    return Store(store_dir, generation, verify)
