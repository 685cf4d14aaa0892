"""Benchmark datasets, generated once and cached under bench/data/ (git-ignored).

- ``daily(entries)``: a full synthetic JPKI day: 2 x 1,900 partition CRLs (``jpki-fast synth``).
- ``single(entries)``: one CRL holding every entry (the "10-million-entry CRL" of the issue),
  signed by the synthetic authentication CA; trust/ and keys/ come from a small synth run.
- ``single_random(entries)``: the same with random 8-byte serials (issue 9).

Both use the same fixed ``now`` so results are reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jpki_fast import _core, synth
from jpki_fast.synth.names import name_der
from jpki_fast.timeutil import to_epoch

DATA = Path(__file__).resolve().parent / "data"
NOW = "2026-11-26T00:00:00Z"


def _stamp_ok(path: Path, stamp: dict) -> bool:
    try:
        return json.loads((path / "bench-stamp.json").read_text()) == stamp
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def daily(entries: int = 10_000_000, partitions: int = 1900) -> Path:
    """A synthetic daily CRL set (both CA kinds, ``partitions`` per kind)."""
    path = DATA / f"daily-{entries}-{partitions}"
    stamp = {"kind": "daily", "entries": entries, "partitions": partitions, "now": NOW}
    if not _stamp_ok(path, stamp):
        synth.generate(path, entries=entries, partitions=partitions, now=NOW)
        (path / "bench-stamp.json").write_text(json.dumps(stamp))
    return path


def _read_key(path: Path):
    from cryptography.hazmat.primitives import serialization

    pem = b"".join(line + b"\n" for line in path.read_bytes().splitlines() if not line.startswith(b"#"))
    return serialization.load_pem_private_key(pem, password=None)


def single(entries: int = 10_000_000, seed: int = 1) -> Path:
    """One CRL with ``entries`` entries (roughly sequential 4-byte serials, shuffled)."""
    path = DATA / f"single-{entries}"
    stamp = {"kind": "single", "entries": entries, "seed": seed, "now": NOW, "columns": 2}
    if _stamp_ok(path, stamp):
        return path
    rng = np.random.default_rng(seed)
    base = 0x05000000
    serials = base + rng.choice(3 * entries, size=entries, replace=False).astype(np.uint64)
    _write_single(path, serials, rng, stamp)
    return path


def single_random(entries: int = 10_000_000, seed: int = 3) -> Path:
    """One CRL with ``entries`` random 8-byte serials (WebPKI-style: uniform over the whole
    64-bit range, so half of them are 2^63 or more, 9 octets in DER), in random order."""
    path = DATA / f"single-random-{entries}"
    stamp = {"kind": "single-random", "entries": entries, "seed": seed, "now": NOW, "columns": 2}
    if _stamp_ok(path, stamp):
        return path
    rng = np.random.default_rng(seed)
    drawn = np.unique(rng.integers(0, 2**64 - 1, size=entries + 1000, dtype=np.uint64, endpoint=True))
    serials = rng.permutation(drawn)[:entries]
    _write_single(path, serials, rng, stamp)
    return path


def _write_single(path: Path, serials: np.ndarray, rng: np.random.Generator, stamp: dict) -> None:
    """One CRL of ``serials`` signed by the synthetic authentication CA (trust/ and keys/ from a
    small synth run), with the serials, dates and reasons beside it as .npy files."""
    entries = len(serials)
    synth.generate(path, entries=1000, partitions=1, now=NOW)
    for old in (path / "crls").rglob("*.crl"):
        old.unlink()
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = to_epoch(NOW)
    times = (now - 3 * 3600 - rng.integers(0, 5 * 365 * 86400, entries)).astype(np.int64)
    reason = rng.choice(
        np.array([4, 5, 3, 6, 1, 0, 255], np.uint8), size=entries, p=[0.45, 0.25, 0.1, 0.1, 0.02, 0.03, 0.05]
    ).astype(np.uint8)
    cert = x509.load_pem_x509_certificate((path / "trust" / "auth_ca_2023.pem").read_bytes())
    key = _read_key(path / "keys" / "auth_ca_2023.pem")
    der = _core.encode_crl(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        cert.subject.public_bytes(),
        now - 3 * 3600,
        now + 45 * 3600,
        serials,
        times,
        reason=reason,
        crl_number=(20261126).to_bytes(4, "big"),
        authority_key_id=cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest,
        distribution_point=name_der(synth.partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")),
    )
    (path / "crls" / "single.crl").write_bytes(der)
    np.save(path / "serials.npy", serials)
    np.save(path / "times.npy", times)
    np.save(path / "reasons.npy", reason)
    (path / "bench-stamp.json").write_text(json.dumps(stamp))


def single_next_day(entries: int = 10_000_000, churn: float = 0.01) -> Path:
    """The day after :func:`single`: the same CRL with ``churn`` of its entries dropped (expired
    certificates) and as many newly revoked ones added; CRL number and times one day later.
    Returns a directory with its own crls/ (the trust store is :func:`single`'s)."""
    from cryptography import x509

    base = single(entries)
    path = DATA / f"single-{entries}-next"
    stamp = {"kind": "single-next", "entries": entries, "churn": churn, "now": NOW}
    if _stamp_ok(path, stamp):
        return path
    rng = np.random.default_rng(99)
    serials, times, reasons = (np.load(base / f"{n}.npy") for n in ("serials", "times", "reasons"))
    k = int(len(serials) * churn)
    keep = np.ones(len(serials), bool)
    keep[rng.choice(len(serials), k, replace=False)] = False
    now = to_epoch(NOW) + 86400
    top = int(serials.max())
    added = np.arange(top + 1, top + 1 + 3 * k, 3, dtype=np.uint64)[:k]
    serials = np.concatenate([serials[keep], added])
    times = np.concatenate([times[keep], np.full(k, now - 7200, np.int64)])
    reasons = np.concatenate([reasons[keep], np.full(k, 4, np.uint8)])
    cert = x509.load_pem_x509_certificate((base / "trust" / "auth_ca_2023.pem").read_bytes())
    key = _read_key(base / "keys" / "auth_ca_2023.pem")
    from cryptography.hazmat.primitives import serialization

    der = _core.encode_crl(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        cert.subject.public_bytes(), now - 3 * 3600, now + 45 * 3600, serials, times, reason=reasons,
        crl_number=(20261127).to_bytes(4, "big"),
        authority_key_id=cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest,
        distribution_point=name_der(synth.partition_name("auth", "Hokkaido", "Sapporo-shi-Minami-ku")),
    )
    (path / "crls").mkdir(parents=True, exist_ok=True)
    (path / "crls" / "single.crl").write_bytes(der)
    (path / "bench-stamp.json").write_text(json.dumps(stamp))
    return path
