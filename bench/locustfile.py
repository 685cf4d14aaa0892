"""Load test of the jpki-fast service (locust): every answer is checked against the truth.

Users:

- ``LoginUser``: one login a request, with the synthetic authentication certificates and the
  card keys ``jpki-fast synth`` issued; about a quarter of the certificates are revoked and a
  fifth of the signatures tampered with. Each decision must be the true one (allow only for an
  untampered signature by a certificate that is not revoked).
- ``BatchUser``: ``POST /v1/status`` with 1,000 serials a request (JSON), half of them revoked.
- ``ArrowBatchUser``: the same with Arrow IPC bodies in and out.

A wrong answer is reported as a failure of that request. ``make loadtest`` (bench/loadtest.py)
starts the server, runs this headless for a bounded time, writes CSV stats and an HTML report,
and fails on any failure or when a p99 exceeds its bound.

Configuration (environment): ``JPKI_LOAD_DATA`` (the synth dataset), ``JPKI_LOAD_STORE`` (its
store, for the expected batch answers), ``JPKI_LOAD_KEY`` (an API key with the query role),
``JPKI_LOAD_NOW`` (the instant the answers are judged at).
"""

from __future__ import annotations

import base64
import io
import os
import random
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

import jpki_fast
from jpki_fast import synth

DATA = Path(os.environ.get("JPKI_LOAD_DATA", "bench/data/loadtest/dataset"))
STORE = Path(os.environ.get("JPKI_LOAD_STORE", "bench/data/loadtest/store"))
KEY = os.environ.get("JPKI_LOAD_KEY", "")
NOW = os.environ.get("JPKI_LOAD_NOW")  # None: the server's current time
ARROW = "application/vnd.apache.arrow.stream"
POOL = 300  # precomputed login bodies (signing with cryptography would load the generator's cores)
TAMPERED_SHARE = 0.2
BATCH = 1000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _card_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    pem = b"".join(line + b"\n" for line in path.read_bytes().splitlines() if not line.startswith(b"#"))
    return serialization.load_pem_private_key(pem, password=None)


def _login_pool() -> list[tuple[bytes, str]]:
    """(body, expected decision) pairs, built once per load generator process."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    table = synth.read_certs(DATA)
    certs = table.filter(pc.equal(table.column("kind"), "auth")).to_pylist()
    keys: dict[str, object] = {}
    rng = random.Random(11)
    pool = []
    for i in range(POOL):
        cert = certs[i % len(certs)]
        if cert["key_path"] not in keys:
            keys[cert["key_path"]] = _card_key(DATA / cert["key_path"])
        key = keys[cert["key_path"]]
        challenge = rng.randbytes(32)
        signature = key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
        tampered = rng.random() < TAMPERED_SHARE
        if tampered:
            signature = bytes([signature[0] ^ 0x40]) + signature[1:]
        body = {"certificate": _b64((DATA / cert["path"]).read_bytes()), "challenge": _b64(challenge), "signature": _b64(signature)}
        if NOW:
            body["now"] = NOW
        pool.append((orjson.dumps(body), "deny" if (tampered or cert["revoked"]) else "allow"))
    return pool


def _batches(count: int = 20) -> list[tuple[list[str], list[str]]]:
    """(serials, expected statuses) per batch: half revoked serials, half near them."""
    truth = synth.read_truth(DATA)
    serials = truth.filter(pc.equal(truth.column("issuer"), "auth_ca_2023")).column("serial").to_pylist()
    store = jpki_fast.open_store(STORE)
    rng = random.Random(5)
    out = []
    for _ in range(count):
        chosen = [rng.choice(serials) if j % 2 else f"{int(rng.choice(serials), 16) + 1:08X}" for j in range(BATCH)]
        expected = store.check(chosen, "auth_ca_2023", now=NOW).column("status").to_pylist()
        out.append((chosen, expected))
    return out


_SHARED: dict[str, object] = {}


@events.test_start.add_listener
def _prepare(environment, **kwargs) -> None:
    """Bodies and expected answers, built before any user starts (so that building them never
    stalls requests in flight)."""
    import time

    started = time.perf_counter()
    _SHARED["logins"] = _login_pool()
    batches = _SHARED["batches"] = _batches()
    extra = {"now": NOW} if NOW else {}
    _SHARED["json-bodies"] = [orjson.dumps({"issuer": "auth_ca_2023", "serials": s, **extra}) for s, _ in batches]
    _SHARED["arrow-bodies"] = [_arrow_body(s) for s, _ in batches]
    print(f"loadtest: {len(_SHARED['logins'])} logins and {len(batches)} batches prepared in {time.perf_counter() - started:.1f} s")


class _Base(FastHttpUser):
    abstract = True
    wait_time = between(0, 0.01)

    def headers(self, content_type: str = "application/json", accept: str = "application/json") -> dict[str, str]:
        return {"X-API-Key": KEY, "Content-Type": content_type, "Accept": accept}


class LoginUser(_Base):
    weight = 6

    def on_start(self) -> None:
        self.pool = _SHARED["logins"]

    @task
    def login(self) -> None:
        body, expected = random.choice(self.pool)
        with self.client.post("/v1/login/verify", data=body, headers=self.headers(), name="/v1/login/verify", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return
            decision = orjson.loads(r.content).get("decision")
            if decision != expected:
                r.failure(f"wrong answer: {decision}, expected {expected}")


class BatchUser(_Base):
    weight = 2

    def on_start(self) -> None:
        self.batches = _SHARED["batches"]
        self.bodies = _SHARED["json-bodies"]

    @task
    def batch(self) -> None:
        i = random.randrange(len(self.batches))
        name = "/v1/status [json 1000]"
        with self.client.post("/v1/status", data=self.bodies[i], headers=self.headers(), name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return
            statuses = [x["status"] for x in orjson.loads(r.content)["results"]]
            if statuses != self.batches[i][1]:
                wrong = sum(a != b for a, b in zip(statuses, self.batches[i][1]))
                r.failure(f"wrong answer: {wrong} of {BATCH} statuses differ from the truth")


def _arrow_body(serials: list[str]) -> bytes:
    table = pa.table({"issuer": pa.array(["auth_ca_2023"] * len(serials)).dictionary_encode(), "serial": pa.array(serials)})
    if NOW:
        table = table.replace_schema_metadata({"now": NOW})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class ArrowBatchUser(_Base):
    weight = 1

    def on_start(self) -> None:
        self.batches = _SHARED["batches"]
        self.bodies = _SHARED["arrow-bodies"]

    @task
    def batch(self) -> None:
        i = random.randrange(len(self.batches))
        headers = self.headers(ARROW, ARROW)
        name = "/v1/status [arrow 1000]"
        with self.client.post("/v1/status", data=self.bodies[i], headers=headers, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return
            table = pa.ipc.open_stream(io.BytesIO(r.content)).read_all()
            if table.column("status").to_pylist() != self.batches[i][1]:
                r.failure("wrong answer: statuses differ from the truth")


#: p99 bounds (milliseconds) per request name; over a bound, the run fails.
P99_BOUNDS_MS = {
    "/v1/login/verify": float(os.environ.get("JPKI_LOAD_P99_LOGIN_MS", "250")),
    "/v1/status [json 1000]": float(os.environ.get("JPKI_LOAD_P99_BATCH_MS", "1000")),
    "/v1/status [arrow 1000]": float(os.environ.get("JPKI_LOAD_P99_BATCH_MS", "1000")),
}


@events.quitting.add_listener
def _check_bounds(environment, **kwargs) -> None:
    stats = environment.stats
    problems = []
    if stats.total.num_failures:
        problems.append(f"{stats.total.num_failures} failed requests (wrong answers included)")
    for name, bound in P99_BOUNDS_MS.items():
        entry = stats.entries.get((name, "POST"))
        if entry is None or entry.num_requests == 0:
            problems.append(f"{name}: no requests")
            continue
        p99 = entry.get_response_time_percentile(0.99)
        if p99 > bound:
            problems.append(f"{name}: p99 {p99:.0f} ms above the bound of {bound:.0f} ms")
    for p in problems:
        print(f"loadtest: FAIL: {p}")
    if problems:
        environment.process_exit_code = 1
    else:
        print("loadtest: every answer right, every p99 within its bound")
