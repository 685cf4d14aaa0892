"""``POST /v1/login/verify``: allow or deny logins (the card's signature over the server's
challenge, by a good authentication certificate), one login or a batch."""

from __future__ import annotations

import jpki_fast
from fastapi import APIRouter, Depends, Request

from jpki_fast.timeutil import iso

from ..auth import Principal, QUERY
from ..limits import Limits, json_body, limits
from ..models import LoginBatchRequest, LoginBatchResponse, LoginRequest, LoginResponse
from ..recorder import note
from ..routing import DirectRoute
from ..snapshots import current_store
from ._common import POST_ERRORS, b64, certificate, epoch, json_response, rows, run
from .certificates import CERT_COLUMNS, audit_facts, one_facts, one_row

router = APIRouter(tags=["logins"], route_class=DirectRoute)

LOGIN_COLUMNS = ["decision", "signature_valid", *CERT_COLUMNS]


@router.post(
    "/v1/login/verify",
    response_model=LoginResponse | LoginBatchResponse,
    responses=POST_ERRORS,
    dependencies=[Depends(json_body)],
    summary="Allow or deny logins",
)
async def login_verify(
    body: LoginRequest | LoginBatchRequest,
    request: Request,
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
    limit: Limits = Depends(limits),
):
    """A login is ``allow``ed only if the signature over the challenge verifies with the
    certificate's key (RSASSA-PKCS1-v1_5 with ``hash``) and the certificate is ``good`` for
    logging in (an authentication certificate, chained to a trusted CA key, valid at ``now``,
    not revoked, its partition's CRL fresh). One login (``certificate``, ``challenge``,
    ``signature``) answers one result; ``{"logins": [...]}`` answers ``results`` in order."""
    if isinstance(body, LoginRequest):
        single = True
        ders = [certificate(body.certificate, "/certificate")]
        challenges = [b64(body.challenge, "/challenge")]
        signatures = [b64(body.signature, "/signature")]
    else:
        single = False
        limit.items(len(body.logins), "/logins")
        ders = [certificate(it.certificate, f"/logins/{i}/certificate") for i, it in enumerate(body.logins)]
        challenges = [b64(it.challenge, f"/logins/{i}/challenge") for i, it in enumerate(body.logins)]
        signatures = [b64(it.signature, f"/logins/{i}/signature") for i, it in enumerate(body.logins)]
    now_s = epoch(body.now)
    if single:  # one login: the library's single-item path, close to the cost of its two RSA checks
        result = store.verify_login(ders[0], challenges[0], signatures[0], now=now_s, hash=body.hash)
        row = one_row(result, LOGIN_COLUMNS)
        note(request, one_facts(request, row, ders[0], "decision"))
        return json_response({**row, "generation": store.generation, "checked_at": iso(now_s)})
    table = await run(
        lambda: store.verify_logins(ders, challenges, signatures, now=now_s, hash=body.hash), len(ders)
    )
    results = rows(table, LOGIN_COLUMNS)
    note(request, audit_facts(request, table, ders, "decision"))
    return json_response({"generation": store.generation, "checked_at": iso(now_s), "results": results})
