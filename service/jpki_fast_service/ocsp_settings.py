"""The OCSP responder's settings (``ServiceConfig.extra["ocsp"]``), apart from its router so
that ``jpki-fast serve`` can check them in the parent process without importing the HTTP stack
or the metrics (prometheus_client must be imported after the multiprocess directory is set).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Where ``jpki-fast serve`` puts the OCSP settings in :attr:`ServiceConfig.extra`.
CONFIG_KEY = "ocsp"
AUTH_MODES = ("open", "key")
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class OcspSettings:
    """The OCSP part of the service's configuration (``ServiceConfig.extra["ocsp"]``)."""

    pairs: tuple[tuple[str, str], ...]
    auth: str = "open"
    cache_bytes: int = DEFAULT_CACHE_BYTES

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError(f"ocsp auth {self.auth!r}: expected one of {', '.join(AUTH_MODES)}")
        if self.cache_bytes < 0:
            raise ValueError(f"ocsp cache_bytes {self.cache_bytes}: must not be negative")

    @classmethod
    def of(cls, config) -> "OcspSettings | None":
        data = (config.extra or {}).get(CONFIG_KEY)
        if not data:
            return None
        return cls(
            tuple((str(c), str(k)) for c, k in data.get("pairs", ())),
            data.get("auth", "open"),
            int(data.get("cache_bytes", DEFAULT_CACHE_BYTES)),
        )

    def to_extra(self) -> dict:
        """What goes into ``ServiceConfig.extra`` (paths made absolute for the workers)."""
        pairs = [[str(Path(c).resolve()), str(Path(k).resolve())] for c, k in self.pairs]
        return {CONFIG_KEY: {"pairs": pairs, "auth": self.auth, "cache_bytes": self.cache_bytes}}

    def load(self, store):
        """The responder (:class:`jpki_fast.ocsp.OcspResponder`), every pair checked against
        ``store``'s trust store (:class:`jpki_fast.ocsp.OcspConfigError` naming the file
        otherwise)."""
        from jpki_fast.ocsp import OcspResponder

        return OcspResponder.load(self.pairs, store)

    def check(self, store: Path) -> None:
        """Loads every pair against the store's trust store in a short-lived child process
        (never in the parent of the workers: opening a store starts the Rust core's thread pool,
        see :func:`jpki_fast_service.server.prepare`); raises ValueError with the first
        problem, naming the file."""
        code = (
            "import sys, json, jpki_fast\n"
            "from jpki_fast_service.ocsp_settings import OcspSettings\n"
            "s = OcspSettings(tuple(map(tuple, json.loads(sys.argv[2]))), sys.argv[3])\n"
            "s.load(jpki_fast.open_store(sys.argv[1]))\n"
        )
        import json

        pairs = json.dumps([list(p) for p in self.pairs])
        done = subprocess.run([sys.executable, "-c", code, str(store), pairs, self.auth], capture_output=True, text=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise ValueError(lines[-1].split(": ", 1)[-1] if lines else "the OCSP responder pairs cannot be loaded")
