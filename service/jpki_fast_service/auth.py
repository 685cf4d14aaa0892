"""API keys: the key file, creating keys, and the FastAPI dependencies that guard endpoints.

The key file holds only SHA-256 hashes of keys, never keys::

    {"keys": [{"id": "bank-a", "sha256": "<hex sha256 of the key>", "roles": ["query"], "tenant": "bank-a"}]}

Roles: ``query`` (status, certificates, logins, signatures, age checks, snapshot metadata),
``personal_data`` (may receive the basic 4 facts of signing certificates), ``admin`` (reload,
usage). A request names its key in the ``X-API-Key`` header: a missing or unknown key is
answered 401, a key without the role 403. Keys are compared in constant time (the presented
key's hash against every stored hash, without stopping at a match) and are never logged.

Endpoints declare what they need as a dependency (every dependency here is ``async``: FastAPI
would run a plain ``def`` in a worker thread, a thread hop per dependency per request)::

    from jpki_fast_service.auth import Principal, require

    @router.post("/v1/thing")
    async def thing(principal: Principal = Depends(QUERY)): ...      # QUERY = require("query")

>>> ring = KeyRing.from_dict({"keys": [{"id": "a", "sha256": hash_key("secret"), "roles": ["query"]}]})
>>> ring.lookup("secret").id
'a'
>>> ring.lookup("wrong") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from .errors import ServiceError

ROLES = ("query", "personal_data", "admin")
HEADER = "X-API-Key"
KEY_PREFIX = "jpkf_"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyFileError(ValueError):
    """The key file cannot be used (names the file and the entry at fault)."""


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as the key file stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key: ``jpkf_`` and 32 random bytes in URL-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's id, its tenant and its roles."""

    id: str
    tenant: str | None
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    principal: Principal


class KeyRing:
    """The keys of a key file, looked up in constant time."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_dict(cls, data: dict, source: str = "key file") -> "KeyRing":
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeyFileError(f'{source}: expected {{"keys": [...]}}')
        entries = []
        seen: set[str] = set()
        for i, item in enumerate(data["keys"]):
            where = f"{source}: keys[{i}]"
            if not isinstance(item, dict):
                raise KeyFileError(f"{where}: expected an object")
            unknown = set(item) - {"id", "sha256", "roles", "tenant", "created_at"}
            if unknown:
                raise KeyFileError(f"{where}: unknown fields {sorted(unknown)}")
            key_id, digest, roles, tenant = item.get("id"), item.get("sha256"), item.get("roles"), item.get("tenant")
            if not isinstance(key_id, str) or not _ID.match(key_id):
                raise KeyFileError(f"{where}: id must be 1-64 letters, digits, '.', '_' or '-'")
            if key_id in seen:
                raise KeyFileError(f"{where}: duplicate id {key_id!r}")
            seen.add(key_id)
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                raise KeyFileError(f"{where} ({key_id}): sha256 must be 64 hex digits")
            if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
                raise KeyFileError(f"{where} ({key_id}): roles must be a non-empty list of {', '.join(ROLES)}")
            if tenant is not None and (not isinstance(tenant, str) or not _ID.match(tenant)):
                raise KeyFileError(f"{where} ({key_id}): tenant must be 1-64 letters, digits, '.', '_' or '-'")
            entries.append(_Entry(bytes.fromhex(digest), Principal(key_id, tenant, frozenset(roles))))
        return cls(entries)

    @classmethod
    def load(cls, path: Path) -> "KeyRing":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyFileError(
                f"{path}: API key file not found (create a key with `jpki-fast keys add --file {path} --id ID --roles query`)"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, str(path))

    def lookup(self, key: str | None) -> Principal | None:
        """The principal of a presented key, or None. Every entry is compared (constant time in
        which entry matches, and in the key's content)."""
        if not key:
            return None
        presented = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        found = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest) and found is None:
                found = entry.principal
        return found


def add_key(path: Path, key_id: str, roles: list[str], tenant: str | None = None) -> str:
    """Creates a key, stores its hash in ``path`` (created if absent, written atomically with
    mode 0600) and returns the key: the only time it exists in clear."""
    data = {"keys": []}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        KeyRing.from_dict(data, str(path))  # refuse to add to a damaged file
    if any(item.get("id") == key_id for item in data["keys"]):
        raise KeyFileError(f"{path}: a key with id {key_id!r} exists already")
    key = new_key()
    entry = {"id": key_id, "sha256": hash_key(key), "roles": sorted(set(roles), key=ROLES.index)}
    if tenant is not None:
        entry["tenant"] = tenant
    data["keys"].append(entry)
    KeyRing.from_dict(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key


# --------------------------------------------------------------------------------------------
# Dependencies

#: Documents the header in the OpenAPI schema; the check itself is :func:`require`'s.
api_key_header = APIKeyHeader(name=HEADER, auto_error=False, description="An API key (`jpki-fast keys add`)")


async def authenticate(request: Request, key: str | None = Depends(api_key_header)) -> Principal:
    """The principal of the request's key; 401 when it is missing or unknown."""
    principal = request.app.state.keys.lookup(key)
    if principal is None:
        raise ServiceError(
            401,
            "unauthorized",
            f"missing or unknown API key (send it in the {HEADER} header)",
            location=f"header/{HEADER}",
            headers={"WWW-Authenticate": HEADER},
        )
    request.state.principal = principal
    return principal


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting keys with ``role``: 401 without a valid key, 403 without the role."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")

    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if not principal.has(role):
            raise ServiceError(403, "forbidden", f"this API key lacks the {role!r} role", location=f"header/{HEADER}")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


#: The dependencies the routers take: ``principal: Principal = Depends(QUERY)``.
QUERY = require("query")
ADMIN = require("admin")
