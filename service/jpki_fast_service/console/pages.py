"""What each console page shows, computed from the served snapshot, the store's history and the
audit log (no HTTP here: the routes in :mod:`.routes` render these facts).

Every number comes from the same place as the API's: counts by issuer and reason from
:func:`jpki_fast_service.routers.snapshot.summary` (what ``GET /v1/snapshot`` answers),
freshness from :meth:`jpki_fast.Store.freshness` (``GET /v1/partitions``), readiness by the rule
of ``GET /readyz``, daily changes from :func:`jpki_fast.history.diff_counts`, usage from the
audit log that ``GET /v1/admin/usage`` counts.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import jpki_fast
import numpy as np
import orjson
import pyarrow as pa
from jpki_fast import history
from jpki_fast.places import PREFECTURES, partition_places
from jpki_fast.timeutil import iso

from ..audit import Verification, verify
from ..routers.snapshot import summary

JST = dt.timezone(dt.timedelta(hours=9), "JST")

#: Revocation reasons in the order charts and tables show them (most frequent in JPKI first).
REASON_ORDER = (
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "keyCompromise",
    "unspecified",
    "privilegeWithdrawn",
    "cACompromise",
    "aACompromise",
    "removeFromCRL",
    "none",
)

#: Partition states: fresh (renewed by the last run), carried (fresh, but kept from an earlier
#: run: missing from the last one, or sent unchanged), stale (past its nextUpdate: checks on it
#: answer ``stale``).
STATES = ("fresh", "carried", "stale")


def day_of(epoch_s: float) -> dt.date:
    """The day in Japan (JST) of an instant: J-LIS publishes daily in Japan."""
    return dt.datetime.fromtimestamp(epoch_s, JST).date()


def _epoch(text: str | None) -> int | None:
    if not text:
        return None
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _stamps(column: pa.ChunkedArray | pa.Array) -> list[int | None]:
    return column.cast(pa.int64()).to_pylist()


# --------------------------------------------------------------------------------------------
# Partitions


def partition_rows(store: jpki_fast.Store, now_s: int) -> list[dict]:
    """One row per partition CRL, with its place, state and times (epoch seconds, and as JST
    text for display), built column-wise (a full JPKI day has ~3,800)."""
    p = store.partitions()
    if p.num_rows == 0:
        return []
    fresh = np.asarray(store.freshness(now_s).column("fresh").to_numpy(zero_copy_only=False), bool)
    accepted = p.column("accepted_generation").fill_null(store.generation).to_numpy()
    state = np.where(~fresh, 2, np.where(accepted < store.generation, 1, 0))
    places = partition_places(p.column("name"))
    this_update = p.column("this_update").cast(pa.int64())
    next_update = p.column("next_update").cast(pa.int64())
    table = pa.table({
        "issuer": p.column("issuer"),
        "kind": p.column("kind"),
        "name": p.column("name"),
        "crl_number": p.column("crl_number"),
        "this_update": this_update,
        "next_update": next_update,
        "this_update_text": _jst_text(this_update),
        "next_update_text": _jst_text(next_update),
        "entries": p.column("entries"),
        "accepted_generation": p.column("accepted_generation"),
        "prefecture": places.column("prefecture"),
        "municipality": places.column("municipality"),
        "prefecture_code": places.column("prefecture_code"),
        "state": pa.DictionaryArray.from_arrays(pa.array(state.astype(np.int8)), pa.array(STATES)),
    })
    return table.to_pylist()


def _jst_text(seconds: pa.ChunkedArray) -> pa.Array:
    """``2026-12-02 11:00`` in JST for each epoch second (null stays null), vectorised."""
    values = seconds.combine_chunks() if isinstance(seconds, pa.ChunkedArray) else seconds
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    shifted = (values.fill_null(0).to_numpy() + 9 * 3600).astype("datetime64[s]").astype("datetime64[m]")
    text = np.char.replace(shifted.astype(str), "T", " ")
    return pa.array(text.tolist(), pa.string(), mask=~valid)


@dataclass
class Group:
    """Partitions of one prefecture (code 0: those without a place, e.g. authority revocation
    lists; 99: a prefecture outside the 47)."""

    code: int
    prefecture: str | None
    rows: list[dict] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r["state"] == state)


SORT_KEYS = {
    "issuer": lambda r: (r["issuer"], r["municipality"] or ""),
    "prefecture": lambda r: (r["prefecture_code"] or 99, r["municipality"] or "", r["issuer"]),
    "municipality": lambda r: (r["municipality"] or "", r["issuer"]),
    "this_update": lambda r: (r["this_update"] or 0, r["municipality"] or ""),
    "next_update": lambda r: (r["next_update"] if r["next_update"] is not None else -1, r["municipality"] or ""),
    "crl_number": lambda r: (int(r["crl_number"]) if r["crl_number"] else -1, r["municipality"] or ""),
    "entries": lambda r: (r["entries"], r["municipality"] or ""),
    "state": lambda r: (STATES.index(r["state"]), r["municipality"] or ""),
}


@dataclass(frozen=True)
class PartitionQuery:
    """The filter and order of the partitions page (its GET form, so it works without scripts)."""

    q: str = ""
    prefecture: str = ""
    issuer: str = ""
    state: str = ""
    sort: str = "prefecture"
    order: str = "asc"
    group: bool = True

    @classmethod
    def from_params(cls, params) -> "PartitionQuery":
        sort = params.get("sort", "prefecture")
        state = params.get("state", "")
        return cls(
            q=params.get("q", "").strip()[:200],
            prefecture=params.get("prefecture", "").strip()[:100],
            issuer=params.get("issuer", "").strip()[:100],
            state=state if state in STATES else "",
            sort=sort if sort in SORT_KEYS else "prefecture",
            order="desc" if params.get("order") == "desc" else "asc",
            # The form sends f=1; an unticked "group" box is then absent, which means ungrouped.
            group=params.get("group", "0" if "f" in params else "1") != "0",
        )

    def matches(self, row: dict) -> bool:
        if self.state and row["state"] != self.state:
            return False
        if self.issuer and row["issuer"] != self.issuer:
            return False
        if self.prefecture and (row["prefecture"] or "") != self.prefecture:
            return False
        if self.q:
            needle = self.q.lower()
            hay = f"{row['prefecture'] or ''} {row['municipality'] or ''} {row['name']} {row['issuer']} {row['crl_number']}".lower()
            if needle not in hay:
                return False
        return True


def group_partitions(rows: list[dict], query: PartitionQuery) -> list[Group]:
    """The rows the query selects, ordered, in prefecture groups (one group when ungrouped)."""
    selected = sorted((r for r in rows if query.matches(r)), key=SORT_KEYS[query.sort], reverse=query.order == "desc")
    if not query.group:
        return [Group(-1, None, selected)]
    groups: dict[int, Group] = {}
    for row in selected:
        code = row["prefecture_code"] or (99 if row["prefecture"] else 0)
        group = groups.get(code)
        if group is None:
            group = groups[code] = Group(code, row["prefecture"])
        group.rows.append(row)
    return [groups[c] for c in sorted(groups, key=lambda c: c if c else 100)]


def prefectures_present(rows: list[dict]) -> list[tuple[str, int | None]]:
    """(romanised name, code) of the prefectures among the partitions, in the official order."""
    found = {(r["prefecture"], r["prefecture_code"]) for r in rows if r["prefecture"]}
    return sorted(found, key=lambda pc: (pc[1] or 99, pc[0]))


# --------------------------------------------------------------------------------------------
# Overview


@dataclass
class Alert:
    level: str  # "error" | "warning"
    kind: str  # stale | refused | missing | revoked_key | reload | empty | not_ready
    count: int = 0
    items: list[dict] = field(default_factory=list)
    link: str | None = None


def readiness(store: jpki_fast.Store, stale_grace: float, now_s: float) -> tuple[bool, int, int | None]:
    """``GET /readyz``'s rule: ready when the snapshot holds CRLs and none is past its
    nextUpdate by more than the grace. Returns (ready, partitions beyond the grace, oldest
    such nextUpdate)."""
    p = store.partitions()
    if p.num_rows == 0:
        return False, 0, None
    deadline = now_s - stale_grace
    late = [v for v in _stamps(p.column("next_update")) if v is None or v < deadline]
    known = [v for v in late if v is not None]
    return not late, len(late), (min(known) if known else None)


def overview(store: jpki_fast.Store, rows: list[dict], *, stale_grace: float, now_s: int, last_error: str | None) -> dict:
    """The overview's facts: generation and age, next update, readiness, counts by issuer and
    reason (exactly ``GET /v1/snapshot``'s), partition states, alerts."""
    s = summary(store)
    revoked = store.revoked_issuers()
    states_by_issuer: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = states_by_issuer.setdefault(row["issuer"], dict.fromkeys(STATES, 0))
        counts[row["state"]] += 1
    issuers = []
    for i, info in enumerate(store.issuers()):
        states = states_by_issuer.get(info.alias, dict.fromkeys(STATES, 0))
        issuers.append({
            "alias": info.alias,
            "key_id": info.key_id,
            "kind": info.kind,
            "entries": s.entries[i],
            "by_reason": s.by_reason[i],
            "revoked": revoked.get(info.alias),
            "partitions": sum(states.values()),
            **states,
        })
    reasons = [r for r in REASON_ORDER if any(r in c for c in s.by_reason)]
    reasons += sorted({r for c in s.by_reason for r in c} - set(reasons))
    ready, late, oldest_late = readiness(store, stale_grace, now_s)
    next_updates = [r["next_update"] for r in rows if r["next_update"] is not None]
    this_updates = [r["this_update"] for r in rows if r["this_update"] is not None]
    totals = {state: sum(1 for r in rows if r["state"] == state) for state in STATES}
    run = store.manifest.get("summary") or {}

    alerts: list[Alert] = []
    if not rows:
        alerts.append(Alert("error", "empty"))
    stale = sorted((r for r in rows if r["state"] == "stale"), key=lambda r: (r["next_update"] or 0))
    if stale:
        alerts.append(Alert("error", "stale", len(stale), stale[:10], "/ui/partitions?state=stale&group=0&sort=next_update"))
    refused = run.get("refused") or []
    if refused:
        alerts.append(Alert("error", "refused", len(refused), refused[:10]))
    missing = int(run.get("missing") or 0)
    if missing:
        alerts.append(Alert("warning", "missing", missing, [], "/ui/partitions?state=carried&group=0"))
    for alias, facts in sorted(revoked.items()):
        alerts.append(Alert("error", "revoked_key", 1, [{"issuer": alias, **facts}]))
    if last_error:
        alerts.append(Alert("error", "reload", 1, [{"message": last_error}]))
    if not ready and rows:
        alerts.append(Alert("error", "not_ready", late, [{"oldest": oldest_late, "grace": stale_grace}]))

    published = _epoch(s.published_at)
    return {
        "generation": store.generation,
        "published_at": published,
        "age": None if published is None else max(0, now_s - published),
        "checked_at": now_s,
        "entries": sum(s.entries),
        "issuers": issuers,
        "reasons": reasons,
        "reason_totals": {r: sum(c.get(r, 0) for c in s.by_reason) for r in reasons},
        "partitions": len(rows),
        "states": totals,
        "next_update": min(next_updates) if next_updates else None,
        "oldest_this_update": min(this_updates) if this_updates else None,
        "ready": ready,
        "late": late,
        "stale_grace": stale_grace,
        "run": {
            "now": _epoch(run.get("now")),
            "accepted": run.get("accepted"),
            "unchanged": run.get("unchanged"),
            "refused": len(refused),
            "missing": missing,
        },
        "alerts": alerts,
    }


# --------------------------------------------------------------------------------------------
# Changes: newly revoked entries per day, over the kept history


@dataclass(frozen=True)
class GenerationDay:
    generation: int
    parent: int | None
    day: dt.date
    ran_at: int


class History:
    """The kept generations of a store and their diff counts, computed once each (generations
    never change once published) and shared by every request of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generations: dict[tuple[str, int], list[GenerationDay]] = {}
        self._counts: dict[tuple[str, int, int], dict] = {}

    def generations(self, store: jpki_fast.Store) -> list[GenerationDay]:
        key = (str(store.root), store.generation)
        with self._lock:
            found = self._generations.get(key)
        if found is not None:
            return found
        days = []
        for info in history.generations(store.root):
            if info.generation > store.generation:
                continue
            manifest = store.manifest if info.generation == store.generation else jpki_fast.open_store(store.root, info.generation).manifest
            ran = _epoch((manifest.get("summary") or {}).get("now")) or _epoch(info.created_at) or 0
            days.append(GenerationDay(info.generation, info.parent, day_of(ran), ran))
        with self._lock:
            self._generations = {k: v for k, v in self._generations.items() if k[0] != key[0]}
            self._generations[key] = days
        return days

    def counts(self, root: Path, parent: int, generation: int) -> dict:
        key = (str(root), parent, generation)
        with self._lock:
            found = self._counts.get(key)
        if found is None:
            found = history.diff_counts(root, parent, generation)
            with self._lock:
                self._counts[key] = found
        return found


HISTORY = History()


def changes(store: jpki_fast.Store, history_cache: History = HISTORY) -> dict:
    """Newly revoked entries (``added`` in each generation's diff against its parent) per day
    and reason over the kept generations, days without a publication included; and the last
    diff's counts."""
    kept = history_cache.generations(store)
    numbers = {g.generation for g in kept}
    by_day: dict[dt.date, dict[str, int]] = {}
    published_days: dict[dt.date, list[int]] = {}
    last = None
    for g in kept:
        if g.parent is None or g.parent not in numbers:
            continue  # the first kept generation: nothing to compare it with
        counts = history_cache.counts(store.root, g.parent, g.generation)
        day = by_day.setdefault(g.day, {})
        for reason, n in counts["by_change_and_reason"].get("added", {}).items():
            day[reason] = day.get(reason, 0) + n
        published_days.setdefault(g.day, []).append(g.generation)
        if g.generation == store.generation:
            last = {**counts, "day": g.day, "ran_at": g.ran_at}
    days = []
    if by_day:
        first, end = min(by_day), max(by_day)
        span = (end - first).days
        for k in range(span + 1):
            d = first + dt.timedelta(days=k)
            days.append({"day": d, "added": by_day.get(d, {}), "generations": published_days.get(d, []),
                         "total": sum(by_day.get(d, {}).values())})
    reasons = [r for r in REASON_ORDER if any(r in d["added"] for d in days)]
    reasons += sorted({r for d in days for r in d["added"]} - set(reasons))
    return {
        "days": days,
        "reasons": reasons,
        "last": last,
        "kept": [g.generation for g in kept],
        "first_kept": kept[0] if kept else None,
    }


# --------------------------------------------------------------------------------------------
# Audit: request counts per key and endpoint over time, and the chain's state


class AuditCounts:
    """Requests per (JST day, tenant, key, endpoint) from the audit log, read incrementally: each
    call reads only the lines appended since the last (the log only grows; a shorter or
    replaced file is read again from its start)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._counts: dict[tuple[dt.date, str | None, str | None, str], list[int]] = {}
        self._verified: tuple[tuple, float, Verification] | None = None

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._inode, self._offset, self._counts = None, 0, {}
            return
        inode = (st.st_dev, st.st_ino)
        if inode != self._inode or st.st_size < self._offset:
            self._inode, self._offset, self._counts = inode, 0, {}
        if st.st_size == self._offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read(st.st_size - self._offset)
        end = data.rfind(b"\n") + 1  # only whole lines; a line being written is read next time
        for raw in data[:end].splitlines():
            try:
                record = orjson.loads(raw)
                when = record["time"]
                day = dt.datetime.fromisoformat(when[:19]).replace(tzinfo=dt.timezone.utc).astimezone(JST).date()
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # unreadable lines are the chain check's to report
            key = (day, record.get("tenant"), record.get("key_id"), str(record.get("endpoint")))
            c = self._counts.setdefault(key, [0, 0, 0])
            c[0] += 1
            c[1] += int(record.get("items") or 0)
            c[2] += 1 if int(record.get("code") or 0) >= 400 else 0
        self._offset += end

    def usage(self, days: list[dt.date], tenant: str | None = None) -> list[dict]:
        """Rows per (tenant, key, endpoint): requests per day of ``days``, items and errors in all."""
        wanted = set(days)
        with self._lock:
            self._refresh()
            counts = dict(self._counts)
        rows: dict[tuple, dict] = {}
        for (day, t, key_id, endpoint), (n, items, errors) in counts.items():
            if day not in wanted or (tenant is not None and t != tenant):
                continue
            row = rows.setdefault((t or "", key_id or "", endpoint), {
                "tenant": t, "key_id": key_id, "endpoint": endpoint, "per_day": dict.fromkeys(days, 0),
                "requests": 0, "items": 0, "errors": 0,
            })
            row["per_day"][day] += n
            row["requests"] += n
            row["items"] += items
            row["errors"] += errors
        return [rows[k] for k in sorted(rows)]

    def verification(self, max_age: float = 30.0, force: bool = False) -> tuple[Verification | None, float | None]:
        """The chain check of the whole log (``jpki-fast audit verify``), redone when the log
        changed and the last check is older than ``max_age`` seconds (or ``force``)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None, None
        stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            cached = self._verified
        # A log up to 64 MiB (some 150,000 lines, well under a second) is checked again whenever
        # it changed; a bigger one at most every ``max_age`` seconds, or on demand.
        if cached is not None and not force and (
            cached[0] == stamp or (st.st_size > 64 << 20 and time.time() - cached[1] < max_age)
        ):
            return cached[2], cached[1]
        result = verify(self.path)
        checked = time.time()
        with self._lock:
            self._verified = (stamp, checked, result)
        return result, checked


def last_days(now_s: float, n: int) -> list[dt.date]:
    today = day_of(now_s)
    return [today - dt.timedelta(days=n - 1 - k) for k in range(n)]


def prefecture_names() -> dict[str, str]:
    """Romanised name -> Japanese name of the 47 prefectures."""
    return dict(PREFECTURES)


def iso_or_none(epoch_s: int | None) -> str | None:
    return None if epoch_s is None else iso(epoch_s)
