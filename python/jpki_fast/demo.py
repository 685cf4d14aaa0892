"""`make demo`: a synthetic JPKI day end to end.

1. ``jpki-fast synth``: CA roots of both kinds (three key generations each), one signed CRL per
   municipality partition (1,900 per CA), 1,000,000 revoked entries in all.
2. ``jpki-fast ingest``: verify every CRL and publish a snapshot.
3. Checks: a few serials one by one (revoked with each kind of reason, good, unknown issuer),
   then a batch of a million.
4. Certificates: the synthetic end-entity certificates checked (path validation + revocation
   in their own partition), logins verified (signature over a challenge + status), and the real
   JPKI sample certificate, which must come out untrusted (its CA generation is not trusted).

5. ``make demo`` then starts the service on the store (``python -m jpki_fast_service.demo``).

Usage: ``python -m jpki_fast.demo [DIR] [--entries N]`` (default DIR: demo-data).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from . import ingest, open_store, synth
from .serials import normalize

#: The demo's day: the current hour, so that the service started at the end (which judges
#: freshness at the real time) answers from fresh CRLs.
NOW = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())


def _say(text: str = "") -> None:
    print(text, flush=True)


def _demo_logins(data: Path, certs, ders, rows, store) -> dict:
    """Signs a fresh challenge with each authentication certificate's key, as the card would,
    tampers with every fourth signature, and verifies them all in one call."""
    import os

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    keys = {}
    challenges, signatures, chosen = [], [], []
    for i in rows:
        key_path = data / certs.column("key_path")[i].as_py()
        if key_path not in keys:
            pem = b"".join(line + b"\n" for line in key_path.read_bytes().splitlines() if not line.startswith(b"#"))
            keys[key_path] = serialization.load_pem_private_key(pem, password=None)
        challenge = os.urandom(32)
        signature = keys[key_path].sign(challenge, padding.PKCS1v15(), hashes.SHA256())
        if len(chosen) % 4 == 3:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        challenges.append(challenge)
        signatures.append(signature)
        chosen.append(ders[i])
    out = store.verify_logins(chosen, challenges, signatures, now=NOW)
    return {c["values"]: c["counts"] for c in out.column("decision").value_counts().to_pylist()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jpki_fast.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", default="demo-data")
    ap.add_argument("--entries", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    root = Path(args.dir)
    data, store_dir = root / "dataset", root / "store"

    _say(f"== 1. synthetic JPKI data: {args.entries:,} revoked entries, 1,900 partitions per CA -> {data}")
    summary = synth.generate(data, entries=args.entries, partitions=1900, now=NOW, progress=lambda m: None)
    _say(f"   {summary['files']:,} CRL files, {summary['bytes'] / 1e6:.0f} MB, in {summary['seconds']:.1f} s")

    _say(f"\n== 2. ingest: verify every CRL, publish a snapshot -> {store_dir}")
    shutil.rmtree(store_dir, ignore_errors=True)
    result = ingest(data / "trust", data / "crls", store_dir, now=NOW)
    for line in str(result).splitlines():
        _say("   " + line)

    _say("\n== 3. checks (now = " + NOW + ")")
    store = open_store(store_dir)
    truth = synth.read_truth(data)
    examples = []
    for issuer in ("sign_ca_2023", "auth_ca_2023"):
        rows = truth.filter(pc.equal(truth.column("issuer"), issuer))
        for reason in ("affiliationChanged", "superseded", "certificateHold"):
            hit = rows.filter(pc.equal(rows.column("reason").cast("string"), reason))
            if hit.num_rows:
                examples.append((issuer, hit.column("serial")[0].as_py()))
        revoked = set(rows.column("serial").to_pylist()[:200_000])
        first = int(rows.column("serial")[0].as_py(), 16)
        good = next(f"{s:08X}" for s in range(first, first + 1000) if f"{s:08X}" not in revoked)
        examples.append((issuer, good))
    examples.append(("auth_ca_1999", "054CFCD8"))
    _say(f"   {'issuer':<14} {'serial':<10} {'status':<8} {'reason':<20} {'revoked at':<22} partition")
    for issuer, serial in examples:
        row = store.check([serial], issuer, now=NOW, provenance=True).to_pylist()[0]
        when = row["revocation_date"].strftime("%Y-%m-%dT%H:%M:%SZ") if row["revocation_date"] else "-"
        part = (row["partition"] or "-").split("OU=CRL Distribution Points, ")[-1]
        _say(f"   {issuer:<14} {serial:<10} {row['status']:<8} {row['reason'] or '-':<20} {when:<22} {part}")

    n = 1_000_000
    rng = np.random.default_rng(1)
    sign = truth.filter(pc.equal(truth.column("issuer"), "sign_ca_2023")).column("serial")
    revoked = normalize(sign).short
    queries = np.where(rng.random(n) < 0.5, revoked[rng.integers(0, len(revoked), n)],
                       rng.integers(int(revoked.min()), int(revoked.max()), n, dtype=np.uint64)).astype(np.uint64)
    store.check(queries, "sign_ca_2023", now=NOW)
    t = time.perf_counter()
    out = store.check(queries, "sign_ca_2023", now=NOW)
    seconds = time.perf_counter() - t
    counts = {c["values"]: c["counts"] for c in out.column("status").value_counts().to_pylist()}
    _say(f"\n   batch: {n:,} serials checked in {seconds * 1e3:.0f} ms ({n / seconds / 1e6:.0f} million/s): {counts}")

    _say("\n== 4. certificates and logins")
    certs = synth.read_certs(data)
    ders = [(data / p).read_bytes() for p in certs.column("path").to_pylist()]
    result = store.check_certificates(ders, now=NOW)
    counts = {c["values"]: c["counts"] for c in result.column("status").value_counts().to_pylist()}
    _say(f"   {len(ders)} synthetic certificates: {counts}")
    auth = [i for i, k in enumerate(certs.column("kind").to_pylist()) if k == "auth"]
    logins = _demo_logins(data, certs, ders, auth, store)
    _say(f"   {sum(logins.values())} logins (the card signs a random challenge; every fourth signature tampered): {logins}")
    sample = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "jpki" / "auth_cert_sample.der"
    if sample.is_file():
        row = store.check_certificates([sample.read_bytes()], now=NOW).to_pylist()[0]
        _say(f"   real JPKI sample certificate (serial {row['serial']}): {row['status']} ({row['detail']})")

    _say("\n== try next")
    _say(f"   .venv/bin/jpki-fast check --store {store_dir} --issuer auth_ca_2023 054CFCD8 --provenance --now {NOW}")
    _say(f"   .venv/bin/jpki-fast info --store {store_dir} --now {NOW}")
    _say(f"   .venv/bin/jpki-fast verify-store {store_dir}")
    _say(f"   .venv/bin/jpki-fast cert-status --store {store_dir} --now {NOW} {data}/certs/auth/*.der")
    return 0


if __name__ == "__main__":
    sys.exit(main())
