"""Benchmarks of the OCSP responder (issue 11), side by side with OpenSSL's; `make bench-ocsp`.

- Cached responses under wrk, 8 keep-alive connections, POST (what OpenSSL and most clients
  send) and GET (what RFC 5019 caches use), rotating 1,000 nonce-less requests (half revoked
  serials, half good) that the workers have answered once: requests/s with zero errors.
- Live-signed responses: the same under wrk with a nonce in every request (signed per request).
- One sequential client opening a new connection per request (one Python process, the same
  code for both): ours beside OpenSSL's responder (``openssl ocsp -index ... -port``, the CA
  key's revocations in its index.txt). wrk cannot measure OpenSSL's responder: wrk's first,
  probing connection closes without a request, and OpenSSL 3.0's responder then loops reading
  end-of-file and answers no one; the benchmark records that probe for both responders.
- Pre-producing responses in the library (``OcspResponder.preproduce``, signed on all cores).

Every answer is checked before it is timed: the served statuses equal the truth. OpenSSL 3.0's
responder binds every interface, so it runs, with the client that measures it, in a network
namespace of its own that has only loopback (``unshare -n``), where allowed. Server and load
generator share the machine's cores (2 here): the figures include that. `uptime` is recorded.

Usage: python bench/bench_ocsp.py [--entries 1000000] [--seconds 8] [--workers 2] [--no-write]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.compute as pc
from cryptography.x509 import ocsp as x509_ocsp

import jpki_fast
from jpki_fast import ingest, ocsp, synth
from jpki_fast_service.server import DEFAULT_SERVER

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_service import Server, free_port, wrk  # noqa: E402  (the service benchmark's helpers)

ISSUER = "auth_ca_2023"
OCSP_REQUEST = "application/ocsp-request"
LUA = """
local bodies, i = {}, 0
for line in io.lines(os.getenv("OCSP_BODIES")) do
  bodies[#bodies + 1] = (line:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end
local get = os.getenv("OCSP_GET") == "1"
wrk.headers["Content-Type"] = "application/ocsp-request"
request = function()
  i = i % #bodies + 1
  if get then
    return wrk.format("GET", "/ocsp/" .. bodies[i])
  end
  return wrk.format("POST", "/ocsp", nil, bodies[i])
end
"""


def prepare(out: Path, entries: int) -> tuple[Path, Path]:
    data, store = out / "dataset", out / "store"
    now = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())
    stamp = out / "dataset.now"
    if not (stamp.is_file() and stamp.read_text() == f"{now} {entries}" and (store / "CURRENT").is_file()):
        shutil.rmtree(store, ignore_errors=True)
        print(f"bench: synthetic data, {entries:,} entries, issued {now}", flush=True)
        synth.generate(data, entries=entries, partitions=1900, certs=20, cert_keys=2, now=now, seed=2, ocsp_responders="ecdsa-p256")
        ingest(data / "trust", data / "crls", store, now=now)
        stamp.write_text(f"{now} {entries}")
    return data, store


def sample(data: Path, n: int) -> tuple[list[str], dict[str, str]]:
    """``n`` serials of ISSUER, half revoked, half not listed; and the truth for each."""
    truth = synth.read_truth(data)
    listed = truth.filter(pc.equal(truth.column("issuer"), ISSUER)).column("serial").to_pylist()
    revoked = listed[:: max(1, len(listed) // (n // 2))][: n // 2]
    present = set(listed)
    good, x = [], int(revoked[0], 16)
    while len(good) < n - len(revoked):
        x += 7
        if f"{x:08X}" not in present:
            good.append(f"{x:08X}")
    expected = dict.fromkeys(revoked, "REVOKED") | dict.fromkeys(good, "GOOD")
    return revoked + good, expected


def check_answers(url: str, requests: list[bytes], serials: list[str], expected: dict[str, str]) -> None:
    """Every request is answered, signed, with the status the truth gives (before timing)."""
    for der, serial in zip(requests, serials):
        asked = urllib.request.Request(url + "/ocsp", data=der, headers={"Content-Type": OCSP_REQUEST})
        body = urllib.request.urlopen(asked, timeout=30).read()
        single = next(iter(x509_ocsp.load_der_ocsp_response(body).responses))
        if single.certificate_status.name != expected[serial]:
            raise AssertionError(f"{serial}: {single.certificate_status.name}, expected {expected[serial]}")


def write_bodies(path: Path, requests: list[bytes], get: bool) -> Path:
    lines = [base64.urlsafe_b64encode(r).decode().encode().hex() if get else r.hex() for r in requests]
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk_ocsp(url: str, seconds: float, connections: int, bodies: Path, lua: Path, get: bool = False) -> dict:
    env = {"OCSP_BODIES": str(bodies), "OCSP_GET": "1" if get else "0"}
    return wrk(url, seconds, connections, lua, env)


def openssl_index(data: Path, path: Path, good: list[str]) -> None:
    """OpenSSL's CA database with ISSUER's revocations and the good serials asked about."""
    truth = synth.read_truth(data)
    mine = truth.filter(pc.equal(truth.column("issuer"), ISSUER))
    names = {"cACompromise": "CACompromise"}
    with path.open("w") as f:
        for serial, when, reason in zip(mine.column("serial").to_pylist(), mine.column("revocation_date").to_pylist(),
                                        mine.column("reason").to_pylist()):
            why = f",{names.get(reason, reason)}" if reason else ""
            f.write(f"R\t491231235959Z\t{when.strftime('%y%m%d%H%M%SZ')}{why}\t{serial}\tunknown\t/CN={serial}\n")
        for serial in good:
            f.write(f"V\t491231235959Z\t\t{serial}\tunknown\t/CN={serial}\n")


def _post(port: int, der: bytes) -> bytes:
    """An HTTP/1.1 POST of one DER OCSP request to ``/ocsp``, on a connection closed after it."""
    head = (f"POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {OCSP_REQUEST}\r\n"
            f"Content-Length: {len(der)}\r\nConnection: close\r\n\r\n")
    return head.encode() + der


def sequential(port: int, bodies: Path, seconds: float) -> dict:
    """One client, a new TCP connection per request, POSTs rotated from BODIES for SECONDS.

    The same code measures ours and OpenSSL's responder, so the client's own cost is the same on
    both sides. Every response must be HTTP 200 with a body; anything else stops the run."""
    requests = [bytes.fromhex(line) for line in bodies.read_text().split()]
    times, i = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        der = requests[i % len(requests)]
        i += 1
        message = _post(port, der)
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(message)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        reply = b"".join(chunks)
        status, _, rest = reply.partition(b"\r\n")
        if b" 200 " not in status + b" " or not rest.partition(b"\r\n\r\n")[2]:
            return {"error": f"request {i}: {status.decode(errors='replace')!r}", "requests": len(times)}
        times.append(time.perf_counter() - t)
    times.sort()
    return {"rps": len(times) / seconds, "requests": len(times), "p50_ms": statistics.median(times) * 1e3,
            "p99_ms": times[int(0.99 * (len(times) - 1))] * 1e3, "non2xx": 0, "socket_errors": None}


def probe_then_request(port: int, der: bytes) -> str:
    """What a responder does after a client connects and leaves without a request (as wrk's first,
    probing connection does, and as any port scanner or health check may): does it still answer?"""
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(_post(port, der))
            first = conn.recv(65536)
        return "answered" if first.startswith(b"HTTP/") else "closed without answering"
    except (TimeoutError, OSError) as exc:
        return f"no answer within 5 s ({type(exc).__name__})"


def openssl_runs(data: Path, out: Path, bodies: Path, seconds: float) -> dict:
    """OpenSSL's responder measured by the same sequential client as ours, then probed; inside
    ``unshare -n`` when allowed (its socket binds every interface), the client beside it."""
    port = free_port()
    pair = data / "ocsp" / f"{ISSUER}.pem", data / "ocsp" / f"{ISSUER}.key.pem"
    serve = (f"openssl ocsp -index {out / 'index.txt'} -port {port} -rsigner {pair[0]} -rkey {pair[1]} "
             f"-CA {data / 'trust' / f'{ISSUER}.pem'} -ndays 1")
    client = f"{sys.executable} {Path(__file__).resolve()} --client {port} {bodies} {seconds} {out / 'one.der'}"
    script = (
        "ip link set lo up 2>/dev/null || true\n"
        f"{serve} > {out / 'openssl-responder.log'} 2>&1 & srv=$!\n"
        f"for i in $(seq 200); do curl -s -o /dev/null -X POST -H 'Content-Type: {OCSP_REQUEST}' --data-binary @{out / 'one.der'} "
        f"--max-time 2 http://127.0.0.1:{port}/ocsp && break; sleep 0.1; done\n"
        f"timeout {seconds + 40} {client}\n"
        "kill $srv 2>/dev/null; sleep 0.5; kill -9 $srv 2>/dev/null; wait $srv 2>/dev/null; true\n"
    )
    isolated = shutil.which("unshare") is not None and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    argv = ["unshare", "-n", "sh", "-c", script] if isolated else ["sh", "-c", script]
    text = subprocess.run(argv, capture_output=True, text=True, timeout=3 * seconds + 120).stdout
    found = re.search(r"^CLIENT (.*)$", text, re.M)
    result = json.loads(found.group(1)) if found else {"sequential": {"error": "the client printed nothing"}, "probe": "?"}
    return dict(result, isolated=isolated)


def client_main(argv: list[str]) -> int:
    """``bench_ocsp.py --client PORT BODIES SECONDS ONE_DER``: the sequential run, then the probe."""
    port, bodies, seconds, one = int(argv[0]), Path(argv[1]), float(argv[2]), Path(argv[3])
    result = {"sequential": sequential(port, bodies, seconds), "probe": probe_then_request(port, one.read_bytes())}
    print("CLIENT " + json.dumps(result), flush=True)
    return 0


def preproduce_rate(data: Path, store_dir: Path, n: int) -> dict:
    store = jpki_fast.open_store(store_dir)
    responder = ocsp.OcspResponder.load([(data / "ocsp" / f"{ISSUER}.pem", data / "ocsp" / f"{ISSUER}.key.pem")], store)
    serials = list(range(0x05000000, 0x05000000 + n))
    responder.preproduce(store, ISSUER, serials[:1000])
    started = time.perf_counter()
    answers = responder.preproduce(store, ISSUER, serials)
    seconds = time.perf_counter() - started
    return {"n": n, "seconds": seconds, "rate": n / seconds, "revoked": sum(a.statuses[0] == "revoked" for a in answers)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=1000, help="distinct requests rotated (default 1,000)")
    ap.add_argument("--out", default=str(HERE / "data" / "ocsp"))
    ap.add_argument("--no-write", action="store_true", help="print, do not rewrite bench/RESULTS.md")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, store = prepare(out, args.entries)
    serials, expected = sample(data, args.requests)
    ca = (data / "trust" / f"{ISSUER}.pem").read_bytes()
    plain = [ocsp.build_request(ca, [s]) for s in serials]
    nonced = [ocsp.build_request(ca, [s], nonce=os.urandom(16)) for s in serials]
    (out / "one.der").write_bytes(plain[0])
    lua = out / "ocsp.lua"
    lua.write_text(LUA)
    r: dict = {"entries": args.entries, "workers": args.workers, "requests": args.requests, "uptime_before": _uptime()}
    pairs = []
    for alias in ("auth_ca_2023", "auth_ca_2019", "sign_ca_2023", "sign_ca_2019"):
        pairs += ["--ocsp-cert", str(data / "ocsp" / f"{alias}.pem"), "--ocsp-key", str(data / "ocsp" / f"{alias}.key.pem")]
    from jpki_fast_service.auth import add_key

    keys = out / "api-keys.json"
    keys.unlink(missing_ok=True)
    add_key(keys, "bench", ["query"], "bench")
    port = free_port()
    argv = [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(store), "--api-keys", str(keys), "--port", str(port),
            "--workers", str(args.workers), "--audit-log", str(out / "audit.jsonl"), *pairs]
    server = Server(argv, port, log=out / "server.log")
    try:
        check_answers(server.url, plain[:50] + nonced[:50], serials[:50] * 2, expected)
        post, get, live = (write_bodies(out / name, reqs, g) for name, reqs, g in
                           (("plain.hex", plain, False), ("plain-get.hex", plain, True), ("nonce.hex", nonced, False)))
        wrk_ocsp(server.url, 3, 8, post, lua)  # every worker answers (and caches) every request
        wrk_ocsp(server.url, 2, 8, get, lua, get=True)
        r["cached_post"] = wrk_ocsp(server.url, args.seconds, 8, post, lua)
        r["cached_get"] = wrk_ocsp(server.url, args.seconds, 8, get, lua, get=True)
        r["live_nonce"] = wrk_ocsp(server.url, args.seconds, 8, live, lua)
        r["ours_close"] = sequential(port, post, args.seconds)
        r["ours_probe"] = probe_then_request(port, plain[0])
    finally:
        server.stop()
    openssl_index(data, out / "index.txt", [s for s in serials if expected[s] == "GOOD"])
    r["openssl"] = openssl_runs(data, out, post, args.seconds)
    r["preproduce"] = preproduce_rate(data, store, 20_000)
    r["uptime_after"] = _uptime()
    text = render(r)
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {platform.python_implementation()} {platform.python_version()}, {openssl}, commit {commit}"


def render(r: dict) -> str:
    def w(m: dict) -> str:
        errors = []
        if m.get("non2xx"):
            errors.append(f"{m['non2xx']} non-2xx")
        if m.get("socket_errors"):
            errors.append(f"socket errors {m['socket_errors']}")
        return f"{m['rps']:,.0f} req/s, p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, " + (", ".join(errors) or "zero errors")

    o = r["openssl"]

    def theirs(m: dict) -> str:
        return f"stopped: {m['error']} after {m['requests']:,} answered requests" if "error" in m else w(m)

    p = r["preproduce"]
    lines = [
        "## OCSP responder (issue 11)",
        "",
        f"`make bench-ocsp` on {_machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"`uptime` before: {r['uptime_before']}; after: {r['uptime_after']}. Store: {r['entries']:,} synthetic entries, "
        f"1,900 partitions per CA. Ours: `jpki-fast serve` with {r['workers']} {DEFAULT_SERVER} workers (the default) "
        "and ECDSA P-256 responders; "
        f"wrk with 2 threads on the same cores. Requests: {r['requests']:,} distinct single-certificate requests for {ISSUER} "
        "(half revoked serials, half good), rotated by a wrk Lua script; every answer checked against the truth first.",
        "",
        "| measurement | result |",
        "|---|---|",
        f"| cached responses, POST, 8 keep-alive connections | {w(r['cached_post'])} |",
        f"| cached responses, GET (RFC 5019), 8 keep-alive connections | {w(r['cached_get'])} |",
        f"| live-signed (a nonce in every request), POST, 8 keep-alive connections | {w(r['live_nonce'])} |",
        f"| one sequential client, a new connection per request: ours (cached) | {theirs(r['ours_close'])} |",
        f"| the same client against `openssl ocsp -index -port` | {theirs(o['sequential'])} |",
        f"| a connection opened and closed without a request, then one request: ours | {r['ours_probe']} |",
        f"| the same against `openssl ocsp -index -port` | {o['probe']} |",
        f"| pre-producing responses in the library (`preproduce`, all cores) | {p['rate']:,.0f} responses/s "
        f"({p['n']:,} in {p['seconds']:.2f} s) |",
        "",
        "The sequential client is one Python process (bench_ocsp.py --client), the same for both responders; "
        "OpenSSL's responder ran " + ("in a network namespace with only loopback (`unshare -n`), the client beside it."
                                      if o["isolated"] else "on the host network (no `unshare -n` here; it binds every interface)."),
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = HERE / "RESULTS.md"
    content = path.read_text()
    begin, end = "<!-- BEGIN ocsp -->", "<!-- END ocsp -->"
    block = f"{begin}\n{text}\n{end}"
    if begin in content:
        content = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.write_text(content)


if __name__ == "__main__":
    sys.exit(client_main(sys.argv[2:]) if sys.argv[1:2] == ["--client"] else main())
