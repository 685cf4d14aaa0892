"""Ingest: verify a directory of CRLs and publish a new snapshot of the store.

Every CRL under ``crl_dir`` (recursively; ``*.crl``, ``*.der``, ``*.pem``) is parsed and its
signature verified once, in parallel, by the Rust core. Each CRL covers one *partition*: the
pair (issuer key, issuing distribution point name). A CRL is accepted for its partition only
if it is valid, signed by a trusted CA key, current at ``now`` (thisUpdate <= now + 5 min,
nextUpdate > now), and newer than the one the store holds: a higher CRL number (and a
thisUpdate not earlier). A lower number is refused as a rollback, the same number with different
content as a conflict; an identical CRL is "unchanged".

Two policies decide what a run publishes:

- ``"partition"`` (the default): every accepted partition is published; a refused or missing
  partition keeps its previous CRL (which turns ``stale`` once past its nextUpdate: fail closed).
- ``"all-or-nothing"``: if any file is refused, nothing is published.

Either way, partitions absent from the run keep their previous CRL, a failed run never touches
the published snapshot, and the summary lists accepted, unchanged, refused (with cause) and
missing partitions.

>>> summary = ingest(data_dir / "trust", data_dir / "crls", tmp / "ingest-doc", now=NOW)
>>> summary.published, summary.generation, [f.outcome for f in summary.files]
(True, 1, ['accepted', 'accepted'])
>>> again = ingest(data_dir / "trust", data_dir / "crls", tmp / "ingest-doc", now=NOW)  # the same files again
>>> again.published, [f.outcome for f in again.files]
(False, ['unchanged', 'unchanged'])
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from . import _core
from .errors import IngestRefused, PublishedThenFailed, StoreError
from .limits import DEFAULT as DEFAULT_LIMITS
from .limits import Limits
from .publish import clean_staging, next_generation, prune, store_lock, write_generation
from .store import Store
from .store_format import ISSUER_SCHEMA, PARTITION_SCHEMA, read_current
from .timeutil import NowLike, iso, to_epoch
from .serials import canonical
from .trust import TrustStore

CRL_SUFFIXES = (".crl", ".der", ".pem")
#: How far in the future a thisUpdate may be (clock skew between J-LIS and us).
CLOCK_SKEW = 300
DEFAULT_KEEP = 35
POLICIES = ("partition", "all-or-nothing")
DROP = 0xFFFF


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    outcome: str  # accepted | unchanged | refused
    issuer: str | None = None
    partition: str | None = None
    crl_number: str | None = None
    this_update: str | None = None
    next_update: str | None = None
    entries: int | None = None
    error_kind: str | None = None
    message: str | None = None


@dataclass
class IngestSummary:
    """The result of an ingest run. ``str(summary)`` is the text report; ``to_dict()`` the JSON one."""

    store: str
    generation: int | None  # the generation current after the run
    published: bool
    policy: str
    now: str
    files: list[FileReport] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)  # partitions held but absent from this run
    entries: int = 0  # entries in the published snapshot
    entries_by_issuer: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # snapshot entries by reason
    accepted_reasons: dict[str, int] = field(default_factory=dict)  # entries of accepted CRLs by reason
    duplicates: int = 0
    cross_partition_duplicates: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def by_outcome(self, outcome: str) -> list[FileReport]:
        return [f for f in self.files if f.outcome == outcome]

    @property
    def accepted(self) -> list[FileReport]:
        return self.by_outcome("accepted")

    @property
    def refused(self) -> list[FileReport]:
        return self.by_outcome("refused")

    @property
    def unchanged(self) -> list[FileReport]:
        return self.by_outcome("unchanged")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = {
            "accepted": len(self.accepted),
            "unchanged": len(self.unchanged),
            "refused": len(self.refused),
            "missing": len(self.missing),
        }
        return d

    def __str__(self) -> str:
        lines = []
        if self.published:
            lines.append(f"published generation {self.generation} of {self.store} (policy: {self.policy}, now: {self.now})")
        elif self.generation is not None:
            lines.append(f"nothing published; generation {self.generation} stays current ({self.store})")
        else:
            lines.append(f"nothing published; {self.store} has no snapshot yet")
        lines.append(
            f"  files: {len(self.accepted)} accepted, {len(self.unchanged)} unchanged, "
            f"{len(self.refused)} refused; {len(self.missing)} partitions missing from this run"
        )
        lines.append(f"  snapshot: {self.entries:,} revoked entries")
        for alias, n in self.entries_by_issuer.items():
            if n:
                lines.append(f"    {alias}: {n:,}")
        if self.reasons:
            lines.append("  by reason: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.reasons.items(), key=lambda kv: -kv[1])))
        if self.duplicates or self.cross_partition_duplicates:
            lines.append(
                f"  duplicate serials dropped: {self.duplicates:,} within a CRL, "
                f"{self.cross_partition_duplicates:,} across partitions (earliest revocation kept)"
            )
        if self.seconds:
            lines.append("  time: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.seconds.items()))
        for f in self.refused:
            lines.append(f"  REFUSED {f.path}: {f.message}")
        for m in self.missing[:20]:
            lines.append(f"  missing {m['issuer']} / {m['name'] or '(full CRL)'}: keeps CRL {m['crl_number']} until {m['next_update']}")
        if len(self.missing) > 20:
            lines.append(f"  ... and {len(self.missing) - 20} more missing partitions")
        return "\n".join(lines)


def discover(crl_dir: str | Path) -> list[Path]:
    """CRL files under ``crl_dir``, recursively, in a stable order; hidden entries skipped."""
    root = Path(crl_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: CRL directory not found")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(CRL_SUFFIXES):
                found.append(Path(dirpath) / name)
    return found


def _crl_number(raw: bytes | None) -> int | None:
    return None if raw is None else int.from_bytes(raw, "big")


def _issuers_table(trust: TrustStore) -> pa.Table:
    keys = list(trust)
    return pa.table(
        {
            "alias": [k.alias for k in keys],
            "key_id": [k.key_id_hex for k in keys],
            "subject": [k.subject for k in keys],
            "kind": [k.kind for k in keys],
            "test_hierarchy": [k.test_hierarchy for k in keys],
            "crl_sign": [k.crl_sign for k in keys],
            "not_before": pa.array([k.not_before for k in keys], ISSUER_SCHEMA.field("not_before").type),
            "not_after": pa.array([k.not_after for k in keys], ISSUER_SCHEMA.field("not_after").type),
            "serial": [canonical(k.serial) for k in keys],
            "authority_key_id": [None if k.authority_key_id is None else k.authority_key_id.hex().upper() for k in keys],
            "certificate": [k.certificate_der for k in keys],
        },
        schema=ISSUER_SCHEMA,
    )


def ingest(
    trust_dir: str | Path,
    crl_dir: str | Path,
    store_dir: str | Path,
    now: NowLike = None,
    *,
    policy: str = "partition",
    keep: int = DEFAULT_KEEP,
    log: Callable[[str], None] | None = None,
    limits: Limits | None = None,
) -> IngestSummary:
    """Verifies every CRL under ``crl_dir`` against ``trust_dir`` and publishes a new snapshot.

    Returns an :class:`IngestSummary` (``published`` is False when nothing was accepted);
    raises :class:`IngestRefused`, carrying the summary, when the ``all-or-nothing`` policy
    refuses the run. ``keep`` is how many generations to keep for history. ``limits``
    (:class:`~jpki_fast.limits.Limits`) bounds the files: more than ``max_files`` refuses the
    run (:class:`~jpki_fast.limits.LimitExceeded`, nothing done); a file over ``max_crl_bytes``
    or ``max_crl_entries`` is refused (``limit_exceeded``) like any other bad file.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    say = log or (lambda _msg: None)
    t_start = time.perf_counter()
    now_s = to_epoch(now)
    root = Path(store_dir)
    crl_root = Path(crl_dir)
    trust = TrustStore.from_dir(trust_dir)
    paths = discover(crl_root)
    if not paths:
        raise FileNotFoundError(f"{crl_root}: no CRL files (*.crl, *.der, *.pem) found")
    limits = limits or DEFAULT_LIMITS
    limits.check_files(len(paths), str(crl_root))

    with store_lock(root):
        clean_staging(root)
        previous = Store(root) if read_current(root) is not None else None
        say(f"verifying {len(paths)} CRL files with {_core.thread_count()} threads")
        t0 = time.perf_counter()
        batch = _core.read_crls([str(p) for p in paths], trust.anchors(), limits.max_crl_bytes, limits.max_crl_entries)
        outcomes = batch.outcomes()
        t_read = time.perf_counter() - t0

        summary = IngestSummary(store=str(root), generation=None if previous is None else previous.generation,
                                published=False, policy=policy, now=iso(now_s) or "")
        aliases = trust.aliases
        prev_parts = _previous_partitions(previous, trust)
        reports: list[FileReport] = []
        candidates: dict[tuple[int, str, str], list[int]] = {}
        for i, o in enumerate(outcomes):
            report = FileReport(path=os.path.relpath(o["path"], crl_root), outcome="refused")
            reports.append(report)
            if not o["ok"]:
                report.error_kind, report.message = o["error_kind"], o["error"]
                continue
            key = _partition_key(o)
            number = _crl_number(o["crl_number"])
            report.issuer, report.partition = aliases[o["issuer_index"]], key[1]
            report.crl_number = None if number is None else str(number)
            report.this_update, report.next_update = iso(o["this_update"]), iso(o["next_update"])
            report.entries = o["entries"]
            kind, message = _judge(o, number, now_s, prev_parts.get(key))
            if kind == "unchanged":
                report.outcome = "unchanged"
            elif kind is not None:
                report.error_kind, report.message = kind, message
            else:
                candidates.setdefault(key, []).append(i)
        decided = _decide_within_run(outcomes, candidates, reports)
        summary.files = reports

        seen_keys = {_partition_key(o) for o in outcomes if o["ok"]}
        summary.missing = [
            {"issuer": p["issuer"], "name": p["name"], "kind": p["kind"], "crl_number": p["crl_number"],
             "next_update": iso(p["next_update"])}
            for key, p in prev_parts.items()
            if key not in seen_keys
        ]
        accepted = list(decided.values())
        refused = summary.refused
        if refused and policy == "all-or-nothing":
            summary.seconds = {"verify": t_read, "total": time.perf_counter() - t_start}
            _fill_snapshot_counts(summary, previous)
            raise IngestRefused(
                f"{len(refused)} of {len(paths)} CRL files refused (policy all-or-nothing); nothing published", summary
            )
        if not accepted:
            summary.seconds = {"verify": t_read, "total": time.perf_counter() - t_start}
            _fill_snapshot_counts(summary, previous)
            return summary

        t0 = time.perf_counter()
        generation = next_generation(root)
        partitions, selection, remap, carry_issuers, new_rows = _plan_partitions(
            outcomes, decided, prev_parts, previous, trust, generation, crl_root
        )
        columns = batch.build(
            selection,
            len(trust),
            previous.core if previous is not None else None,
            remap,
            carry_issuers,
        )
        partitions = _with_duplicates(partitions, columns, new_rows)
        t_build = time.perf_counter() - t0
        summary.accepted_reasons = _sum_reasons(outcomes[i]["reason_counts"] for i in accepted)
        summary.duplicates = int(sum(n for cols in columns for _, n in cols["duplicates"]))
        summary.cross_partition_duplicates = int(sum(cols["cross_partition_duplicates"] for cols in columns))

        t0 = time.perf_counter()
        summary_for_manifest = {
            "now": iso(now_s),
            "accepted": len(summary.accepted),
            "unchanged": len(summary.unchanged),
            "refused": [{"path": f.path, "kind": f.error_kind, "message": f.message} for f in refused],
            "missing": len(summary.missing),
        }
        written = write_generation(root, _issuers_table(trust), partitions, columns, summary_for_manifest, parent=previous)
        assert written == generation
        t_write = time.perf_counter() - t0
        summary.generation = generation
        summary.published = True
        del batch, columns
        # Published: from here on a failure must not read as "nothing done".
        step = "pruning old generations"
        try:
            prune(root, keep)
            step = "reading the published snapshot for the summary"
            _fill_snapshot_counts(summary, Store(root, generation))
        except Exception as exc:
            raise PublishedThenFailed(root, generation, step, exc, summary) from exc
        summary.seconds = {"verify": t_read, "build": t_build, "write": t_write, "total": time.perf_counter() - t_start}
        return summary


def _judge(o: dict, number: int | None, now: int, held: dict | None) -> tuple[str | None, str | None]:
    """Refusal kind and message for a verified CRL, or (None, None) to accept; "unchanged"."""
    this_update, next_update = o["this_update"], o["next_update"]
    if o.get("version") == 1:
        return "no_crl_number", (
            "a v1 CRL carries no cRLNumber (it has no extensions), so its order against the CRL held "
            "cannot be established (rollback and conflict detection need the number); v1 CRLs are refused"
        )
    if next_update is None:
        return "no_next_update", "CRL has no nextUpdate, so its freshness cannot be judged (RFC 5280 §5.1.2.5)"
    if next_update <= this_update:
        return "malformed", f"nextUpdate {iso(next_update)} is not after thisUpdate {iso(this_update)}"
    if this_update > now + CLOCK_SKEW:
        return "not_yet_valid", f"thisUpdate {iso(this_update)} is in the future (now is {iso(now)}); check the clock"
    if next_update <= now:
        return "expired", f"CRL expired at its nextUpdate {iso(next_update)} (now is {iso(now)})"
    if number is None:
        return "no_crl_number", "CRL has no cRLNumber, so a rollback cannot be detected"
    if held is not None:
        if o["content_sha256"] == held["content_sha256"]:
            return "unchanged", None
        if number < held["crl_number_int"]:
            return "rollback", (
                f"rollback refused: CRL number {number} is lower than the {held['crl_number']} already held "
                f"for this partition"
            )
        if number == held["crl_number_int"]:
            return "conflict", (
                f"CRL number {number} is already held for this partition with different content "
                f"(a CA never reissues a number)"
            )
        if this_update < held["this_update"]:
            return "rollback", (
                f"thisUpdate {iso(this_update)} is earlier than the {iso(held['this_update'])} of CRL "
                f"{held['crl_number']} already held"
            )
    return None, None


def _partition_key(o: dict) -> tuple[int, str, str]:
    """(issuer index, partition name, kind): what one CRL covers."""
    return (o["issuer_index"], o["partition"] or "", "arl" if o["only_ca_certs"] else "crl")


def _decide_within_run(outcomes: list[dict], candidates: dict, reports: list[FileReport]) -> dict:
    """Several acceptable files for one partition in one run: the highest CRL number wins;
    identical copies of it count as unchanged; different content under one number is refused."""
    decided = {}
    for key, files in candidates.items():
        best = max(_crl_number(outcomes[i]["crl_number"]) for i in files)
        winners = [i for i in files if _crl_number(outcomes[i]["crl_number"]) == best]
        if len({outcomes[i]["content_sha256"] for i in winners}) > 1:
            for i in winners:
                reports[i].error_kind = "conflict"
                reports[i].message = (
                    f"CRL number {best} appears in {len(winners)} files of this run with different content: "
                    + ", ".join(reports[j].path for j in winners)
                )
        else:
            decided[key] = winners[0]
            reports[winners[0]].outcome = "accepted"
            for i in winners[1:]:
                reports[i].outcome = "unchanged"
        for i in files:
            if i not in winners:
                reports[i].error_kind = "superseded_in_run"
                reports[i].message = f"another file of this run holds a newer CRL ({best}) for the same partition"
    return decided


def _previous_partitions(previous: Store | None, trust: TrustStore) -> dict[tuple[int, str, str], dict]:
    """The previous snapshot's partitions keyed by (new issuer index, name, kind)."""
    if previous is None:
        return {}
    out = {}
    p = previous.partitions().to_pylist()
    key_ids = previous.issuer_table.column("key_id").to_pylist()
    for row, rec in enumerate(p):
        ca = trust.by_key_id(bytes.fromhex(key_ids[rec["issuer_index"]]))
        if ca is None:
            continue  # issuer no longer trusted: its partitions are dropped
        rec = dict(rec)
        rec["row"] = row
        rec["issuer_new_index"] = trust.index_of(ca.alias)
        rec["crl_number_int"] = int(rec["crl_number"]) if rec["crl_number"] is not None else -1
        rec["this_update"] = int(rec["this_update"].timestamp())
        rec["next_update"] = None if rec["next_update"] is None else int(rec["next_update"].timestamp())
        out[(rec["issuer_new_index"], rec["name"], rec["kind"])] = rec
    return out


def _plan_partitions(outcomes, decided, prev_parts, previous, trust, generation, crl_root):
    """The new partition table, the build selection, and the remapping of carried partitions."""
    rows: list[dict] = []
    n_prev = previous.partitions().num_rows if previous is not None else 0
    remap = np.full(max(n_prev, 1), DROP, dtype=np.uint16)
    for key, p in sorted(prev_parts.items(), key=lambda kv: kv[1]["row"]):
        if key in decided:
            continue  # replaced by this run's CRL
        remap[p["row"]] = len(rows)
        carried = {k: p[k] for k in PARTITION_SCHEMA.names}
        rows.append({**carried, "issuer": trust.aliases[p["issuer_new_index"]], "issuer_index": p["issuer_new_index"]})
    selection = []
    new_rows = {}
    aliases = trust.aliases
    for key, i in sorted(decided.items(), key=lambda kv: kv[1]):
        o = outcomes[i]
        pid = len(rows)
        selection.append((i, pid))
        new_rows[pid] = i
        rows.append(
            {
                "issuer": aliases[o["issuer_index"]],
                "issuer_index": o["issuer_index"],
                "name": key[1],
                "kind": key[2],
                "only_user_certs": o["only_user_certs"],
                "crl_number": str(_crl_number(o["crl_number"])),
                "this_update": o["this_update"],
                "next_update": o["next_update"],
                "entries": o["entries"],
                "duplicates": 0,
                "source": os.path.relpath(o["path"], crl_root),
                "content_sha256": o["content_sha256"],
                "signature_algorithm": o["signature_algorithm"],
                "size": o["size"],
                "accepted_generation": generation,
            }
        )
    if len(rows) >= 0xFFFE:
        raise StoreError(f"{len(rows)} partitions exceed the limit of 65,533 per snapshot")
    carry_issuers = None
    if previous is not None:
        carry_issuers = []
        for kid in previous.issuer_table.column("key_id").to_pylist():
            ca = trust.by_key_id(bytes.fromhex(kid))
            carry_issuers.append(DROP if ca is None else trust.index_of(ca.alias))
    table = pa.table(
        {
            name: pa.array([r[name] for r in rows], PARTITION_SCHEMA.field(name).type)
            for name in PARTITION_SCHEMA.names
        },
        schema=PARTITION_SCHEMA,
    )
    return table, selection, remap, carry_issuers, new_rows


def _with_duplicates(partitions: pa.Table, columns: list[dict], new_rows: dict[int, int]) -> pa.Table:
    dups = partitions.column("duplicates").to_numpy().copy()
    for cols in columns:
        for pid, n in cols["duplicates"]:
            if pid in new_rows:
                dups[pid] = n
    i = partitions.schema.get_field_index("duplicates")
    return partitions.set_column(i, "duplicates", pa.array(dups, pa.int64()))


def _sum_reasons(counts) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return total


def _fill_snapshot_counts(summary: IngestSummary, store: Store | None) -> None:
    if store is None:
        return
    summary.entries_by_issuer = {i.alias: i.entries + i.long_entries for i in store.issuers()}
    summary.entries = sum(summary.entries_by_issuer.values())
    summary.reasons = store.reason_counts()
