"""Soak test of the service (issue 12): a bounded run of mixed load while a new generation is
published every 30 s; `make soak` (SOAK_ARGS="--minutes 10").

What runs, all on loopback:

- ``jpki-fast serve --workers 2`` on a synthetic store, with OCSP responders.
- ``--clients`` load processes (spawned, keep-alive), each looping over a mixed set of requests
  for the whole run: logins (``POST /v1/login/verify``, some signatures tampered with), JSON
  batches and Arrow IPC batches of 1,000 serials (``POST /v1/status``), certificate checks
  (``POST /v1/certificates/status``) and OCSP requests (``POST /ocsp``) for revoked and
  unlisted serials.
- A publisher: every ``--publish-every`` seconds, the CRLs of the next synthetic day (same CAs,
  other revocations, a rising CRL number) are ingested with ``jpki-fast ingest`` into the
  served store; the workers pick each generation up by themselves.
- A sampler: every ``--sample-every`` seconds, resident memory (VmRSS and its anonymous part,
  RssAnon) and open file descriptors of every worker process, read from /proc.

Every answer is checked: HTTP 200, and the answer equal to the one the library gives from the
generation the response names (``X-Snapshot-Generation``), computed in the load process with
``Store(store, generation)``; on the first generation the library's answers are also checked
against the synthetic truth. Any other status, transport error, or different answer fails the
run (the first few are printed).

Flat, the rule stated and applied here: per worker, after a warm-up (the first 20% of the run,
at least 60 s), the median over the last third of the samples may exceed the median over the
first third by at most ``max(10%, 16 MiB)`` for VmRSS and for RssAnon, and the most open fds
in the last third may exceed the most in the first third by at most 4. A worker whose pid
changes during the run (it died and was restarted) fails the run.

Results go to bench/data/soak/ (samples as CSV, a JSON summary) and, unless ``--no-write``, to
the "soak" section of bench/RESULTS.md, with the machine, the commit and the load.

Usage: python bench/soak.py [--minutes 10] [--publish-every 30] [--clients 3] [--workers 2]
                            [--entries 50000] [--no-write]
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_service import Server, free_port  # noqa: E402  (the service benchmark's helpers)

ARROW = "application/vnd.apache.arrow.stream"
BATCH = 1000
KIND_WEIGHTS = {"login": 40, "status_json": 15, "status_arrow": 15, "certificates": 10, "ocsp": 20}


# ---- the dataset: day 0 and the days published during the run -------------------------------


def day_time(start: dt.datetime, day: int) -> str:
    return (start + dt.timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_day(out: Path, start: dt.datetime, day: int, entries: int) -> Path:
    from jpki_fast import synth

    path = out / f"day{day:03d}"
    if not (path / "truth.parquet").is_file():
        synth.generate(path, entries=entries, partitions=20, seed=day, now=day_time(start, day),
                       ca_from=None if day == 0 else out / "day000", certs=40 if day == 0 else 0,
                       ocsp_responders="ecdsa-p256" if day == 0 else None)
    return path


def ingest_day(out: Path, store: Path, start: dt.datetime, day: int) -> int:
    """``jpki-fast ingest`` of day ``day`` into the served store; returns the generation."""
    data = out / f"day{day:03d}"
    r = subprocess.run(
        [sys.executable, "-m", "jpki_fast.cli", "ingest", "--trust", str(out / "day000" / "trust"), "--crls", str(data / "crls"),
         "--store", str(store), "--now", day_time(start, day), "--keep", "1000"],
        capture_output=True, text=True, timeout=600,
    )
    if r.returncode != 0:
        raise RuntimeError(f"ingest of day {day} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    from jpki_fast.store import read_current

    return int(read_current(store))


# ---- the requests and their expected answers -------------------------------------------------


def build_pool(day0: Path, seed: int = 7) -> dict:
    """Request bodies (bytes only, sent to the load processes) and what each asks about."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from jpki_fast import ocsp, synth

    rng = random.Random(seed)
    certs = synth.read_certs(day0).to_pylist()
    keys = {}
    logins = []
    for i in range(120):
        cert = certs[i % len(certs)]
        if cert["kind"] != "auth":
            continue
        if cert["key_path"] not in keys:
            pem = b"".join(line + b"\n" for line in (day0 / cert["key_path"]).read_bytes().splitlines() if not line.startswith(b"#"))
            keys[cert["key_path"]] = serialization.load_pem_private_key(pem, password=None)
        der = (day0 / cert["path"]).read_bytes()
        challenge = rng.randbytes(32)
        signature = keys[cert["key_path"]].sign(challenge, padding.PKCS1v15(), hashes.SHA256())
        if rng.random() < 0.2:
            signature = bytes([signature[0] ^ 0x40]) + signature[1:]
        body = {"certificate": base64.b64encode(der).decode(), "challenge": base64.b64encode(challenge).decode(),
                "signature": base64.b64encode(signature).decode()}
        logins.append({"body": json.dumps(body).encode(), "der": der, "challenge": challenge, "signature": signature})
    cert_checks = []
    for cert in certs:
        der = (day0 / cert["path"]).read_bytes()
        cert_checks.append({"body": json.dumps({"certificates": [base64.b64encode(der).decode()]}).encode(), "der": der})
    truth = synth.read_truth(day0)
    listed = truth.filter(pc.equal(truth.column("issuer"), "auth_ca_2023")).column("serial").to_pylist()
    batches = []
    for _ in range(12):
        serials = [rng.choice(listed) if j % 2 else f"{int(rng.choice(listed), 16) + 1:08X}" for j in range(BATCH)]
        arrow = pa.RecordBatch.from_arrays([pa.array(["auth_ca_2023"] * BATCH), pa.array(serials)], names=["issuer", "serial"])
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, arrow.schema) as w:
            w.write_batch(arrow)
        batches.append({"serials": serials, "json": json.dumps({"issuer": "auth_ca_2023", "serials": serials}).encode(),
                        "arrow": sink.getvalue().to_pybytes()})
    ca = (day0 / "trust" / "auth_ca_2023.pem").read_bytes()
    ocsp_serials = [rng.choice(listed) for _ in range(60)] + [f"{int(rng.choice(listed), 16) + 1:08X}" for _ in range(60)]
    ocsp_serials += [c["serial"] for c in certs if c["issuer"] == "auth_ca_2023"]
    ocsp_items = [{"serial": s, "body": ocsp.build_request(ca, [s])} for s in ocsp_serials]
    return {"logins": logins, "certificates": cert_checks, "batches": batches, "ocsp": ocsp_items,
            "truth_revoked": sorted(set(listed))}


class Expected:
    """The library's answers to the pool, per generation (computed once per generation)."""

    def __init__(self, store: Path, pool: dict) -> None:
        self.store, self.pool, self.cache = store, pool, {}

    def of(self, generation: int) -> dict:
        if generation not in self.cache:
            from jpki_fast.store import Store

            s = Store(self.store, generation)
            logins = s.verify_logins([x["der"] for x in self.pool["logins"]], [x["challenge"] for x in self.pool["logins"]],
                                     [x["signature"] for x in self.pool["logins"]])
            certs = s.check_certificates([x["der"] for x in self.pool["certificates"]])
            ocsp_status = s.check([x["serial"] for x in self.pool["ocsp"]], "auth_ca_2023").column("status").to_pylist()
            self.cache[generation] = {
                "login": logins.column("decision").to_pylist(),
                "certificates": certs.column("status").to_pylist(),
                "batches": [s.check(b["serials"], "auth_ca_2023").column("status").to_pylist() for b in self.pool["batches"]],
                "ocsp": [{"good": "GOOD", "revoked": "REVOKED"}.get(x, "UNKNOWN") for x in ocsp_status],
            }
        return self.cache[generation]


def client(args: tuple) -> dict:
    """One load process: mixed requests until ``deadline``, every answer checked."""
    url, key, store, pool, deadline, seed = args
    import httpx
    import pyarrow as pa
    from cryptography.x509 import ocsp as x509_ocsp

    rng = random.Random(seed)
    expected = Expected(Path(store), pool)
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    counts = dict.fromkeys(kinds, 0)
    failures: list[str] = []
    generations: set[int] = set()
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=60) as c:
        while time.time() < deadline:
            kind = rng.choices(kinds, weights)[0]
            try:
                if kind == "login":
                    i = rng.randrange(len(pool["logins"]))
                    r = c.post("/v1/login/verify", content=pool["logins"][i]["body"], headers=headers)
                elif kind == "certificates":
                    i = rng.randrange(len(pool["certificates"]))
                    r = c.post("/v1/certificates/status", content=pool["certificates"][i]["body"], headers=headers)
                elif kind == "status_json":
                    i = rng.randrange(len(pool["batches"]))
                    r = c.post("/v1/status", content=pool["batches"][i]["json"], headers=headers)
                elif kind == "status_arrow":
                    i = rng.randrange(len(pool["batches"]))
                    r = c.post("/v1/status", content=pool["batches"][i]["arrow"],
                               headers={"X-API-Key": key, "Content-Type": ARROW, "Accept": ARROW})
                else:
                    i = rng.randrange(len(pool["ocsp"]))
                    r = c.post("/ocsp", content=pool["ocsp"][i]["body"], headers={"Content-Type": "application/ocsp-request"})
            except httpx.HTTPError as exc:
                failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            counts[kind] += 1
            if r.status_code != 200:
                failures.append(f"{kind}: HTTP {r.status_code}: {r.text[:200]}")
                continue
            generation = int(r.headers.get("X-Snapshot-Generation", "-1"))
            generations.add(generation)
            want = expected.of(generation)
            if kind == "login":
                got, exp = r.json()["decision"], want["login"][i]
            elif kind == "certificates":
                got, exp = r.json()["results"][0]["status"], want["certificates"][i]
            elif kind == "status_json":
                got, exp = [x["status"] for x in r.json()["results"]], want["batches"][i]
            elif kind == "status_arrow":
                got = pa.ipc.open_stream(r.content).read_all().column("status").to_pylist()
                exp = want["batches"][i]
            else:
                single = next(iter(x509_ocsp.load_der_ocsp_response(r.content).responses))
                got, exp = single.certificate_status.name, want["ocsp"][i]
            if got != exp:
                if isinstance(exp, list):
                    shown = f"{sum(a != b for a, b in zip(got, exp))} of {len(exp)} items differ"
                else:
                    shown = f"{got} != {exp}"
                failures.append(f"{kind} #{i} on generation {generation}: wrong answer: {shown}")
    return {"counts": counts, "failures": failures, "generations": sorted(generations)}


# ---- sampling the workers ----------------------------------------------------------------------


def proc_sample(pid: int) -> dict | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kib(name: str) -> int:
        return int(fields.get(name, "0 kB").split()[0])

    return {"rss_kib": kib("VmRSS"), "anon_kib": kib("RssAnon"), "fds": fds}


def judge(samples: list[dict], warmup_s: float) -> dict:
    """Applies the rule of the module docstring per worker; returns the verdict and figures."""
    out = {}
    for pid in sorted({s["pid"] for s in samples}):
        mine = [s for s in samples if s["pid"] == pid and s["t"] >= warmup_s]
        if len(mine) < 6:
            out[pid] = {"flat": False, "why": f"only {len(mine)} samples after the warm-up"}
            continue
        third = len(mine) // 3
        first, last = mine[:third], mine[-third:]
        figures = {"samples": len(mine)}
        flat = True
        for name in ("rss_kib", "anon_kib"):
            a, b = statistics.median(s[name] for s in first), statistics.median(s[name] for s in last)
            allowed = max(0.10 * a, 16 * 1024)
            figures[name] = {"first_third_median": a, "last_third_median": b, "growth": b - a, "allowed": allowed,
                             "min": min(s[name] for s in mine), "max": max(s[name] for s in mine)}
            flat &= b - a <= allowed
        fa, fb = max(s["fds"] for s in first), max(s["fds"] for s in last)
        figures["fds"] = {"first_third_max": fa, "last_third_max": fb, "min": min(s["fds"] for s in mine),
                          "max": max(s["fds"] for s in mine)}
        flat &= fb - fa <= 4
        figures["flat"] = flat
        out[pid] = figures
    return out


# ---- the run -----------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="load duration (default 10)")
    ap.add_argument("--publish-every", type=float, default=30.0, metavar="SECONDS")
    ap.add_argument("--sample-every", type=float, default=5.0, metavar="SECONDS")
    ap.add_argument("--clients", type=int, default=3, help="load processes (default 3)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--entries", type=int, default=50_000, help="revoked entries per synthetic day")
    ap.add_argument("--out", default=str(HERE / "data" / "soak"))
    ap.add_argument("--no-write", action="store_true", help="print, do not rewrite bench/RESULTS.md")
    args = ap.parse_args()
    duration = args.minutes * 60
    out = Path(args.out)
    shutil.rmtree(out / "store", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    days = out / "days"
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    publishes = int(duration // args.publish_every) + 2
    print(f"soak: {args.minutes:g} min, a generation every {args.publish_every:g} s (about {publishes - 2}), "
          f"{args.clients} load processes, {args.workers} workers; uptime {_uptime()}", flush=True)
    shutil.rmtree(days, ignore_errors=True)  # dated from now: every run makes its own days
    make_day(days, start, 0, args.entries)
    store = out / "store"
    first = ingest_day(days, store, start, 0)
    pool = build_pool(days / "day000")
    check_first_generation(store, first, pool)
    make_day(days, start, 1, args.entries)

    from jpki_fast_service.auth import add_key

    keys = out / "api-keys.json"
    keys.unlink(missing_ok=True)
    key = add_key(keys, "soak", ["query"], "soak")
    pairs = []
    for alias in ("auth_ca_2023", "auth_ca_2019", "sign_ca_2023", "sign_ca_2019"):
        pair = days / "day000" / "ocsp" / f"{alias}.pem", days / "day000" / "ocsp" / f"{alias}.key.pem"
        if pair[0].is_file():
            pairs += ["--ocsp-cert", str(pair[0]), "--ocsp-key", str(pair[1])]
    port = free_port()
    argv = [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(store), "--api-keys", str(keys), "--port", str(port),
            "--workers", str(args.workers), "--audit-log", str(out / "audit.jsonl"), *pairs]
    (out / "audit.jsonl").unlink(missing_ok=True)
    server = Server(argv, port, log=out / "server.log")
    samples: list[dict] = []
    published: list[dict] = []
    problems: list[str] = []
    stop = threading.Event()
    t0 = time.time()
    workers = sorted(server.workers())

    def sampler() -> None:
        while not stop.is_set():
            now = server.workers()
            if sorted(now) != workers:
                problems.append(f"worker processes changed at {time.time() - t0:.0f} s: {workers} -> {sorted(now)}")
            for pid in now:
                s = proc_sample(pid)
                if s is not None:
                    samples.append({"t": round(time.time() - t0, 1), "pid": pid, **s})
            stop.wait(args.sample_every)

    def publisher() -> None:
        day = 1
        # On a fixed cadence (t0 + k x publish_every), whatever each ingest and synth took.
        while not stop.wait(max(0.0, t0 + day * args.publish_every - time.time())):
            try:
                began = time.time()
                generation = ingest_day(days, store, start, day)
                published.append({"t": round(began - t0, 1), "day": day, "generation": generation,
                                  "ingest_s": round(time.time() - began, 2)})
                day += 1
                make_day(days, start, day, args.entries)  # the next one, ready before its turn
            except Exception as exc:  # noqa: BLE001 - reported as a failure of the run
                problems.append(f"publish of day {day}: {exc}")

    threads = [threading.Thread(target=sampler, daemon=True), threading.Thread(target=publisher, daemon=True)]
    try:
        for t in threads:
            t.start()
        deadline = time.time() + duration
        with multiprocessing.get_context("spawn").Pool(args.clients) as procs:
            results = procs.map(client, [(server.url, key, str(store), pool, deadline, 100 + i) for i in range(args.clients)])
        stop.set()
        for t in threads:
            t.join(timeout=600)
        final = [int(x) for x in _worker_generations(server.url)]
    finally:
        stop.set()
        server.stop()
    elapsed = time.time() - t0
    counts = {k: sum(r["counts"][k] for r in results) for k in KIND_WEIGHTS}
    failures = [f for r in results for f in r["failures"]]
    verdicts = judge(samples, max(60.0, 0.2 * duration))
    served_generations = sorted({g for r in results for g in r["generations"]})
    summary = {
        "started": start.isoformat(), "seconds": round(elapsed, 1), "minutes": args.minutes, "workers": args.workers,
        "clients": args.clients, "entries_per_day": args.entries, "publish_every": args.publish_every,
        "requests": counts, "total_requests": sum(counts.values()), "failures": len(failures), "failure_examples": failures[:10],
        "published": published, "generations_served": served_generations, "final_worker_generations": final,
        "problems": problems, "workers_judged": verdicts, "uptime_after": _uptime(), "commit": _commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
    }
    ok = (not failures and not problems and published and all(v.get("flat") for v in verdicts.values())
          and len(served_generations) >= len(published))
    summary["ok"] = bool(ok)
    with open(out / "samples.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["t", "pid", "rss_kib", "anon_kib", "fds"])
        w.writeheader()
        w.writerows(samples)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    text = render(summary)
    print(text)
    if not args.no_write:
        write_section(text)
    for f in failures[:10] + problems:
        print("FAILED:", f, file=sys.stderr)
    return 0 if ok else 1


def check_first_generation(store: Path, generation: int, pool: dict) -> None:
    """The oracle itself, on day 0, against the synthetic truth: every batch serial revoked
    exactly when the truth lists it."""
    revoked = set(pool["truth_revoked"])
    want = Expected(store, pool).of(generation)
    for batch, statuses in zip(pool["batches"], want["batches"]):
        assert statuses == ["revoked" if s in revoked else "good" for s in batch["serials"]], "the library disagrees with the truth"


def _worker_generations(url: str) -> list[float]:
    import re
    import urllib.request

    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    return [float(v) for v in re.findall(r'^jpki_fast_snapshot_generation\{pid="\d+"\} (\S+)$', text, re.M)]


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def _commit() -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    return r.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def render(s: dict) -> str:
    lines = [
        "## Soak (issue 12)",
        "",
        f"`make soak` (bench/soak.py): {s['seconds'] / 60:.1f} min of mixed load from {s['clients']} load processes against "
        f"`jpki-fast serve --workers {s['workers']}` (granian) with OCSP responders, while a new generation "
        f"({s['entries_per_day']:,} entries, 40 partition CRLs) was published every {s['publish_every']:g} s with "
        "`jpki-fast ingest`. Every answer checked against the library's answer from the generation the response names. "
        f"Started {s['started']}; commit {s['commit']}; {s['machine']}; `uptime` after: {s['uptime_after']}. "
        "Server, load processes and publisher share the machine's cores (and other engineers' builds ran meanwhile).",
        "",
        f"**Result: {'PASS' if s['ok'] else 'FAIL'}.** {s['total_requests']:,} requests "
        f"({', '.join(f'{k} {v:,}' for k, v in s['requests'].items())}), **{s['failures']} failed or wrong**; "
        f"{len(s['published'])} generations published, {len(s['generations_served'])} served "
        f"(workers ended on {s['final_worker_generations']}).",
        "",
        "Flat rule: after a warm-up (the first 20% of the run, at least 60 s), per worker, the median of the last third of "
        "the samples exceeds that of the first third by at most max(10%, 16 MiB), for VmRSS and RssAnon; the most open fds "
        "in the last third exceed the most in the first third by at most 4.",
        "",
        "| worker | samples | VmRSS first third -> last third (min-max) | RssAnon first -> last (min-max) "
        "| open fds first -> last (min-max) | flat |",
        "|---|---|---|---|---|---|",
    ]
    for i, (pid, v) in enumerate(s["workers_judged"].items()):
        if "rss_kib" not in v:
            lines.append(f"| {i + 1} (pid {pid}) | - | - | - | - | no: {v.get('why')} |")
            continue
        r, a, f = v["rss_kib"], v["anon_kib"], v["fds"]
        lines.append(
            f"| {i + 1} | {v['samples']} | {mib(r['first_third_median'])} -> {mib(r['last_third_median'])} "
            f"({mib(r['min'])}-{mib(r['max'])}) "
            f"| {mib(a['first_third_median'])} -> {mib(a['last_third_median'])} ({mib(a['min'])}-{mib(a['max'])}) "
            f"| {f['first_third_max']} -> {f['last_third_max']} ({f['min']}-{f['max']}) | {'yes' if v['flat'] else 'NO'} |"
        )
    if s["published"]:
        ingest = [p["ingest_s"] for p in s["published"]]
        lines += ["", f"Publishes: generations {s['published'][0]['generation']}-{s['published'][-1]['generation']}, "
                      f"ingest {min(ingest):.1f}-{max(ingest):.1f} s each."]
    if s["problems"] or s["failure_examples"]:
        lines += ["", "Problems: " + "; ".join(s["problems"] + s["failure_examples"])]
    lines += ["", "Samples: samples.csv and summary.json under `--out` (default bench/data/soak/, not committed)."]
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = HERE / "RESULTS.md"
    begin, end = "<!-- BEGIN soak -->", "<!-- END soak -->"
    current = path.read_text()
    block = f"{begin}\n{text}\n{end}"
    if begin in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(current)


if __name__ == "__main__":
    sys.exit(main())
