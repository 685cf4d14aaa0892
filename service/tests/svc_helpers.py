"""Shared test material for the service: a small synthetic JPKI day, API keys, card logins."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from jpki_fast import ingest, synth
from jpki_fast_service.auth import add_key

NOW = "2026-11-26T09:00:00Z"

#: key name -> (roles, tenant)
KEYS = {
    "query-a": (["query"], "bank-a"),
    "query-b": (["query"], "bank-b"),
    "pd-a": (["query", "personal_data"], "bank-a"),
    "admin": (["admin"], None),
    "admin-a": (["admin"], "bank-a"),
    "pd-only": (["personal_data"], "bank-a"),
}


@dataclass
class Dataset:
    root: Path
    data: Path
    store: Path
    key_file: Path
    keys: dict[str, str]
    certs: list[dict] = field(default_factory=list)  # rows of certs.parquet, with "der"
    truth: object = None

    def header(self, name: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[name]}

    def certs_of(self, kind: str, revoked: bool | None = None) -> list[dict]:
        return [c for c in self.certs if c["kind"] == kind and (revoked is None or c["revoked"] == revoked)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def load_key(path: Path):
    pem = b"".join(line + b"\n" for line in path.read_bytes().splitlines() if not line.startswith(b"#"))
    return serialization.load_pem_private_key(pem, password=None)


def sign(key, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def build(root: Path, entries: int = 20_000, certs: int = 40) -> Dataset:
    data, store = root / "data", root / "store"
    synth.generate(data, entries=entries, partitions=20, certs=certs, now=NOW, seed=0)
    ingest(data / "trust", data / "crls", store, now=NOW)
    key_file = root / "api-keys.json"
    keys = {name: add_key(key_file, name, roles, tenant) for name, (roles, tenant) in KEYS.items()}
    table = synth.read_certs(data)
    rows = table.to_pylist()
    for row in rows:
        row["der"] = (data / row["path"]).read_bytes()
        row["key"] = load_key(data / row["key_path"])
    return Dataset(root, data, store, key_file, keys, rows, synth.read_truth(data))


def login_body(cert: dict, tamper: bool = False) -> dict:
    challenge = os.urandom(32)
    signature = sign(cert["key"], challenge)
    if tamper:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return {"certificate": b64(cert["der"]), "challenge": b64(challenge), "signature": b64(signature), "now": NOW}
