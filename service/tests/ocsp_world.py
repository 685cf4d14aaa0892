"""Test material for the OCSP endpoints: synthetic JPKI days issued *now* (a responder answers at
the current time, so its data must be fresh now), responder pairs, API keys, and a store whose
signing CA is stale.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from jpki_fast import ingest, synth
from jpki_fast_service.auth import add_key

#: The CA keys valid today (the synthetic 2015 generation expired in 2025).
SERVED = ("auth_ca_2023", "auth_ca_2019", "sign_ca_2023", "sign_ca_2019")


@dataclass
class OcspWorld:
    root: Path
    data: Path
    store: Path
    key_file: Path
    keys: dict[str, str]
    certs: list[dict]
    truth: object
    rsa: Path
    stale_store: Path | None = None
    stale_truth: object = None
    extra: dict = field(default_factory=dict)

    def ca(self, alias: str) -> Path:
        return self.data / "trust" / f"{alias}.pem"

    def pairs(self, aliases=SERVED, rsa: bool = False) -> list[tuple[str, str]]:
        where = self.rsa if rsa else self.data / "ocsp"
        return [(str(where / f"{a}.pem"), str(where / f"{a}.key.pem")) for a in aliases]

    def cert(self, issuer: str, revoked: bool) -> dict:
        return next(c for c in self.certs if c["issuer"] == issuer and c["revoked"] == revoked)

    def revoked_serials(self, issuer: str, truth=None) -> list[dict]:
        t = self.truth if truth is None else truth
        return t.filter(pc.equal(t.column("issuer"), issuer)).to_pylist()


def cert_id_of(request: bytes) -> bytes:
    """The CertID of a one-Request request: OCSPRequest > tbsRequest > requestList > Request > CertID."""
    assert all(request[i] == 0x30 and request[i + 1] < 0x80 for i in (0, 2, 4, 6, 8))
    return request[8:]


def request_of(*cert_ids: bytes) -> bytes:
    """An OCSPRequest of these CertIDs."""

    def seq(b: bytes) -> bytes:
        n = len(b)
        if n < 0x80:
            return bytes([0x30, n]) + b
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x30, 0x80 | len(octets)]) + octets + b

    return seq(seq(seq(b"".join(seq(c) for c in cert_ids))))


def build(root: Path, stale_sign: bool = False) -> OcspWorld:
    """A day issued now under fresh synthetic CAs, with ECDSA responder pairs (data/ocsp/) and
    RSA ones (rsa/); with ``stale_sign`` also ``stale_store``: the same CAs' CRLs of three days
    ago, then today's authentication CRLs only, so the signing CA's data is stale and the
    authentication CA's fresh."""
    data = root / "data"
    synth.generate(data, entries=4_000, partitions=4, certs=24, cert_keys=2, seed=5, ocsp_responders="ecdsa-p256")
    rsa = root / "rsa"
    synth.write_responders(data, "rsa-2048", out=rsa)
    store = root / "store"
    ingest(data / "trust", data / "crls", store)
    key_file = root / "api-keys.json"
    keys = {
        "query": add_key(key_file, "ocsp-query", ["query"], "bank-a"),
        "admin": add_key(key_file, "ocsp-admin", ["admin"], None),
    }
    world = OcspWorld(root, data, store, key_file, keys, synth.read_certs(data).to_pylist(), synth.read_truth(data), rsa)
    if stale_sign:
        past = dt.datetime.fromtimestamp(time.time() - 3 * 86_400, dt.timezone.utc)
        old = root / "old"
        synth.generate(old, entries=4_000, partitions=4, certs=0, seed=5, now=past, ca_from=data)
        world.stale_store = root / "stale-store"
        ingest(data / "trust", old / "crls", world.stale_store, now=past)
        fresh_auth = root / "fresh-auth"
        shutil.copytree(data / "crls" / "auth", fresh_auth / "auth")
        ingest(data / "trust", fresh_auth, world.stale_store)
        world.stale_truth = synth.read_truth(old)
    return world


def republish_with(world: OcspWorld, store: Path, issuer: str, serial: str, reason: str = "keyCompromise") -> None:
    """Publishes a new generation of ``store`` in which ``serial`` of ``issuer`` (a 2023 key: the
    CRL signer) is revoked: its first partition's CRL again, one number higher, with the entry
    added."""
    partitions = synth.read_partitions(world.data)
    row = partitions.filter(pc.equal(partitions.column("issuer"), issuer)).to_pylist()[0]
    truth = world.truth
    mine = pc.and_(pc.equal(truth.column("issuer"), issuer), pc.equal(truth.column("partition"), row["partition"]))
    entries = [(r["serial"], r["revocation_date"], r["reason"]) for r in truth.filter(mine).to_pylist()]
    now = int(time.time())
    entries.append((serial, now - 60, reason))
    der = synth.make_crl(
        world.data / "keys" / f"{issuer}.pem", world.ca(issuer), entries, now - 30, now + 47 * 3600, row["crl_number"] + 1, row["partition"]
    )
    crls = store.parent / f"republish-{serial}"
    path = crls / row["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(der)
    summary = ingest(world.data / "trust", crls, store)
    assert summary.published, summary
