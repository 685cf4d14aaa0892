"""``POST /v1/age-check`` (年齢判定): has the holder of a signing certificate reached an age?

Decided from the date of birth in the certificate's basic 4 facts, and only once the
certificate itself checks ``good`` (a revoked, expired or untrusted certificate proves
nothing). The date of birth is returned only to keys that may see the basic 4 facts and ask.

Ages are counted as Japanese law counts them (年齢計算ニ関スル法律): a person reaches age A at
the end of the day before the A-th anniversary of their birth, so on the anniversary itself
they have it; someone born on 29 February reaches it on 1 March in common years.
"""

from __future__ import annotations

import datetime as dt
import re

import jpki_fast
from fastapi import APIRouter, Depends, Request

from jpki_fast.timeutil import iso

from ..auth import Principal, QUERY
from ..limits import Limits, json_body, limits
from ..models import AgeCheckRequest, AgeCheckResponse
from ..recorder import note
from ..routing import DirectRoute
from ..snapshots import current_store
from ._common import POST_ERRORS, epoch, json_response, run
from .certificates import audit_facts, decode_certificates, require_personal_data

router = APIRouter(tags=["age"], route_class=DirectRoute)

JST = dt.timezone(dt.timedelta(hours=9))
#: Japanese era codes as J-LIS writes dates of birth with an era (e.g. 3550101 = Showa 55-01-01).
_ERAS = {"1": 1867, "2": 1911, "3": 1925, "4": 1988, "5": 2018}


def parse_birth_date(text: str | None) -> dt.date | None:
    """A date of birth as coded in a JPKI signing certificate: ``YYYYMMDD`` (also with ``-``
    or ``/``), or an era code and ``YYMMDD``. None when it cannot be read."""
    if not text:
        return None
    digits = re.sub(r"[-/ ]", "", text.strip())
    try:
        if re.fullmatch(r"\d{8}", digits):
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if re.fullmatch(r"[1-5]\d{6}", digits):
            return dt.date(_ERAS[digits[0]] + int(digits[1:3]), int(digits[3:5]), int(digits[5:]))
    except ValueError:
        return None
    return None


def has_reached(birth: dt.date, age: int, on: dt.date) -> bool:
    """Whether someone born on ``birth`` has reached ``age`` on the day ``on``.

    >>> has_reached(dt.date(2008, 2, 29), 18, dt.date(2026, 2, 28)), has_reached(dt.date(2008, 2, 29), 18, dt.date(2026, 3, 1))
    (False, True)
    """
    year = birth.year + age
    try:
        anniversary = birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        anniversary = dt.date(year, 3, 1)
    return on >= anniversary


@router.post(
    "/v1/age-check",
    response_model=AgeCheckResponse,
    responses=POST_ERRORS,
    dependencies=[Depends(json_body)],
    summary="Has the holder reached an age? (年齢判定)",
)
async def age_check(
    body: AgeCheckRequest,
    request: Request,
    principal: Principal = Depends(QUERY),
    store: jpki_fast.Store = Depends(current_store),
    limit: Limits = Depends(limits),
):
    """For each signing certificate: ``reached`` (true/false) when the certificate is ``good``
    for signing and carries a readable date of birth; null otherwise, with the status and
    detail saying why. ``date`` defaults to today in Japan (UTC+9) at ``now``."""
    require_personal_data(principal, body.personal_data)
    limit.items(len(body.certificates), "/certificates")
    ders = decode_certificates(body.certificates)
    now_s = epoch(body.now)
    on = body.date or dt.datetime.fromtimestamp(now_s, JST).date()
    table = await run(lambda: store.check_certificates(ders, now=now_s, purpose="signature"), len(ders))
    parsed = jpki_fast.parse_certificates(ders, personal_data=True).column("basic_four_facts").to_pylist()
    results = []
    for status, detail, issuer, serial, facts in zip(
        table.column("status").to_pylist(),
        table.column("detail").to_pylist(),
        table.column("issuer").to_pylist(),
        table.column("serial").to_pylist(),
        parsed,
    ):
        birth_text = (facts or {}).get("date_of_birth")
        birth = parse_birth_date(birth_text)
        reached = None
        if status == "good":
            if birth is None:
                detail = "the certificate carries no readable date of birth"
            else:
                reached = has_reached(birth, body.age, on)
        row = {"reached": reached, "status": status, "detail": detail, "issuer": issuer, "serial": serial}
        if body.personal_data:
            row["date_of_birth"] = birth.isoformat() if (birth is not None and status == "good") else None
        results.append(row)
    facts = audit_facts(request, table, ders)
    note(request, facts)
    return json_response(
        {"generation": store.generation, "checked_at": iso(now_s), "age": body.age, "date": on.isoformat(), "results": results}
    )
