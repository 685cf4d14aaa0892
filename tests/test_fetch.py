"""Fetch: downloads against a local HTTP(S) server that can stall, truncate, fail and redirect.

Every test is bounded in time: the client runs with short timeouts and deadlines, every server
wait has its own bound, and an alarm fails a test that hangs anyway. Nothing asserts on timing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import http.server
import ipaddress
import json
import logging
import signal
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from jpki_fast import fetch
from jpki_fast.config import FetchConfig, Source, load_config
from jpki_fast.fetch import ERROR_KINDS, LOCK_FILE, STATE_FILE, FetchError, fetch_all
from jpki_fast.ingest import discover, ingest
from jpki_fast.store import open_store
from conftest import NOW, NOW_ISO, make_crl, rsa_key

SERVER_WAIT = 10  # the longest any server thread waits for a test to release it (seconds)


@pytest.fixture(autouse=True)
def alarm():
    """Fails a test that hangs instead of hanging the suite."""

    def expired(signum, frame):
        raise TimeoutError("test took longer than 60 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------------------------------
# A scripted HTTP server


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    length: int | str | None = "auto"  # Content-Length: len(body), this number, or none (close-delimited)
    stall: bool = False  # send nothing until released
    pause_after: int | None = None  # send this many body bytes, signal `midway`, wait for release
    gate: threading.Barrier | None = None  # wait until every party of the barrier has arrived


@dataclass
class Seen:
    path: str
    headers: dict


class Server:
    """Serves scripted replies per path: a list is consumed in order and its last reply repeats;
    a callable gets the request headers and returns a Reply."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, list] = {}
        self.requests: list[Seen] = []
        self.release = threading.Event()
        self.midway = threading.Event()
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.serve(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        # a short poll interval: shutdown() waits for it, once per test
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_port}{path}"

    def route(self, path: str, *replies) -> None:
        self.routes[path] = list(replies)

    def hits(self, path: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def serve(self, h: http.server.BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append(Seen(h.path, dict(h.headers)))
            replies = self.routes.get(h.path)
            if not replies:
                reply = Reply(404, b"not here", {"Content-Type": "text/plain"})
            else:
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if callable(reply):
            reply = reply(h.headers)
        if reply.gate is not None:
            reply.gate.wait(SERVER_WAIT)
        if reply.stall:
            self.release.wait(SERVER_WAIT)
            h.close_connection = True
            return
        h.send_response(reply.status)
        for k, v in reply.headers.items():
            h.send_header(k, v)
        if reply.length == "auto":
            h.send_header("Content-Length", str(len(reply.body)))
        elif reply.length is not None:
            h.send_header("Content-Length", str(reply.length))
        if reply.length != "auto":
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        body = reply.body
        if reply.pause_after is not None:
            h.wfile.write(body[: reply.pause_after])
            h.wfile.flush()
            self.midway.set()
            self.release.wait(SERVER_WAIT)
            body = body[reply.pause_after :]
        h.wfile.write(body)

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def crl(auth_ca) -> Callable[[int], bytes]:
    """A real DER CRL; a different number gives different bytes."""
    return lambda number=1: make_crl(auth_ca, [], number=number)


def conf(tmp_path: Path, server: Server, paths, **kw) -> FetchConfig:
    """A fetch config for sources named by server path; each is saved under the same name."""
    defaults = {"timeout": 5.0, "deadline": 30.0, "retries": 0, "backoff": 0.0}
    defaults.update(kw)
    sources = tuple(Source(server.url(p), p.lstrip("/")) for p in paths)
    return FetchConfig(directory=tmp_path / "crls", sources=sources, **defaults)


def only(report) -> fetch.SourceResult:
    assert len(report.results) == 1
    return report.results[0]


def leftovers(directory: Path) -> list[str]:
    """Temporary files left in the fetch directory (there must be none once fetch_all returns)."""
    return sorted(p.name for p in directory.rglob(f"*{fetch.TMP_INFIX}*{fetch.TMP_SUFFIX}"))


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """Records the waits between attempts instead of sleeping them."""
    waited: list[float] = []
    monkeypatch.setattr(fetch, "_pause", lambda stop, seconds: waited.append(seconds))
    return waited


def conditional(body: bytes, etag: str | None = None, last_modified: str | None = None):
    """A resource honouring If-None-Match / If-Modified-Since (exact match, as servers do)."""
    validators = {}
    if etag:
        validators["ETag"] = etag
    if last_modified:
        validators["Last-Modified"] = last_modified

    def reply(headers):
        if (etag and headers.get("If-None-Match") == etag) or (
            last_modified and not etag and headers.get("If-Modified-Since") == last_modified
        ):
            return Reply(304, b"", validators)
        return Reply(200, body, {"Content-Type": "application/pkix-crl", **validators})

    return reply


# ------------------------------------------------------------------------------------------------
# Fetching and conditional GET


def test_fetch_writes_each_crl_where_ingest_reads_it(tmp_path, server, crl):
    server.route("/auth/a.crl", Reply(200, crl(1)))
    server.route("/sign/b.der", Reply(200, crl(2)))
    cfg = conf(tmp_path, server, ["/auth/a.crl", "/sign/b.der"])
    report = fetch_all(cfg)
    assert report.ok and report.counts() == {"fetched": 2, "not_modified": 0, "failed": 0}
    assert (cfg.directory / "auth/a.crl").read_bytes() == crl(1)
    assert (cfg.directory / "sign/b.der").read_bytes() == crl(2)
    assert report.bytes == len(crl(1)) + len(crl(2))
    assert [(r.path, r.status, r.attempts) for r in report.results] == [("auth/a.crl", 200, 1), ("sign/b.der", 200, 1)]
    # ingest's view: the two CRLs, not the state or lock files
    assert discover(cfg.directory) == [cfg.directory / "auth/a.crl", cfg.directory / "sign/b.der"]
    assert (cfg.directory / STATE_FILE).is_file() and (cfg.directory / LOCK_FILE).exists()
    d = json.loads(json.dumps(report.to_dict()))
    assert d["counts"]["fetched"] == 2 and d["results"][0]["url"] == server.url("/auth/a.crl")
    assert "2 fetched" in str(report) and "0 failed" in str(report)
    headers = server.hits("/auth/a.crl")[0].headers
    assert headers["User-Agent"] == cfg.user_agent
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


@pytest.mark.parametrize(
    "validators, sent",
    [
        ({"etag": '"v1"'}, {"If-None-Match": '"v1"'}),
        ({"last_modified": "Wed, 25 Nov 2026 21:00:00 GMT"}, {"If-Modified-Since": "Wed, 25 Nov 2026 21:00:00 GMT"}),
    ],
    ids=["etag", "last-modified"],
)
def test_not_modified_keeps_the_file(tmp_path, server, crl, validators, sent):
    server.route("/a.crl", conditional(crl(1), **validators))
    cfg = conf(tmp_path, server, ["/a.crl"])
    assert only(fetch_all(cfg)).outcome == "fetched"
    target = cfg.directory / "a.crl"
    before = target.stat()

    r = only(fetch_all(cfg))
    assert (r.outcome, r.status, r.bytes, r.error) == ("not_modified", 304, 0, None)
    second = server.hits("/a.crl")[1].headers
    for header in ("If-None-Match", "If-Modified-Since"):
        assert second.get(header) == sent.get(header)
    after = target.stat()
    assert target.read_bytes() == crl(1) and after.st_mtime_ns == before.st_mtime_ns and after.st_ino == before.st_ino
    assert "not modified a.crl" in str(r)


def test_new_content_replaces_the_file_and_its_validators(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(1), {"ETag": '"v1"'}), Reply(200, crl(2), {"ETag": '"v2"'}), Reply(304, b"", {"ETag": '"v2"'}))
    cfg = conf(tmp_path, server, ["/a.crl"])
    fetch_all(cfg)
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert (cfg.directory / "a.crl").read_bytes() == crl(2)
    assert only(fetch_all(cfg)).outcome == "not_modified"
    assert [h.headers.get("If-None-Match") for h in server.hits("/a.crl")] == [None, '"v1"', '"v2"']


def test_validators_are_not_sent_for_a_file_changed_or_removed_on_disk(tmp_path, server, crl):
    server.route("/a.crl", conditional(crl(1), etag='"v1"'))
    cfg = conf(tmp_path, server, ["/a.crl"])
    target = cfg.directory / "a.crl"
    fetch_all(cfg)
    target.write_bytes(b"edited by hand")
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert target.read_bytes() == crl(1)
    target.unlink()
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert target.read_bytes() == crl(1)
    assert [h.headers.get("If-None-Match") for h in server.hits("/a.crl")] == [None, None, None]


def test_validators_are_not_sent_after_the_url_changes(tmp_path, server, crl):
    server.route("/a.crl", conditional(crl(1), etag='"v1"'))
    server.route("/mirror/a.crl", conditional(crl(1), etag='"v1"'))
    cfg = conf(tmp_path, server, ["/a.crl"])
    fetch_all(cfg)
    moved = FetchConfig(directory=cfg.directory, sources=(Source(server.url("/mirror/a.crl"), "a.crl"),), retries=0)
    assert only(fetch_all(moved)).outcome == "fetched"
    assert "If-None-Match" not in server.hits("/mirror/a.crl")[0].headers


def test_unreadable_state_means_full_downloads_not_failure(tmp_path, server, crl):
    server.route("/a.crl", conditional(crl(1), etag='"v1"'))
    cfg = conf(tmp_path, server, ["/a.crl"])
    fetch_all(cfg)
    (cfg.directory / STATE_FILE).write_text("{not json")
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert "If-None-Match" not in server.hits("/a.crl")[1].headers
    assert json.loads((cfg.directory / STATE_FILE).read_text())["sources"]["a.crl"]["etag"] == '"v1"'


def test_304_to_an_unconditional_request_is_a_failure(tmp_path, server):
    server.route("/a.crl", Reply(304, b""))
    r = only(fetch_all(conf(tmp_path, server, ["/a.crl"])))
    assert (r.outcome, r.error_kind, r.status) == ("failed", "http", 304)
    assert not (tmp_path / "crls/a.crl").exists()


def test_pem_crl_is_accepted(tmp_path, server, auth_ca):
    der = make_crl(auth_ca, [], number=5)
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    server.route("/a.pem", Reply(200, pem))
    cfg = conf(tmp_path, server, ["/a.pem"])
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert (cfg.directory / "a.pem").read_bytes() == pem


# ------------------------------------------------------------------------------------------------
# Bad downloads never replace the file


def fetched_once(tmp_path, server, crl, path="/a.crl", **kw):
    """A config whose one source already holds crl(1) on disk (the 'old file')."""
    cfg = conf(tmp_path, server, [path], **kw)
    target = cfg.directory / path.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(crl(1))
    return cfg, target


def test_truncated_body_keeps_the_old_file_and_is_retried(tmp_path, server, crl):
    new = crl(2)
    server.route("/a.crl", Reply(200, new[:100], length=len(new)))
    cfg, target = fetched_once(tmp_path, server, crl, retries=2)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "truncated", 3)
    assert len(server.hits("/a.crl")) == 3
    assert f"received 100 of the {len(new):,} bytes" in r.error
    assert target.read_bytes() == crl(1) and leftovers(cfg.directory) == []


def test_truncated_body_without_content_length_is_caught_by_the_der_length(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2)[:-10], length=None))
    cfg, target = fetched_once(tmp_path, server, crl)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind) == ("failed", "truncated") and "DER CRL says" in r.error
    assert target.read_bytes() == crl(1) and leftovers(cfg.directory) == []


def test_truncated_pem_is_refused(tmp_path, server, auth_ca, crl):
    pem = x509.load_der_x509_crl(crl(2)).public_bytes(serialization.Encoding.PEM)
    server.route("/a.pem", Reply(200, pem[: len(pem) // 2], length=None))
    cfg = conf(tmp_path, server, ["/a.pem"])
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind) == ("failed", "truncated")
    assert not (cfg.directory / "a.pem").exists()


def test_retry_after_a_truncated_body_succeeds(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2)[:50], length=len(crl(2))), Reply(200, crl(2)))
    cfg, target = fetched_once(tmp_path, server, crl, retries=1)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.attempts) == ("fetched", 2)
    assert target.read_bytes() == crl(2)


def test_oversize_by_content_length_is_refused_before_reading(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2)))
    cfg, target = fetched_once(tmp_path, server, crl, max_bytes=len(crl(2)) - 1, retries=3)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "too_large", 1)
    assert "Content-Length" in r.error and "fetch.max_bytes" in r.error
    assert target.read_bytes() == crl(1) and leftovers(cfg.directory) == []


def test_oversize_while_streaming_is_refused(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2), length=None))
    cfg, target = fetched_once(tmp_path, server, crl, max_bytes=len(crl(2)) - 1, retries=3)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "too_large", 1)
    assert "no Content-Length" in r.error
    assert target.read_bytes() == crl(1) and leftovers(cfg.directory) == []


def test_a_body_of_exactly_max_bytes_is_accepted(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2), length=None))
    cfg, target = fetched_once(tmp_path, server, crl, max_bytes=len(crl(2)))
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert target.read_bytes() == crl(2)


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html"),
        (b"0 errors", "text/plain"),  # starts with 0x30 ('0'), but is no DER element of its size
        (b"", None),
    ],
    ids=["html", "ascii-zero", "empty"],
)
def test_a_body_that_is_not_a_crl_is_refused(tmp_path, server, crl, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    server.route("/a.crl", Reply(200, body, headers))
    cfg, target = fetched_once(tmp_path, server, crl, retries=3)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.status, r.attempts) == ("failed", "not_crl", 200, 1)
    assert "not a CRL" in r.error
    if content_type:
        assert content_type in r.error
    assert target.read_bytes() == crl(1) and leftovers(cfg.directory) == []


def test_trailing_bytes_after_the_der_crl_are_refused(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2) + b"\n<html>"))
    cfg, target = fetched_once(tmp_path, server, crl)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind) == ("failed", "not_crl") and "follow the DER element" in r.error
    assert target.read_bytes() == crl(1)


def test_ingest_never_sees_a_partial_download(tmp_path, server, crl, monkeypatch):
    """Midway through a body the target still holds the old CRL and ingest sees only that."""
    new = crl(2)
    half = len(new) // 2
    server.route("/a.crl", Reply(200, new, pause_after=half))
    cfg, target = fetched_once(tmp_path, server, crl)
    written = threading.Event()
    real_write = fetch._write

    def spy(f, data, tmp, sync=False):
        real_write(f, data, tmp, sync)
        f.flush()
        written.set()

    monkeypatch.setattr(fetch, "_write", spy)
    box = {}
    runner = threading.Thread(target=lambda: box.setdefault("report", fetch_all(cfg)))
    runner.start()
    try:
        assert written.wait(SERVER_WAIT)  # the client holds the first half
        assert target.read_bytes() == crl(1)
        assert discover(cfg.directory) == [target]
        (partial,) = leftovers(cfg.directory)  # the download in progress, hidden from ingest
        received = (target.parent / partial).read_bytes()
        assert received and new[:half].startswith(received)
    finally:
        server.release.set()
        runner.join(SERVER_WAIT)
    assert only(box["report"]).outcome == "fetched"
    assert target.read_bytes() == new and leftovers(cfg.directory) == []


def test_temporaries_left_by_a_killed_run_are_removed(tmp_path, server, crl):
    server.route("/sub/a.crl", Reply(200, crl(1)))
    cfg = conf(tmp_path, server, ["/sub/a.crl"])
    (cfg.directory / "sub").mkdir(parents=True)
    stale = cfg.directory / "sub" / f".a.crl{fetch.TMP_INFIX}x1y2{fetch.TMP_SUFFIX}"
    stale.write_bytes(b"half")
    unrelated = cfg.directory / "sub" / ".keep"
    unrelated.write_bytes(b"")
    fetch_all(cfg)
    assert not stale.exists() and unrelated.exists()


# ------------------------------------------------------------------------------------------------
# Retries, timeouts, deadline


def test_500_then_success_is_retried_with_exponential_backoff(tmp_path, server, crl, pauses):
    server.route("/a.crl", Reply(500), Reply(502), Reply(503), Reply(200, crl(1)))
    cfg = conf(tmp_path, server, ["/a.crl"], retries=3, backoff=0.5)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.attempts, r.status) == ("fetched", 4, 200)
    assert pauses == [0.5, 1.0, 2.0]


def test_retries_run_out(tmp_path, server, pauses):
    server.route("/a.crl", Reply(503))
    r = only(fetch_all(conf(tmp_path, server, ["/a.crl"], retries=2, backoff=1.0)))
    assert (r.outcome, r.error_kind, r.status, r.attempts) == ("failed", "http", 503, 3)
    assert len(server.hits("/a.crl")) == 3 and pauses == [1.0, 2.0]
    assert "HTTP 503" in r.error and "3 attempts" in str(r)


def test_404_is_not_retried(tmp_path, server, pauses):
    r = only(fetch_all(conf(tmp_path, server, ["/missing.crl"], retries=3)))
    assert (r.outcome, r.error_kind, r.status, r.attempts) == ("failed", "http", 404, 1)
    assert len(server.hits("/missing.crl")) == 1 and pauses == []
    assert "HTTP 404" in r.error and server.url("/missing.crl") in str(r) and "missing.crl" in str(r)


@pytest.mark.parametrize(
    "status, retry_after, cap, waited",
    [
        (503, "7", 60.0, 7.0),
        (429, "3600", 5.0, 5.0),  # capped by fetch.retry_after_max
        (503, "not a date", 60.0, 0.25),  # unparsable: the normal backoff
    ],
)
def test_retry_after_is_obeyed_and_capped(tmp_path, server, crl, pauses, status, retry_after, cap, waited):
    server.route("/a.crl", Reply(status, b"", {"Retry-After": retry_after}), Reply(200, crl(1)))
    cfg = conf(tmp_path, server, ["/a.crl"], retries=1, backoff=0.25, retry_after_max=cap)
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert pauses == [waited]


def test_retry_after_as_an_http_date(tmp_path, server, crl, pauses):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=40)
    server.route("/a.crl", Reply(503, b"", {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}), Reply(200, crl(1)))
    cfg = conf(tmp_path, server, ["/a.crl"], retries=1, backoff=0.0, retry_after_max=300.0, deadline=300.0)
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert len(pauses) == 1 and 0 < pauses[0] <= 40  # the date, not the (zero) backoff


def test_retry_that_would_pass_the_deadline_is_not_attempted(tmp_path, server, pauses):
    server.route("/a.crl", Reply(503, b"", {"Retry-After": "120"}))
    cfg = conf(tmp_path, server, ["/a.crl"], retries=3, deadline=30.0, retry_after_max=600.0)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "http", 1)
    assert "no retry" in r.error and pauses == []


def test_a_stalled_server_times_out_and_each_attempt_is_counted(tmp_path, server, crl):
    server.route("/a.crl", Reply(stall=True))
    cfg, target = fetched_once(tmp_path, server, crl, timeout=0.2, retries=2)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.attempts, r.status) == ("failed", "timeout", 3, None)
    assert len(server.hits("/a.crl")) == 3
    assert "fetch.timeout = 0.2" in r.error
    assert target.read_bytes() == crl(1)


def test_a_body_that_stalls_midway_times_out(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(2), pause_after=40))
    cfg, target = fetched_once(tmp_path, server, crl, timeout=0.2)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.status) == ("failed", "timeout", 200)
    assert target.read_bytes() == crl(1) and leftovers(cfg.directory) == []


def test_connection_refused_is_retried(tmp_path, server, pauses):
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = FetchConfig(directory=tmp_path / "crls", sources=(Source(f"http://127.0.0.1:{port}/a.crl", "a.crl"),), retries=1, backoff=0.0)
    r = only(fetch_all(cfg))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "connection", 2)
    assert "Connection" in r.error or "refused" in r.error.lower()


def test_the_total_deadline_bounds_the_run(tmp_path, server, crl):
    server.route("/slow.crl", Reply(stall=True))
    server.route("/later.crl", Reply(200, crl(1)))
    cfg = conf(tmp_path, server, ["/slow.crl", "/later.crl"], timeout=5.0, deadline=0.3, concurrency=1)
    report = fetch_all(cfg)
    slow, later = report.results
    assert slow.outcome == later.outcome == "failed"
    assert slow.error_kind in ("timeout", "deadline")
    assert later.error_kind == "deadline" and "fetch.deadline = 0.3" in later.error
    assert not (cfg.directory / "later.crl").exists()
    assert server.hits("/later.crl") == []


def test_a_halted_run_replaces_no_file_afterwards(tmp_path, server, crl, auth_ca, monkeypatch):
    """Once fetch_all has returned (here: its progress callback raised), a download still in
    flight may complete but must not replace its file, even when it was past every check."""
    slow_body = make_crl(auth_ca, [(7, NOW, None, None)], number=2)  # a size of its own
    server.route("/fast.crl", Reply(200, crl(1)))
    server.route("/slow.crl", Reply(200, slow_body))
    cfg = conf(tmp_path, server, ["/fast.crl", "/slow.crl"], concurrency=2)
    at_commit, halted = threading.Event(), threading.Event()
    real_check = fetch._check_crl

    def check(head, tail, size, content_type):
        real_check(head, tail, size, content_type)
        if size == len(slow_body):  # complete and checked: hold it just before the rename
            at_commit.set()
            halted.wait(SERVER_WAIT)

    def progress(done, total, result):
        at_commit.wait(SERVER_WAIT)
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "_check_crl", check)
    with pytest.raises(KeyboardInterrupt):
        fetch_all(cfg, progress=progress)
    assert at_commit.is_set()
    halted.set()
    for t in threading.enumerate():
        if t.name.startswith("jpki-fetch"):
            t.join(SERVER_WAIT)
    assert (cfg.directory / "fast.crl").read_bytes() == crl(1)
    assert not (cfg.directory / "slow.crl").exists() and leftovers(cfg.directory) == []
    state = json.loads((cfg.directory / STATE_FILE).read_text())["sources"]
    assert list(state) == ["fast.crl"]


# ------------------------------------------------------------------------------------------------
# Redirects, credentials, TLS


def test_redirect_is_followed(tmp_path, server, crl):
    server.route("/old/a.crl", Reply(302, b"", {"Location": "/new/a.crl"}))
    server.route("/new/a.crl", Reply(301, b"", {"Location": server.url("/final/a.crl")}))
    server.route("/final/a.crl", Reply(200, crl(1)))
    cfg = conf(tmp_path, server, ["/old/a.crl"])
    r = only(fetch_all(cfg))
    assert (r.outcome, r.status) == ("fetched", 200)
    assert (cfg.directory / "old/a.crl").read_bytes() == crl(1)


def test_too_many_redirects_fail(tmp_path, server):
    for i in range(5):
        server.route(f"/r{i}.crl", Reply(302, b"", {"Location": f"/r{i + 1}.crl"}))
    r = only(fetch_all(conf(tmp_path, server, ["/r0.crl"], max_redirects=2, retries=2)))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "redirect", 1)
    assert "more than 2 redirects" in r.error
    assert [h.path for h in server.requests] == ["/r0.crl", "/r1.crl", "/r2.crl"]


def test_redirect_loop_fails(tmp_path, server):
    server.route("/a.crl", Reply(302, b"", {"Location": "/b.crl"}))
    server.route("/b.crl", Reply(302, b"", {"Location": "/a.crl"}))
    r = only(fetch_all(conf(tmp_path, server, ["/a.crl"], max_redirects=50)))
    assert (r.outcome, r.error_kind) == ("failed", "redirect")


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/a.crl"])
def test_redirect_to_a_non_http_url_is_refused(tmp_path, server, location):
    server.route("/a.crl", Reply(302, b"", {"Location": location}))
    r = only(fetch_all(conf(tmp_path, server, ["/a.crl"])))
    assert (r.outcome, r.error_kind, r.status) == ("failed", "redirect", 302)
    assert not (tmp_path / "crls/a.crl").exists()


def test_credentials_are_sent_but_never_shown_nor_redirected(tmp_path, server, crl, caplog):
    server.route("/private/a.crl", Reply(302, b"", {"Location": "/public/a.crl"}))
    server.route("/public/a.crl", Reply(200, crl(1)))
    server.route("/private/b.crl", Reply(404))
    base = server.url("/").replace("http://", "http://verifier:s3cret%21@")
    cfg = FetchConfig(
        directory=tmp_path / "crls",
        sources=(Source(base + "private/a.crl", "a.crl"), Source(base + "private/b.crl", "b.crl")),
        retries=0,
    )
    with caplog.at_level(logging.DEBUG, logger="jpki_fast.fetch"):
        report = fetch_all(cfg)
    assert [r.outcome for r in report.results] == ["fetched", "failed"]
    first, redirected = server.hits("/private/a.crl")[0], server.hits("/public/a.crl")[0]
    assert first.headers["Authorization"] == "Basic dmVyaWZpZXI6czNjcmV0IQ=="  # verifier:s3cret!
    assert "Authorization" not in redirected.headers
    shown = str(report) + json.dumps(report.to_dict()) + caplog.text + (cfg.directory / STATE_FILE).read_text()
    assert "s3cret" not in shown and "verifier" not in shown
    assert "http://***@127.0.0.1" in str(report)


def tls_pair(tmp_path: Path):
    """A CA and a server certificate for 127.0.0.1 signed by it, as PEM files."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, leaf_key = rsa_key(4), rsa_key(5)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jpki-fast test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def tls_server(tmp_path):
    import ssl

    ca_file, cert_file, key_file = tls_pair(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    s = Server(tls=ctx)
    s.ca_file = ca_file
    yield s
    s.close()


def test_https_with_a_private_ca(tmp_path, tls_server, crl):
    tls_server.route("/a.crl", Reply(200, crl(1)))
    cfg = conf(tmp_path, tls_server, ["/a.crl"], ca_file=tls_server.ca_file)
    assert only(fetch_all(cfg)).outcome == "fetched"
    assert (cfg.directory / "a.crl").read_bytes() == crl(1)


def test_https_with_an_untrusted_certificate_fails_without_retry(tmp_path, tls_server, crl, pauses):
    tls_server.route("/a.crl", Reply(200, crl(1)))
    r = only(fetch_all(conf(tmp_path, tls_server, ["/a.crl"], retries=3)))
    assert (r.outcome, r.error_kind, r.attempts) == ("failed", "tls", 1)
    assert "certificate verif" in r.error
    assert tls_server.hits("/a.crl") == [] and pauses == []


def test_an_unreadable_ca_file_stops_the_run(tmp_path, server):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(FetchError, match="bad.pem.*fetch.ca_file"):
        fetch_all(conf(tmp_path, server, ["/a.crl"], ca_file=bad))


# ------------------------------------------------------------------------------------------------
# Many sources, progress, lock, end to end


def test_many_files_download_in_parallel_with_progress(tmp_path, server, crl):
    n = 40
    gate = threading.Barrier(4)  # the first four requests are answered only once all four arrived
    bodies = {f"/p/{i:02d}.crl": crl(100 + i) for i in range(n)}
    for i, (path, body) in enumerate(bodies.items()):
        server.route(path, Reply(200, body, gate=gate if i < 4 else None))
    cfg = conf(tmp_path, server, list(bodies), concurrency=8)
    seen = []
    report = fetch_all(cfg, progress=lambda done, total, r: seen.append((done, total, r.path, threading.current_thread())))
    assert report.counts() == {"fetched": n, "not_modified": 0, "failed": 0}
    assert not gate.broken
    for path, body in bodies.items():
        assert (cfg.directory / path.lstrip("/")).read_bytes() == body
    assert [d for d, *_ in seen] == list(range(1, n + 1)) and {t for _, t, _, _ in seen} == {n}
    assert sorted(p for _, _, p, _ in seen) == sorted(p.lstrip("/") for p in bodies)
    assert all(t is threading.main_thread() for *_, t in seen)
    assert [r.path for r in report.results] == [p.lstrip("/") for p in bodies]  # config order


def test_one_failing_source_does_not_stop_the_others(tmp_path, server, crl):
    server.route("/a.crl", Reply(200, crl(1)))
    server.route("/c.crl", Reply(200, crl(3)))
    report = fetch_all(conf(tmp_path, server, ["/a.crl", "/b.crl", "/c.crl"]))
    assert [r.outcome for r in report.results] == ["fetched", "failed", "fetched"]
    assert not report.ok and [r.path for r in report.failed] == ["b.crl"]
    text = str(report)
    assert "1 failed" in text and "FAILED b.crl" in text and "HTTP 404" in text
    assert {r.error_kind for r in report.failed} <= set(ERROR_KINDS)


def test_a_second_fetch_in_the_same_directory_is_refused(tmp_path, server):
    cfg = conf(tmp_path, server, ["/a.crl"])
    cfg.directory.mkdir(parents=True)
    with open(cfg.directory / LOCK_FILE, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(FetchError, match="another fetch is running"):
            fetch_all(cfg)
    assert server.requests == []


def test_update_config_end_to_end_fetch_then_ingest(tmp_path, server, auth_ca, ws):
    ws.add_ca(auth_ca)
    names = ["Sapporo-shi-Minami-ku", "Sapporo-shi-Kita-ku"]
    lines = ["url,path"]
    for i, name in enumerate(names):
        crl = make_crl(auth_ca, [(0x0100 + i, NOW - dt.timedelta(days=1), None, None)], partition=name, number=7)
        server.route(f"/{name}.crl", Reply(200, crl))
        lines.append(f"{server.url(f'/{name}.crl')},auth/Hokkaido/{name}.crl")
    (tmp_path / "sources.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "update.toml").write_text(
        f"""
[store]
path = "store"
[trust]
path = "{ws.trust}"
[fetch]
directory = "fetched"
timeout = 5
sources_file = "sources.csv"
"""
    )
    cfg = load_config(tmp_path / "update.toml")
    report = fetch_all(cfg)
    assert report.ok and len(report.fetched) == 2
    summary = ingest(cfg.trust, cfg.fetch.directory, cfg.store, now=NOW_ISO, keep=cfg.keep)
    assert summary.published and len(summary.accepted) == 2 and not summary.refused
    out = open_store(cfg.store).check(["0100", "0101", "0102"], issuer=auth_ca.alias, now=NOW_ISO).to_pylist()
    assert [row["status"] for row in out] == ["revoked", "revoked", "good"]
