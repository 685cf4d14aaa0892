"""The naive peer of POST /v1/status: a FastAPI endpoint as one would first write it, with a
pydantic model per item in and out and a Python set of revoked serials, for
bench/bench_service.py. (Good / revoked only: it knows nothing of freshness, reasons' dates or
20-octet serials, so it does less than the real endpoint.)

Run: JPKI_NAIVE_STORE=STORE uvicorn --factory bench.naive_service:create_app
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import BaseModel

import jpki_fast


class Item(BaseModel):
    issuer: str
    serial: str


class Request(BaseModel):
    issuer: str | None = None
    serials: list[str] | None = None
    items: list[Item] | None = None


class Result(BaseModel):
    serial: str
    issuer: str
    status: str
    reason: str | None
    revocation_date: str | None


class Response(BaseModel):
    generation: int
    results: list[Result]


def create_app() -> FastAPI:
    store = jpki_fast.open_store(os.environ["JPKI_NAIVE_STORE"])
    revoked: dict[str, set[int]] = {}
    for info in store.issuers():
        if info.entries:
            revoked[info.alias] = set(store.entries(info.alias).column("serial").to_pylist())
    app = FastAPI()

    @app.post("/v1/status", response_model=Response)
    def status(body: Request) -> Response:
        items = body.items or [Item(issuer=body.issuer or "", serial=s) for s in body.serials or []]
        results = []
        for item in items:
            hit = int(item.serial, 16) in revoked.get(item.issuer, ())
            status = "revoked" if hit else "good"
            results.append(Result(serial=item.serial, issuer=item.issuer, status=status, reason=None, revocation_date=None))
        return Response(generation=store.generation, results=results)

    return app
