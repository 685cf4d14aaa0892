"""``POST /v1/certificates/status``: one status per certificate (path, validity, usage and
revocation on the certificate's own partition), as :meth:`jpki_fast.Store.check_certificates`
answers it."""

from __future__ import annotations

import jpki_fast
import pyarrow as pa
from fastapi import APIRouter, Depends, Request

from jpki_fast.timeutil import iso

from ..audit import RequestFacts
from ..auth import Principal, QUERY
from ..errors import ServiceError
from ..limits import Limits, json_body, limits
from ..models import CertificateStatusRequest, CertificateStatusResponse
from ..recorder import note
from ..routing import DirectRoute
from ..snapshots import current_store
from ._common import POST_ERRORS, certificate, counts_of, epoch, json_response, rows, run, subject_keys

router = APIRouter(tags=["certificates"], route_class=DirectRoute)

CERT_COLUMNS = [
    "status", "detail", "reason", "revocation_date", "invalidity_date", "issuer", "kind", "serial", "partition",
    "not_before", "not_after",
]
PROVENANCE_COLUMNS = ["crl_number", "this_update", "next_update"]
#: A certificate's basic 4 facts are handed out only when its CA's signature verified.
_VERIFIED = {"good", "revoked", "stale", "expired", "not_yet_valid", "wrong_usage"}


def require_personal_data(principal: Principal, asked: bool) -> None:
    if asked and not principal.has("personal_data"):
        raise ServiceError(
            403, "forbidden", "this API key lacks the 'personal_data' role needed for the basic 4 facts", "/personal_data"
        )


def decode_certificates(texts: list[str], field: str = "certificates") -> list[bytes]:
    return [certificate(text, f"/{field}/{i}") for i, text in enumerate(texts)]


def basic_four_facts(ders: list[bytes], statuses: list[str]) -> list[dict | None]:
    """The basic 4 facts of each certificate whose CA signature verified (None otherwise)."""
    parsed = jpki_fast.parse_certificates(ders, personal_data=True).column("basic_four_facts").to_pylist()
    return [facts if status in _VERIFIED else None for facts, status in zip(parsed, statuses)]


def one_row(result, columns: list[str]) -> dict:
    """A single-item result of the library (CertificateResult / VerificationResult) as a JSON row."""
    data = result.to_dict()
    row = {}
    for name in columns:
        if name in data:
            value = data[name]
            row[name] = value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else value
    return row


def one_facts(request: Request, row: dict, der: bytes, column: str = "status"):
    """:func:`audit_facts` for one answer."""
    status = row[column]
    facts = RequestFacts(items=1, counts={status: 1}, kinds={row.get("kind") or "unknown": {status: 1}})
    audit = request.app.state.audit
    if audit is not None:
        subject = f"{row['issuer']}/{row['serial']}".encode() if row.get("issuer") and row.get("serial") else der
        facts.subjects = audit.subjects([subject], 1)
    return facts


def audit_facts(request: Request, table: pa.Table, ders: list[bytes], column: str = "status"):
    """Counts by ``column`` and kind, and the HMACs of the certificates, for metrics and audit."""
    facts = counts_of(table, column)
    audit = request.app.state.audit
    if audit is not None:
        facts.subjects = audit.subjects(subject_keys(table, ders), len(ders))
    return facts


@router.post(
    "/v1/certificates/status",
    response_model=CertificateStatusResponse,
    responses=POST_ERRORS,
    dependencies=[Depends(json_body)],
    summary="Status of certificates (base64 DER or PEM)",
)
async def certificates_status(
    body: CertificateStatusRequest,
    request: Request,
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
    limit: Limits = Depends(limits),
):
    """Validates each certificate's path to a trusted JPKI CA key, its validity at ``now`` and
    its usage for ``purpose``, then its revocation status on its own partition's CRL. The basic
    4 facts of signing certificates come back only with ``personal_data: true`` and a key with
    the ``personal_data`` role."""
    require_personal_data(principal, body.personal_data)
    limit.items(len(body.certificates), "/certificates")
    ders = decode_certificates(body.certificates)
    now_s = epoch(body.now)
    table = await run(
        lambda: store.check_certificates(
            ders, now=now_s, purpose=body.purpose, allow_test_hierarchy=body.allow_test_hierarchy, provenance=body.provenance
        ),
        len(ders),
    )
    results = rows(table, CERT_COLUMNS + (PROVENANCE_COLUMNS if body.provenance else []))
    if body.personal_data:
        for row, facts in zip(results, basic_four_facts(ders, table.column("status").to_pylist())):
            row["basic_four_facts"] = facts
    note(request, audit_facts(request, table, ders))
    return json_response({"generation": store.generation, "checked_at": iso(now_s), "results": results})
