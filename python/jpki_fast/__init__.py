"""jpki-fast: fast, exact revocation checks for JPKI (公的個人認証サービス) certificates.

>>> import jpki_fast                                                      # doctest: +SKIP
>>> jpki_fast.ingest("data/trust", "data/crls", "data/store")           # doctest: +SKIP
>>> store = jpki_fast.open_store("data/store")                           # doctest: +SKIP
>>> store.check(["054CFCD8"], issuer="auth_ca_2023").to_pylist()         # doctest: +SKIP
[{'status': 'revoked', 'reason': 'superseded', ...}]
"""

from typing import TYPE_CHECKING, Any

from .errors import (
    IngestRefused,
    JpkiFastError,
    SerialFormatError,
    StoreCorruptedError,
    StoreError,
    TrustStoreError,
)
from .ingest import IngestSummary, ingest
from .store import STATUSES, Store, open_store
from .trust import CaKey, TrustStore

if TYPE_CHECKING:
    from .certs import CERT_STATUSES, BasicFourFacts, basic_four_facts, parse_certificates, verify_signatures
    from .sweeps import SweepSummary, sweep

__version__ = "0.1.0"

# The certificate API loads on first use, so that commands which never touch certificates
# (ingest, check) do not pay for importing it.
_LAZY = {name: "certs" for name in ("CERT_STATUSES", "BasicFourFacts", "basic_four_facts", "parse_certificates", "verify_signatures")}
_LAZY.update({"sweep": "sweeps", "SweepSummary": "sweeps"})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jpki_fast' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "BasicFourFacts",
    "CERT_STATUSES",
    "CaKey",
    "IngestRefused",
    "IngestSummary",
    "JpkiFastError",
    "STATUSES",
    "SerialFormatError",
    "Store",
    "StoreCorruptedError",
    "StoreError",
    "SweepSummary",
    "TrustStore",
    "TrustStoreError",
    "basic_four_facts",
    "ingest",
    "open_store",
    "parse_certificates",
    "sweep",
    "verify_signatures",
]
