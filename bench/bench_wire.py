"""The batch status codecs (jpki_fast.wire) in process, against a naive pipeline, on the same bodies.

Writes its figures (with the machine and the load) between the ``wire`` markers of
bench/RESULTS.md:

    python bench/bench_wire.py              # the full run (about a minute once the data is cached)
    python bench/bench_wire.py --no-write   # print instead

What is measured, per request body of 10,000 and 100,000 serials (and 1,000,000 with
``--million``), each the median of ``--runs`` calls:

- ours, JSON: ``decode_status_json`` + ``check_status`` + ``encode_status_json``, each phase
  and the total (bytes in to bytes out), for the single-issuer shape
  (``{"issuer", "serials"}``) and the per-item shape (``{"items": [...]}``, two issuers).
- ours, Arrow IPC: ``decode_status_arrow`` + ``check_status`` + ``encode_status_arrow``, with
  hex-string and with uint64 serial columns.
- naive: ``orjson.loads``, then per item ``int(serial, 16)``, a lookup in a Python ``dict`` of
  the revoked (issuer, serial) pairs (the set peer of issue 8: no freshness, no 20-octet keys,
  no malformed items), a result dict per item, ``orjson.dumps``. The dict is built once, before
  timing.
- orjson + Arrow columns (the other design the issue names): ``orjson.loads``, the serial list
  into a pyarrow array, ``Store.check``, and the result rendered by ``orjson.dumps`` of
  ``table.to_pylist()``.

Bodies: 5% of the serials are revoked entries of the store, the rest are JPKI-like serials that
are not (half of them random 64-bit values); spelled as a client would (uppercase hex). The
store: the synthetic day of bench/peers_certs.py (1,000,000 entries in 3,800 partition CRLs).
Every pipeline's answers are compared with ``Store.check`` before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import datasets  # noqa: E402
from peers import machine, write_section  # noqa: E402
from peers_certs import certs_dataset  # noqa: E402

import jpki_fast  # noqa: E402
from jpki_fast import wire  # noqa: E402

ISSUERS = ("auth_ca_2023", "sign_ca_2023")


def median_time(runs: int, fn) -> float:
    values = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        values.append(time.perf_counter() - t)
    return statistics.median(values)


def median_cpu(runs: int, fn) -> float:
    """Median CPU seconds of the whole process (every thread) per call: unlike wall time, not
    inflated by waiting for a core on a shared machine."""
    values = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        values.append(time.process_time() - t)
    return statistics.median(values)


def workload(store: jpki_fast.Store, n: int, seed: int) -> dict:
    """Serials (uppercase hex) and issuers for one body: 5% revoked."""
    rng = np.random.default_rng(seed)
    entries = {i: store.entries(i).column("serial").to_numpy() for i in ISSUERS}
    issuer_of = rng.integers(0, 2, n)
    revoked = rng.random(n) < 0.05
    random64 = rng.integers(1, 2**63, n, dtype=np.uint64)
    values = np.where(rng.random(n) < 0.5, random64, rng.integers(0x05000000, 0x05FFFFFF, n, dtype=np.uint64))
    for k, name in enumerate(ISSUERS):
        sel = revoked & (issuer_of == k)
        values[sel] = rng.choice(entries[name], int(sel.sum()))
    serials = [format(int(v), "X").zfill(2 * ((int(v).bit_length() + 7) // 8 or 1)) for v in values.tolist()]
    issuers = [ISSUERS[k] for k in issuer_of.tolist()]
    return {"serials": serials, "issuers": issuers}


def bodies(w: dict) -> dict[str, bytes]:
    import orjson

    single = orjson.dumps({"issuer": ISSUERS[0], "serials": w["serials"], "now": datasets.NOW})
    items = orjson.dumps({"items": [{"issuer": i, "serial": s} for i, s in zip(w["issuers"], w["serials"])], "now": datasets.NOW})

    def ipc(table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    meta = {"now": datasets.NOW}
    issuer_col = pa.array(w["issuers"]).dictionary_encode()
    arrow_hex = ipc(pa.table({"issuer": issuer_col, "serial": pa.array(w["serials"])}).replace_schema_metadata(meta))
    ints = pa.array([int(s, 16) for s in w["serials"]], pa.uint64())
    arrow_u64 = ipc(pa.table({"issuer": issuer_col, "serial": ints}).replace_schema_metadata(meta))
    return {"json_single": single, "json_items": items, "arrow_hex": arrow_hex, "arrow_u64": arrow_u64}


def naive_index(store: jpki_fast.Store) -> dict:
    """(issuer, serial int) -> (reason, revocation date text) for every revoked entry."""
    out = {}
    for name in ISSUERS:
        t = store.entries(name)
        dates = [d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in t.column("revocation_date").to_pylist()]
        for s, r, d in zip(t.column("serial").to_pylist(), t.column("reason").to_pylist(), dates):
            out[(name, s)] = (r, d)
    return out


def naive(body: bytes, index: dict) -> bytes:
    import orjson

    doc = orjson.loads(body)
    results = []
    items = doc.get("items")
    pairs = ((it["issuer"], it["serial"]) for it in items) if items is not None else ((doc["issuer"], s) for s in doc["serials"])
    for issuer, serial in pairs:
        hit = index.get((issuer, int(serial, 16)))
        if hit is None:
            results.append({"serial": serial, "issuer": issuer, "status": "good", "reason": None, "revocation_date": None})
        else:
            results.append({"serial": serial, "issuer": issuer, "status": "revoked", "reason": hit[0], "revocation_date": hit[1]})
    return orjson.dumps({"generation": 0, "checked_at": datasets.NOW, "results": results})


def orjson_arrow(body: bytes, store: jpki_fast.Store) -> bytes:
    import orjson

    doc = orjson.loads(body)
    if "items" in doc:
        serials = pa.array([it["serial"] for it in doc["items"]], pa.string())
        issuers: object = pa.array([it["issuer"] for it in doc["items"]], pa.string())
    else:
        serials, issuers = pa.array(doc["serials"], pa.string()), doc["issuer"]
    table = store.check(serials, issuers, now=doc.get("now"))
    rows = table.select(["status", "reason", "revocation_date"]).to_pylist()
    return orjson.dumps({"generation": store.generation, "checked_at": doc.get("now"), "results": rows})


def ours_json(body: bytes, store: jpki_fast.Store) -> bytes:
    return wire.encode_status_json(wire.check_status(store, wire.decode_status_json(body)))


def ours_arrow(body: bytes, store: jpki_fast.Store) -> bytes:
    return wire.encode_status_arrow(wire.check_status(store, wire.decode_status_arrow(body)))


def verify(store: jpki_fast.Store, w: dict, b: dict, index: dict) -> None:
    import orjson

    want = store.check(w["serials"], ISSUERS[0], now=datasets.NOW).column("status").to_pylist()
    got = [r["status"] for r in orjson.loads(ours_json(b["json_single"], store))["results"]]
    assert got == want, "single-issuer JSON answers equal Store.check"
    want = store.check(w["serials"], w["issuers"], now=datasets.NOW).column("status").to_pylist()
    assert [r["status"] for r in orjson.loads(ours_json(b["json_items"], store))["results"]] == want
    for key in ("arrow_hex", "arrow_u64"):
        out = pa.ipc.open_stream(ours_arrow(b[key], store)).read_all()
        assert out.column("status").to_pylist() == want, key
    naive_status = [r["status"] for r in orjson.loads(naive(b["json_items"], index))["results"]]
    assert naive_status == want, "the naive peer agrees (every partition is fresh at NOW)"


def measure_codec(runs: int, store: jpki_fast.Store, body: bytes, decode, encode) -> dict:
    """Each phase of one codec on one body, and the whole of it (bytes in to bytes out)."""
    req = decode(body)
    res = wire.check_status(store, req)
    return {
        "decode": median_time(runs, partial(decode, body)),
        "check": median_time(runs, partial(wire.check_status, store, req)),
        "encode": median_time(runs, partial(encode, res)),
        "total": median_time(runs, lambda: encode(wire.check_status(store, decode(body)))),
        "total_cpu": median_cpu(runs, lambda: encode(wire.check_status(store, decode(body)))),
        "response_bytes": len(encode(res)),
    }


def measure(store: jpki_fast.Store, n: int, runs: int, index: dict) -> dict:
    w = workload(store, n, seed=n)
    b = bodies(w)
    verify(store, w, b, index)
    out: dict = {"n": n, "bytes": {k: len(v) for k, v in b.items()}}
    codecs = {"json": (wire.decode_status_json, wire.encode_status_json), "arrow": (wire.decode_status_arrow, wire.encode_status_arrow)}
    for shape in ("json_single", "json_items", "arrow_hex", "arrow_u64"):
        decode, encode = codecs[shape.split("_")[0]]
        out[shape] = measure_codec(runs, store, b[shape], decode, encode)
    peer_runs = max(1, min(runs, 5 if n <= 100_000 else 2))
    out["naive"] = {s: median_time(peer_runs, partial(naive, b[s], index)) for s in ("json_single", "json_items")}
    out["naive_cpu"] = {s: median_cpu(peer_runs, partial(naive, b[s], index)) for s in ("json_single", "json_items")}
    out["orjson_arrow"] = {s: median_time(peer_runs, partial(orjson_arrow, b[s], store)) for s in ("json_single", "json_items")}
    return out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def report(m: str, results: list[dict], load_before: str, load_after: str, commit: str) -> str:
    def rate(n: int, s: float) -> str:
        return f"{n / s / 1e6:.2f} M/s"

    lines = [
        "## Batch status codecs, in process (issue 8)\n",
        f"Machine: {m}. `python bench/bench_wire.py` at commit {commit} "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); {load_before} before, {load_after} after "
        "(the machine is shared: other builds may have been running). Medians of several calls; "
        "times per request, rates in checks per second from request bytes to response bytes; CPU is the "
        "process's CPU time per request over all its threads, which waiting for a busy core does not inflate.\n",
        "| body | serials | decode | check | encode | total | rate | CPU (all threads) | naive peer | orjson + Arrow | vs naive |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {
        "json_single": "JSON `{issuer, serials}`",
        "json_items": "JSON `{items}` (2 issuers)",
        "arrow_hex": "Arrow IPC, hex strings",
        "arrow_u64": "Arrow IPC, uint64",
    }
    for r in results:
        n = r["n"]
        for shape in ("json_single", "json_items", "arrow_hex", "arrow_u64"):
            x = r[shape]
            peer = r["naive"].get(shape) if shape.startswith("json") else None
            alt = r["orjson_arrow"].get(shape) if shape.startswith("json") else None
            total = x["total"]
            peer_cell = "" if peer is None else f"{peer * 1e3:.1f} ms ({rate(n, peer)})"
            alt_cell = "" if alt is None else f"{alt * 1e3:.1f} ms ({rate(n, alt)})"
            ratio = "" if peer is None else f"{peer / total:.0f}x (CPU {r['naive_cpu'][shape] / x['total_cpu']:.0f}x)"
            cpu = f"{x['total_cpu'] * 1e3:.2f} ms ({rate(n, x['total_cpu'])})"
            size = f"{r['bytes'][shape] / 1e6:.2f} MB in, {x['response_bytes'] / 1e6:.2f} MB out"
            lines.append(
                f"| {names[shape]} ({size}) | {n:,} | {x['decode'] * 1e3:.2f} ms | {x['check'] * 1e3:.2f} ms | "
                f"{x['encode'] * 1e3:.2f} ms | **{total * 1e3:.2f} ms** | **{rate(n, total)}** | {cpu} | {peer_cell} | {alt_cell} | "
                f"{ratio} |"
            )
    lines.append(
        "\nThe service's targets over HTTP (issue 8): JSON with 10,000 serials a request at least 2 M/s and "
        "10x a naive endpoint; Arrow with 100,000 at least 10 M/s. The library's share of a request is the "
        "total above; the rest is the HTTP stack's.\n"
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--million", action="store_true", help="also 1,000,000 serials a request")
    ap.add_argument("--no-write", action="store_true", help="print instead of updating RESULTS.md")
    args = ap.parse_args()
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    m = machine()
    print(f"machine: {m}", file=sys.stderr)
    store = jpki_fast.open_store(certs_dataset() / "store")
    index = naive_index(store)
    before = load()
    results = []
    for n in (10_000, 100_000) + ((1_000_000,) if args.million else ()):
        r = measure(store, n, args.runs if n < 1_000_000 else max(3, args.runs // 5), index)
        print(json.dumps(r, indent=1), file=sys.stderr)
        results.append(r)
    text = report(m, results, before, load(), commit)
    if args.no_write:
        print(text)
    else:
        write_section(text, name="wire")
        print(f"updated {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
