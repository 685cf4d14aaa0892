"""Writes the committed seed corpora of the fuzz targets (fuzz/seeds/<target>/): small CRLs from
the synthetic generator (JPKI-like and random serial layouts), the real JPKI certificates from
tests/vectors/jpki, synthetic end-entity certificates, PEM forms, and a few hostile inputs of
the kinds the input policies refuse. Re-run to regenerate: `.venv/bin/python fuzz/make_seeds.py`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VECTORS = ROOT / "tests" / "vectors" / "jpki"


def pem(label: str, der: bytes) -> bytes:
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def put(target: str, data: bytes) -> None:
    d = HERE / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def main() -> None:
    from jpki_fast import synth

    shutil.rmtree(HERE / "seeds", ignore_errors=True)
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        for layout, serial_bytes, entries in (("sequential", 4, 60), ("random", 8, 40), ("clustered", 20, 20)):
            out = Path(tmp) / f"{layout}-{serial_bytes}"
            synth.generate(out, entries=entries, partitions=2, seed=7, now=now, serials=layout,
                           serial_bytes=serial_bytes, certs=2 if serial_bytes == 4 else 0)
            crls = sorted(out.joinpath("crls").rglob("*.crl"))[:2]
            for crl in crls:
                der = crl.read_bytes()
                for target in ("crl", "der"):
                    put(target, der)
                put("pem_trust", pem("X509 CRL", der))
            for cert in sorted(out.rglob("*.der"))[:2] + sorted(out.rglob("certs/*.pem"))[:2]:
                put("certificate", cert.read_bytes())
    real = VECTORS / "auth_cert_sample.der"
    for target in ("certificate", "der"):
        put(target, real.read_bytes())
    put("certificate", pem("CERTIFICATE", real.read_bytes()))
    for ca in sorted(VECTORS.glob("*.pem")):
        put("pem_trust", ca.read_bytes())
        put("certificate", ca.read_bytes())
    # Hostile shapes: non-canonical length, padded and negative INTEGERs, a bare TLV.
    for blob in (b"\x30\x81\x03\x02\x01\x05", b"\x02\x02\x00\x05", b"\x02\x01\xff", b"\x30\x80\x00\x00", b"\x17\x0d" + b"261126000000Z"):
        put("der", blob)


if __name__ == "__main__":
    sys.exit(main())
