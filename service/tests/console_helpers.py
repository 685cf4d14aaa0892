"""Test material of the console: a store with a few days of history at the real current time
(the browser cannot be told another "now"), keys, a served process, and staling one partition."""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from jpki_fast import ingest, open_store, synth
from jpki_fast_service.auth import add_key

from .svc_helpers import load_key

DAY = 86400
#: key name -> (roles, tenant)
KEYS = {
    "ops": (["query", "admin"], None),
    "admin": (["admin"], None),
    "bank-a": (["query"], "bank-a"),
    "pd-only": (["personal_data"], "bank-a"),
    "bank-admin": (["admin"], "bank-a"),
}


@dataclass
class World:
    root: Path
    data: Path  # the last day's synthetic dataset (trust, keys, truth)
    store: Path
    key_file: Path
    audit_log: Path
    keys: dict[str, str]
    days: int


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(int(epoch_s), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_world(root: Path, days: int = 4, entries: int = 12_000, partitions: int = 60) -> World:
    """``days`` daily generations, the last an hour ago: day 0 is a synthetic dataset; each
    later day renews every partition's CRL with a few entries added (by JPKI-like reasons) and a
    few dropped, as J-LIS's daily CRLs change."""
    store = root / "store"
    now = time.time()
    data = root / "day0"
    start = now - (days - 1) * DAY - 3600
    synth.generate(data, entries=entries, partitions=partitions, certs=2, cert_keys=1, now=_iso(start), seed=0)
    ingest(data / "trust", data / "crls", store, now=_iso(start))
    truth = synth.read_truth(data).to_pylist()
    held: dict[tuple[str, str], list[tuple[int, int, str | None]]] = {}
    for r in truth:
        entry = (int(r["serial"], 16), int(r["revocation_date"].timestamp()), r["reason"])
        held.setdefault((r["issuer"], r["partition"]), []).append(entry)
    files = synth.read_partitions(data).to_pylist()
    # New revocations take serials past every one in use, so the issued certificates stay as they were.
    certs = synth.read_certs(data).to_pylist()
    next_serial = {
        issuer: max([s for (i, _), rows in held.items() if i == issuer for s, _, _ in rows]
                    + [int(c["serial"], 16) for c in certs if c["issuer"] == issuer]) + 1
        for issuer, _ in held
    }
    rng = random.Random(7)
    signers = {issuer: load_key(data / "keys" / f"{issuer}.pem") for issuer in next_serial}  # parsing a key takes 0.1 s
    reasons = ["affiliationChanged"] * 5 + ["superseded"] * 3 + ["cessationOfOperation"] * 2 + ["certificateHold", "keyCompromise"]
    for k in range(1, days):
        when = start + k * DAY
        crls = root / f"crls-day{k}"
        for f in files:
            rows = held.setdefault((f["issuer"], f["partition"]), [])
            for _ in range(min(len(rows), rng.randint(0, 2))):  # dropped: expired certificates
                rows.pop(rng.randrange(len(rows)))
            for _ in range(rng.randint(0, 4 * k)):
                rows.append((next_serial[f["issuer"]], int(when - rng.randint(3600, 20 * 3600)), rng.choice(reasons)))
                next_serial[f["issuer"]] += 1
            this_update = int(when - 3 * 3600)
            crl = synth.make_crl(signers[f["issuer"]], data / "trust" / f"{f['issuer']}.pem", sorted(rows),
                                 this_update, this_update + 2 * DAY, int(f["crl_number"]) + k, f["partition"])
            path = crls / f["path"].removeprefix("crls/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(crl)
        ingest(data / "trust", crls, store, now=_iso(when))
    key_file = root / "api-keys.json"
    keys = {name: add_key(key_file, name, roles, tenant) for name, (roles, tenant) in KEYS.items()}
    return World(root, data, store, key_file, root / "audit.jsonl", keys, days)


def revoked_serial(world: World, issuer: str) -> tuple[str, str]:
    """A serial the served snapshot holds revoked with a reason on ``issuer``'s CRLs, and the reason."""
    table = open_store(world.store).entries(issuer).select(["serial", "reason"]).slice(0, 200).to_pylist()
    row = next(r for r in table if r["reason"])
    text = f"{row['serial']:X}"
    return ("0" * (len(text) % 2)) + text, row["reason"]  # canonical: whole octets


def make_one_partition_stale(world: World, issuer: str = "sign_ca_2023") -> dict:
    """Publishes, for one partition of ``issuer``, a newer CRL whose nextUpdate is already past:
    ingested as of its own thisUpdate (when it was current), it is stale now."""
    store = open_store(world.store)
    held = next(p for p in store.partitions().to_pylist() if p["issuer"] == issuer and "CN=" in p["name"])
    this_update = int(held["this_update"].timestamp())
    entries = store.entries(issuer).to_pylist()
    rows = [(e["serial"], e["revocation_date"], e["reason"]) for e in entries if e["partition"] == held["name"]]
    crl = synth.make_crl(
        world.data / "keys" / f"{issuer}.pem", world.data / "trust" / f"{issuer}.pem", rows,
        this_update, this_update + 3600, int(held["crl_number"]) + 1, held["name"],
    )
    crls = world.root / "crls-stale"
    crls.mkdir(exist_ok=True)
    (crls / "stale.crl").write_bytes(crl)
    summary = ingest(world.data / "trust", crls, world.store, now=_iso(this_update + 1800))
    assert summary.published, summary
    return {**held, "generation": summary.generation}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``jpki-fast serve`` on a loopback port, one worker, until stop()."""

    def __init__(self, world: World) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = world.root / "server.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - open while the server runs
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jpki_fast.cli", "serve", "--store", str(world.store), "--api-keys", str(world.key_file),
             "--audit-log", str(world.audit_log), "--port", str(self.port), "--workers", "1", "--reload-interval", "0.2"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: {self.log_path.read_text()}")
            time.sleep(0.2)

    def wait_for_generation(self, key: str, generation: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(self.url + "/v1/snapshot", headers={"X-API-Key": key}).json()["generation"] >= generation:
                return
            time.sleep(0.1)
        raise AssertionError(f"the server did not load generation {generation} within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def copy_world(world: World, root: Path) -> World:
    """A copy of ``world`` under ``root`` that a test may change (publish into, log to)."""
    import shutil

    shutil.copytree(world.root, root, dirs_exist_ok=True)
    moved = {name: root / getattr(world, name).relative_to(world.root) for name in ("data", "store", "key_file", "audit_log")}
    return World(root, keys=world.keys, days=world.days, **moved)
