"""The service's configuration: one frozen object, built from ``jpki-fast serve``'s options or
from the environment of a worker process.

Worker processes (uvicorn or granian start several) receive the configuration through the
``JPKI_FAST_SERVICE_CONFIG`` environment variable, as JSON, so that every worker builds the
same application with :func:`jpki_fast_service.create_app`.

>>> config = ServiceConfig(store=Path("demo-data/store"), api_keys=Path("keys.json"))
>>> config.resolved_audit_log()
PosixPath('demo-data/store/audit.jsonl')
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

ENV_VAR = "JPKI_FAST_SERVICE_CONFIG"

DEFAULT_MAX_ITEMS = 1_000_000
#: A million serials as JSON strings is about 14 MB; in the ``items`` form about 60 MB.
DEFAULT_MAX_BODY = 128 * 1024 * 1024
#: Per worker (jpki_fast_service.admission): requests in progress, those with large bodies, seconds.
DEFAULT_MAX_CONCURRENT = 64
DEFAULT_MAX_CONCURRENT_LARGE = 4
DEFAULT_REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the application needs to know; see ``jpki-fast serve --help``.

    ``store``: the store directory (its published snapshot is memory-mapped and followed).
    ``api_keys``: the key file (JSON of SHA-256 hashes, see :mod:`jpki_fast_service.auth`);
    None means ``STORE/api-keys.json``. ``audit_log``: None means ``STORE/audit.jsonl``;
    ``audit_key``: the HMAC key file for serials and certificates in the audit log, created
    (0600) beside the log when absent. ``max_items`` / ``max_body``: limits per request.
    ``stale_grace``: seconds a partition may be past its nextUpdate before ``/readyz`` says
    not ready. ``reload_interval``: seconds between checks for a newly published generation.
    ``audit_items``: requests with at most this many items record one HMAC per item; larger
    ones record one HMAC over all of them (the digest of the batch).
    ``max_concurrent`` / ``max_concurrent_large`` / ``request_timeout``: admission control per
    worker (:mod:`jpki_fast_service.admission`): requests in progress (503 past it), those with
    bodies over 1 MiB, and the seconds a request may take (408 for a body still arriving, 503
    for an answer not started). ``verify_snapshots``: check every generation against its
    manifest's digests before serving it (a damaged one is refused, the current one stays).
    """

    store: Path
    api_keys: Path | None = None
    audit_log: Path | None = None
    audit_key: Path | None = None
    max_items: int = DEFAULT_MAX_ITEMS
    max_body: int = DEFAULT_MAX_BODY
    stale_grace: float = 3600.0
    reload_interval: float = 0.5
    audit_items: int = 100
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    max_concurrent_large: int = DEFAULT_MAX_CONCURRENT_LARGE
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    verify_snapshots: bool = True
    extra: dict = field(default_factory=dict)  # room for components plugged in later (OCSP, console)

    def __post_init__(self) -> None:
        for name in ("store", "api_keys", "audit_log", "audit_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if self.max_items < 1:
            raise ValueError(f"max_items: {self.max_items} (must be at least 1)")
        if self.max_body < 1:
            raise ValueError(f"max_body: {self.max_body} (must be at least 1 byte)")
        for name in ("max_concurrent", "max_concurrent_large"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: {getattr(self, name)} (must be at least 1)")
        if not self.request_timeout > 0:
            raise ValueError(f"request_timeout: {self.request_timeout} (must be positive)")
        if self.reload_interval <= 0:
            raise ValueError(f"reload_interval: {self.reload_interval} (must be positive)")

    def resolved_api_keys(self) -> Path:
        return self.api_keys if self.api_keys is not None else self.store / "api-keys.json"

    def resolved_audit_log(self) -> Path:
        return self.audit_log if self.audit_log is not None else self.store / "audit.jsonl"

    def resolved_audit_key(self) -> Path:
        if self.audit_key is not None:
            return self.audit_key
        log = self.resolved_audit_log()
        return log.with_name(log.name + ".key")

    def with_changes(self, **changes) -> "ServiceConfig":
        return replace(self, **changes)

    # ---- passing the configuration to worker processes ----

    def to_json(self) -> str:
        data = asdict(self)
        for name in ("store", "api_keys", "audit_log", "audit_key"):
            if data[name] is not None:
                data[name] = str(Path(data[name]).resolve())
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "ServiceConfig":
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{ENV_VAR}: unknown settings {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_env(cls) -> "ServiceConfig":
        text = os.environ.get(ENV_VAR)
        if not text:
            raise RuntimeError(f"{ENV_VAR} is not set: start the service with `jpki-fast serve --store DIR`")
        return cls.from_json(text)
