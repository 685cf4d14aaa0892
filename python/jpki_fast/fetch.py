"""Fetch: download the day's CRLs into the fetch directory, the input of ingest.

:func:`fetch_all` downloads every configured source (see :mod:`jpki_fast.config`) in parallel
and never leaves a partial or bogus file where ingest could read it:

- **Conditional GET.** The ETag and Last-Modified of each download are kept in
  ``<directory>/.jpki-fetch-state.json`` (written atomically) and sent back as ``If-None-Match`` /
  ``If-Modified-Since``; a ``304 Not Modified`` keeps the file already there. Validators are only
  sent while the file on disk is the one they describe (same size and mtime) and the URL is
  unchanged, so a file deleted or edited by hand is downloaded again.
- **Atomic replacement.** A body streams into a dot-prefixed temporary file next to its target
  (ingest skips dot-files), is checked, fsynced and renamed over the target. A failed, truncated,
  oversized or bogus download leaves the previous file, if any, untouched.
- **Checks before replacing:** the byte count equals ``Content-Length`` when one is given; the
  size limit (``max_bytes``) is enforced from ``Content-Length`` up front and while streaming; the
  body looks like a CRL: a DER SEQUENCE (0x30) whose encoded length is exactly the bytes received,
  or PEM between ``-----BEGIN X509 CRL-----`` and ``-----END X509 CRL-----``. An HTML error page
  served with status 200 is refused. (Signatures, freshness and rollbacks are ingest's job.)
- **Retries** (``retries`` after the first attempt, backoff ``backoff * 2**n`` seconds) on
  connection errors, timeouts, truncated bodies, HTTP 5xx, 408 and 429; a ``Retry-After`` header
  is obeyed, capped at ``retry_after_max``. Other 4xx, oversize, not-a-CRL and certificate
  verification failures are not retried.
- **Time bounds:** ``timeout`` applies to the connect and to each read; ``deadline`` bounds the
  whole run. Sources still running at the deadline are reported failed and can no longer replace
  their file.
- **Security:** TLS certificates and host names are always verified (``ca_file`` replaces the
  system CAs for a private CA; there is no switch to turn verification off). Redirects are
  followed only to http(s), at most ``max_redirects`` hops. Credentials given in a URL are sent as
  HTTP Basic authentication to that URL only (not on redirects) and appear nowhere in logs,
  reports or the state file. Only one fetch runs per directory at a time (a lock file).

Each source ends ``fetched``, ``not_modified`` or ``failed``; a failure carries an
``error_kind`` (one of :data:`ERROR_KINDS`) and a message naming the URL, path and cause.
Retries and failures are also logged to the ``jpki_fast.fetch`` logger.

>>> from jpki_fast.config import load_config
>>> config = load_config(fetch_toml)
>>> report = fetch_all(config, progress=lambda done, total, r: print(f"[{done}/{total}] {r}"))
[1/2] fetched auth/Hokkaido/Sapporo-shi-Minami-ku.crl (... bytes, HTTP 200, ... s)
[2/2] fetched sign/Hokkaido/Sapporo-shi-Minami-ku.crl (... bytes, HTTP 200, ... s)
>>> report = fetch_all(config)                      # the next night: nothing changed on the server
>>> report.ok, report.counts()
(True, {'fetched': 0, 'not_modified': 2, 'failed': 0})
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import http.client
import json
import logging
import os
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from .config import URL_SCHEMES, FetchConfig, Source, UpdateConfig, redact_url
from .errors import JpkiFastError
from .durable import atomic_write_text, exclusive_lock, fsync_path

log = logging.getLogger(__name__)

OUTCOMES = ("fetched", "not_modified", "failed")
#: Why a source failed (``SourceResult.error_kind``).
ERROR_KINDS = (
    "timeout",     # connect or read took longer than fetch.timeout
    "connection",  # refused, reset, DNS failure, malformed HTTP
    "tls",         # handshake or certificate verification failed
    "http",        # an HTTP status other than 200/304 (status holds it)
    "redirect",    # too many redirects, a loop, or a redirect to a non-http(s) URL
    "too_large",   # over fetch.max_bytes (by Content-Length or while streaming)
    "truncated",   # fewer bytes than Content-Length, or than the DER length / PEM END line says
    "not_crl",     # the body is neither a DER SEQUENCE of the right length nor a PEM CRL
    "deadline",    # fetch.deadline passed before the source was done
    "io",          # the file could not be written locally
    "internal",    # a bug: reported rather than stopping the other downloads
)
STATE_FILE = ".jpki-fetch-state.json"
STATE_FORMAT = 1
LOCK_FILE = ".jpki-fetch.lock"
#: Temporary download names are ``.<target name>.jpki-fetch-<random>.tmp``: hidden from ingest.
TMP_INFIX = ".jpki-fetch-"
TMP_SUFFIX = ".tmp"
CHUNK = 256 * 1024
PEM_BEGIN = b"-----BEGIN X509 CRL-----"
PEM_END = b"-----END X509 CRL-----"
HEAD_BYTES = 4096  # how far into a body a PEM header is looked for
TAIL_BYTES = 256   # enough for the PEM END line and trailing whitespace

Progress = Callable[[int, int, "SourceResult"], None]


class FetchError(JpkiFastError):
    """The fetch could not run at all (directory unusable, ``ca_file`` unreadable, another fetch
    holding the directory's lock). Problems with single sources are reported, not raised."""


@dataclass
class SourceResult:
    """What happened to one source. ``bytes`` counts the body received in this run (0 for
    ``not_modified`` and failures); ``status`` is the last HTTP status seen, if any."""

    path: str
    url: str  # credentials redacted
    outcome: str  # fetched | not_modified | failed
    status: int | None = None
    bytes: int = 0
    seconds: float = 0.0
    attempts: int = 0
    error_kind: str | None = None
    error: str | None = None

    def __str__(self) -> str:
        status = f"HTTP {self.status}, " if self.status is not None else ""
        if self.outcome == "fetched":
            return f"fetched {self.path} ({self.bytes:,} bytes, {status}{self.seconds:.2f} s)"
        if self.outcome == "not_modified":
            return f"not modified {self.path} ({status}{self.seconds:.2f} s)"
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        return f"FAILED {self.path} from {self.url}: {self.error} ({self.error_kind}; {tries}, {self.seconds:.2f} s)"


@dataclass
class FetchReport:
    """The result of :func:`fetch_all`: one :class:`SourceResult` per source, in config order.

    ``str(report)`` is the text report; ``to_dict()`` the JSON one (with counts and total bytes).
    """

    directory: str
    started: str  # UTC, ISO 8601
    seconds: float
    deadline_passed: bool
    results: list[SourceResult] = field(default_factory=list)

    def by_outcome(self, outcome: str) -> list[SourceResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def fetched(self) -> list[SourceResult]:
        return self.by_outcome("fetched")

    @property
    def not_modified(self) -> list[SourceResult]:
        return self.by_outcome("not_modified")

    @property
    def failed(self) -> list[SourceResult]:
        return self.by_outcome("failed")

    @property
    def ok(self) -> bool:
        """True when no source failed."""
        return not self.failed

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.results)

    def counts(self) -> dict[str, int]:
        return {o: len(self.by_outcome(o)) for o in OUTCOMES}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = self.counts()
        d["bytes"] = self.bytes
        return d

    def __str__(self) -> str:
        c = self.counts()
        lines = [
            f"fetched CRLs into {self.directory} in {self.seconds:.2f} s: {c['fetched']} fetched "
            f"({self.bytes:,} bytes), {c['not_modified']} not modified, {c['failed']} failed"
        ]
        if self.deadline_passed:
            lines.append("  the total deadline (fetch.deadline) passed before every source was done")
        lines.extend(f"  {r}" for r in self.failed)
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# The run


def fetch_all(config: UpdateConfig | FetchConfig, *, progress: Progress | None = None) -> FetchReport:
    """Downloads every source of ``config`` into its fetch directory; see the module docstring.

    ``config`` is a loaded :class:`~jpki_fast.config.UpdateConfig` or just its ``fetch`` part.
    ``progress(done, total, result)``, when given, is called once per source as it finishes,
    always from the calling thread (so it may print or update a UI without locking); an
    exception it raises (or a KeyboardInterrupt) stops the run: no file is replaced after that,
    the state of what was already replaced is saved, and the exception propagates.

    The report lists the sources in config order. Raises :class:`FetchError` only when the run
    cannot start; every per-source problem is in the report. Files of sources that are no longer
    configured are left alone.

    >>> from jpki_fast.config import FetchConfig, Source
    >>> minami, yubari = "auth/Hokkaido/Sapporo-shi-Minami-ku.crl", "auth/Hokkaido/Yubari-shi.crl"
    >>> config = FetchConfig(tmp / "fetch-doc", (Source(f"{crl_server}/{minami}", minami), Source(f"{crl_server}/{yubari}", yubari)))
    >>> report = fetch_all(config)
    >>> print(report)
    fetched CRLs into .../fetch-doc in ... s: 1 fetched (... bytes), 0 not modified, 1 failed
      FAILED auth/Hokkaido/Yubari-shi.crl from http://127.0.0.1:.../auth/Hokkaido/Yubari-shi.crl: HTTP 404 ...
    >>> [(r.outcome, r.error_kind, r.status) for r in report.results]
    [('fetched', None, 200), ('failed', 'http', 404)]
    """
    fc = config.fetch if isinstance(config, UpdateConfig) else config
    started_wall = time.time()
    started = time.monotonic()
    root = Path(fc.directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"{root}: cannot create the fetch directory: {exc.strerror or exc}") from None
    with _directory_lock(root):
        _remove_stale_temporaries(root, fc.sources)
        state = _load_state(root)
        run = _Run(fc, _make_opener(fc), started + fc.deadline)
        jobs = [_job(i, s, root, state.get(s.path)) for i, s in enumerate(fc.sources)]
        results: list[SourceResult | None] = [None] * len(jobs)
        try:
            _run_jobs(run, jobs, results, progress)
        finally:
            # Save what was committed even if a progress callback raised or we were interrupted:
            # files already replaced must not be paired with their old validators.
            _save_state(root, state, run.state, fc.sources)
    report = FetchReport(
        directory=str(root),
        started=dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seconds=round(time.monotonic() - started, 3),
        deadline_passed=run.deadline_passed,
        results=[r for r in results if r is not None],
    )
    return report


class _Run:
    """Shared by the workers of one fetch_all call."""

    def __init__(self, config: FetchConfig, opener: urllib.request.OpenerDirector, deadline_at: float) -> None:
        self.config = config
        self.opener = opener
        self.deadline_at = deadline_at
        # Once set (at the deadline or on an interrupt), no worker may replace a file. Setting it
        # and every replacement happen under `lock`, so after the main thread has set it the
        # fetch directory no longer changes, even though late workers may still be running.
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.results: dict[str, SourceResult] = {}  # path -> final result, written under lock
        self.state: dict[str, dict] = {}  # path -> new state entry, written under lock
        self.deadline_passed = False

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()

    def halt(self) -> None:
        with self.lock:
            self.stop.set()


@dataclass
class _Job:
    index: int
    source: Source
    target: Path
    url: str  # without credentials
    authorization: str | None
    conditional: dict[str, str]  # If-None-Match / If-Modified-Since to send


def _job(index: int, source: Source, root: Path, entry: dict | None) -> _Job:
    parts = urlsplit(source.url)
    url, authorization = source.url, None
    if parts.username is not None or parts.password is not None:
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        userpass = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(userpass.encode("utf-8")).decode("ascii")
    target = root / source.path
    return _Job(index, source, target, url, authorization, _conditional_headers(entry, source, target))


def _run_jobs(run: _Run, jobs: list[_Job], results: list, progress: Progress | None) -> None:
    total = len(jobs)
    done_count = 0

    def report(job: _Job, result: SourceResult) -> None:
        nonlocal done_count
        results[job.index] = result
        done_count += 1
        if progress is not None:
            progress(done_count, total, result)

    pool = ThreadPoolExecutor(max_workers=min(run.config.concurrency, max(total, 1)), thread_name_prefix="jpki-fetch")
    pending = {pool.submit(_fetch_source, run, job): job for job in jobs}
    try:
        while pending:
            left = run.remaining()
            if left <= 0:
                break
            done, _ = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for fut in done:
                report(pending.pop(fut), fut.result())  # _fetch_source never raises
    finally:
        run.halt()
        pool.shutdown(wait=False, cancel_futures=True)
    # Deadline: a source still in flight may have committed between wait() and halt(); its
    # result is in run.results. Everything else is reported failed and can no longer commit.
    if pending:
        run.deadline_passed = True
    for job in sorted(pending.values(), key=lambda j: j.index):
        result = run.results.get(job.source.path) or _failed(
            job, None, 0, run.config.deadline,
            _Failure("deadline", f"not done within the total deadline (fetch.deadline = {run.config.deadline:g} s)"),
        )
        report(job, result)


class _Failure(Exception):
    """One failed attempt: what kind, a message, and whether another attempt may help."""

    def __init__(
        self, kind: str, message: str, retryable: bool = False, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def _pause(stop: threading.Event, seconds: float) -> None:
    """Waits between attempts; returns early when the run is halted. (Tests replace this.)"""
    stop.wait(seconds)


def _fetch_source(run: _Run, job: _Job) -> SourceResult:
    """All attempts for one source. Never raises: a bug becomes an ``internal`` failure so that
    one source cannot stop the others."""
    started = time.monotonic()
    attempts = 0
    status = None
    cfg = run.config
    try:
        while True:
            if run.stop.is_set() or run.remaining() <= 0:
                failure = _Failure("deadline", f"not done within the total deadline (fetch.deadline = {cfg.deadline:g} s)")
                break
            attempts += 1
            try:
                return _attempt(run, job, attempts, started)
            except _Failure as f:
                failure, status = f, f.status if f.status is not None else status
            if not failure.retryable or attempts > cfg.retries:
                break
            delay = failure.retry_after if failure.retry_after is not None else cfg.backoff * 2 ** (attempts - 1)
            delay = min(delay, cfg.retry_after_max)
            if delay >= run.remaining():
                failure.message += f"; no retry: the total deadline (fetch.deadline = {cfg.deadline:g} s) comes first"
                break
            log.warning(
                "retrying %s (%s) in %.1f s after attempt %d: %s",
                job.source.path, job.source.display_url, delay, attempts, failure.message,
            )
            _pause(run.stop, delay)
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.exception("fetching %s failed unexpectedly", job.source.path)
        failure = _Failure("internal", f"unexpected {type(exc).__name__}: {exc}")
    result = _failed(job, status, attempts, time.monotonic() - started, failure)
    log.warning("%s", result)
    with run.lock:
        run.results.setdefault(job.source.path, result)
    return result


def _failed(job: _Job, status: int | None, attempts: int, seconds: float, failure: _Failure) -> SourceResult:
    return SourceResult(
        path=job.source.path, url=job.source.display_url, outcome="failed", status=status,
        seconds=round(seconds, 3), attempts=attempts, error_kind=failure.kind, error=failure.message,
    )


# ------------------------------------------------------------------------------------------------
# One attempt


def _attempt(run: _Run, job: _Job, attempts: int, started: float) -> SourceResult:
    """One request. Returns the final result (also recorded in ``run.results``, under the lock
    that orders it with the deadline), or raises :class:`_Failure`."""
    cfg = run.config
    headers = {
        "User-Agent": cfg.user_agent,
        "Accept": "application/pkix-crl, application/x-pkcs7-crl;q=0.9, */*;q=0.1",
        "Accept-Encoding": "identity",  # the body is stored as is, never decoded
        "Cache-Control": "no-cache",  # a caching proxy must revalidate: today's CRL, not yesterday's
        **job.conditional,
    }
    req = urllib.request.Request(job.url, headers=headers)
    if job.authorization:
        # unredirected: urllib does not copy it to the request a redirect leads to
        req.add_unredirected_header("Authorization", job.authorization)
    timeout = max(min(cfg.timeout, run.remaining()), 0.001)
    try:
        resp = run.opener.open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with exc:
            code = exc.code
            if code == 304 and job.conditional:
                return _not_modified(run, job, exc.headers, attempts, started)
            raise _http_failure(exc) from None
    except _Failure:
        raise
    except Exception as exc:
        raise _classify(exc, cfg.timeout) from None
    with resp:
        if resp.status != 200:
            raise _Failure("http", f"HTTP {resp.status} {resp.reason}: expected 200", status=resp.status)
        try:
            return _receive(run, job, resp, attempts, started)
        except Exception as exc:
            failure = exc if isinstance(exc, _Failure) else _classify(exc, cfg.timeout)
            failure.status = resp.status
            raise failure from None


def _finish(run: _Run, job: _Job, outcome: str, status: int, size: int, attempts: int, started: float, entry: dict | None) -> SourceResult:
    """Records a successful result (and its state entry); the caller holds ``run.lock``."""
    result = SourceResult(
        path=job.source.path, url=job.source.display_url, outcome=outcome, status=status, bytes=size,
        seconds=round(time.monotonic() - started, 3), attempts=attempts,
    )
    run.results[job.source.path] = result
    if entry is not None:
        run.state[job.source.path] = entry
    return result


def _not_modified(run: _Run, job: _Job, headers, attempts: int, started: float) -> SourceResult:
    """A 304: the file stays; validators the server sent with it replace the old ones."""
    try:
        entry = _state_entry(job.source, headers, job.target.stat())
    except OSError:
        entry = None  # removed under us: no validators, so the next run downloads it in full
    if entry is not None and not (entry["etag"] or entry["last_modified"]):
        entry = None  # a 304 without validators: keep the ones that worked
    with run.lock:
        return _finish(run, job, "not_modified", 304, 0, attempts, started, entry)


def _http_failure(exc: urllib.error.HTTPError) -> _Failure:
    """A final response other than 200, or a 304 to an unconditional request; some are retryable."""
    code = exc.code
    if code == 304:
        return _Failure("http", "HTTP 304 Not Modified to a request that was not conditional", status=304)
    if 300 <= code < 400:
        # urllib raises these for a redirect loop, or a Location that is not http(s)
        return _Failure("redirect", f"HTTP {code}: redirect loop or a redirect to a URL that is not http(s)", status=code)
    retryable = code >= 500 or code in (408, 429)
    return _Failure("http", f"HTTP {code} {exc.reason}", retryable=retryable, status=code, retry_after=_retry_after(exc.headers))


def _classify(exc: BaseException, timeout: float) -> _Failure:
    """Maps a network exception (possibly wrapped in URLError) to a failure kind."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return _Failure("timeout", f"timed out (fetch.timeout = {timeout:g} s per connect or read)", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        # the server's certificate is wrong for us: retrying will not change it
        return _Failure("tls", f"TLS certificate verification failed: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        return _Failure("tls", f"TLS error: {exc.reason or exc}", retryable=True)
    if isinstance(exc, http.client.IncompleteRead):
        return _Failure("truncated", f"connection closed after {len(exc.partial):,} bytes of a chunk", retryable=True)
    if isinstance(exc, (http.client.HTTPException, OSError)):
        return _Failure("connection", f"{type(exc).__name__}: {exc}", retryable=True)
    if isinstance(exc, urllib.error.URLError):
        return _Failure("connection", f"{exc.reason}", retryable=False)
    raise exc


def _retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent/invalid."""
    value = (headers.get("Retry-After") or "").strip() if headers is not None else ""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _content_length(resp) -> int | None:
    value = (resp.headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() else None


def _receive(run: _Run, job: _Job, resp, attempts: int, started: float) -> SourceResult:
    """Streams the body to a temporary file, checks it, and renames it over the target."""
    cfg = run.config
    length = _content_length(resp)
    if length is not None and length > cfg.max_bytes:
        raise _Failure("too_large", f"Content-Length {length:,} bytes is over the limit (fetch.max_bytes = {cfg.max_bytes:,})")
    target = job.target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}{TMP_INFIX}", suffix=TMP_SUFFIX)
    except OSError as exc:
        raise _Failure("io", f"cannot write in {target.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600; the CRL is public data that ingest may read as another user
        with os.fdopen(fd, "wb") as f:
            size, head, tail = 0, b"", b""
            while True:
                if run.stop.is_set() or run.remaining() <= 0:
                    raise _Failure(
                        "deadline",
                        f"stopped after {size:,} bytes: the total deadline (fetch.deadline = {cfg.deadline:g} s) passed, "
                        "or the run was interrupted",
                    )
                # read1: at most one socket read, so each wait is bounded by fetch.timeout and the
                # deadline is checked between them even against a server trickling bytes; and one
                # byte past the limit at most, so an oversized body is caught without reading more
                chunk = resp.read1(min(CHUNK, cfg.max_bytes - size + 1))
                if not chunk:
                    break
                size += len(chunk)
                if size > cfg.max_bytes:
                    raise _Failure(
                        "too_large", f"body is over the limit (fetch.max_bytes = {cfg.max_bytes:,}) and no Content-Length said so"
                    )
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                tail = (tail + chunk)[-TAIL_BYTES:]
                _write(f, chunk, tmp)
            if length is not None and size != length:
                raise _Failure("truncated", f"received {size:,} of the {length:,} bytes in Content-Length", retryable=True)
            _check_crl(head, tail, size, resp.headers.get("Content-Type"))
            _write(f, b"", tmp, sync=True)
        with run.lock:
            if run.stop.is_set():
                raise _Failure(
                    "deadline",
                    f"complete, but the run was stopped (fetch.deadline = {cfg.deadline:g} s passed, or interrupted) "
                    "before it could replace the file",
                )
            os.replace(tmp, target)
            entry = _state_entry(job.source, resp.headers, target.stat())
            result = _finish(run, job, "fetched", 200, size, attempts, started, entry)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        fsync_path(target.parent, directory=True)  # makes the rename durable
    except OSError as exc:
        log.warning("%s: cannot fsync the directory after replacing %s: %s", target.parent, target.name, exc)
    return result


def _write(f, data: bytes, tmp: Path, sync: bool = False) -> None:
    # a local disk problem is not the server's fault and is not retried
    try:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise _Failure("io", f"cannot write {tmp}: {exc.strerror or exc}") from None


def _der_header(head: bytes) -> tuple[int, int] | None:
    """(header size, total size) of the DER element starting ``head``, or None if its length
    octets are invalid, indefinite (BER, not DER) or cut off."""
    if len(head) < 2:
        return None
    first = head[1]
    if first < 0x80:
        return 2, 2 + first
    n = first & 0x7F
    if n == 0 or n > 8 or len(head) < 2 + n:
        return None
    return 2 + n, 2 + n + int.from_bytes(head[2 : 2 + n], "big")


def _check_crl(head: bytes, tail: bytes, size: int, content_type: str | None) -> None:
    """Refuses a body that cannot be a (complete) CRL; see the module docstring."""
    if head[:1] == b"\x30":
        header = _der_header(head)
        # A CertificateList SEQUENCE opens with its tbsCertList SEQUENCE: this tells a DER CRL
        # from a text body that merely starts with '0' (0x30).
        if header is not None and head[header[0] : header[0] + 1] in (b"\x30", b""):
            declared = header[1]
            if declared > size:
                raise _Failure("truncated", f"DER CRL says {declared:,} bytes but {size:,} arrived", retryable=True)
            if declared < size:
                raise _Failure("not_crl", f"not a CRL: {size - declared:,} bytes follow the DER element of {declared:,} bytes")
            return
    elif PEM_BEGIN in head:
        if PEM_END not in tail:
            raise _Failure("truncated", "PEM CRL without its '-----END X509 CRL-----' line", retryable=True)
        return
    raise _Failure(
        "not_crl",
        f"not a CRL (Content-Type {content_type or 'not given'}, {size:,} bytes starting {head[:32]!r}): "
        "expected DER (a SEQUENCE of SEQUENCE) or PEM '-----BEGIN X509 CRL-----'",
    )


# ------------------------------------------------------------------------------------------------
# Opener: TLS, redirects, no file:// or ftp://


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows at most ``max_redirects`` hops, and only to http(s) URLs."""

    def __init__(self, max_redirects: int) -> None:
        super().__init__()
        self.max_hops = max_redirects

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        hops = getattr(req, "jpki_hops", 0) + 1
        if urlsplit(newurl).scheme.lower() not in URL_SCHEMES:
            raise _Failure("redirect", f"HTTP {code} redirect to {redact_url(newurl)} refused: only http(s) is followed", status=code)
        if hops > self.max_hops:
            raise _Failure(
                "redirect", f"more than {self.max_hops} redirects (fetch.max_redirects); the last to {redact_url(newurl)}", status=code
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.jpki_hops = hops
        return new


def _make_opener(fc: FetchConfig) -> urllib.request.OpenerDirector:
    try:
        context = ssl.create_default_context(cafile=str(fc.ca_file) if fc.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise FetchError(f"{fc.ca_file}: cannot load CA certificates (fetch.ca_file): {exc}") from None
    opener = urllib.request.OpenerDirector()
    # Built by hand rather than with build_opener(), which would also add file://, ftp:// and
    # data: handlers. ProxyHandler honours https_proxy/http_proxy/no_proxy from the environment.
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=context),
        urllib.request.HTTPDefaultErrorHandler(),
        _RedirectHandler(fc.max_redirects),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


# ------------------------------------------------------------------------------------------------
# State, lock, leftovers


def _conditional_headers(entry: dict | None, source: Source, target: Path) -> dict[str, str]:
    """Validators to send, only if they still describe the file on disk and the same URL."""
    if not entry or entry.get("url") != source.display_url:
        return {}
    try:
        stat = target.stat()
    except OSError:
        return {}
    if stat.st_size != entry.get("size") or stat.st_mtime_ns != entry.get("mtime_ns"):
        return {}
    headers = {}
    if isinstance(entry.get("etag"), str):
        headers["If-None-Match"] = entry["etag"]
    if isinstance(entry.get("last_modified"), str):
        headers["If-Modified-Since"] = entry["last_modified"]
    return headers


def _state_entry(source: Source, headers, stat: os.stat_result) -> dict:
    return {
        "url": source.display_url,
        "etag": headers.get("ETag"),
        "last_modified": headers.get("Last-Modified"),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _load_state(root: Path) -> dict[str, dict]:
    """The previous run's validators by source path; an unreadable state only costs bandwidth."""
    path = root / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: ignoring an unreadable fetch state (every source is downloaded in full): %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT or not isinstance(data.get("sources"), dict):
        log.warning("%s: ignoring a fetch state of an unknown format", path)
        return {}
    return {k: v for k, v in data["sources"].items() if isinstance(v, dict)}


def _save_state(root: Path, old: dict[str, dict], new: dict[str, dict], sources) -> None:
    """Writes validators for the configured sources: this run's where it committed a file or got
    a 304 (which may carry fresh validators), the previous run's otherwise."""
    merged = {}
    for s in sources:
        entry = new.get(s.path) or old.get(s.path)
        if entry is not None:
            merged[s.path] = entry
    text = json.dumps({"format": STATE_FORMAT, "sources": merged}, indent=1, sort_keys=True)
    try:
        atomic_write_text(root / STATE_FILE, text + "\n")
    except OSError as exc:
        # the CRLs themselves are in place; the next run just downloads them in full
        log.warning("%s: cannot save the fetch state: %s", root / STATE_FILE, exc)


def _directory_lock(root: Path):
    """An exclusive, non-blocking lock on the fetch directory (released by the OS if we die)."""
    return exclusive_lock(root / LOCK_FILE, f"{root}: another fetch is running in this directory; try again when it ends", FetchError)


def _remove_stale_temporaries(root: Path, sources) -> None:
    """Deletes temporary files left by a run that was killed (we hold the lock, so none is live)."""
    for directory in {(root / s.path).parent for s in sources} | {root}:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.startswith(".") and TMP_INFIX in name and name.endswith(TMP_SUFFIX):
                (directory / name).unlink(missing_ok=True)
