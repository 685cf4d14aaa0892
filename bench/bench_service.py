"""Benchmarks of the service (issue 8), side by side in one run; `make bench-service`.

- ``POST /v1/status`` JSON, 10,000 serials a request: checks per second, ours against a naive
  FastAPI endpoint (bench/naive_service.py: pydantic per item, a Python set), both measured
  with the same client (keep-alive connections, orjson for bodies and answers).
- ``POST /v1/status`` Arrow IPC, 100,000 serials a request.
- ``POST /v1/login/verify``, one login a request, under wrk with a Lua script rotating real
  login bodies (bench/wrk_login.lua); a trivial route (``/healthz``) with and without
  keep-alive for the HTTP stack's own ceiling.
- uvicorn (uvloop, httptools) against granian on these endpoints.
- Resident memory per worker process (and how much of it is the shared, memory-mapped snapshot).
- One login through the library (``Store.verify_login``): a warm call, and a new process's first
  call after ``open_store`` with what it pays.
- The server's CPU time per request (every process and thread, from /proc), which does not
  depend on what else shares the cores, beside the wall-clock rates, which do.

Server and load generator share the machine's cores: the server runs ``--workers`` processes
(default 2), the batch client ``--clients`` processes (default 2) and wrk 2 threads; on a
2-core machine they compete, which the figures include. Everything is re-runnable with one
command; results go to bench/RESULTS.md (section "service") with the machine, commit and load.

Usage: python bench/bench_service.py [--entries 1000000] [--seconds 8] [--workers 2] [--no-write]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
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

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

import jpki_fast
from jpki_fast import ingest, synth

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ARROW = "application/vnd.apache.arrow.stream"


# --------------------------------------------------------------------------------------------
# Data and servers


def prepare(out: Path, entries: int) -> tuple[Path, Path, str]:
    data, store = out / "dataset", out / "store"
    now = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())
    stamp = out / "dataset.now"
    if not (stamp.is_file() and stamp.read_text() == f"{now} {entries}" and (store / "CURRENT").is_file()):
        shutil.rmtree(store, ignore_errors=True)
        print(f"bench: synthetic data, {entries:,} entries, issued {now}", flush=True)
        synth.generate(data, entries=entries, partitions=1900, certs=200, cert_keys=16, now=now, seed=2)
        ingest(data / "trust", data / "crls", store, now=now)
        stamp.write_text(f"{now} {entries}")
    from jpki_fast_service.auth import add_key

    keys = out / "api-keys.json"
    keys.unlink(missing_ok=True)
    return data, store, add_key(keys, "bench", ["query"], "bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, argv: list[str], port: int, env: dict | None = None, log: Path | None = None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log or os.devnull, "w")  # noqa: SIM115 - the server's log, open while it runs
        # Its own process group: stop() ends the workers too, even if the main process hangs.
        self.process = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {argv}")
            try:
                with urllib.request.urlopen(self.url + "/docs", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)

    def workers(self) -> list[int]:
        """Worker processes: the server's descendants that serve (every process below the main one)."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            ppid = int(text.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
        out, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                out.append(child)
                todo.append(child)
        def cmd(p: int) -> bytes:
            path = Path(f"/proc/{p}/cmdline")
            return path.read_bytes() if path.exists() else b""

        return [p for p in out if b"resource_tracker" not in cmd(p)] or [self.process.pid]

    def stop(self) -> None:
        import signal

        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        self.log.close()


def serve_ours(store: Path, keys: Path, server: str, workers: int, out: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(store), "--api-keys", str(keys), "--port", str(port),
            "--workers", str(workers), "--server", server, "--audit-log", str(out / f"audit-{server}.jsonl")]
    return Server(argv, port, log=out / f"server-{server}.log")


def serve_naive(store: Path, workers: int, out: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--factory", "naive_service:create_app", "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log", "--app-dir", str(HERE)]
    return Server(argv, port, env=dict(os.environ, JPKI_NAIVE_STORE=str(store)), log=out / "server-naive.log")


def rss(pids: list[int]) -> list[dict[str, int]]:
    out = []
    for pid in pids:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS", "RssAnon", "RssFile", "RssShmem")):
                name, value = line.split(":")
                fields[name] = int(value.split()[0]) * 1024
        out.append(fields)
    return out


# --------------------------------------------------------------------------------------------
# The batch client: keep-alive connections in several processes; request bodies made once with
# orjson, answers decoded and validated with msgspec against the answer's schema (every result
# must have its serial, issuer and status as strings): three times cheaper than orjson.loads into
# dicts (1.5 ms against 4.5 ms for 10,000 results here), so that on two shared cores the
# client's own work takes less of them than the server does.


class _Result(msgspec.Struct, gc=False):
    serial: str
    issuer: str
    status: str
    reason: str | None = None
    revocation_date: str | None = None


class _Answer(msgspec.Struct, gc=False):
    generation: int
    results: list[_Result]
    checked_at: str | None = None


_ANSWER = msgspec.json.Decoder(_Answer)


def _client(args) -> tuple[int, int, list[float], str | None, float]:
    port, path, body, headers, seconds, parse, count = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    done, errors, times, first = 0, 0, [], None
    cpu = time.process_time()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t = time.perf_counter()
        conn.request("POST", path, body, headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            errors += 1
            first = first or data[:200].decode(errors="replace")
            continue
        if parse == "json":
            answered = len(_ANSWER.decode(data).results)
        elif parse == "arrow":
            answered = pa.ipc.open_stream(data).read_all().num_rows
        if parse in ("json", "arrow") and answered != count:
            errors += 1
            first = first or f"{answered} results for {count} serials"
            continue
        times.append(time.perf_counter() - t)
        done += 1
    conn.close()
    return done, errors, times, first, time.process_time() - cpu


def load(port: int, path: str, body: bytes, headers: dict, seconds: float, clients: int, parse: str) -> dict:
    count = 0
    if parse == "json":
        count = len(orjson.loads(body)["serials"])
    elif parse == "arrow":
        count = pa.ipc.open_stream(body).read_all().num_rows
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        started = time.perf_counter()
        try:
            results = pool.map(_client, [(port, path, body, headers, seconds, parse, count)] * clients)
        except (TimeoutError, OSError) as exc:  # a server that stops answering is a result too
            return {"error": f"{type(exc).__name__}: {exc}"}
        elapsed = time.perf_counter() - started
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    times = sorted(t for r in results for t in r[2])
    if errors:
        raise RuntimeError(f"{errors} failed requests: {next(r[3] for r in results if r[3])}")
    return {
        "requests": done,
        "rps": done / elapsed,
        "client_cpu_ms": sum(r[4] for r in results) / done * 1e3 if done else None,
        "p50_ms": statistics.median(times) * 1e3 if times else None,
        "p99_ms": times[int(0.99 * (len(times) - 1))] * 1e3 if times else None,
    }


# --------------------------------------------------------------------------------------------
# wrk


def wrk(url: str, seconds: float, connections: int, script: Path | None = None, env: dict | None = None,
        headers: list[str] = ()) -> dict:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        if shutil.which("wrk") is None:
            raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    argv = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", str(script)]
    ran = subprocess.run(argv + [url], capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=seconds + 60)
    out = ran.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no rate (exit {ran.returncode}): {ran.stderr.strip() or out.strip()}")
    rps = float(found.group(1))

    def latency(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    done = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "requests": int(done.group(1)) if done else None, "p50_ms": latency("50"), "p99_ms": latency("99"),
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else None}


# --------------------------------------------------------------------------------------------
# Bodies


def batch_serials(data: Path, n: int, seed: int) -> list[str]:
    truth = synth.read_truth(data)
    serials = truth.filter(pc.equal(truth.column("issuer"), "sign_ca_2023")).column("serial")
    values = jpki_fast.serials.normalize(serials).short
    rng = np.random.default_rng(seed)
    picks = np.where(rng.random(n) < 0.5, values[rng.integers(0, len(values), n)],
                     rng.integers(int(values.min()), int(values.max()), n, dtype=np.uint64))
    return [f"{int(v):08X}" for v in picks]


def arrow_body(serials: list[str]) -> bytes:
    table = pa.table({"issuer": pa.array(["sign_ca_2023"] * len(serials)).dictionary_encode(), "serial": pa.array(serials)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def login_bodies(data: Path, count: int = 200) -> list[bytes]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    certs = [c for c in synth.read_certs(data).to_pylist() if c["kind"] == "auth"]
    keys, bodies = {}, []
    for i in range(count):
        cert = certs[i % len(certs)]
        if cert["key_path"] not in keys:
            pem = b"".join(line + b"\n" for line in (data / cert["key_path"]).read_bytes().splitlines() if not line.startswith(b"#"))
            keys[cert["key_path"]] = serialization.load_pem_private_key(pem, None)
        challenge = os.urandom(32)
        signature = keys[cert["key_path"]].sign(challenge, padding.PKCS1v15(), hashes.SHA256())
        der = (data / cert["path"]).read_bytes()
        bodies.append(orjson.dumps({"certificate": base64.b64encode(der).decode(), "challenge": base64.b64encode(challenge).decode(),
                                    "signature": base64.b64encode(signature).decode()}))
    return bodies


# --------------------------------------------------------------------------------------------
# Library login timings


def library_login(store: Path, data: Path) -> dict:
    """One login through the library, as a new process makes it: the one-item path
    (``Store.verify_login``), its first call after ``open_store`` (split into what it pays),
    then warm calls; and the batch function with one row, for comparison. Times are wall
    clock; ``cpu`` is the process's CPU time per warm call (which waiting for a busy core does
    not inflate)."""
    code = f"""
import time, base64, json, statistics
t0 = time.perf_counter()
import jpki_fast
body = json.loads(open({str(data / 'login-body.json')!r}).read())
der, ch, sig = (base64.b64decode(body[k]) for k in ("certificate", "challenge", "signature"))
t1 = time.perf_counter()
store = jpki_fast.open_store({str(store)!r})
t2 = time.perf_counter()
from jpki_fast import certs  # what the first call imports
t3 = time.perf_counter()
certs.prepare(store)  # what the first call builds (jpki_fast.certs.prepare pays it ahead)
t4 = time.perf_counter()
first = store.verify_login(der, ch, sig)
t5 = time.perf_counter()
def timed(fn, n):
    times = []
    c = time.process_time()
    for _ in range(n):
        a = time.perf_counter(); fn(); times.append(time.perf_counter() - a)
    cpu = (time.process_time() - c) / n
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.99 * (n - 1))] * 1e3, cpu * 1e3
one = timed(lambda: store.verify_login(der, ch, sig), 2000)
batch = timed(lambda: store.verify_logins([der], [ch], [sig]), 300)
assert store.verify_logins([der], [ch], [sig]).to_pylist()[0] == first.to_dict()
print(json.dumps({{"import_ms": (t1 - t0) * 1e3, "open_ms": (t2 - t1) * 1e3, "first_import_ms": (t3 - t2) * 1e3,
                  "first_prepare_ms": (t4 - t3) * 1e3, "first_call_ms": (t5 - t4) * 1e3, "first_ms": (t5 - t2) * 1e3,
                  "decision": first.decision, "warm_median_ms": one[0], "warm_p99_ms": one[1], "warm_cpu_ms": one[2],
                  "batch_median_ms": batch[0], "batch_p99_ms": batch[1], "batch_cpu_ms": batch[2]}}))
"""
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(5)]
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "decision"}
    out["first_max_ms"] = max(r["first_ms"] for r in runs)
    out["decision"] = runs[0]["decision"]
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (all their threads)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def with_cpu(server: "Server", run, *args, **kwargs) -> dict:
    """``run(*args, **kwargs)`` (a load: :func:`load` or :func:`wrk`), with the server's CPU time
    per request added (main process and workers, all threads): what a request costs whatever
    else shares the cores."""
    pids = [server.process.pid, *server.workers()]
    before = cpu_seconds(pids)
    result = run(*args, **kwargs)
    if "error" not in result and result.get("requests"):
        result["server_cpu_ms"] = (cpu_seconds(pids) - before) / result["requests"] * 1e3
    return result


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=int(os.environ.get("JPKI_BENCH_ENTRIES", 1_000_000)))
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--servers", default="uvicorn,granian")
    ap.add_argument("--out", default=str(HERE / "data" / "service"))
    ap.add_argument("--no-write", action="store_true", help="print, do not rewrite bench/RESULTS.md")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    data, store, key = prepare(out, args.entries)
    keys = out / "api-keys.json"
    h = {"X-API-Key": key, "Content-Type": "application/json"}
    json10k = orjson.dumps({"issuer": "sign_ca_2023", "serials": batch_serials(data, 10_000, 1)})
    arrow100k = arrow_body(batch_serials(data, 100_000, 2))
    logins = login_bodies(data)
    (data / "login-body.json").write_bytes(logins[0])
    bodies_file = out / "login-bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(logins) + b"\n")
    results: dict = {"entries": args.entries, "workers": args.workers, "clients": args.clients}

    results["library_login"] = library_login(store, data)
    print("library login:", results["library_login"], flush=True)

    naive = serve_naive(store, args.workers, out)
    try:
        load(naive.port, "/v1/status", json10k, h, 2, 1, "json")
        results["naive_json10k"] = with_cpu(naive, load, naive.port, "/v1/status", json10k, h, args.seconds, args.clients, "json")
        results["naive_rss"] = rss(naive.workers())
    finally:
        naive.stop()
    print("naive:", results["naive_json10k"], flush=True)

    for server in args.servers.split(","):
        s = serve_ours(store, keys, server, args.workers, out)
        try:
            r = results[server] = {}
            load(s.port, "/v1/status", json10k, h, 2, 1, "json")  # warm every worker's first answers
            r["json10k"] = with_cpu(s, load, s.port, "/v1/status", json10k, h, args.seconds, args.clients, "json")
            arrow_headers = {**h, "Content-Type": ARROW, "Accept": ARROW}
            load(s.port, "/v1/status", arrow100k, arrow_headers, 1, 1, "arrow")
            r["arrow100k"] = with_cpu(s, load, s.port, "/v1/status", arrow100k, arrow_headers, args.seconds, args.clients, "arrow")
            env = {"WRK_BODIES": str(bodies_file), "WRK_KEY": key}
            wrk(s.url, 2, 8, HERE / "wrk_login.lua", env)
            r["login_wrk"] = with_cpu(s, wrk, s.url, args.seconds, 8, HERE / "wrk_login.lua", env)
            r["healthz_keepalive"] = with_cpu(s, wrk, s.url + "/healthz", args.seconds, 8)
            r["healthz_close"] = wrk(s.url + "/healthz", args.seconds, 8, headers=["Connection: close"])
            r["rss"] = rss(s.workers())
        finally:
            s.stop()
        print(server, json.dumps(r), flush=True)

    results["load"] = {"before": load_before, "after": os.getloadavg()}
    results["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text = render(results)
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


def _machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {platform.python_implementation()} {platform.python_version()}, commit {commit}"


def render(r: dict) -> str:
    def mb(b: int) -> str:
        return f"{b / 1e6:.0f} MB"

    lines = [
        "## The service (issue 8)",
        "",
        f"`make bench-service` on {_machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"`uptime`: {r['uptime']}. Store: {r['entries']:,} synthetic entries. Server: {r['workers']} worker processes; "
        f"load generators on the same cores: the batch client {r['clients']} processes (keep-alive, answers decoded with "
        "msgspec), wrk 2 threads and 8 connections. Everything competes for the same cores, and the figures include that.",
        "",
        "| measurement | " + " | ".join(s for s in ("uvicorn", "granian") if s in r) + " |",
        "|---|" + "---|" * sum(s in r for s in ("uvicorn", "granian")),
    ]
    servers = [s for s in ("uvicorn", "granian") if s in r]

    def row(label: str, fn) -> None:
        lines.append(f"| {label} | " + " | ".join(fn(r[s]) for s in servers) + " |")

    def checks(m: dict, n: int) -> str:
        if "error" in m:
            return f"no answer ({m['error']})"
        return f"{m['rps'] * n / 1e6:.3f} M/s (p50 {m['p50_ms']:.0f} ms)"

    def ratio(m: dict) -> str:
        if "error" in m or "error" in r["naive_json10k"]:
            return "-"
        naive = r["naive_json10k"]
        by_cpu = (f", {naive['server_cpu_ms'] / m['server_cpu_ms']:.1f}x in server CPU per request"
                  if "server_cpu_ms" in m and "server_cpu_ms" in naive else "")
        return f"{m['rps'] / naive['rps']:.1f}x (naive: {naive['rps'] * 10_000 / 1e6:.3f} M/s){by_cpu}"

    def cpu(m: dict) -> str:
        text = f"{m['server_cpu_ms']:.2f} ms" if "server_cpu_ms" in m else "-"
        return text + (f" (the client's own: {m['client_cpu_ms']:.2f} ms)" if m.get("client_cpu_ms") else "")

    row("`/v1/status` JSON, 10,000 serials a request: checks/s", lambda x: checks(x["json10k"], 10_000))
    row("  against the naive FastAPI endpoint (pydantic per item, a Python set, uvicorn)", lambda x: ratio(x["json10k"]))
    row("  server CPU per request (all processes and threads)", lambda x: cpu(x["json10k"]))
    row("`/v1/status` Arrow IPC, 100,000 serials a request: checks/s", lambda x: checks(x["arrow100k"], 100_000))
    row("  server CPU per request", lambda x: cpu(x["arrow100k"]))
    row("`/v1/login/verify`, one login a request (wrk, Lua rotating 200 real bodies)", lambda x: f"{x['login_wrk']['rps']:,.0f} req/s, "
        f"p50 {x['login_wrk']['p50_ms']:.1f} ms, p99 {x['login_wrk']['p99_ms']:.1f} ms"
        + (f", {x['login_wrk']['non2xx']} non-2xx" if x['login_wrk']['non2xx'] else ""))
    row("  server CPU per login request", lambda x: cpu(x["login_wrk"]))
    row("`/healthz` keep-alive (the HTTP stack's ceiling)", lambda x: f"{x['healthz_keepalive']['rps']:,.0f} req/s "
        f"(server CPU {cpu(x['healthz_keepalive'])} a request)")
    row("`/healthz`, a new connection per request", lambda x: f"{x['healthz_close']['rps']:,.0f} req/s")
    row("resident memory per worker (of it: file-backed, the shared snapshot and code)", lambda x: ", ".join(
        f"{mb(w['VmRSS'])} ({mb(w.get('RssFile', 0))})" for w in x["rss"]))
    lib = r["library_login"]
    lines += [
        "",
        f"One login through the library, the one-item path (`Store.verify_login`): warm median {lib['warm_median_ms']:.3f} ms, "
        f"p99 {lib['warm_p99_ms']:.3f} ms, CPU {lib['warm_cpu_ms']:.3f} ms a call (the batch `Store.verify_logins` with one row: "
        f"median {lib['batch_median_ms']:.2f} ms, CPU {lib['batch_cpu_ms']:.2f} ms). A new process's first call after `open_store` "
        f"(median of five): {lib['first_ms']:.1f} ms, worst {lib['first_max_ms']:.1f} ms, of which importing jpki_fast.certs "
        f"{lib['first_import_ms']:.1f} ms, building the snapshot's certificate context (trust anchors, partition maps; "
        f"`jpki_fast.certs.prepare` pays it ahead, as the service does at each reload) {lib['first_prepare_ms']:.1f} ms, and the call "
        f"itself {lib['first_call_ms']:.2f} ms (import jpki_fast {lib['import_ms']:.0f} ms, open_store {lib['open_ms']:.1f} ms before it).",
        "Naive endpoint's workers: " + ", ".join(mb(w["VmRSS"]) for w in r["naive_rss"]) + " resident (a Python set each).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = HERE / "RESULTS.md"
    content = path.read_text()
    begin, end = "<!-- BEGIN service -->", "<!-- END service -->"
    block = f"{begin}\n{text}\n{end}"
    if begin in content:
        content = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    else:
        content = content.rstrip() + "\n\n" + block + "\n"
    path.write_text(content)


if __name__ == "__main__":
    sys.exit(main())
