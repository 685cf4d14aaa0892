"""``POST /v1/signatures/verify``: a signed document (an application, a contract): valid only
if the signature verifies with the signing certificate's key and the certificate is good."""

from __future__ import annotations

import jpki_fast
from fastapi import APIRouter, Depends, Request

from jpki_fast.timeutil import iso

from ..auth import Principal, QUERY
from ..limits import json_body
from ..models import SignatureDigestRequest, SignatureDocumentRequest, SignatureResponse
from ..recorder import note
from ..routing import DirectRoute
from ..snapshots import current_store
from ._common import POST_ERRORS, b64, certificate, epoch, json_response
from .certificates import one_facts, one_row
from .logins import LOGIN_COLUMNS

router = APIRouter(tags=["signatures"], route_class=DirectRoute)

@router.post(
    "/v1/signatures/verify",
    response_model=SignatureResponse,
    responses=POST_ERRORS,
    dependencies=[Depends(json_body)],
    summary="Verify a signed document",
)
async def signature_verify(
    body: SignatureDocumentRequest | SignatureDigestRequest,
    request: Request,
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
):
    """Give the ``document`` (base64, signed with ``hash``) or its SHA-256 ``digest``
    (base64), and the signature. ``valid`` is true only for a signature that verifies (RSASSA-PKCS1-v1_5) with a
    ``good`` signing certificate; the certificate's status and detail say why not."""
    der = certificate(body.certificate, "/certificate")
    signature = b64(body.signature, "/signature")
    now_s = epoch(body.now)
    if isinstance(body, SignatureDigestRequest):
        digest = b64(body.digest, "/digest")
        verdict = store.verify_signed_document(der, signature=signature, digest=digest, now=now_s, hash="sha256")
    else:
        document = b64(body.document, "/document")
        verdict = store.verify_signed_document(der, document, signature, now=now_s, hash=body.hash)
    result = one_row(verdict, LOGIN_COLUMNS)
    note(request, one_facts(request, result, der, "decision"))
    return json_response(
        {**result, "valid": result["decision"] == "allow", "generation": store.generation, "checked_at": iso(now_s)}
    )
