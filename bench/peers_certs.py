"""Side-by-side benchmarks of certificates and signatures (issue 3), on the same inputs, in one run.

Writes its figures (with the machine) between the ``certs`` markers of bench/RESULTS.md:

    python bench/peers_certs.py               # the full run (about 2 minutes)
    python bench/peers_certs.py --no-write    # print instead

What is measured:

- ``verify_signatures`` of 100,000 RSA-2048 SHA-256 (PKCS#1 v1.5) signatures on all cores, against
  ``openssl speed -seconds 3 rsa2048`` (verify/s of one core; the target is 0.9 x that x the
  cores) and a pyca/cryptography ``public_key.verify`` loop over the same rows; also
  ``verify_signatures`` restricted to one core (``RAYON_NUM_THREADS=1``, a subprocess).
- ``Store.verify_logins`` of 100,000 logins (certificate + challenge + signature: path validation,
  the CA's signature over the certificate, the card's signature over the challenge, revocation on
  the certificate's partition) against a store of 1,000,000 revoked entries in 3,800 partition
  CRLs; target 20,000 logins/s. And the latency of one login (one call, one row), through the
  batch path and through the one-item path (``Store.verify_login``), in steady state and as the
  first call after ``open_store``, beside the cost of its two RSA verifications alone
  (``--one-login`` runs only these, printed).
- ``check_certificates`` (no challenge) and ``parse_certificates`` throughput.

The inputs: a synthetic dataset (``jpki-fast synth``: 2,000 end-entity certificates sharing a
pool of 64 keys, a quarter revoked) cached under bench/data/. Signing 100,000 distinct messages
would take longer than verifying them, so 5,000 distinct (key, message, signature) rows (2,000
for logins) are repeated to 100,000; nothing is cached between rows: every row is parsed and
verified in full. Each jpki-fast figure is the median of ``--runs`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import datasets  # noqa: E402
from peers import machine, write_section  # noqa: E402

import jpki_fast  # noqa: E402
from jpki_fast import _core, synth  # noqa: E402
from jpki_fast.certs import _buffers  # noqa: E402

ENTRIES = int(os.environ.get("JPKI_BENCH_ENTRIES", "1000000"))
CERTS, CERT_KEYS = 2000, 64


def certs_dataset(entries: int = ENTRIES, partitions: int = 1900) -> Path:
    """A synthetic day with end-entity certificates, and its store (cached)."""
    path = datasets.DATA / f"certs-{entries}-{partitions}-{CERTS}"
    stamp = {"kind": "certs", "entries": entries, "partitions": partitions, "certs": CERTS, "keys": CERT_KEYS, "now": datasets.NOW}
    try:
        ok = json.loads((path / "bench-stamp.json").read_text()) == stamp and (path / "store" / "CURRENT").exists()
    except (FileNotFoundError, json.JSONDecodeError):
        ok = False
    if not ok:
        synth.generate(path, entries=entries, partitions=partitions, now=datasets.NOW, certs=CERTS, cert_keys=CERT_KEYS)
        jpki_fast.ingest(path / "trust", path / "crls", path / "store", now=datasets.NOW)
        (path / "bench-stamp.json").write_text(json.dumps(stamp))
    return path


def _keys(data: Path) -> tuple[list[bytes], dict[str, int]]:
    """The dataset's private keys (PKCS#8 DER) and each key file's index."""
    from cryptography.hazmat.primitives import serialization

    paths = sorted((data / "certs" / "keys").glob("key-*.pem"))
    ders = [
        # (the keys are our own: skipping pyca's slow RSA consistency check is safe here)
        serialization.load_pem_private_key(p.read_bytes(), None, unsafe_skip_rsa_key_validation=True).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for p in paths
    ]
    return ders, {f"certs/keys/{p.name}": i for i, p in enumerate(paths)}


def signature_workload(n: int = 100_000, distinct: int = 5000, seed: int = 3) -> dict:
    """n rows of (SPKI, message, valid RSA-2048 SHA-256 signature) over the dataset's 64 keys."""
    data = certs_dataset()
    private, _ = _keys(data)
    pairs = [(p, s) for p, s in zip(private, [_spki(p) for p in private])]
    rng = np.random.default_rng(seed)
    key_of = rng.integers(0, len(pairs), distinct).astype(np.uint32)
    messages = [rng.bytes(64) for _ in range(distinct)]
    signatures = _core.sign_messages(private, key_of.tolist(), _buffers(pa.array(messages, pa.binary())))
    reps = -(-n // distinct)
    return {
        "keys": ([pairs[k][1] for k in key_of.tolist()] * reps)[:n],
        "messages": (messages * reps)[:n],
        "signatures": (signatures * reps)[:n],
    }


def _spki(pkcs8: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_private_key(pkcs8, None, unsafe_skip_rsa_key_validation=True)
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def login_workload(n: int = 100_000, per_cert: int = 2, seed: int = 5) -> dict:
    """n logins over the dataset's authentication certificates: each certificate signs
    `per_cert` random challenges with its key; the rows repeat to n. ``allow`` is expected
    exactly for the certificates that are not revoked."""
    data = certs_dataset()
    private, key_index = _keys(data)
    index = synth.read_certs(data).to_pylist()
    auth = [r for r in index if r["kind"] == "auth"]
    rng = np.random.default_rng(seed)
    certs, challenges, key_of, revoked = [], [], [], []
    for r in auth:
        der = (data / r["path"]).read_bytes()
        for _ in range(per_cert):
            certs.append(der)
            challenges.append(rng.bytes(32))
            key_of.append(key_index[r["key_path"]])
            revoked.append(r["revoked"])
    signatures = _core.sign_messages(private, key_of, _buffers(pa.array(challenges, pa.binary())))
    reps = -(-n // len(certs))
    return {
        "store": data / "store",
        "certs": (certs * reps)[:n],
        "challenges": (challenges * reps)[:n],
        "signatures": (signatures * reps)[:n],
        "expected_allow": np.array((revoked * reps)[:n]) == False,  # noqa: E712
    }


def openssl_speed() -> float:
    """RSA-2048 verify/s of one core, from `openssl speed -seconds 3 rsa2048`."""
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if not m:
        raise RuntimeError(f"cannot read `openssl speed` output:\n{out[-1000:]}")
    return float(m.group(2))


def best_of(runs: int, fn) -> tuple[float, list[float]]:
    """Median seconds of `runs` calls of fn."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def bench_signatures(runs: int) -> dict:
    w = signature_workload()
    n = len(w["signatures"])
    keys, messages, signatures = pa.array(w["keys"]), pa.array(w["messages"]), pa.array(w["signatures"])
    ok = jpki_fast.verify_signatures(keys, messages, signatures)
    assert ok.all(), "every benchmark signature is valid"
    ours, _ = best_of(runs, lambda: jpki_fast.verify_signatures(keys, messages, signatures))
    # One core: the same call in a subprocess whose rayon pool has one thread.
    code = (
        "import sys, time, pickle; sys.path.insert(0, %r); import peers_certs as p, jpki_fast, pyarrow as pa\n"
        "w = p.signature_workload(); k, m, s = pa.array(w['keys']), pa.array(w['messages']), pa.array(w['signatures'])\n"
        "ts = []\nfor _ in range(%d):\n    t = time.perf_counter(); jpki_fast.verify_signatures(k, m, s); ts.append(time.perf_counter() - t)\n"
        "print(sorted(ts)[len(ts) // 2])" % (str(HERE), runs)
    )
    one = float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "RAYON_NUM_THREADS": "1"}).stdout.strip().splitlines()[-1]
    )
    # pyca/cryptography in a Python loop, on the same rows (each distinct key loaded once).
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    loaded = {k: serialization.load_der_public_key(k) for k in set(w["keys"])}
    rows = list(zip([loaded[k] for k in w["keys"]], w["messages"], w["signatures"]))

    def pyca() -> int:
        good = 0
        pad, alg = padding.PKCS1v15(), hashes.SHA256()
        for key, message, signature in rows:
            try:
                key.verify(signature, message, pad, alg)
                good += 1
            except InvalidSignature:
                pass
        return good

    assert pyca() == n
    theirs, _ = best_of(1, pyca)
    return {"n": n, "ours_s": ours, "one_core_s": one, "pyca_s": theirs}


def bench_logins(runs: int) -> dict:
    w = login_workload()
    n = len(w["certs"])
    store = jpki_fast.open_store(w["store"])
    certs, challenges, signatures = pa.array(w["certs"]), pa.array(w["challenges"]), pa.array(w["signatures"])
    out = store.verify_logins(certs, challenges, signatures, now=datasets.NOW)
    allow = np.array(out.column("decision").to_pylist()) == "allow"
    assert (allow == w["expected_allow"]).all(), "decisions match the dataset's truth"
    logins, _ = best_of(runs, lambda: store.verify_logins(certs, challenges, signatures, now=datasets.NOW))
    checks, _ = best_of(runs, lambda: store.check_certificates(certs, now=datasets.NOW, purpose="login"))
    parse, _ = best_of(runs, lambda: jpki_fast.parse_certificates(certs))
    one = [w["certs"][:1], w["challenges"][:1], w["signatures"][:1]]
    store.verify_logins(*one, now=datasets.NOW)  # warm
    latency = []
    for _ in range(200):
        t = time.perf_counter()
        store.verify_logins(*one, now=datasets.NOW)
        latency.append(time.perf_counter() - t)
    return {
        "n": n,
        "allowed": int(allow.sum()),
        "logins_s": logins,
        "check_s": checks,
        "parse_s": parse,
        "latency_ms_median": statistics.median(latency) * 1e3,
        "latency_ms_p99": sorted(latency)[int(len(latency) * 0.99)] * 1e3,
        "partitions": store.partitions().num_rows,
    }


def _quantiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"median_ms": statistics.median(ordered) * 1e3, "p99_ms": ordered[int(len(ordered) * 0.99)] * 1e3}


def bench_one_login(calls: int = 2000, opens: int = 20) -> dict:
    """One login at a time, rotating over the dataset's certificates (a quarter revoked):
    ``Store.verify_login`` (the one-item path) and ``Store.verify_logins`` with one row, in
    steady state; the first ``verify_login`` after ``open_store`` (a new Store each time: its
    certificate context is built by that call; the modules are already imported); and the
    cryptography alone (the two RSA-2048 verifications of a login, by pyca/cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    w = login_workload(n=2000)
    k = len(w["certs"])
    rows = [(w["certs"][i], w["challenges"][i], w["signatures"][i]) for i in range(k)]
    store = jpki_fast.open_store(w["store"])
    for i, (c, ch, sig) in enumerate(rows[:200]):  # the one-item path agrees with the batch
        one = store.verify_login(c, ch, sig, now=datasets.NOW)
        assert one.to_dict() == store.verify_logins([c], [ch], [sig], now=datasets.NOW).to_pylist()[0]
        assert one.allowed == bool(w["expected_allow"][i])

    def timed(fn) -> list[float]:
        out = []
        for i in range(calls):
            c, ch, sig = rows[i % k]
            t = time.perf_counter()
            fn(c, ch, sig)
            out.append(time.perf_counter() - t)
        return out

    fast = timed(lambda c, ch, sig: store.verify_login(c, ch, sig, now=datasets.NOW))
    batch = timed(lambda c, ch, sig: store.verify_logins([c], [ch], [sig], now=datasets.NOW))
    first, opened = [], []
    for i in range(opens):
        c, ch, sig = rows[i % k]
        t0 = time.perf_counter()
        fresh = jpki_fast.open_store(w["store"])
        t1 = time.perf_counter()
        fresh.verify_login(c, ch, sig, now=datasets.NOW)
        first.append(time.perf_counter() - t1)
        opened.append(t1 - t0)
    # The cryptography of one login: the CA's signature over the certificate, the card's over the challenge.
    parsed = [x509.load_der_x509_certificate(c) for c, _, _ in rows[:50]]
    cas = {}
    for pem in sorted((certs_dataset() / "trust").glob("*.pem")):
        ca = x509.load_pem_x509_certificate(pem.read_bytes())
        cas[ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest] = ca.public_key()
    issuer_keys = [cas[c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier] for c in parsed]
    crypto = []
    for i in range(calls):
        cert, ca, (_, ch, sig) = parsed[i % 50], issuer_keys[i % 50], rows[i % 50]
        t = time.perf_counter()
        ca.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
        cert.public_key().verify(sig, ch, padding.PKCS1v15(), hashes.SHA256())
        crypto.append(time.perf_counter() - t)
    return {
        "verify_login": _quantiles(fast),
        "verify_logins_one_row": _quantiles(batch),
        "first_after_open": _quantiles(first),
        "open_store": _quantiles(opened),
        "crypto_pyca": _quantiles(crypto),
        "load": os.getloadavg(),
    }


def one_login_report(one: dict) -> str:
    f, b, first, crypto = one["verify_login"], one["verify_logins_one_row"], one["first_after_open"], one["crypto_pyca"]
    verdict = "met" if f["median_ms"] <= 0.15 else "**missed**"
    return (
        "### One login at a time (issue 8)\n\n"
        f"`python bench/peers_certs.py --one-login` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"load average {one['load'][0]:.2f}, {one['load'][1]:.2f}, {one['load'][2]:.2f}). One call, one row, rotating "
        "over 2,000 logins of the dataset's certificates (a quarter revoked), steady state unless said.\n\n"
        "| what | median | p99 |\n|---|---|---|\n"
        f"| `Store.verify_login` (one-item path) | **{f['median_ms'] * 1e3:.0f} µs** | {f['p99_ms'] * 1e3:.0f} µs |\n"
        f"| `Store.verify_logins` with one row (batch path) | {b['median_ms'] * 1e3:.0f} µs | {b['p99_ms'] * 1e3:.0f} µs |\n"
        f"| first `verify_login` after `open_store` (builds the store's certificate context) | {first['median_ms']:.1f} ms | "
        f"{first['p99_ms']:.1f} ms |\n"
        f"| the cryptography alone: the login's two RSA-2048 verifications (pyca/cryptography) | {crypto['median_ms'] * 1e3:.0f} µs | "
        f"{crypto['p99_ms'] * 1e3:.0f} µs |\n\n"
        f"- Target: at most 0.15 ms median for one login: {verdict} ({f['median_ms'] / crypto['median_ms']:.1f}x the cryptography; "
        f"the batch path with one row is {b['median_ms'] / f['median_ms']:.0f}x slower).\n\n"
    )


def report(m: str, sig: dict, speed: float, logins: dict) -> str:
    cores = os.cpu_count() or 1
    target = 0.9 * speed * cores
    ours = sig["n"] / sig["ours_s"]
    one = sig["n"] / sig["one_core_s"]
    pyca = sig["n"] / sig["pyca_s"]
    login_rate = logins["n"] / logins["logins_s"]
    verdict = "met" if ours >= target else "**missed**"
    login_verdict = "met" if login_rate >= 20_000 else "**missed**"
    return (
        "## Certificates and signatures (issue 3)\n\n"
        f"Machine: {m}. Measured side by side in one run of `python bench/peers_certs.py` "
        f"({time.strftime('%Y-%m-%d', time.gmtime())}); jpki-fast figures are medians of several runs.\n\n"
        "| what | inputs | time | rate |\n|---|---|---|---|\n"
        f"| `jpki_fast.verify_signatures` ({cores} cores) | {sig['n']:,} RSA-2048 SHA-256 signatures, 64 keys | {sig['ours_s']:.3f} s | **{ours:,.0f} /s** |\n"
        f"| `jpki_fast.verify_signatures`, 1 core (`RAYON_NUM_THREADS=1`) | same | {sig['one_core_s']:.3f} s | {one:,.0f} /s |\n"
        f"| pyca/cryptography `public_key.verify` in a Python loop (one thread) | same | {sig['pyca_s']:.3f} s | {pyca:,.0f} /s |\n"
        f"| `openssl speed -seconds 3 rsa2048` (verify, 1 core) | | | {speed:,.0f} /s |\n"
        f"| `Store.verify_logins` ({cores} cores) | {logins['n']:,} logins (certificate + challenge + signature), store of {ENTRIES:,} entries in {logins['partitions']:,} partition CRLs | {logins['logins_s']:.3f} s | **{login_rate:,.0f} /s** |\n"
        f"| `Store.check_certificates` (no challenge) | {logins['n']:,} certificates | {logins['check_s']:.3f} s | {logins['n'] / logins['check_s']:,.0f} /s |\n"
        f"| `jpki_fast.parse_certificates` | {logins['n']:,} certificates | {logins['parse_s']:.3f} s | {logins['n'] / logins['parse_s']:,.0f} /s |\n"
        f"| one login (one call, one row) | | median {logins['latency_ms_median']:.2f} ms, p99 {logins['latency_ms_p99']:.2f} ms | |\n\n"
        f"- Bulk verification target: 0.9 x {speed:,.0f} (OpenSSL, 1 core) x {cores} cores = {target:,.0f} /s; "
        f"measured {ours:,.0f} /s ({ours / (speed * cores):.2f} x OpenSSL's per-core rate times {cores}): {verdict}. "
        f"Against the pyca/cryptography loop on the same rows: {ours / pyca:.1f} x.\n"
        f"- Login target: 20,000 logins/s in-process on {cores} cores; measured {login_rate:,.0f} /s: {login_verdict}. "
        "Each login verifies two RSA signatures (the CA's over the certificate, the card's over the challenge), "
        f"so the rate is bounded by about half the bulk verification rate. {logins['allowed']:,} of {logins['n']:,} "
        "were allowed, exactly the rows whose certificate is not revoked.\n"
        "- Inputs: 5,000 distinct signatures (2,000 distinct logins) repeated to 100,000 rows; every row is parsed "
        "and verified in full (nothing is cached between rows or calls but the parsed CA keys).\n\n"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print instead of updating RESULTS.md")
    ap.add_argument("--one-login", action="store_true", help="only the one-login measurements, printed (about a minute)")
    args = ap.parse_args()
    if args.one_login:  # a quick look: printed, RESULTS.md is left alone
        one = bench_one_login()
        print(json.dumps(one, indent=1), file=sys.stderr)
        print(one_login_report(one))
        return 0
    m = machine()
    print(f"machine: {m}", file=sys.stderr)
    certs_dataset()
    speed = openssl_speed()
    print(f"openssl speed rsa2048 verify/s (1 core): {speed:,.0f}", file=sys.stderr)
    sig = bench_signatures(args.runs)
    print(json.dumps(sig, indent=1), file=sys.stderr)
    logins = bench_logins(args.runs)
    print(json.dumps(logins, indent=1), file=sys.stderr)
    one = bench_one_login()
    print(json.dumps(one, indent=1), file=sys.stderr)
    text = report(m, sig, speed, logins) + one_login_report(one)
    if args.no_write:
        print(text)
    else:
        write_section(text, name="certs")
        print(f"updated {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
