"""Customer sweeps (現況確認): a whole customer file through one snapshot at one instant.

:func:`sweep` streams the input through :class:`~jpki_fast.sweeps.BatchChecker` in three threads
(reading, checking, writing: Parquet and CSV decoding and encoding release the GIL, as do the
Rust lookups), with a few batches in flight, and returns a :class:`SweepSummary`; the output
appears only when complete.

>>> import pyarrow.parquet as pq
>>> customers = pa.table({"customer_id": ["C001", "C002", "C003"], "serial": ["054CFCD8", "1234", "not hex"]})
>>> pq.write_table(customers, tmp / "sweeps-customers.parquet")
>>> summary = sweep(tmp / "sweeps-customers.parquet", store, tmp / "sweeps-status.parquet", issuer="auth_ca_2023", now=NOW)
>>> summary.counts
{'good': 1, 'revoked': 1, 'stale': 0, 'unknown': 0, 'malformed': 1}
>>> pq.read_table(tmp / "sweeps-status.parquet").select(["customer_id", "status", "action"]).to_pylist()
... # doctest: +NORMALIZE_WHITESPACE
[{'customer_id': 'C001', 'status': 'revoked', 'action': 'collect the renewed certificate'},
 {'customer_id': 'C002', 'status': 'good', 'action': 'none'},
 {'customer_id': 'C003', 'status': 'malformed', 'action': 'correct the input row (see detail)'}]
"""

from __future__ import annotations

import collections
import os
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa

from . import meanings
from .meanings import KINDS, NO_KIND, NO_REASON, REASONS, STATUSES
from .store import Store, open_store
from .sweeps import BatchChecker
from .tableio import BATCH_ROWS, TableOutputError, open_input, open_output
from .timeutil import NowLike, iso

__all__ = ["SweepSummary", "sweep"]


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
            lines.append(
                f"  {self.skipped_lines:,} CSV lines skipped (wrong number of fields), e.g. "
                + ", ".join(f"{s['file']} line {s['line'] or '?'}" for s in self.skipped_line_numbers[:3])
            )
        if self.links_followed is not None:
            lines.append(f"  serial links followed: {self.links_followed:,} rows have a newer serial (latest_serial)")
        if self.report:
            lines.append(f"  report: {self.report}")
        return "\n".join(lines)


def _month_text(index: int) -> str:
    return str(np.datetime64(int(index), "M"))


def _stale_partitions(
    store: "Store", now: int, affected: collections.Counter, by_issuer: collections.Counter | None
) -> list[dict[str, Any]]:
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

    >>> import pyarrow.parquet as pq
    >>> pq.write_table(pa.table({"serial": ["054CFCD8", "1234"]}), tmp / "sweep-fn.parquet")
    >>> s = sweep(tmp / "sweep-fn.parquet", store, tmp / "sweep-fn.csv", issuer="auth_ca_2023", now=NOW)
    >>> s.counts["revoked"], s.generation == store.generation, s.now
    (1, True, '2026-11-26T00:00:00Z')
    """
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
    writer = open_output(
        out_path, parquet_options={"use_dictionary": dictionary_columns, "write_statistics": dictionary_columns + ["revocation_date"]}
    )
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
