"""Side-by-side benchmarks of the core engine against its peers, on the same inputs, in one run.

Writes its figures (with the machine) between the ``core`` markers of bench/RESULTS.md:

    python bench/peers.py                 # the full run (about 3 minutes: the peers are slow)
    python bench/peers.py --entries 1000000 --no-write   # a quick look
    python bench/peers.py --lookups-only  # Store.check on random 8-byte serials and JPKI-like ones, with the peers

Peers: ``openssl crl -inform DER -CAfile CA -noout`` (parse + verify), pyca/cryptography
(load + is_signature_valid + read serial, date and reason of every entry; and its lookup by
serial, a linear scan), a Python ``set`` of the serials, and ``numpy.searchsorted``. Wall times
of whole commands and peak RSS come from ``/usr/bin/time -v``; in-process times exclude
interpreter start-up and imports. Each jpki-fast figure is the median of several runs (the
machine is shared and noisy); peers that take tens of seconds run once.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import datasets  # noqa: E402

from jpki_fast import synth  # noqa: E402

RESULTS = HERE / "RESULTS.md"
PY = sys.executable
JPKI = str(Path(PY).parent / "jpki-fast")


def timed(cmd: list[str], **kw) -> dict:
    """Wall seconds and peak RSS (MB) of a command, via /usr/bin/time -v."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    h, m, s = wall.groups()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return {"wall": (int(h or 0) * 3600 + int(m) * 60 + float(s)), "rss_mb": rss / 1024, "stdout": out.stdout}


def in_process(code: str) -> dict:
    """Runs a Python snippet that prints a JSON dict; returns it (plus peak RSS)."""
    r = timed([PY, "-c", code])
    result = json.loads(r["stdout"].strip().splitlines()[-1])
    result["rss_mb"] = r["rss_mb"]
    return result


def median_of(n: int, fn) -> tuple[float, list[float]]:
    values = [fn() for _ in range(n)]
    return statistics.median(values), values


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.*)", lscpu).group(1).strip()
    cpus = os.cpu_count()
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // (1024 * 1024)
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    import cryptography
    import pyarrow

    return (
        f"{model}, {cpus} cores, {mem} GiB RAM, {platform.platform()}; Python {platform.python_version()}, "
        f"pyarrow {pyarrow.__version__}, numpy {np.__version__}, cryptography {cryptography.__version__}, {openssl}"
    )


# ---- single CRL ---------------------------------------------------------------------------


def measure_ingest(trust: Path, crls: Path, work: Path, runs: int) -> dict:
    """`runs` ingests into empty stores, as a whole command and in process (medians). The last
    in-process store is left at work/store-py-last."""
    cli, in_proc = [], []
    for _ in range(runs):
        store = work / "store-cli"
        cli.append(timed([JPKI, "ingest", "--trust", str(trust), "--crls", str(crls), "--store", str(store), "--now", datasets.NOW]))
        shutil.rmtree(store)
        store = work / "store-py-last"
        shutil.rmtree(store, ignore_errors=True)
        in_proc.append(in_process(textwrap.dedent(f"""
            import json, time, jpki_fast
            t = time.perf_counter()
            s = jpki_fast.ingest({str(trust)!r}, {str(crls)!r}, {str(store)!r}, now={datasets.NOW!r})
            print(json.dumps({{"seconds": time.perf_counter() - t, "phases": s.seconds}}))
        """)))
    ordered = sorted(in_proc, key=lambda r: r["seconds"])
    return {
        "cli_wall": statistics.median(r["wall"] for r in cli),
        "cli_walls": [round(r["wall"], 3) for r in cli],
        "cli_rss_mb": max(r["rss_mb"] for r in cli),
        "inproc": statistics.median(r["seconds"] for r in in_proc),
        "inproc_runs": [round(r["seconds"], 3) for r in in_proc],
        "inproc_rss_mb": max(r["rss_mb"] for r in in_proc),
        "phases": ordered[len(ordered) // 2]["phases"],
    }



def bench_single(entries: int, runs: int, peers: bool) -> dict:
    data = datasets.single(entries)
    crl = data / "crls" / "single.crl"
    ca = data / "trust" / "auth_ca_2023.pem"
    out: dict = {"entries": entries, "crl_mb": crl.stat().st_size / 1e6}
    work = Path(tempfile.mkdtemp(prefix="jpki-bench-"))
    try:
        out.update(measure_ingest(data / "trust", data / "crls", work, runs))
        store = work / "store-py-last"
        out["store_bytes"] = sum(p.stat().st_size for p in store.rglob("*.arrow"))
        out["open_ms"] = bench_open(store)
        # Half revoked, then a customer base's mix (keys prefixed base_); the set and searchsorted
        # peers run even without `peers` (which is openssl and pyca). Renamed where report() reads
        # another key, or where out has one already (open_ms: the median of 20 opens above).
        renamed = {"counts": "check_counts", "rss_mb": "check_rss_mb", "open_ms": "check_open_ms"}
        for share, prefix in ((0.5, ""), (0.05, "base_")):
            r = measure_check(store, data / "serials.npy", entries, revoked_share=share, set_np=True)
            out.update({prefix + renamed.get(k, k): v for k, v in r.items()})
        out.update(bench_next_day(store, entries))
        if peers:
            r = timed(["openssl", "crl", "-inform", "DER", "-in", str(crl), "-CAfile", str(ca), "-noout"])
            out["openssl_wall"], out["openssl_rss_mb"] = r["wall"], r["rss_mb"]
            out["pyca"] = in_process(textwrap.dedent(f"""
                import json, time
                from cryptography import x509
                from cryptography.x509 import load_pem_x509_certificate
                t0 = time.perf_counter()
                crl = x509.load_der_x509_crl(open({str(crl)!r}, 'rb').read())
                ca = load_pem_x509_certificate(open({str(ca)!r}, 'rb').read())
                ok = crl.is_signature_valid(ca.public_key())
                t1 = time.perf_counter()
                n = 0
                for rc in crl:
                    s = rc.serial_number; d = rc.revocation_date_utc
                    try:
                        r = rc.extensions.get_extension_for_class(x509.CRLReason).value.reason
                    except x509.ExtensionNotFound:
                        r = None
                    n += 1
                t2 = time.perf_counter()
                probe = [0x05000000 + i * 7919 for i in range(3)]
                t3 = time.perf_counter()
                for p in probe:
                    crl.get_revoked_certificate_by_serial_number(p)
                t4 = time.perf_counter()
                print(json.dumps({{"load_verify": t1 - t0, "read_all": t2 - t1, "total": t2 - t0, "entries": n,
                                   "valid": ok, "lookups_per_s": len(probe) / (t4 - t3)}}))
            """))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def bench_next_day(store: Path, entries: int) -> dict:
    """The next day's CRL (1% of entries expired, as many newly revoked) on top of the
    single-CRL store, then the diff of the two generations."""
    nxt = datasets.single_next_day(entries)
    r = in_process(textwrap.dedent(f"""
        import json, time, statistics, jpki_fast
        from jpki_fast.history import diff
        t = time.perf_counter()
        jpki_fast.ingest({str(datasets.single(entries) / 'trust')!r}, {str(nxt / 'crls')!r}, {str(store)!r},
                         now="2026-11-27T00:00:00Z")
        update = time.perf_counter() - t
        ts = []
        for _ in range(5):
            t = time.perf_counter(); d = diff({str(store)!r}); ts.append(time.perf_counter() - t)
        print(json.dumps({{"update": update, "diff": statistics.median(ts), "rows": d.num_rows}}))
    """))
    return {"churn_update": r["update"], "churn_diff": r["diff"], "churn_diff_rows": r["rows"]}


def bench_open(store: Path) -> float:
    r = in_process(textwrap.dedent(f"""
        import json, time, statistics, jpki_fast
        jpki_fast.open_store({str(store)!r})
        ts = []
        for _ in range(20):
            t = time.perf_counter(); s = jpki_fast.open_store({str(store)!r}); ts.append(time.perf_counter() - t)
        print(json.dumps({{"ms": statistics.median(ts) * 1e3}}))
    """))
    return r["ms"]


# ---- Store.check beside the peers: JPKI-like and random 8-byte serials (issue 9) ----------------


def measure_check(store: Path, serials_npy: Path, entries: int, revoked_share: float = 0.5, full_range: bool = False,
                  peers: bool = True, set_np: bool = False) -> dict:
    """In a fresh process: `entries` queries (numpy uint64, shuffled), `revoked_share` of them
    revoked serials (drawn from `serials_npy`), the rest serials not revoked, drawn from the
    revoked serials' range [min, max] or, with `full_range`, from the whole 64-bit range. Times
    `open_store` (open_ms), the first `Store.check` after it and the median of seven after that,
    each with its CPU seconds. With `peers`, the same queries through a Python set at its best
    (`sum(map(s.__contains__, queries))` over a list of ints) and numpy.searchsorted, their hits
    asserted equal to the check's revoked count; with `set_np` too, the set iterating the numpy
    array (a 2M sample). The load average is read before and after. Returns the child's figures
    plus its peak RSS (rss_mb, from `in_process`)."""
    code = textwrap.dedent(f"""
        import json, os, time, statistics, numpy as np
        load_before = os.getloadavg()
        import jpki_fast
        serials = np.load({str(serials_npy)!r})
        rng = np.random.default_rng(7)
        n = {entries}
        k = int(n * {revoked_share!r})
        lo, hi = (0, 2**64 - 1) if {full_range!r} else (int(serials.min()), int(serials.max()))
        revoked = serials[rng.integers(0, len(serials), k)]
        # None of the others is revoked (setdiff1d), so the peers' hits are the revoked count; 4n draws
        # leave enough where serials are dense in their range; permuted, as setdiff1d sorts.
        other = rng.integers(lo, hi, 4 * n, dtype=np.uint64, endpoint=True)
        other = rng.permutation(np.setdiff1d(other, serials))[: n - k]
        q = np.concatenate([revoked, other]); rng.shuffle(q)
        assert len(q) == n, (len(q), n)
        t = time.perf_counter(); store = jpki_fast.open_store({str(store)!r}); open_s = time.perf_counter() - t
        c = time.process_time(); t = time.perf_counter()
        out = store.check(q, "auth_ca_2023", now={datasets.NOW!r})
        first, first_cpu = time.perf_counter() - t, time.process_time() - c
        counts = {{c["values"]: c["counts"] for c in out.column("status").value_counts().to_pylist()}}
        ts, cpus = [], []
        for _ in range(7):
            c = time.process_time(); t = time.perf_counter()
            store.check(q, "auth_ca_2023", now={datasets.NOW!r})
            ts.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
        r = {{"open_ms": open_s * 1e3, "first_rate": len(q) / first, "first_cpu_s": first_cpu, "check_rate": len(q) / statistics.median(ts),
              "check_runs_ms": [round(x * 1e3, 1) for x in ts], "check_cpu_s": [round(x, 3) for x in cpus], "counts": counts}}
        if {peers!r}:
            s = set(serials.tolist()); ql = q.tolist()
            t = time.perf_counter(); hits = sum(map(s.__contains__, ql)); r["set_rate"] = len(ql) / (time.perf_counter() - t)
            sorted_serials = np.sort(serials)
            t = time.perf_counter(); idx = np.searchsorted(sorted_serials, q)
            found = sorted_serials[np.minimum(idx, len(sorted_serials) - 1)] == q
            r["searchsorted_rate"] = len(q) / (time.perf_counter() - t)
            assert hits == int(found.sum()) == counts.get("revoked", 0), (hits, int(found.sum()), counts)
            if {set_np!r}:
                sample = q[:2_000_000]
                t = time.perf_counter(); hits_np = sum(1 for x in sample if int(x) in s); r["set_np_rate"] = len(sample) / (time.perf_counter() - t)
                assert hits_np == int(found[: len(sample)].sum()), (hits_np, int(found[: len(sample)].sum()))
        r["load_before"], r["load_after"] = load_before, os.getloadavg()
        print(json.dumps(r))
    """)
    return in_process(code)


def bench_lookups(entries: int, peers: bool = True) -> dict:
    """`Store.check` on random 8-byte serials (the offset table) and, in the same run, on the
    JPKI-like single CRL (the bitmap), each in a store of its own."""
    out: dict = {"entries": entries}
    work = Path(tempfile.mkdtemp(prefix="jpki-bench-"))
    try:
        for name, data, full_range in (("random", datasets.single_random(entries), True), ("jpki", datasets.single(entries), False)):
            store = work / f"store-{name}"
            jpki_fast_ingest = textwrap.dedent(f"""
                import jpki_fast
                jpki_fast.ingest({str(data / 'trust')!r}, {str(data / 'crls')!r}, {str(store)!r}, now={datasets.NOW!r})
                print("{{}}")
            """)
            in_process(jpki_fast_ingest)
            out[name] = measure_check(store, data / "serials.npy", entries, full_range=full_range, peers=peers and name == "random")
            manifest = json.loads((sorted((store / "generations").iterdir())[-1] / "manifest.json").read_text())
            out[name]["lookup"] = next(i["lookup"] for i in manifest["issuers"] if i["alias"] == "auth_ca_2023")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def commit_label() -> str:
    """"Commit abc1234", marked when tracked files other than RESULTS.md (which a run writes)
    have changes: the figures are then not the commit's."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)bench/RESULTS.md"],
                           capture_output=True, text=True, cwd=HERE).stdout.strip()
    return f"Commit {commit}{' (with uncommitted changes)' if dirty else ''}"


def report_lookups(m: str, r: dict) -> str:
    """The random-serial block of the core section (between its own markers)."""
    rnd, jp = r["random"], r["jpki"]
    load = f"load average {rnd['load_before'][0]:.2f} before, {jp['load_after'][0]:.2f} after"
    lines = [
        f"### `Store.check` of {r['entries']:,} random 8-byte serials (issue 9)",
        "",
        f"{commit_label()}; {m}. Measured "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `python bench/peers.py --lookups-only` ({load}; "
        "CPU seconds are the process's, both cores together). A snapshot of one CRL of random serials uniform over the "
        "whole 64-bit range (half of them 2^63 or more: 9 octets in DER), lookup structure "
        f"`{rnd['lookup']}`; queries numpy uint64, half revoked, half not (drawn from the whole range), shuffled. "
        f"Beside it, in the same run, the JPKI-like snapshot above (lookup `{jp['lookup']}`).",
        "",
        "| method | lookups per second | CPU seconds per call | jpki-fast speed-up |",
        "|---|---|---|---|",
        f"| `Store.check`, first call after `open_store` (open {rnd['open_ms']:.1f} ms) | {rnd['first_rate'] / 1e6:.1f} M/s | "
        f"{rnd['first_cpu_s']:.2f} | |",
        f"| `Store.check`, median of 7 calls after it | **{rnd['check_rate'] / 1e6:.1f} M/s** | "
        f"{statistics.median(rnd['check_cpu_s']):.2f} | |",
    ]
    if "set_rate" in rnd:
        lines += [
            f"| Python `set`: `sum(map(s.__contains__, queries))`, queries a list of ints (its best; membership only) | "
            f"{rnd['set_rate'] / 1e6:.2f} M/s | | {rnd['check_rate'] / rnd['set_rate']:.0f}x |",
            f"| `numpy.searchsorted` of the unsorted queries into the sorted serials (membership only) | "
            f"{rnd['searchsorted_rate'] / 1e6:.2f} M/s | | {rnd['check_rate'] / rnd['searchsorted_rate']:.0f}x |",
        ]
    lines += [
        f"| JPKI-like serials (the snapshot above), first call after `open_store` | {jp['first_rate'] / 1e6:.1f} M/s | "
        f"{jp['first_cpu_s']:.2f} | |",
        f"| JPKI-like serials, median of 7 | {jp['check_rate'] / 1e6:.1f} M/s | {statistics.median(jp['check_cpu_s']):.2f} | |",
        "",
        f"Runs (ms): random {rnd['check_runs_ms']}, JPKI-like {jp['check_runs_ms']}; CPU seconds per run: random "
        f"{rnd['check_cpu_s']}, JPKI-like {jp['check_cpu_s']}; answers: random {rnd['counts']}, JPKI-like {jp['counts']}.",
    ]
    return "\n".join(lines) + "\n"


# ---- daily partitions and diff ------------------------------------------------------------


def bench_daily(entries: int, runs: int, peers: bool) -> dict:
    day0 = datasets.daily(entries)
    day1 = datasets.DATA / f"daily-{entries}-1900-next"
    stamp = day1 / "bench-stamp.json"
    if not stamp.exists():
        synth.generate(day1, entries=entries + entries // 100, partitions=1900,
                       now=(dt.datetime.fromisoformat(datasets.NOW.replace("Z", "+00:00")) + dt.timedelta(days=1)),
                       ca_from=day0)
        stamp.write_text("{}")
    files = sum(1 for _ in (day0 / "crls").rglob("*.crl"))
    out: dict = {"entries": entries, "files": files}
    work = Path(tempfile.mkdtemp(prefix="jpki-bench-"))
    try:
        out.update(measure_ingest(day0 / "trust", day0 / "crls", work, runs))
        # The next day on top: a full nightly update (every partition has a new CRL), then diff.
        store = work / "store-py-last"
        nxt = (dt.datetime.fromisoformat(datasets.NOW.replace("Z", "+00:00")) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # The nightly job ingests files it has just downloaded, so they are in the page cache:
        # read them once first, so that the figure is the engine's, not the disk's.
        for f in (day1 / "crls").rglob("*.crl"):
            f.read_bytes()
        r = in_process(textwrap.dedent(f"""
            import json, time, statistics, jpki_fast
            from jpki_fast.history import diff
            t = time.perf_counter()
            s = jpki_fast.ingest({str(day1 / 'trust')!r}, {str(day1 / 'crls')!r}, {str(store)!r}, now={nxt!r})
            nightly = time.perf_counter() - t
            ts = []
            for _ in range(3):
                t = time.perf_counter(); d = diff({str(store)!r}); ts.append(time.perf_counter() - t)
            print(json.dumps({{"nightly": nightly, "accepted": len(s.accepted), "diff": statistics.median(ts),
                               "diff_runs": ts, "diff_rows": d.num_rows}}))
        """))
        out.update({"nightly_update": r["nightly"], "diff": r["diff"], "diff_rows": r["diff_rows"],
                    "diff_runs": [round(t, 3) for t in r["diff_runs"]], "diff_rss_mb": r["rss_mb"]})
        if peers:
            crls = sorted(str(p) for p in (day0 / "crls").rglob("*.crl"))
            script = work / "openssl-loop.sh"
            script.write_text(
                "#!/bin/sh\n"
                f"for f in {' '.join(c for c in crls if '/sign/' in c)}; do openssl crl -inform DER -in \"$f\" "
                f"-CAfile {day0 / 'trust' / 'sign_ca_2023.pem'} -noout >/dev/null 2>&1 || exit 1; done\n"
            )
            r = timed(["sh", str(script)])
            out["openssl_loop_sign_wall"] = r["wall"]
            out["openssl_loop_sign_files"] = sum(1 for c in crls if "/sign/" in c)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


# ---- report -------------------------------------------------------------------------------


def report(m: str, single: dict, daily: dict | None, lookups: dict | None = None) -> str:
    s = single
    lines = [
        "## Core engine (issue 2: ingest, index, checks; issue 4: nightly ingest and diff)",
        "",
        f"{commit_label()}; machine: {m}. Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `python bench/peers.py`; "
        "jpki-fast figures are medians of several runs (the machine is shared: run-to-run noise of ±30% is "
        "common), peers ran once.",
        "",
        f"### One CRL of {s['entries']:,} entries ({s['crl_mb']:.0f} MB DER)",
        "",
        "| task | tool | wall | peak RSS | jpki-fast speed-up |",
        "|---|---|---|---|---|",
        f"| parse + verify + build + publish | `jpki-fast ingest` (whole command) | {s['cli_wall']:.2f} s | {s['cli_rss_mb']:.0f} MB | |",
        f"| same | `jpki_fast.ingest()` in process | {s['inproc']:.2f} s | {s['inproc_rss_mb']:.0f} MB | |",
    ]
    if "openssl_wall" in s:
        p = s["pyca"]
        lines += [
            f"| parse + verify | `openssl crl -inform DER -CAfile CA -noout` | {s['openssl_wall']:.1f} s | {s['openssl_rss_mb']:.0f} MB "
            f"| {s['openssl_wall'] / s['cli_wall']:.0f}x (command), {s['openssl_wall'] / s['inproc']:.0f}x (in process) |",
            f"| load + is_signature_valid + read every serial/date/reason | pyca/cryptography | {p['total']:.1f} s "
            f"({p['load_verify']:.1f} + {p['read_all']:.1f}) | {p['rss_mb']:.0f} MB | {p['total'] / s['cli_wall']:.0f}x (command), "
            f"{p['total'] / s['inproc']:.0f}x (in process) |",
        ]
    ph = s["phases"]
    lines += [
        "",
        "In-process phases (median run): " + ", ".join(f"{k} {v:.2f} s" for k, v in ph.items()) + f"; runs: {s['inproc_runs']} s.",
        f"Snapshot on disk: {s['store_bytes'] / s['entries']:.1f} bytes per entry (index files, all issuers). "
        f"`open_store`: {s['open_ms']:.1f} ms (median of 20).",
        "",
        f"### `Store.check` of {s['entries']:,} serials (numpy uint64; half revoked, half not, shuffled) against that snapshot",
        "",
        "The serials not revoked are drawn from the revoked serials' range; each mix is measured in a fresh process "
        "(`open_store`, a first call, then 7); CPU seconds are the process's, all its threads together.",
        "",
        "| method | lookups per second | CPU seconds per call | jpki-fast speed-up |",
        "|---|---|---|---|",
        f"| `Store.check`, first call after `open_store` (open {s['check_open_ms']:.1f} ms) | {s['first_rate'] / 1e6:.1f} M/s | {s['first_cpu_s']:.2f} | |",
        f"| `Store.check` (status, reason, dates as Arrow), median of 7 calls after it | {s['check_rate'] / 1e6:.1f} M/s | {statistics.median(s['check_cpu_s']):.2f} | |",
        f"| Python `set`: `sum(map(s.__contains__, queries))`, queries a list of Python ints (its best; membership only) | {s['set_rate'] / 1e6:.2f} M/s | | {s['check_rate'] / s['set_rate']:.0f}x |",
        f"| Python `set` membership, iterating the numpy array (2M sample) | {s['set_np_rate'] / 1e6:.2f} M/s | | {s['check_rate'] / s['set_np_rate']:.0f}x |",
        f"| `numpy.searchsorted` of the unsorted queries into the sorted serials (membership only) | {s['searchsorted_rate'] / 1e6:.2f} M/s | | {s['check_rate'] / s['searchsorted_rate']:.0f}x |",
    ]
    if "pyca" in s:
        lines.append(f"| pyca `get_revoked_certificate_by_serial_number` | {s['pyca']['lookups_per_s']:.2f} /s | | "
                     f"{s['check_rate'] / s['pyca']['lookups_per_s']:,.0f}x |")
    lines += [
        "",
        f"The same with a customer base's mix, 5% revoked ({s['base_check_counts']}):",
        "",
        "| method | lookups per second | CPU seconds per call | jpki-fast speed-up |",
        "|---|---|---|---|",
        f"| `Store.check`, first call after `open_store` | {s['base_first_rate'] / 1e6:.1f} M/s | {s['base_first_cpu_s']:.2f} | |",
        f"| `Store.check`, median of 7 | {s['base_check_rate'] / 1e6:.1f} M/s | {statistics.median(s['base_check_cpu_s']):.2f} | |",
        f"| Python `set`, `sum(map(s.__contains__, queries))` | {s['base_set_rate'] / 1e6:.2f} M/s | | {s['base_check_rate'] / s['base_set_rate']:.0f}x |",
        f"| Python `set`, iterating the numpy array (2M sample) | {s['base_set_np_rate'] / 1e6:.2f} M/s | | {s['base_check_rate'] / s['base_set_np_rate']:.0f}x |",
        f"| `numpy.searchsorted` | {s['base_searchsorted_rate'] / 1e6:.2f} M/s | | {s['base_check_rate'] / s['base_searchsorted_rate']:.0f}x |",
    ]
    lines += ["", f"Check runs, half revoked (ms): {s['check_runs_ms']}; CPU seconds per run: {s['check_cpu_s']}; answers: {s['check_counts']}; "
              f"peak RSS {s['check_rss_mb']:.0f} MB (includes the Python set and the query arrays). The peers answer membership only; "
              "`Store.check` also returns reason and revocation date as Arrow columns and judges freshness.",
              "",
              f"Next day on top of that snapshot (the same CRL with 1% of entries gone and as many new): ingest "
              f"{s['churn_update']:.2f} s in process; `diff` of the two {s['entries'] // 1_000_000}M-entry generations {s['churn_diff'] * 1e3:.0f} ms "
              f"({s['churn_diff_rows']:,} rows)."]
    if daily:
        d = daily
        lines += [
            "",
            f"### Nightly: {d['files']:,} partition CRLs, {d['entries']:,} entries",
            "",
            "| task | wall | notes |",
            "|---|---|---|",
            f"| `jpki-fast ingest` into an empty store (whole command) | {d['cli_wall']:.2f} s | peak RSS {d['cli_rss_mb']:.0f} MB |",
            f"| `jpki_fast.ingest()` in process | {d['inproc']:.2f} s | runs {d['inproc_runs']} s; phases " + ", ".join(f"{k} {v:.2f}" for k, v in d["phases"].items()) + " |",
            f"| next day: every partition replaced (partition-aware publish) | {d['nightly_update']:.2f} s | in process; its files read once before (as just downloaded) |",
            f"| `diff` of the two {d['entries'] // 1_000_000}M-entry generations, worst case: every entry differs | {d['diff']:.2f} s | {d['diff_rows']:,} rows; runs {d['diff_runs']} s |",
        ]
        if "openssl_loop_sign_wall" in d:
            lines.append(f"| `openssl crl` per file, signing CA's {d['openssl_loop_sign_files']:,} files only | {d['openssl_loop_sign_wall']:.1f} s | one process per file, sequential |")
    if lookups:
        lines += ["", "<!-- BEGIN core-random -->", report_lookups(m, lookups).rstrip("\n"), "<!-- END core-random -->"]
    return "\n".join(lines) + "\n"


def write_section(text: str, name: str = "core") -> None:
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    block = f"{begin}\n{text}{end}\n"
    if begin in current and end in current:
        current = current[: current.index(begin)] + block + current[current.index(end) + len(end) + 1 :]
    else:
        current = current.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(current)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-peers", action="store_true", help="skip openssl and pyca (slow)")
    ap.add_argument("--no-daily", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print instead of updating RESULTS.md")
    ap.add_argument("--lookups-only", action="store_true",
                    help="only Store.check on random 8-byte and JPKI-like serials, with the peers (rewrites its block of the core section)")
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m}", file=sys.stderr)
    if args.lookups_only:
        lookups = bench_lookups(args.entries, not args.no_peers)
        print(json.dumps(lookups, indent=1), file=sys.stderr)
        text = report_lookups(m, lookups)
        if args.no_write:
            print(text)
        else:
            write_section(text, "core-random")
            print(f"updated {RESULTS}", file=sys.stderr)
        return 0
    # The command is timed as installed: `pip install` byte-compiles the package (an editable
    # install under PYTHONDONTWRITEBYTECODE would compile it at every start instead).
    compileall.compile_dir(str(HERE.parent / "python" / "jpki_fast"), quiet=1)
    single = bench_single(args.entries, args.runs, not args.no_peers)
    print(json.dumps(single, indent=1), file=sys.stderr)
    daily = None if args.no_daily else bench_daily(args.entries, args.runs, not args.no_peers)
    if daily:
        print(json.dumps(daily, indent=1), file=sys.stderr)
    lookups = bench_lookups(args.entries, not args.no_peers)
    print(json.dumps(lookups, indent=1), file=sys.stderr)
    text = report(m, single, daily, lookups)
    if args.no_write:
        print(text)
    else:
        write_section(text)
        print(f"updated {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
