"""jpki-fast: fast, exact revocation checks for JPKI (公的個人認証サービス) certificates.

>>> import jpki_fast
>>> summary = jpki_fast.ingest(data_dir / "trust", data_dir / "crls", tmp / "quickstart", now=NOW)
>>> summary.published, summary.generation, summary.entries
(True, 1, 4)
>>> store = jpki_fast.open_store(tmp / "quickstart")
>>> table = store.check(["054CFCD8", "05A00001"], issuer="auth_ca_2023", now=NOW)
>>> table.select(["status", "reason"]).to_pylist()
[{'status': 'revoked', 'reason': 'superseded'}, {'status': 'good', 'reason': None}]
>>> str(table.column("revocation_date")[0])
'2026-01-05 00:00:00+00:00'
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
    from .certs import (
        CERT_STATUSES,
        BasicFourFacts,
        CertificateResult,
        VerificationResult,
        basic_four_facts,
        parse_certificates,
        verify_signatures,
    )
    from .sweep_run import SweepSummary, sweep

__version__ = "0.1.0"

# The certificate API loads on first use, so that commands which never touch certificates
# (ingest, check) do not pay for importing it.
_LAZY = dict.fromkeys(
    (
        "CERT_STATUSES",
        "BasicFourFacts",
        "CertificateResult",
        "VerificationResult",
        "basic_four_facts",
        "parse_certificates",
        "verify_signatures",
    ),
    "certs",
)
_LAZY.update({"sweep": "sweep_run", "SweepSummary": "sweep_run"})


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
    "CertificateResult",
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
    "VerificationResult",
    "basic_four_facts",
    "ingest",
    "open_store",
    "parse_certificates",
    "sweep",
    "verify_signatures",
]
