"""Admission control (jpki_fast_service.admission): no client exhausts a worker's slots, its
memory or its time. The middleware alone against an application that waits on events (no
timing in the assertions), then a real `jpki-fast serve` process with small limits, driven over
raw sockets: stalled uploads, too many requests at once, large bodies at once."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time

import httpx
import pytest

from jpki_fast_service.admission import LARGE_BODY, Admission
from .svc_helpers import NOW
from .test_service_server import Server

# ---- the middleware alone -------------------------------------------------------------------


class Gate:
    """An ASGI app whose answer waits until ``release`` (in a worker thread, as the Rust core's
    work does), recording how many are inside."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.inside = 0
        self.finished = 0

    async def __call__(self, scope, receive, send):
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        while (await receive()).get("more_body"):
            pass
        self.inside += 1
        await asyncio.to_thread(self.release.wait, 30)
        self.inside -= 1
        self.finished += 1
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"done"})


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, body

    def json(self):
        return json.loads(self.content)


async def call(app, path: str, body: bytes = b"", method: str = "GET") -> Answer:
    """One request straight to the ASGI app; returns as soon as the answer is sent, even if the
    app goes on working after it (httpx's ASGI transport would wait for the app to return)."""
    done = asyncio.get_running_loop().create_future()
    start: dict = {}
    headers = [(b"content-length", str(len(body)).encode())] if body else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b""}
    sent = [False]

    async def receive():
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect: the client stays

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(status=message["status"], headers={k.decode(): v.decode() for k, v in message.get("headers", [])})
        elif not message.get("more_body") and not done.done():
            done.set_result(Answer(start["status"], start["headers"], message.get("body", b"")))

    task = asyncio.ensure_future(app(scope, receive, send))
    call.tasks.add(task)  # kept referenced until it ends
    task.add_done_callback(call.tasks.discard)
    return await done


call.tasks = set()


def test_past_the_limit_requests_get_503_with_retry_after_and_the_slots_come_back():
    async def scenario():
        gate = Gate()
        app = Admission(gate, max_concurrent=2, max_large=1, timeout=60)
        held = [asyncio.ensure_future(call(app, "/v1/snapshot")) for _ in range(2)]
        while app.in_flight < 2:
            await asyncio.sleep(0.01)
        r = await call(app, "/v1/snapshot")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        body = r.json()
        assert body["error"] == "busy" and "--max-concurrent" in body["message"], body
        assert (await call(app, "/healthz")).status_code == 200  # probes are never refused
        gate.release.set()
        assert [(await h).status_code for h in held] == [200, 200]
        while app.in_flight:
            await asyncio.sleep(0.01)
        assert (await call(app, "/v1/snapshot")).status_code == 200

    asyncio.run(scenario())


def test_large_bodies_have_their_own_smaller_limit():
    async def scenario():
        gate = Gate()
        app = Admission(gate, max_concurrent=10, max_large=1, timeout=60)
        big = b"x" * (LARGE_BODY + 1)
        held = asyncio.ensure_future(call(app, "/v1/status", big, "POST"))
        while app.large_in_flight < 1:
            await asyncio.sleep(0.01)
        r = await call(app, "/v1/status", big, "POST")
        assert r.status_code == 503 and "--max-concurrent-large" in r.json()["message"]
        small = asyncio.ensure_future(call(app, "/v1/status", b"{}", "POST"))  # small bodies still get in
        while app.in_flight < 2:
            await asyncio.sleep(0.01)
        gate.release.set()
        assert (await small).status_code == 200 and (await held).status_code == 200
        while app.in_flight:
            await asyncio.sleep(0.01)
        assert app.large_in_flight == 0

    asyncio.run(scenario())


def test_an_answer_past_the_timeout_is_503_and_its_work_keeps_its_slot_until_it_ends():
    async def scenario():
        gate = Gate()
        app = Admission(gate, max_concurrent=1, max_large=1, timeout=0.2)
        r = await call(app, "/v1/snapshot")
        assert r.status_code == 503 and "--request-timeout" in r.json()["message"] and r.headers["retry-after"] == "1"
        # The work is still running in its thread: it still counts, so the worker is full.
        assert gate.inside == 1 and app.in_flight == 1
        assert (await call(app, "/v1/snapshot")).status_code == 503
        gate.release.set()
        while app.in_flight:
            await asyncio.sleep(0.01)
        assert gate.finished == 1  # it ran to its end; its late answer went nowhere
        assert (await call(app, "/v1/snapshot")).status_code == 200

    asyncio.run(scenario())


# ---- a real server with small limits ----------------------------------------------------------


@pytest.fixture(scope="module")
def tight(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("tight")
    server = Server(dataset.store, dataset.key_file, root / "audit.jsonl", workers=1,
                    extra=("--max-concurrent", "3", "--max-concurrent-large", "1", "--request-timeout", "4",
                           "--max-body", str(8 << 20)))
    yield server
    server.stop()


def _stalled(port: int, key: str, length: int, sent: int) -> socket.socket:
    """A POST that declares ``length`` bytes, sends ``sent`` of them and stalls."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n")
    s.sendall(head.encode() + b"{" * sent)
    return s


def _read_status(s: socket.socket) -> tuple[int, bytes]:
    """The status code and the whole answer: its head, then as many body bytes as its
    Content-Length says (a server may send the two in separate segments)."""
    data = b""

    def body_complete() -> bool:
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            return False
        length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        return length is None or len(body) >= int(length.group(1))

    while not body_complete():
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ", 2)[1]), data


def _in_flight_count(url: str, key: str, want: int) -> None:
    """Waits (bounded) until the worker refuses a request: its slots are full."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(url + "/v1/snapshot", headers={"X-API-Key": key}).status_code == 503:
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker never filled its {want} slots")


def test_stalled_uploads_get_408_and_cannot_hold_the_worker(tight, dataset):
    key = dataset.keys["query-a"]
    slow = [_stalled(tight.port, key, 1000, 10) for _ in range(3)]
    _in_flight_count(tight.url, key, 3)
    r = httpx.get(tight.url + "/v1/snapshot", headers={"X-API-Key": key})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and r.json()["error"] == "busy"
    assert httpx.get(tight.url + "/healthz").status_code == 200  # the worker itself answers
    answers = [_read_status(s) for s in slow]  # each stalled upload is cut at the timeout
    assert [code for code, _ in answers] == [408] * 3, answers
    assert all(b"--request-timeout" in raw for _, raw in answers)
    r = httpx.post(tight.url + "/v1/status", headers={"X-API-Key": key},
                   json={"issuer": "sign_ca_2023", "serials": dataset.truth.column("serial").to_pylist()[:5], "now": NOW})
    assert r.status_code == 200


def test_large_bodies_at_once_are_refused_past_their_limit_not_buffered(tight, dataset):
    key = dataset.keys["query-a"]
    holder = _stalled(tight.port, key, 4 << 20, 1 << 16)  # a large body trickling in holds the one large slot
    try:
        serials = [f"{i:08X}" for i in range(200_000)]  # about 2.2 MB of JSON
        body = json.dumps({"issuer": "sign_ca_2023", "serials": serials, "now": NOW}).encode()
        assert len(body) > LARGE_BODY
        deadline = time.monotonic() + 30
        while True:
            r = httpx.post(tight.url + "/v1/status", headers={"X-API-Key": key, "Content-Type": "application/json"},
                           content=body, timeout=60)
            if r.status_code == 503 or time.monotonic() > deadline:
                break
        assert r.status_code == 503 and "--max-concurrent-large" in r.json()["message"], r.text
        small = httpx.get(tight.url + "/v1/snapshot", headers={"X-API-Key": key})
        assert small.status_code == 200  # small requests are not held up by large ones
    finally:
        code, _ = _read_status(holder)
    assert code == 408
    r = httpx.post(tight.url + "/v1/status", headers={"X-API-Key": key, "Content-Type": "application/json"}, content=body, timeout=60)
    assert r.status_code == 200 and len(r.json()["results"]) == len(serials)


def test_bodies_over_max_body_are_refused_before_they_are_read(tight, dataset):
    s = socket.create_connection(("127.0.0.1", tight.port), timeout=30)
    head = (f"POST /v1/status HTTP/1.1\r\nHost: x\r\nX-API-Key: {dataset.keys['query-a']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {1 << 40}\r\n\r\n")
    s.sendall(head.encode())  # a terabyte announced, nothing sent: answered at once
    code, raw = _read_status(s)
    assert code == 413 and b"--max-body" in raw
