"""The audit log: one JSON line per request, hash-chained, safe to append from many workers.

Each line records who asked what and what was answered, never the personal or secret parts::

    {"seq": 42, "time": "2026-11-26T09:00:00.123Z", "key_id": "bank-a", "tenant": "bank-a",
     "endpoint": "/v1/login/verify", "method": "POST", "code": 200, "items": 1,
     "counts": {"allow": 1}, "kinds": {"authentication": {"allow": 1}}, "generation": 7,
     "duration_ms": 1.9, "client": "127.0.0.1",
     "subjects": ["<HMAC-SHA256 of auth_ca_2023/054CFCD8>"], "prev": "<hash of line 41>", "hash": "<hash of this line>"}

- Serials and certificates appear only as keyed HMACs (HMAC-SHA256 with the key in
  ``audit.jsonl.key``, created 0600 on first start): an auditor holding the key can tell whether
  a given certificate was checked (``issuer/serial`` in canonical form, or the raw bytes of an
  unreadable certificate), nobody else can. Requests with more items than ``audit_items`` record
  one HMAC over all of them (``subjects_digest``) instead of one per item.
- ``hash`` is the SHA-256 of the line without its ``hash`` member; ``prev`` is the previous
  line's ``hash`` (64 zeros for the first); ``seq`` counts lines from 1. Editing, removing or
  reordering lines breaks the chain, and :func:`verify` names the first line at fault.
  (Truncating the newest lines, or rewriting the whole tail with recomputed hashes, needs an
  anchor kept elsewhere: copy the last ``hash`` out regularly.)
- Workers append under an exclusive ``flock`` on the log, each line with a single ``write``
  on an ``O_APPEND`` descriptor, so lines never interleave and the chain stays one chain.

>>> log = AuditLog(Path("/tmp/audit-doctest.jsonl"), b"k" * 32)          # doctest: +SKIP
>>> log.append({"endpoint": "/v1/status", "items": 3})                  # doctest: +SKIP
>>> verify(Path("/tmp/audit-doctest.jsonl")).ok                          # doctest: +SKIP
True
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import orjson

GENESIS = "0" * 64
_TAIL = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')


def load_or_create_key(path: Path) -> bytes:
    """The audit HMAC key (32 random bytes, hex in the file), created 0600 if absent."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="ascii").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path}: not an audit key (expected hex)") from None
        if len(key) < 16:
            raise ValueError(f"{path}: audit key too short ({len(key)} bytes; at least 16)") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def now_text() -> str:
    """The current UTC time with milliseconds: ``2026-11-26T09:00:00.123Z``."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def time_text(value: datetime) -> str:
    """A datetime in the log's format (for comparing against ``time``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond // 1000:03d}Z"


def _seal(record: dict) -> tuple[bytes, str]:
    body = orjson.dumps(record)
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b',"hash":"' + digest.encode() + b'"}\n', digest


class AuditLog:
    """Appends records to the log at ``path`` (created 0640 if absent)."""

    def __init__(self, path: Path, key: bytes, per_item_limit: int = 100) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = key
        self.per_item_limit = per_item_limit
        self._fd = -1
        self._open()
        self._known: tuple[int, str, int] | None = None  # (file size, last hash, last seq) after our last write

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def close(self) -> None:
        """Closes the file; a later :meth:`append` opens it again (an app may be started and
        stopped more than once, e.g. by test clients)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # ---- subjects ----

    def mac(self, subject: bytes) -> str:
        return hmac.new(self._key, subject, hashlib.sha256).hexdigest()

    def subjects(self, items: Iterable[bytes], count: int) -> dict:
        """``{"subjects": [HMAC, ...]}`` for small requests, else one HMAC over all items
        (``{"subjects_digest": HMAC, "subjects_count": n}``)."""
        if count <= self.per_item_limit:
            return {"subjects": [self.mac(item) for item in items]}
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for item in items:
            mac.update(len(item).to_bytes(4, "big"))
            mac.update(item)
        return {"subjects_digest": mac.hexdigest(), "subjects_count": count}

    def digest_of_buffers(self, buffers: Iterable[bytes | memoryview], count: int) -> dict:
        """One HMAC over raw column buffers (the batch path: no per-item work)."""
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for buf in buffers:
            mac.update(buf)
        return {"subjects_digest": mac.hexdigest(), "subjects_count": count}

    # ---- appending ----

    def _last(self, size: int) -> tuple[str, int]:
        """(hash, seq) of the last line of the file, which another worker may have written."""
        if size == 0:
            return GENESIS, 0
        if self._known is not None and self._known[0] == size:
            return self._known[1], self._known[2]
        with open(self.path, "rb") as f:
            chunk = 4096
            while True:
                start = max(0, size - chunk)
                f.seek(start)
                data = f.read(size - start)
                body = data.rstrip(b"\n")
                cut = body.rfind(b"\n")
                if cut >= 0 or start == 0:
                    line = body[cut + 1 :]
                    break
                chunk *= 4
        try:
            record = orjson.loads(line)
            return str(record["hash"]), int(record["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # A damaged last line: chain on from its bytes, so verify still names it.
            return hashlib.sha256(line).hexdigest(), -1

    def append(self, record: dict) -> None:
        """Appends one record (seq, prev and hash are added) under the log's lock."""
        if self._fd < 0:
            self._open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(self._fd).st_size
            prev, seq = self._last(size)
            seq = seq + 1 if seq >= 0 else 0
            line, digest = _seal({"seq": seq, **record, "prev": prev})
            os.write(self._fd, line)
            self._known = (size + len(line), digest, seq)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# Verification


@dataclass
class Verification:
    lines: int
    problem: str | None = None  # the first problem, naming its line
    line: int | None = None
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return self.problem is None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            yield number, raw


def verify(path: Path) -> Verification:
    """Checks the whole chain; names the first edited, removed, inserted or reordered line."""
    records: list[tuple[int, int | None, str | None, str | None, str | None]] = []  # (line, seq, prev, hash, problem)
    for number, raw in _lines(path):
        if not raw.endswith(b"\n"):
            records.append((number, None, None, None, "incomplete (no end of line): truncated or edited"))
            continue
        line = raw[:-1]
        m = _TAIL.search(line)
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            records.append((number, None, None, None, "edited: not a valid JSON record"))
            continue
        if m is None or not isinstance(record, dict) or not isinstance(record.get("seq"), int):
            records.append((number, None, None, None, "edited: not an audit record (no seq or hash)"))
            continue
        recomputed = hashlib.sha256(line[: m.start()] + b"}").hexdigest()
        problem = None if recomputed == m.group(1).decode() else "edited: its content does not match its hash"
        records.append((number, record["seq"], record.get("prev"), m.group(1).decode(), problem))

    seqs_after: dict[int, int] = {}
    for number, seq, *_ in records:
        if seq is not None:
            seqs_after.setdefault(seq, number)
    expected_seq, expected_prev = 1, GENESIS
    for number, seq, prev, digest, problem in records:
        if problem is not None:
            return Verification(len(records), f"line {number}: {problem}", number, expected_prev)
        assert seq is not None and digest is not None
        if seq != expected_seq:
            later = seqs_after.get(expected_seq)
            if seq < expected_seq:
                why = f"out of order or inserted: record {seq} comes after record {expected_seq - 1}"
            elif later is not None and later > number:
                why = f"out of order: record {seq} stands where record {expected_seq} belongs (that one is at line {later})"
            elif expected_seq == 1:
                why = f"the log does not start at record 1: records 1 to {seq - 1} removed"
            else:
                gap = f"record {expected_seq}" if seq == expected_seq + 1 else f"records {expected_seq} to {seq - 1}"
                why = f"{gap} removed before this line"
            return Verification(len(records), f"line {number}: {why}", number, expected_prev)
        if prev != expected_prev:
            before = f"line {number - 1} was edited and its hash recomputed, or replaced" if number > 1 else "the first line was replaced"
            return Verification(
                len(records), f"line {number}: does not follow the line before it in the chain ({before})", number, expected_prev
            )
        expected_seq, expected_prev = seq + 1, digest
    return Verification(len(records), None, None, expected_prev)


def read_records(path: Path, start: str | None = None, end: str | None = None) -> Iterator[dict]:
    """Records with ``start <= time < end`` (texts in the log's time format); unreadable lines
    are skipped (``jpki-fast audit verify`` reports them)."""
    try:
        lines = _lines(path)
        for _, raw in lines:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            t = record.get("time")
            if not isinstance(t, str) or (start is not None and t < start) or (end is not None and t >= end):
                continue
            yield record
    except FileNotFoundError:
        return


@dataclass
class RequestFacts:
    """What an endpoint tells the audit log and the metrics about its answers."""

    items: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    subjects: dict = field(default_factory=dict)
