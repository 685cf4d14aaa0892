"""The whole flow against a real `jpki-fast serve` process on loopback with two workers:
answers, the audit chain across workers, metrics aggregated across workers, and hot reload
under load (no failed request while two generations are published; only new answers after)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pyarrow as pa
import pytest

import jpki_fast
from jpki_fast import ingest, synth
from jpki_fast.store import Store
from .svc_helpers import NOW, b64, login_body

ARROW = "application/vnd.apache.arrow.stream"
DAY = dt.timedelta(days=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, store, key_file, audit_log, workers=2, extra=()):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(audit_log.with_suffix(".server.log"), "w")  # noqa: SIM115 - open while the server runs
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(store), "--api-keys", str(key_file),
             "--audit-log", str(audit_log), "--port", str(self.port), "--workers", str(workers),
             "--reload-interval", "0.2", "--log-level", "warning", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,  # stop() ends the workers too
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: {audit_log.with_suffix('.server.log').read_text()}")
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def served(dataset, tmp_path_factory):
    """A copy of the dataset's store (the reload test publishes into it) served by two workers."""
    root = tmp_path_factory.mktemp("served")
    store = root / "store"
    shutil.copytree(dataset.store, store)
    server = Server(store, dataset.key_file, root / "audit.jsonl")
    server.store, server.root, server.audit = store, root, root / "audit.jsonl"
    yield server
    server.stop()


def worker_generations(url: str) -> list[int]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return [int(float(v)) for v in re.findall(r'^jpki_fast_snapshot_generation\{pid="\d+"\} (\S+)$', text, re.M)]


def test_the_whole_flow_on_two_workers(served, dataset):
    h = dataset.header("query-a")
    with httpx.Client(base_url=served.url, headers=h, timeout=30) as c:
        truth = dataset.truth.slice(0, 50)
        items = [{"issuer": i, "serial": s} for i, s in zip(truth.column("issuer").to_pylist(), truth.column("serial").to_pylist())]
        r = c.post("/v1/status", json={"items": items, "now": NOW})
        assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"revoked"}
        cert = dataset.certs_of("auth", revoked=False)[0]
        assert c.post("/v1/login/verify", json=login_body(cert)).json()["decision"] == "allow"
        r = c.post("/v1/certificates/status", json={"certificates": [b64(cert["der"])], "now": NOW})
        assert r.json()["results"][0]["status"] == "good"
        assert c.get("/v1/snapshot").json()["entries"] == dataset.truth.num_rows
        assert c.get("/v1/partitions", headers={"Accept": ARROW}).headers["content-type"] == ARROW
        assert c.get("/openapi.json").status_code == 200


def test_metrics_add_up_across_workers(served, dataset):
    def count(text):
        m = re.search(r'^jpki_fast_requests_total\{code="200",endpoint="/v1/snapshot",method="GET"\} (\S+)$', text, re.M)
        return float(m.group(1)) if m else 0.0

    before = count(httpx.get(served.url + "/metrics").text)
    for _ in range(40):  # a new connection each: the kernel spreads them over both workers
        assert httpx.get(served.url + "/v1/snapshot", headers=dataset.header("query-a")).status_code == 200
    assert count(httpx.get(served.url + "/metrics").text) == before + 40
    assert len(worker_generations(served.url)) == 2  # one live gauge per worker


def test_the_audit_chain_holds_across_workers(served, dataset):
    def hammer():
        for _ in range(25):
            httpx.get(served.url + "/v1/partitions", headers=dataset.header("query-b"))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = subprocess.run([sys.executable, "-m", "jpki_fast.cli", "audit", "verify", str(served.audit)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = served.audit.read_text().splitlines()
    assert sum('"/v1/partitions"' in line and '"query-b"' in line for line in lines) == 100


def _next_day(dataset, root, day: int):
    """The synthetic CRLs of day ``day`` after NOW (same CAs, other revocations), ingested."""
    when = (dt.datetime.fromisoformat(NOW.replace("Z", "+00:00")) + day * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = root / f"day{day}"
    synth.generate(data, entries=20_000, partitions=20, certs=0, now=when, seed=day, ca_from=dataset.data)
    return data, when


def test_reload_under_load_fails_no_request_and_serves_only_new_answers_after(served, dataset):
    query_now = "2026-11-27T12:00:00Z"
    days = [_next_day(dataset, served.root, d) for d in (1, 2)]
    # Serials whose answers differ between the generations: revoked on one day, not another.
    serials = sorted(set(synth.read_truth(dataset.data).column("serial").to_pylist()[:300]
                         + synth.read_truth(days[0][0]).column("serial").to_pylist()[:300]
                         + synth.read_truth(days[1][0]).column("serial").to_pylist()[:300]))
    issuers = ["sign_ca_2023" if s.startswith("03") else "auth_ca_2023" for s in serials]
    body = {"items": [{"issuer": i, "serial": s} for i, s in zip(issuers, serials)], "now": query_now}
    first = jpki_fast.open_store(served.store).generation

    responses: list[tuple[float, int, int, list[str] | None]] = []  # (sent at, HTTP status, generation, statuses)
    failures: list[str] = []
    stop = threading.Event()

    def hammer(keep_alive: bool):
        client = httpx.Client(base_url=served.url, headers=dataset.header("query-a"), timeout=30)
        deadline = time.monotonic() + 120  # bounded, whatever happens
        while not stop.is_set() and time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                r = client.post("/v1/status", json=body, headers={} if keep_alive else {"Connection": "close"})
                statuses = [x["status"] for x in r.json()["results"]] if r.status_code == 200 else None
                responses.append((sent, r.status_code, int(r.headers.get("X-Snapshot-Generation", -1)), statuses))
            except Exception as exc:  # a refused or broken connection is a failure too
                failures.append(f"{type(exc).__name__}: {exc}")
        client.close()

    threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    published = []
    for data, when in days:
        before = time.monotonic()
        summary = ingest(data / "trust", data / "crls", served.store, now=when)
        generation = summary.generation
        deadline = time.monotonic() + 60
        while set(worker_generations(served.url)) != {generation}:
            assert time.monotonic() < deadline, f"generation {generation} not picked up: {worker_generations(served.url)}"
            time.sleep(0.05)
        published.append((generation, before, time.monotonic()))
        time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()

    assert not failures, failures[:5]
    assert responses and all(status == 200 for _, status, _, _ in responses), {s for _, s, _, _ in responses}
    # Each answer is the one of the generation it names (the swap is atomic per request).
    expected = {}
    for g in {first, *(g for g, _, _ in published)}:
        expected[g] = Store(served.store, g).check(serials, issuers, now=query_now).column("status").to_pylist()
    assert expected[first] != expected[published[0][0]] != expected[published[1][0]]
    for _, _, generation, statuses in responses:
        assert statuses == expected[generation]
    # Once every worker serves a generation, no request sent after that gets an older one.
    for generation, _, all_swapped in published:
        late = [g for sent, _, g, _ in responses if sent > all_swapped]
        assert late and min(late) >= generation
    seen = {g for _, _, g, _ in responses}
    assert {first, published[0][0], published[1][0]} <= seen


def test_admin_reload_forces_the_swap(served, dataset):
    before = httpx.get(served.url + "/v1/snapshot", headers=dataset.header("query-a")).json()["generation"]
    r = httpx.post(served.url + "/v1/admin/reload", headers=dataset.header("admin"))
    assert r.status_code == 200 and r.json()["generation"] == before  # nothing newer published


@pytest.mark.parametrize("kind", ["granian", "uvicorn"])
def test_both_servers_answer_big_batches_and_count_them(dataset, tmp_path, kind):
    """granian forks its workers, uvicorn spawns them: the parent must not have started the Rust
    core's thread pool (a forked pool without its threads hangs on the first parallel check)."""
    server = Server(dataset.store, dataset.key_file, tmp_path / "audit.jsonl", extra=("--server", kind))
    try:
        truth = dataset.truth.filter(pa.compute.equal(dataset.truth.column("issuer"), "sign_ca_2023"))
        serials = truth.column("serial").to_pylist() * 10  # big enough for the core to go parallel
        body = {"issuer": "sign_ca_2023", "serials": serials, "now": NOW}
        r = httpx.post(server.url + "/v1/status", json=body, headers=dataset.header("query-a"), timeout=120)
        assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"revoked"}
        assert len(worker_generations(server.url)) == 2  # metrics in multiprocess mode on both servers
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["granian", "uvicorn"])
def test_both_servers_take_client_and_scheme_from_a_trusted_local_proxy_only(dataset, tmp_path, kind, monkeypatch):
    """Behind a TLS proxy on loopback, the audit log's client is the proxy's X-Forwarded-For and
    the console's cookies are Secure (X-Forwarded-Proto: https), on either server; a peer outside
    FORWARDED_ALLOW_IPS is not believed (docs/SECURITY.md "Client addresses behind a proxy")."""
    proxied = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    for trusted, client, secure in ((None, "203.0.113.7", True), ("192.0.2.1", "127.0.0.1", False)):
        if trusted is None:
            monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
        else:
            monkeypatch.setenv("FORWARDED_ALLOW_IPS", trusted)
        audit = tmp_path / f"audit-{trusted}.jsonl"
        server = Server(dataset.store, dataset.key_file, audit, workers=1, extra=("--server", kind))
        try:
            assert httpx.get(server.url + "/v1/snapshot", headers={**dataset.header("query-a"), **proxied}).status_code == 200
            assert httpx.get(server.url + "/v1/snapshot", headers=dataset.header("query-a")).status_code == 200
            login = httpx.get(server.url + "/ui/login", headers=proxied)
            assert login.status_code == 200 and ("; secure" in login.headers["set-cookie"].lower()) == secure, login.headers
        finally:
            server.stop()
        records = [r for r in map(json.loads, audit.read_text().splitlines()) if r["endpoint"] == "/v1/snapshot"]
        assert [r["client"] for r in records] == [client, "127.0.0.1"], (kind, trusted)
