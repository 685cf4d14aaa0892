"""`make loadtest`: start the service on a synthetic store, run locust headless for a bounded
time, write CSV stats and an HTML report, exit non-zero on any failed request, any wrong
answer, or a p99 above its bound (bench/locustfile.py).

Usage: python bench/loadtest.py [--out DIR] [--time 30s] [--users 24] [--workers 2] [--entries N]
                               [--p99-login-ms 250] [--p99-batch-ms 1000] [--server uvicorn|granian]

The default bounds are for a quiet two-core machine running server and load generator together;
on a shared, loaded machine raise them (and note the load) rather than read a failure as a bug.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from jpki_fast import ingest, synth

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(out: Path, entries: int) -> tuple[Path, Path]:
    """A synthetic day issued this hour (so that the service's own clock finds it fresh)."""
    data, store = out / "dataset", out / "store"
    now = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())
    stamp = out / "dataset.now"
    if not (stamp.is_file() and stamp.read_text() == f"{now} {entries}" and (store / "CURRENT").is_file()):
        print(f"loadtest: synthetic data, {entries:,} entries, issued {now} -> {data}", flush=True)
        synth.generate(data, entries=entries, partitions=200, certs=200, cert_keys=16, now=now, seed=1)
        ingest(data / "trust", data / "crls", store, now=now)
        stamp.write_text(f"{now} {entries}")
    return data, store


def wait_ready(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("loadtest: the server exited before it was ready")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("loadtest: the server did not become ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(HERE / "data" / "loadtest"))
    ap.add_argument("--time", default="30s", help="locust run time (default 30s)")
    ap.add_argument("--users", type=int, default=24)
    ap.add_argument("--spawn-rate", type=float, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server", choices=("uvicorn", "granian"), default=None)
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--p99-login-ms", type=float, default=250, help="fail when the login p99 exceeds this (default 250)")
    ap.add_argument("--p99-batch-ms", type=float, default=1000, help="fail when a batch p99 exceeds this (default 1000)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, store = prepare(out, args.entries)

    from jpki_fast_service.auth import add_key

    keys = out / "api-keys.json"
    keys.unlink(missing_ok=True)
    key = add_key(keys, "loadtest", ["query"], "loadtest")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(store), "--api-keys", str(keys),
             "--audit-log", str(out / "audit.jsonl"), "--port", str(port), "--workers", str(args.workers)]
    if args.server:
        serve += ["--server", args.server]
    server = subprocess.Popen(serve)
    try:
        wait_ready(url, server)
        env = dict(os.environ, JPKI_LOAD_DATA=str(data), JPKI_LOAD_STORE=str(store), JPKI_LOAD_KEY=key,
                   JPKI_LOAD_P99_LOGIN_MS=str(args.p99_login_ms), JPKI_LOAD_P99_BATCH_MS=str(args.p99_batch_ms))
        locust = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "--only-summary",
                  "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.time, "--host", url,
                  "--csv", str(out / "stats"), "--html", str(out / "report.html"), "--stop-timeout", "5"]
        print(f"loadtest: {' '.join(locust[2:])}", flush=True)
        code = subprocess.run(locust, env=env, timeout=3600).returncode
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"loadtest: stats {out}/stats_stats.csv, report {out}/report.html; exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
